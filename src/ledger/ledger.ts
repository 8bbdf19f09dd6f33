import { appendFileSync, closeSync, constants, fsyncSync, openSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorMessage, InfraError } from '../errors.js';
import { describeResource, isSameProcessAlive, processStartTicks, releaseResource, settleOrder, type CloudReleaser, type ResourceRecord } from './resources.js';
import { readTrustedFile, recordRefusal, scratchRoots, secureDir } from './trust.js';

/** LedgerLine is one append-only record in a run's ledger file. */
type LedgerLine =
  /** scratchRoot: where the run put its local copies; gc accepts paths below it (when the directory passes its checks). */
  | { type: 'run'; runId: string; pid: number; pidStart?: string; startedAt: string; host: string; scratchRoot?: string }
  | { type: 'acquire'; id: number; owner: string; resource: ResourceRecord }
  | { type: 'update'; id: number; resource: ResourceRecord }
  | { type: 'release'; id: number }
  /** Kept on purpose (keep-on-failure): not released by this run nor by gc's ledger pass; the cloud expiry tag decides. */
  | { type: 'keep'; id: number };

/** defaultStateDir is where ledgers live: /var/lib/snapdrill for root, ~/.local/state/snapdrill otherwise. */
export function defaultStateDir(): string {
  if (process.env.SNAPDRILL_STATE_DIR) return process.env.SNAPDRILL_STATE_DIR;
  return process.getuid?.() === 0 ? '/var/lib/snapdrill' : path.join(os.homedir(), '.local', 'state', 'snapdrill');
}

/** Held is a resource the ledger tracks until it is released. */
export interface Held {
  readonly id: number;
  /** update records details learned after creation (e.g. which loop device was assigned). */
  update(resource: ResourceRecord): void;
  /** release removes the resource now and marks it released. */
  release(): Promise<void>;
}

/**
 * Ledger records every resource a run creates, on disk, before it is created, so that teardown
 * (and `snapdrill gc` after a SIGKILL) can remove everything in reverse order.
 */
export class Ledger {
  readonly file: string;
  private readonly open = new Map<number, { owner: string; resource: ResourceRecord }>();
  private nextId = 1;

  private constructor(
    file: string,
    private readonly cloud: CloudReleaser | undefined,
  ) {
    this.file = file;
  }

  /** Fixes made to the state directory on the way (it was open to other users). */
  readonly warnings: string[] = [];

  /**
   * create starts the ledger of a new run under stateDir/runs/, both directories 0700 and the file 0600: `gc`, which
   * runs as root, trusts only ledgers nobody else could have written. A state directory of another user is refused.
   * `cloud` is the run's provider's releaser of cloud resources (Provider.releaseCloud), when it creates any.
   */
  static create(stateDir: string, runId: string, opts: { scratchRoot?: string; cloud?: CloudReleaser } = {}): Ledger {
    const warnings: string[] = [];
    for (const dir of [stateDir, path.join(stateDir, 'runs')]) {
      const check = secureDir(dir, { create: true });
      if (check.refused) throw new InfraError('state-dir-untrusted', `state directory: ${check.refused}`, { remedy: 'use a state directory owned by the user snapdrill runs as (--state-dir, SNAPDRILL_STATE_DIR), mode 0700' });
      warnings.push(...check.warnings);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId)) throw new InfraError('bad-run-id', `run id ${JSON.stringify(runId)} cannot name a ledger file`);
    const ledger = new Ledger(path.join(stateDir, 'runs', `${runId}.jsonl`), opts.cloud);
    ledger.warnings.push(...warnings);
    const header: LedgerLine = { type: 'run', runId, pid: process.pid, startedAt: new Date().toISOString(), host: os.hostname(), ...(opts.scratchRoot ? { scratchRoot: path.resolve(opts.scratchRoot) } : {}) };
    const ticks = processStartTicks(process.pid);
    if (ticks) header.pidStart = ticks;
    ledger.append(header);
    return ledger;
  }

  private append(line: LedgerLine): void {
    appendDurably(this.file, line);
  }

  /** acquire records a resource that is about to be created and returns its handle. */
  acquire(owner: string, resource: ResourceRecord): Held {
    const id = this.nextId++;
    this.append({ type: 'acquire', id, owner, resource });
    this.open.set(id, { owner, resource });
    return {
      id,
      update: (r) => {
        const entry = this.open.get(id);
        if (!entry) return;
        entry.resource = r;
        this.append({ type: 'update', id, resource: r });
      },
      release: () => this.releaseOne(id),
    };
  }

  private async releaseOne(id: number, settle = false): Promise<void> {
    const entry = this.open.get(id);
    if (!entry) return;
    await releaseResource(entry.resource, { settle }, this.cloud);
    this.open.delete(id);
    this.append({ type: 'release', id });
  }

  /** releaseOwner releases, newest first, everything still held for one owner; it tries all and throws the first failure. */
  async releaseOwner(owner: string): Promise<void> {
    const ids = [...this.open.entries()].filter(([, e]) => e.owner === owner).map(([id]) => id);
    await this.releaseIds(ids.sort((a, b) => b - a));
  }

  /** keep hands over, without releasing them, the resources of one owner that match: the run stops tracking them. */
  keep(owner: string, match: (r: ResourceRecord) => boolean): ResourceRecord[] {
    const kept: ResourceRecord[] = [];
    for (const [id, e] of [...this.open.entries()]) {
      if (e.owner !== owner || !match(e.resource)) continue;
      this.append({ type: 'keep', id });
      this.open.delete(id);
      kept.push(e.resource);
    }
    return kept;
  }

  /**
   * releaseAll settles the run at its end: helper instances first (terminating one frees what is attached to it),
   * then everything else newest first, volumes detached by force (nothing of the run uses them any more).
   */
  async releaseAll(): Promise<void> {
    const held = settleOrder([...this.open.entries()].map(([id, e]) => ({ id, resource: e.resource })));
    await this.releaseIds(
      held.map((h) => h.id),
      true,
    );
  }

  private async releaseIds(ids: number[], settle = false): Promise<void> {
    let first: unknown;
    for (const id of ids) {
      try {
        await this.releaseOne(id, settle);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }

  /** close deletes the ledger file when nothing is left to release; otherwise keeps it for `gc`. */
  close(): boolean {
    if (this.open.size > 0) return false;
    rmSync(this.file, { force: true });
    return true;
  }
}

/** appendDurably appends one line and fsyncs it (the record must be durable before the resource exists); it never follows a symlink and creates the file 0600. */
function appendDurably(file: string, line: LedgerLine): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    appendFileSync(fd, `${JSON.stringify(line)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** LeftoverRun is a ledger whose run is gone, with what it still holds. */
export interface LeftoverRun {
  runId: string;
  file: string;
  pid: number;
  startedAt: string;
  alive: boolean;
  /** The scratch root the run declared, if any. */
  scratchRoot?: string;
  /** Newest first. */
  resources: { id: number; owner: string; resource: ResourceRecord }[];
}

/** parseLedger replays a ledger's text into the resources it still holds; undefined without a run header. */
function parseLedger(file: string, text: string): LeftoverRun | undefined {
  let header: Extract<LedgerLine, { type: 'run' }> | undefined;
  const open = new Map<number, { id: number; owner: string; resource: ResourceRecord }>();
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let line: LedgerLine;
    try {
      line = JSON.parse(raw) as LedgerLine;
    } catch {
      continue; // a line torn by a kill mid-write; the acquire before it is still there
    }
    if (!line || typeof line !== 'object') continue;
    if (line.type === 'run') header = line;
    else if (line.type === 'acquire') open.set(line.id, { id: line.id, owner: line.owner, resource: line.resource });
    else if (line.type === 'update') {
      const e = open.get(line.id);
      if (e) e.resource = line.resource;
    } else if (line.type === 'release' || line.type === 'keep') open.delete(line.id);
  }
  if (!header || typeof header.runId !== 'string') return undefined;
  return {
    runId: header.runId,
    file,
    pid: header.pid,
    startedAt: header.startedAt,
    alive: Number.isSafeInteger(header.pid) && header.pid > 0 && isSameProcessAlive(header.pid, header.pidStart),
    ...(typeof header.scratchRoot === 'string' ? { scratchRoot: header.scratchRoot } : {}),
    resources: [...open.values()].sort((a, b) => b.id - a.id),
  };
}

/** readLedger replays a ledger file into the resources it still holds; undefined when it is not a trusted ledger. */
export function readLedger(file: string): LeftoverRun | undefined {
  const f = readTrustedFile(file);
  return 'text' in f ? parseLedger(file, f.text) : undefined;
}

/** LedgerScan is what a state directory holds: trusted ledgers, and the files and directories refused, with why. */
export interface LedgerScan {
  runs: LeftoverRun[];
  refused: { file: string; reason: string }[];
  warnings: string[];
}

/**
 * scanLedgers reads the ledgers under stateDir that gc may trust (see trust.ts): the state and runs/ directories
 * owned by this user and 0700 (`fix`: a looser one of ours is set to 0700 with a warning), each file a regular
 * file of this user that nobody else can write. Everything else is refused, with the reason, and never read.
 */
export function scanLedgers(stateDir: string, opts: { fix?: boolean } = {}): LedgerScan {
  const out: LedgerScan = { runs: [], refused: [], warnings: [] };
  const dir = path.join(stateDir, 'runs');
  for (const d of [stateDir, dir]) {
    const check = secureDir(d, { create: false, fix: opts.fix ?? false });
    out.warnings.push(...check.warnings);
    if (check.refused) {
      out.refused.push({ file: d, reason: check.refused });
      return out;
    }
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.filter((f) => f.endsWith('.jsonl')).sort()) {
    const file = path.join(dir, name);
    const f = readTrustedFile(file);
    if ('refused' in f) {
      out.refused.push({ file, reason: f.refused });
      continue;
    }
    const run = parseLedger(file, f.text);
    if (run) out.runs.push(run);
  }
  return out;
}

/** listLedgers reads every trusted run ledger under stateDir. */
export function listLedgers(stateDir: string): LeftoverRun[] {
  return scanLedgers(stateDir).runs;
}

/** GcOutcome says, per leftover resource, what `gc` did. */
export interface GcOutcome {
  runId: string;
  resource: string;
  /** refused: gc will not act on it (a ledger it did not write, a record outside its rules); never touched. */
  action: 'removed' | 'would-remove' | 'failed' | 'skipped-live-run' | 'refused';
  error?: string;
}

/** GcResult is what one gc pass over the ledgers did, with the fixes it made on the way. */
export interface GcResult {
  outcomes: GcOutcome[];
  warnings: string[];
}

/**
 * GcOptions: dryRun lists only; scratchRoots are where local paths may lie (besides the root each run declared);
 * cloud releases the cloud resources ledgers hold (the provider of `gc -c CONFIG`), which are failures without it.
 */
export interface GcOptions {
  dryRun: boolean;
  scratchRoots?: string[];
  cloud?: CloudReleaser;
}

/**
 * collectGarbage settles what dead runs left behind, from the ledgers it trusts: helper instances first, then the
 * rest newest first. Live runs are left alone; refused ledgers and records are reported and never acted on.
 */
export async function collectGarbage(stateDir: string, opts: GcOptions): Promise<GcResult> {
  const scan = scanLedgers(stateDir, { fix: !opts.dryRun });
  const out: GcOutcome[] = scan.refused.map((r) => ({ runId: path.basename(r.file, '.jsonl'), resource: `ledger ${r.file}`, action: 'refused' as const, error: r.reason }));
  const warnings = [...scan.warnings];
  for (const run of scan.runs) {
    if (run.alive) {
      for (const r of run.resources) out.push({ runId: run.runId, resource: describeResource(r.resource), action: 'skipped-live-run' });
      continue;
    }
    const roots = scratchRoots([...(opts.scratchRoots ?? []), ...(run.scratchRoot ? [run.scratchRoot] : [])]);
    warnings.push(...roots.refused.map((w) => `run ${run.runId}: ${w}`));
    let failed = false;
    for (const r of settleOrder(run.resources)) {
      const refusal = recordRefusal(r.resource, roots.roots);
      const what = refusal === undefined ? describeResource(r.resource) : safeDescribe(r.resource);
      if (refusal) {
        failed = true;
        out.push({ runId: run.runId, resource: what, action: 'refused', error: refusal });
        continue;
      }
      if (opts.dryRun) {
        out.push({ runId: run.runId, resource: what, action: 'would-remove' });
        continue;
      }
      try {
        await releaseResource(r.resource, { settle: true, lazyUnmount: false }, opts.cloud);
        appendDurably(run.file, { type: 'release', id: r.id });
        out.push({ runId: run.runId, resource: what, action: 'removed' });
      } catch (e) {
        failed = true;
        out.push({ runId: run.runId, resource: what, action: 'failed', error: errorMessage(e) });
      }
    }
    if (!opts.dryRun && !failed) rmSync(run.file, { force: true });
  }
  return { outcomes: out, warnings };
}

/** safeDescribe renders a record that failed the checks without trusting its shape. */
function safeDescribe(r: unknown): string {
  try {
    return describeResource(r as ResourceRecord).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  } catch {
    return JSON.stringify(r)?.slice(0, 200) ?? String(r);
  }
}
