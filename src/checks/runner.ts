import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { ValidateFunction } from 'ajv';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import { shellQuote, type Shell } from '../shells/shell.js';
import { retryTransient } from '../util/retry.js';
import { InfraError } from '../errors.js';
import { HARNESS_INPUTS, type CheckDefinition, type CheckInputSpec, type CheckRegistry } from './registry.js';

/** Fact is one validated NDJSON line printed by a check. */
export interface Fact {
  check: string;
  target: string;
  fact: string;
  value: unknown;
}

/**
 * CheckStatus is the closed set of ways a check run can end. `truncated`: the check's output could not be read
 * in full (cut by the transport and not paged back, or over the output cap): its facts cannot be trusted to be
 * complete, so what it would decide is unknown.
 */
export type CheckStatus = 'ran' | 'skipped' | 'failed' | 'timed-out' | 'interrupted' | 'truncated';

/** CheckRun records one check on one target: what it printed and how it ended. */
export interface CheckRun {
  check: string;
  target: string;
  status: CheckStatus;
  /** Why it was skipped or failed, in words. */
  reason?: string;
  remedy?: string;
  exitCode: number | null;
  durationMs: number;
  facts: Fact[];
  /** Lines on stdout that were not valid facts (protocol errors), kept for the report. */
  protocolErrors: string[];
  stderrTail: string;
  /** True when the output could not be read in full (then status is `truncated`). */
  truncated: boolean;
  /** Bytes the check printed on stdout, when known (the end marker says). */
  outputBytes?: number;
  /** Requests it took to read the output back in pages (0: it came in the first answer). */
  pages?: number;
}

/** CheckInputValue is a value handed to a check input: the runner encodes it as the check's header declares. */
export type CheckInputValue = string | number | boolean | Buffer;

/** encodeInput encodes one input value per its declared encoding, refusing a value the encoding cannot carry. */
export function encodeInput(check: string, name: string, spec: CheckInputSpec, value: CheckInputValue): string {
  const bad = (why: string) => new InfraError('check-input-invalid', `${check}: input ${name} (${spec.encoding}) ${why}`);
  switch (spec.encoding) {
    case 'base64':
      return (Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8')).toString('base64');
    case 'integer':
      if (!/^\d+$/.test(String(value))) throw bad(`must be a non-negative integer, not ${JSON.stringify(String(value))}`);
      return String(value);
    case 'flag':
      if (typeof value !== 'boolean') throw bad('must be true or false');
      return value ? '1' : '0';
    case 'plain':
      if (Buffer.isBuffer(value) || !/^[\x20-\x7e]*$/.test(String(value))) throw bad('must be printable ASCII (declare it base64 to pass any bytes)');
      return String(value);
  }
}

/** exportInputs renders `export NAME='value'` lines, each name declared (by the check or HARNESS_INPUTS) and each value encoded as declared. */
function exportInputs(check: string, declared: Readonly<Record<string, CheckInputSpec>>, vars: Record<string, CheckInputValue>): string {
  return Object.entries(vars)
    .map(([k, v]) => {
      const spec = HARNESS_INPUTS[k] ?? declared[k];
      if (!spec) throw new InfraError('check-input-undeclared', `${check} does not declare the input ${k} (add it to the header's inputs:)`);
      return `export ${k}=${shellQuote(encodeInput(check, k, spec, v))}`;
    })
    .join('\n');
}

/** buildCheckScript makes the self-contained script sent to the helper: variables, library, body. */
export function buildCheckScript(registry: CheckRegistry, check: CheckDefinition, vars: Record<string, CheckInputValue>): string {
  const packages = Object.entries(check.packages)
    .map(([distro, pkgs]) => `${pkgs.join(' ')} (${distro})`)
    .join(', ');
  const exports = exportInputs(check.id, check.inputs, { SNAPDRILL_CHECK: check.id, SNAPDRILL_PACKAGES: packages, ...vars });
  const require = check.needs.length ? `require ${check.needs.join(' ')}\n` : '';
  return `${exports}\n${registry.library}\n${require}${check.body}`;
}

/**
 * parseFacts validates NDJSON output against the check's declared contract: a line that is not a fact envelope, names
 * another check, names a fact the check does not declare (nor a common one), or carries a value its schema rejects is
 * a protocol error (the line, after why), never a fact a judge could read.
 */
export function parseFacts(check: Pick<CheckDefinition, 'id' | 'factSchemas'>, stdout: string): { facts: Fact[]; protocolErrors: string[] } {
  const validate = compiledSchema('fact.schema.json');
  const facts: Fact[] = [];
  const protocolErrors: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const why = factError(check, line, validate);
    if (why) protocolErrors.push(`${why}: ${line.slice(0, 500)}`);
    else facts.push(JSON.parse(line) as Fact);
  }
  return { facts, protocolErrors };
}

/** factError says why one output line is not a valid fact of the check, or returns undefined when it is one. */
function factError(check: Pick<CheckDefinition, 'id' | 'factSchemas'>, line: string, envelope: ValidateFunction): string | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (!envelope(obj)) return 'not a fact line';
  const f = obj as Fact;
  if (f.check !== check.id) return `a fact of check "${f.check}", not ${check.id}`;
  const value = check.factSchemas.get(f.fact);
  if (!value) return `fact "${f.fact}" is not declared by check ${check.id}`;
  if (!value(f.value)) {
    const issue = describeSchemaErrors(value.errors)[0];
    return `fact "${f.fact}" does not match its schema${issue ? ` (${issue.path}: ${issue.message})` : ''}`;
  }
  return undefined;
}

/** OUTPUT_CAP_BYTES is the most a check may print on stdout: beyond it the run is `truncated` (unknown), whatever the transport. */
export const OUTPUT_CAP_BYTES = 64 * 1024 * 1024;

/** DEFAULT_OUTPUT_LIMIT is the stdout a shell that does not say otherwise returns in full: SSM's 24,000 characters. */
const DEFAULT_OUTPUT_LIMIT = 24_000;

/** MARKER_ROOM is what the end marker (and a safety margin) takes of a transport's output limit. */
const MARKER_ROOM = 1024;

/** RunCheckOptions are the per-run parameters of a check. */
export interface RunCheckOptions {
  target: string;
  scratch: string;
  /** Extra SNAPDRILL_* variables for the script (database path, canaries, ...). */
  vars?: Record<string, CheckInputValue>;
  defaultTimeoutMs: number;
  signal?: AbortSignal;
  onLocalProcess?: (pid: number) => void;
  /** Stdout a check may print before its run is `truncated`; default OUTPUT_CAP_BYTES. */
  maxOutputBytes?: number;
}

/** OutputPlan says how a check's output travels over one shell: inline when small enough, else in pages. */
export interface OutputPlan {
  /** Output up to this many bytes is printed in the first answer. */
  inlineBytes: number;
  /** Raw bytes per page when reading back (base64 in the answer: 4/3 of this, within the transport's limit). */
  pageBytes: number;
  /** More than this, and the run is truncated. */
  capBytes: number;
}

/** outputPlan sizes inline output and pages to what the shell returns in full. */
export function outputPlan(shell: Pick<Shell, 'outputLimit'>, capBytes = OUTPUT_CAP_BYTES): OutputPlan {
  const limit = Math.max(MARKER_ROOM + 256, shell.outputLimit ?? DEFAULT_OUTPUT_LIMIT);
  const room = limit - MARKER_ROOM;
  return { inlineBytes: room, pageBytes: Math.min(3 * 1024 * 1024, Math.floor(room / 4) * 3), capBytes };
}

/** OutputMarker is the last line the wrapper prints: how many bytes the check wrote, and its exit status. */
interface OutputMarker {
  bytes: number;
  exit: number;
}

/** endMarkerRe matches the wrapper's end marker for one run's nonce (the disk cannot guess it). */
const endMarkerRe = (nonce: string) => new RegExp(`\\n?\\{"snapdrill-end":"${nonce}","bytes":(\\d+),"exit":(\\d+)\\}\\n?$`);

/**
 * wrapCheckScript makes the script sent to the helper: it writes the check (variables, library, body) to a file
 * under the check's scratch directory, runs it with stdin from /dev/null and its stdout into a file (at most
 * cap + 1 bytes), prints that file when it fits in one answer, and ends with a marker that names the byte count
 * and the exit status. Output too long for one answer stays in the file, and the runner reads it back in pages.
 */
export function wrapCheckScript(inner: string, paths: { dir: string; base: string }, nonce: string, plan: OutputPlan): string {
  const eof = `__SNAPDRILL_CHECK_${nonce}`;
  const dir = shellQuote(paths.dir);
  const out = shellQuote(`${paths.dir}/${paths.base}.out`);
  const script = shellQuote(`${paths.dir}/${paths.base}.sh`);
  return [
    // Only the output directory is private: the scratch tree above it keeps its modes (engines run as their own users).
    `mkdir -p -m 0700 ${dir} && chmod 0700 ${dir} || { echo "snapdrill: cannot create ${paths.dir.replace(/["$`\\]/g, '')}" >&2; exit 125; }`,
    `cat > ${script} <<'${eof}'`,
    inner,
    eof,
    `bash ${script} </dev/null | head -c ${plan.capBytes + 1} > ${out}`,
    'sd_rc=${PIPESTATUS[0]}',
    `rm -f ${script}`,
    `sd_bytes=$(stat -c %s ${out} 2>/dev/null || wc -c < ${out})`,
    `if [ "$sd_bytes" -le ${plan.inlineBytes} ]; then cat ${out} && rm -f ${out}; fi`,
    `printf '\\n{"snapdrill-end":"${nonce}","bytes":%s,"exit":%s}\\n' "$sd_bytes" "$sd_rc"`,
    'exit "$sd_rc"',
    '',
  ].join('\n');
}

/** readMarker finds the end marker of this run's nonce at the end of stdout; the output before it is the check's. */
export function readMarker(stdout: string, nonce: string): { marker: OutputMarker; before: string } | undefined {
  const m = endMarkerRe(nonce).exec(stdout);
  if (!m) return undefined;
  return { marker: { bytes: Number(m[1]), exit: Number(m[2]) }, before: stdout.slice(0, m.index) };
}

/** PageResult is the output read back from the helper's file, or why it could not be. */
type PageResult = { ok: true; text: string; pages: number; bytes: number } | { ok: false; why: string; pages: number };

/**
 * readPages reads a check's output file back through the shell, in pages small enough for its transport: first
 * gzip'd next to it (when the helper has gzip: far fewer requests over SSM), each page base64 so no byte is lost.
 */
export async function readPages(shell: Shell, file: string, plan: OutputPlan, opts: { signal?: AbortSignal; timeoutMs?: number }): Promise<PageResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  // Each request only reads the file (or writes its .gz beside it): safe to repeat once when the transport hiccups.
  const run = (script: string) => retryTransient(() => shell.run(script, { timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) }), opts.signal ? { signal: opts.signal } : {});
  const q = shellQuote(file);
  const gz = shellQuote(`${file}.gz`);
  let pages = 0;
  const prep = await run(
    `[ -f ${q} ] || { echo "missing"; exit 3; }\n` +
      `raw=$(stat -c %s ${q})\n` +
      `if command -v gzip >/dev/null 2>&1 && gzip -c ${q} > ${gz}; then echo "gz $raw $(stat -c %s ${gz})"; else rm -f ${gz}; echo "raw $raw $raw"; fi\n`,
  );
  pages++;
  const m = /^(gz|raw) (\d+) (\d+)$/m.exec(prep.stdout);
  if (prep.exitCode !== 0 || !m) return { ok: false, why: prep.stdout.includes('missing') ? 'its output file is gone from the helper' : `reading its size failed (exit ${prep.exitCode ?? 'none'})`, pages };
  const [, mode, rawStr, sizeStr] = m;
  const raw = Number(rawStr);
  const size = Number(sizeStr);
  if (raw > plan.capBytes) return { ok: false, why: `it printed more than ${formatBytes(plan.capBytes)}`, pages };
  const src = mode === 'gz' ? gz : q;
  const chunks: Buffer[] = [];
  for (let off = 0; off < size; off += plan.pageBytes) {
    if (opts.signal?.aborted) return { ok: false, why: 'interrupted', pages };
    const len = Math.min(plan.pageBytes, size - off);
    const r = await run(`tail -c +${off + 1} ${src} | head -c ${len} | base64 -w0; echo\n`);
    pages++;
    const chunk = Buffer.from(r.stdout.trim(), 'base64');
    if (r.exitCode !== 0 || r.truncated || chunk.length !== len) return { ok: false, why: `page ${pages - 1} came back with ${chunk.length} of ${len} bytes`, pages };
    chunks.push(chunk);
  }
  let bytes = Buffer.concat(chunks);
  if (mode === 'gz') {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      return { ok: false, why: `the compressed output does not decompress: ${(e as Error).message}`, pages };
    }
  }
  if (bytes.length !== raw) return { ok: false, why: `read back ${bytes.length} of ${raw} bytes`, pages };
  await run(`rm -f ${q} ${gz}\n`).catch(() => undefined);
  pages++;
  return { ok: true, text: bytes.toString('utf8'), pages, bytes: raw };
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} bytes`;
}

/** truncationRemedy says how to let the whole output through this shell. */
function truncationRemedy(shell: Shell, overCap: boolean): string {
  if (overCap) return 'the disk made the check print more than any real one needs (e.g. thousands of database-looking files): look at it by hand; databases.exclude can leave paths out';
  if (shell.kind === 'ssm') return 'set provider.helper.ssmOutput (an S3 bucket for full command output), or look at the helper\'s scratch directory and free space';
  return 'look at the helper\'s scratch directory (free space, permissions)';
}

/** runCheck sends one check to the helper and returns what it gathered; it never judges. */
export async function runCheck(registry: CheckRegistry, check: CheckDefinition, shell: Shell, opts: RunCheckOptions): Promise<CheckRun> {
  const timeoutMs = check.timeoutMs ?? opts.defaultTimeoutMs;
  // SNAPDRILL_TIMEOUT_S bounds the check's sandboxes, a little inside the harness's own deadline for the whole check.
  const sandboxS = String(Math.max(10, Math.floor(timeoutMs / 1000) - 5));
  const inner = buildCheckScript(registry, check, { ...opts.vars, SNAPDRILL_TARGET: opts.target, SNAPDRILL_SCRATCH: opts.scratch, SNAPDRILL_TIMEOUT_S: sandboxS });
  const plan = outputPlan(shell, opts.maxOutputBytes);
  const nonce = randomBytes(12).toString('hex');
  const paths = { dir: `${opts.scratch.replace(/\/+$/, '')}/.snapdrill-out`, base: `${check.id}-${nonce}` };
  const t0 = performance.now();
  const r = await shell.run(wrapCheckScript(inner, paths, nonce, plan), {
    timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onLocalProcess ? { onLocalProcess: opts.onLocalProcess } : {}),
  });
  const found = readMarker(r.stdout, nonce);
  let stdout = found ? found.before : r.stdout;
  let complete = Boolean(found && found.marker.bytes <= plan.inlineBytes);
  let cut: string | undefined;
  let overCap = false;
  let pages = 0;
  const finished = !opts.signal?.aborted && !r.timedOut;
  if (finished && found && found.marker.bytes > plan.capBytes) {
    overCap = true;
    cut = `it printed more than ${formatBytes(plan.capBytes)}`;
    await shell.run(`rm -f ${shellQuote(`${paths.dir}/${paths.base}.out`)}\n`, { timeoutMs: 60_000, ...(opts.signal ? { signal: opts.signal } : {}) }).catch(() => undefined);
  } else if (finished && !complete && (found || r.truncated)) {
    // Too long for one answer, or cut by the transport before the marker: read the file back in pages.
    const paged = await readPages(shell, `${paths.dir}/${paths.base}.out`, plan, { ...(opts.signal ? { signal: opts.signal } : {}) });
    pages = paged.pages;
    if (paged.ok) {
      stdout = paged.text;
      complete = true;
    } else {
      overCap = /more than/.test(paged.why);
      cut = found ? `its ${formatBytes(found.marker.bytes)} of output could not be read back: ${paged.why}` : `its output was cut at ${r.stdout.length} characters by the ${shell.kind} transport and could not be read back: ${paged.why}`;
    }
  }
  const exitCode = found ? found.marker.exit : r.exitCode;
  const { facts, protocolErrors } = parseFacts(check, stdout);
  const run: CheckRun = {
    check: check.id,
    target: opts.target,
    status: 'ran',
    exitCode: r.timedOut ? r.exitCode : exitCode,
    durationMs: Math.round(performance.now() - t0),
    facts,
    protocolErrors,
    stderrTail: r.stderr.split('\n').slice(-20).join('\n').slice(-4000),
    truncated: Boolean(cut),
    ...(found ? { outputBytes: found.marker.bytes } : {}),
    ...(pages ? { pages } : {}),
  };
  const skipped = facts.find((f) => f.fact === 'skipped');
  if (opts.signal?.aborted) {
    run.status = 'interrupted';
    run.reason = 'the run was interrupted';
  } else if (r.timedOut) {
    run.status = 'timed-out';
    run.reason = `no answer within ${Math.round(timeoutMs / 1000)}s`;
    run.remedy = 'raise timeouts.check, or look for a hung tool on the helper';
  } else if (cut) {
    run.status = 'truncated';
    run.reason = `output incomplete: ${cut}`;
    run.remedy = truncationRemedy(shell, overCap);
  } else if (!found) {
    // The wrapper itself did not finish (helper out of space, killed): no end marker, so no trustworthy output.
    run.status = 'failed';
    run.reason = `check script ended without its end marker (exit ${r.exitCode ?? 'none'})${run.stderrTail ? `: ${run.stderrTail.trim().split('\n').slice(-1)[0]}` : ''}`;
  } else if (skipped) {
    const v = skipped.value as { reason?: string; remedy?: string };
    run.status = 'skipped';
    run.reason = v.reason ?? 'skipped';
    if (v.remedy) run.remedy = v.remedy;
  } else if (exitCode !== 0) {
    run.status = 'failed';
    run.reason = `check script exited ${exitCode}${run.stderrTail ? `: ${run.stderrTail.trim().split('\n').slice(-1)[0]}` : ''}`;
  }
  return run;
}

/** LIBRARY_INPUTS are what library commands read besides HARNESS_INPUTS (fs_unmount: the filesystem type). */
const LIBRARY_INPUTS: Record<string, CheckInputSpec> = { SNAPDRILL_FSTYPE: { encoding: 'plain', description: 'the filesystem type (xfs needs nouuid)' } };

/**
 * runLibraryCommand runs one function of the check library (e.g. fs_unmount, find_volume_device) on the helper,
 * outside any check. These are idempotent, so a transient transport error is retried once (retryTransient).
 */
export async function runLibraryCommand(registry: CheckRegistry, shell: Shell, command: string, vars: Record<string, CheckInputValue>, opts: { timeoutMs: number; signal?: AbortSignal; onLocalProcess?: (pid: number) => void }) {
  const exports = exportInputs('harness', LIBRARY_INPUTS, { SNAPDRILL_CHECK: 'harness', ...vars });
  return retryTransient(() => shell.run(`${exports}\n${registry.library}\n${command}\n`, opts), opts.signal ? { signal: opts.signal } : {});
}
