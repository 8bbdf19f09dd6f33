import { compiledSchema } from '../util/schema.js';
import { shellQuote, type Shell } from '../shells/shell.js';
import type { CheckDefinition, CheckRegistry } from './registry.js';

/** Fact is one validated NDJSON line printed by a check. */
export interface Fact {
  check: string;
  target: string;
  fact: string;
  value: unknown;
}

/** CheckStatus is the closed set of ways a check run can end. */
export type CheckStatus = 'ran' | 'skipped' | 'failed' | 'timed-out' | 'interrupted';

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
  truncated: boolean;
}

/** buildCheckScript makes the self-contained script sent to the helper: variables, library, body. */
export function buildCheckScript(registry: CheckRegistry, check: CheckDefinition, vars: Record<string, string>): string {
  const packages = Object.entries(check.packages)
    .map(([distro, pkgs]) => `${pkgs.join(' ')} (${distro})`)
    .join(', ');
  const all: Record<string, string> = { SNAPDRILL_CHECK: check.id, SNAPDRILL_PACKAGES: packages, ...vars };
  const exports = Object.entries(all)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
    .join('\n');
  const require = check.needs.length ? `require ${check.needs.join(' ')}\n` : '';
  return `${exports}\n${registry.library}\n${require}${check.body}`;
}

/** parseFacts validates NDJSON output; lines that are not facts of this check are returned as protocol errors. */
export function parseFacts(checkId: string, stdout: string): { facts: Fact[]; protocolErrors: string[] } {
  const validate = compiledSchema('fact.schema.json');
  const facts: Fact[] = [];
  const protocolErrors: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      protocolErrors.push(line.slice(0, 500));
      continue;
    }
    if (!validate(obj) || (obj as Fact).check !== checkId) {
      protocolErrors.push(line.slice(0, 500));
      continue;
    }
    facts.push(obj as Fact);
  }
  return { facts, protocolErrors };
}

/** RunCheckOptions are the per-run parameters of a check. */
export interface RunCheckOptions {
  target: string;
  scratch: string;
  /** Extra SNAPDRILL_* variables for the script (database path, canaries, ...). */
  vars?: Record<string, string>;
  defaultTimeoutMs: number;
  signal?: AbortSignal;
  onLocalProcess?: (pid: number) => void;
}

/** runCheck sends one check to the helper and returns what it gathered; it never judges. */
export async function runCheck(registry: CheckRegistry, check: CheckDefinition, shell: Shell, opts: RunCheckOptions): Promise<CheckRun> {
  const script = buildCheckScript(registry, check, { ...opts.vars, SNAPDRILL_TARGET: opts.target, SNAPDRILL_SCRATCH: opts.scratch });
  const r = await shell.run(script, {
    timeoutMs: check.timeoutMs ?? opts.defaultTimeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onLocalProcess ? { onLocalProcess: opts.onLocalProcess } : {}),
  });
  const { facts, protocolErrors } = parseFacts(check.id, r.stdout);
  const run: CheckRun = {
    check: check.id,
    target: opts.target,
    status: 'ran',
    exitCode: r.exitCode,
    durationMs: Math.round(r.durationMs),
    facts,
    protocolErrors,
    stderrTail: r.stderr.split('\n').slice(-20).join('\n').slice(-4000),
    truncated: r.truncated,
  };
  const skipped = facts.find((f) => f.fact === 'skipped');
  if (opts.signal?.aborted) {
    run.status = 'interrupted';
    run.reason = 'the run was interrupted';
  } else if (r.timedOut) {
    run.status = 'timed-out';
    run.reason = `no answer within ${Math.round((check.timeoutMs ?? opts.defaultTimeoutMs) / 1000)}s`;
    run.remedy = 'raise timeouts.check, or look for a hung tool on the helper';
  } else if (skipped) {
    const v = skipped.value as { reason?: string; remedy?: string };
    run.status = 'skipped';
    run.reason = v.reason ?? 'skipped';
    if (v.remedy) run.remedy = v.remedy;
  } else if (r.exitCode !== 0) {
    run.status = 'failed';
    run.reason = `check script exited ${r.exitCode}${run.stderrTail ? `: ${run.stderrTail.trim().split('\n').slice(-1)[0]}` : ''}`;
  }
  return run;
}

/** runLibraryCommand runs one function of the check library (e.g. fs_unmount) on the helper, outside any check. */
export async function runLibraryCommand(registry: CheckRegistry, shell: Shell, command: string, vars: Record<string, string>, opts: { timeoutMs: number; signal?: AbortSignal; onLocalProcess?: (pid: number) => void }) {
  const exports = Object.entries({ SNAPDRILL_CHECK: 'harness', ...vars })
    .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
    .join('\n');
  return shell.run(`${exports}\n${registry.library}\n${command}\n`, opts);
}
