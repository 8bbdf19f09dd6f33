import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { describeResource, isSameProcessAlive, processStartTicks, releaseResource, type ResourceRecord } from './resources.js';

/** LedgerLine is one append-only record in a run's ledger file. */
type LedgerLine =
  | { type: 'run'; runId: string; pid: number; pidStart?: string; startedAt: string; host: string }
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

  private constructor(file: string) {
    this.file = file;
  }

  /** create starts the ledger of a new run under stateDir/runs/. */
  static create(stateDir: string, runId: string): Ledger {
    const dir = path.join(stateDir, 'runs');
    mkdirSync(dir, { recursive: true });
    const ledger = new Ledger(path.join(dir, `${runId}.jsonl`));
    const header: LedgerLine = { type: 'run', runId, pid: process.pid, startedAt: new Date().toISOString(), host: os.hostname() };
    const ticks = processStartTicks(process.pid);
    if (ticks) header.pidStart = ticks;
    ledger.append(header);
    return ledger;
  }

  private append(line: LedgerLine): void {
    // Synchronous append + fsync: the record must be durable before the resource exists.
    const fd = openSync(this.file, 'a');
    try {
      appendFileSync(fd, `${JSON.stringify(line)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
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

  private async releaseOne(id: number): Promise<void> {
    const entry = this.open.get(id);
    if (!entry) return;
    await releaseResource(entry.resource);
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

  /** releaseAll releases everything still held, newest first. */
  async releaseAll(): Promise<void> {
    await this.releaseIds([...this.open.keys()].sort((a, b) => b - a));
  }

  private async releaseIds(ids: number[]): Promise<void> {
    let first: unknown;
    for (const id of ids) {
      try {
        await this.releaseOne(id);
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

/** LeftoverRun is a ledger whose run is gone, with what it still holds. */
export interface LeftoverRun {
  runId: string;
  file: string;
  pid: number;
  startedAt: string;
  alive: boolean;
  resources: { id: number; owner: string; resource: ResourceRecord }[];
}

/** readLedger replays a ledger file into the resources it still holds. */
export function readLedger(file: string): LeftoverRun | undefined {
  let header: Extract<LedgerLine, { type: 'run' }> | undefined;
  const open = new Map<number, { id: number; owner: string; resource: ResourceRecord }>();
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    if (!raw.trim()) continue;
    let line: LedgerLine;
    try {
      line = JSON.parse(raw) as LedgerLine;
    } catch {
      continue; // a line torn by a kill mid-write; the acquire before it is still there
    }
    if (line.type === 'run') header = line;
    else if (line.type === 'acquire') open.set(line.id, { id: line.id, owner: line.owner, resource: line.resource });
    else if (line.type === 'update') {
      const e = open.get(line.id);
      if (e) e.resource = line.resource;
    } else if (line.type === 'release' || line.type === 'keep') open.delete(line.id);
  }
  if (!header) return undefined;
  return {
    runId: header.runId,
    file,
    pid: header.pid,
    startedAt: header.startedAt,
    alive: isSameProcessAlive(header.pid, header.pidStart),
    resources: [...open.values()].sort((a, b) => b.id - a.id),
  };
}

/** listLedgers reads every run ledger under stateDir. */
export function listLedgers(stateDir: string): LeftoverRun[] {
  const dir = path.join(stateDir, 'runs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => readLedger(path.join(dir, f)))
    .filter((r): r is LeftoverRun => r !== undefined);
}

/** GcOutcome says, per leftover resource, what `gc` did. */
export interface GcOutcome {
  runId: string;
  resource: string;
  action: 'removed' | 'would-remove' | 'failed' | 'skipped-live-run';
  error?: string;
}

/** collectGarbage removes what dead runs left behind (newest first); live runs are left alone. */
export async function collectGarbage(stateDir: string, opts: { dryRun: boolean }): Promise<GcOutcome[]> {
  const out: GcOutcome[] = [];
  for (const run of listLedgers(stateDir)) {
    if (run.alive) {
      for (const r of run.resources) out.push({ runId: run.runId, resource: describeResource(r.resource), action: 'skipped-live-run' });
      continue;
    }
    let failed = false;
    for (const r of run.resources) {
      if (opts.dryRun) {
        out.push({ runId: run.runId, resource: describeResource(r.resource), action: 'would-remove' });
        continue;
      }
      try {
        await releaseResource(r.resource);
        appendFileSync(run.file, `${JSON.stringify({ type: 'release', id: r.id })}\n`);
        out.push({ runId: run.runId, resource: describeResource(r.resource), action: 'removed' });
      } catch (e) {
        failed = true;
        out.push({ runId: run.runId, resource: describeResource(r.resource), action: 'failed', error: errorMessage(e) });
      }
    }
    if (!opts.dryRun && !failed) rmSync(run.file, { force: true });
  }
  return out;
}
