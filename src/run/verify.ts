import type { CheckRegistry } from '../checks/registry.js';
import { runCheck, runLibraryCommand, type CheckRun, type Fact } from '../checks/runner.js';
import type { Config, Engine } from '../config/types.js';
import { errorMessage, InterruptedError, isSnapdrillError } from '../errors.js';
import { canariesFor, encodeCanaries, evaluateCanaries, judgeMongo, missingCanaries, newDbFinding, type CanaryResult, type DatabaseFinding, type DbTarget } from '../judges/database.js';
import { judgeDiscovery, type FsTarget } from '../judges/discovery.js';
import { judgeExt4 } from '../judges/ext4.js';
import { judgeMariadb } from '../judges/mariadb.js';
import { evaluatePolicy } from '../judges/policy.js';
import { judgePostgres } from '../judges/postgresql.js';
import { judgeSnapshot } from '../judges/snapshot.js';
import { judgeSqlite } from '../judges/sqlite.js';
import type { FilesystemFinding } from '../judges/types.js';
import { judgeXfs } from '../judges/xfs.js';
import type { Ledger } from '../ledger/ledger.js';
import { processStartTicks } from '../ledger/resources.js';
import type { AttachedVolume, Provider, SnapshotInfo, StageContext } from '../providers/provider.js';
import type { RunEvents } from './events.js';
import type { CheckRunSummary, HarnessErrorInfo, PhaseTiming, SnapshotResult } from './types.js';

/** FS_JUDGES maps a filesystem check id to the pure function that judges its facts. */
const FS_JUDGES: Record<string, (t: FsTarget, facts: Fact[]) => FilesystemFinding> = {
  ext4: judgeExt4,
  xfs: judgeXfs,
};

/** DB_JUDGES maps an engine to the pure function that judges its database check's facts. */
const DB_JUDGES: Partial<Record<Engine, (t: DbTarget, facts: Fact[]) => DatabaseFinding>> = {
  postgresql: judgePostgres,
  mariadb: judgeMariadb,
  sqlite: judgeSqlite,
};

/** MOUNTABLE are the filesystem states whose (replayed) scratch copy is mounted to look for databases. */
const MOUNTABLE = new Set(['clean', 'frozen', 'replayed']);

/** b64 encodes a value passed to a check script that may hold any character. */
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** dbTargetsFrom reads the dbfind check's facts. */
function dbTargetsFrom(facts: Fact[], filesystem: string): DbTarget[] {
  return facts
    .filter((f) => f.fact === 'database')
    .map((f) => {
      const v = f.value as { engine: Engine; path: string; version?: string; lockBytes?: number; missing?: boolean };
      return { engine: v.engine, path: v.path, filesystem, ...(v.version ? { version: v.version } : {}), ...(v.lockBytes !== undefined ? { lockBytes: v.lockBytes } : {}), ...(v.missing ? { missing: true } : {}) };
    });
}

/** VerifyDeps are what verification needs; all of it is injected so tests can use real parts selectively. */
export interface VerifyDeps {
  config: Config;
  provider: Provider;
  registry: CheckRegistry;
  ledger: Ledger;
  events: RunEvents;
  signal: AbortSignal;
}

/** mapLimit runs fn over items with at most `limit` in flight, keeping result order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function summarizeRun(r: CheckRun): CheckRunSummary {
  return {
    check: r.check,
    target: r.target,
    status: r.status,
    exitCode: r.exitCode,
    durationMs: r.durationMs,
    protocolErrors: r.protocolErrors,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.remedy ? { remedy: r.remedy } : {}),
  };
}

/** blocked records a check that did not run because an earlier stage failed ("skipped, blocked by: attach"). */
function blocked(check: string, target: string, by: string): CheckRunSummary {
  return { check, target, status: 'skipped', exitCode: null, durationMs: 0, reason: `blocked by: ${by}`, protocolErrors: [] };
}

/** findingForUnfinishedRun describes a filesystem whose check did not produce a usable result: skipped, timed out, failed. */
function findingForUnfinishedRun(t: FsTarget, run: CheckRun): FilesystemFinding {
  return {
    target: t.target,
    device: t.device,
    sizeBytes: t.sizeBytes,
    ...(t.fstype ? { fstype: t.fstype } : {}),
    ...(t.uuid ? { uuid: t.uuid } : {}),
    ...(t.label ? { label: t.label } : {}),
    state: 'unknown',
    summary: `${run.check} check ${run.status}: ${run.reason ?? 'no result'}`,
    evidence: [{ key: `${run.check}.status`, value: run.status, text: run.reason ?? run.status }],
    hints: run.remedy ? [{ text: `the ${run.check} check could not run to completion`, remedy: run.remedy }] : [],
    excerpts: run.stderrTail ? [{ title: `${run.check} stderr`, exitCode: run.exitCode, text: run.stderrTail }] : [],
  };
}

/** verifySnapshot restores, attaches, inspects and judges one snapshot, and always tears down what it created. */
export async function verifySnapshot(snap: SnapshotInfo, deps: VerifyDeps): Promise<{ result: SnapshotResult; errors: HarnessErrorInfo[] }> {
  const { config, provider, registry, ledger, events, signal } = deps;
  const owner = snap.id;
  const phases: PhaseTiming[] = [];
  const checks: CheckRunSummary[] = [];
  const errors: HarnessErrorInfo[] = [];
  let findings: FilesystemFinding[] = [];
  const databases: DatabaseFinding[] = [];
  const canaries: CanaryResult[] = [];
  let partitionTable: string | undefined;
  let allocatedBytes: number | undefined;
  let stageError: HarnessErrorInfo | undefined;
  let attachedVol: AttachedVolume | undefined;

  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (signal.aborted) throw new InterruptedError(String(signal.reason ?? 'signal'));
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    events.phaseStart?.(snap.id, name);
    try {
      const r = await fn();
      const durationMs = Math.round(performance.now() - t0);
      phases.push({ phase: name, startedAt, durationMs, status: 'ok' });
      events.phaseEnd?.(snap.id, name, true, durationMs);
      return r;
    } catch (e) {
      const durationMs = Math.round(performance.now() - t0);
      phases.push({ phase: name, startedAt, durationMs, status: 'failed', detail: errorMessage(e) });
      events.phaseEnd?.(snap.id, name, false, durationMs);
      throw e;
    }
  };
  const ctx = (timeoutMs: number): StageContext => ({ ledger, owner, signal, timeoutMs });
  const check = async (id: string, target: string, scratch: string, vars: Record<string, string> = {}): Promise<CheckRun> => {
    const def = registry.get(id);
    const held: { release(): Promise<void> }[] = [];
    try {
      const run = await runCheck(registry, def, provider.shell(attachedVol), {
        target,
        scratch,
        vars,
        defaultTimeoutMs: config.timeouts.checkMs,
        signal,
        onLocalProcess: (pid) => {
          const ticks = processStartTicks(pid);
          held.push(ledger.acquire(owner, { kind: 'process', pid, what: `check ${id} on ${target}`, ...(ticks ? { startTicks: ticks } : {}) }));
        },
      });
      checks.push(summarizeRun(run));
      if (run.status === 'interrupted') throw new InterruptedError(String(signal.reason ?? 'signal'));
      return run;
    } finally {
      for (const h of held) await h.release();
    }
  };

  /** inspectDatabases mounts one replayed filesystem, finds its databases, checks each (concurrently) and unmounts it. */
  const inspectDatabases = async (t: FsTarget, fsFinding: FilesystemFinding, scratch: string): Promise<DbTarget[]> => {
    const fsVars = { SNAPDRILL_FSTYPE: t.fstype ?? 'auto' };
    const dbc = config.databases;
    try {
      const find = await phase(`find databases ${t.target}`, () =>
        check('dbfind', t.device, scratch, {
          ...fsVars,
          SNAPDRILL_EXCLUDE: b64(dbc.exclude.join('\n')),
          SNAPDRILL_INCLUDE: b64(dbc.include.map((i) => `${i.engine}\t${i.path}`).join('\n')),
          SNAPDRILL_SQLITE_SCAN: dbc.sqliteScan ? '1' : '0',
        }),
      );
      const mount = find.facts.find((f) => f.fact === 'mount')?.value as { ok: boolean; output?: string } | undefined;
      if (find.status !== 'ran' || !mount?.ok) {
        fsFinding.evidence.push({ key: 'data.mount', value: false, text: `could not mount ${t.target} to look for databases: ${mount?.output ?? find.reason ?? 'no result'}` });
        fsFinding.state = 'unknown';
        fsFinding.summary = `${fsFinding.summary}; but the filesystem could not be mounted to look for databases`;
        return [];
      }
      const targets = dbTargetsFrom(find.facts, t.target);
      const judged = await mapLimit(targets, 4, async (db): Promise<DatabaseFinding> => {
        if (db.missing) {
          const f = newDbFinding(db);
          f.summary = `configured ${db.engine} path ${db.path} does not exist on ${t.target}`;
          return f;
        }
        if (db.engine === 'mongodb') return judgeMongo(db);
        const def = registry.forEngine(db.engine)[0];
        const judge = DB_JUDGES[db.engine];
        if (!def || !judge) {
          const f = newDbFinding(db);
          f.state = 'not-checked';
          f.summary = `no check for ${db.engine}`;
          return f;
        }
        const mine = canariesFor(dbc.canaries, db);
        const run = await phase(`check ${def.id} ${db.path}`, () =>
          check(def.id, t.device, scratch, {
            ...fsVars,
            SNAPDRILL_DBPATH: db.path,
            SNAPDRILL_DB_TIMEOUT: String(Math.ceil(dbc.startupTimeoutMs / 1000)),
            SNAPDRILL_CANARIES: encodeCanaries(mine),
          }),
        );
        canaries.push(...evaluateCanaries(db, run.facts, mine, snap.startTime));
        if (run.status === 'ran' || run.status === 'skipped') return judge(db, run.facts);
        const f = newDbFinding(db);
        f.summary = `${def.id} check ${run.status}: ${run.reason ?? 'no result'}`;
        if (run.remedy) f.hints.push({ text: f.summary, remedy: run.remedy });
        if (run.stderrTail) f.excerpts.push({ title: `${def.id} stderr`, exitCode: run.exitCode, text: run.stderrTail });
        return f;
      });
      databases.push(...judged);
      return targets;
    } finally {
      await phase(`unmount ${t.target}`, () =>
        runLibraryCommand(registry, provider.shell(attachedVol), 'fs_unmount', { ...fsVars, SNAPDRILL_TARGET: t.device, SNAPDRILL_SCRATCH: scratch }, { timeoutMs: 120_000, signal }),
      ).catch(() => undefined);
    }
  };

  try {
    const restored = await phase('restore', () => provider.restore(snap, ctx(config.timeouts.restoreMs)));
    allocatedBytes = restored.allocatedBytes;
    const attached = await phase('attach', () => provider.attach(restored, ctx(config.timeouts.attachMs)));
    attachedVol = attached;
    partitionTable = attached.partitionTable;
    const discover = await phase('discover', () => check('discover', attached.device, restored.scratch));
    if (discover.status !== 'ran') {
      findings = [findingForUnfinishedRun({ target: 'disk', device: attached.device, sizeBytes: snap.sizeBytes }, discover)];
    } else {
      const d = judgeDiscovery(discover.facts, (fstype) => registry.forFilesystem(fstype).length > 0);
      findings = [...d.findings];
      for (const t of d.targets) {
        for (const def of registry.forFilesystem(t.fstype!)) {
          const run = await phase(`check ${def.id} ${t.target}`, () => check(def.id, t.device, restored.scratch));
          const judge = FS_JUDGES[def.id];
          if (run.status !== 'ran') findings.push(findingForUnfinishedRun(t, run));
          else if (judge) findings.push(judge(t, run.facts));
        }
      }
      if (config.databases.enabled) {
        const found: DbTarget[] = [];
        for (const t of d.targets) {
          const fsFinding = findings.find((f) => f.target === t.target);
          if (!fsFinding || !MOUNTABLE.has(fsFinding.state)) {
            checks.push(blocked('dbfind', t.device, `filesystem ${t.target} is ${fsFinding?.state ?? 'unchecked'}`));
            continue;
          }
          found.push(...(await inspectDatabases(t, fsFinding, restored.scratch)));
        }
        canaries.push(...missingCanaries(config.databases.canaries, found, snap.tags));
      }
      for (const w of attached.warnings) {
        for (const f of findings) f.evidence.push({ key: 'attach.warning', value: w, text: w });
      }
      findings.sort((a, b) => a.target.localeCompare(b.target, 'en', { numeric: true }));
    }
  } catch (e) {
    const stage = phases.at(-1)?.phase ?? 'restore';
    stageError = {
      code: isSnapdrillError(e) ? e.code : 'internal',
      message: errorMessage(e),
      stage,
      source: isSnapdrillError(e) ? e.source : 'infrastructure',
      ...(isSnapdrillError(e) && e.remedy ? { remedy: e.remedy } : {}),
    };
    if (!checks.some((c) => c.check === 'discover')) checks.push(blocked('discover', '', stage));
    // A snapshot that cannot be restored is a result about the snapshot; anything else is the harness's problem too.
    if (!(isSnapdrillError(e) && e.source === 'user')) errors.push(stageError);
  } finally {
    try {
      await phase('teardown', () => ledger.releaseOwner(owner));
    } catch (e) {
      errors.push({ code: 'teardown-failed', message: `teardown of ${snap.id}: ${errorMessage(e)} (recorded for snapdrill gc)`, stage: 'teardown', source: 'infrastructure', remedy: 'run snapdrill gc' });
    }
  }

  const verdict = stageError
    ? { consistency: 'unknown' as const, summary: `could not verify: ${stageError.message}`, reasons: [`${stageError.stage}: ${stageError.message}`], hints: stageError.remedy ? [{ text: stageError.message, remedy: stageError.remedy }] : [] }
    : judgeSnapshot(findings, snap.tags, databases);
  const result: SnapshotResult = {
    id: snap.id,
    source: snap.source,
    tags: snap.tags,
    sizeBytes: snap.sizeBytes,
    consistency: verdict.consistency,
    boot: 'not-tested',
    summary: verdict.summary,
    reasons: verdict.reasons,
    hints: verdict.hints,
    filesystems: findings,
    databases,
    canaries,
    checks,
    phases,
    policy: evaluatePolicy(snap, verdict.consistency, config.policy, canaries),
    ...(snap.volumeId ? { volumeId: snap.volumeId } : {}),
    ...(snap.startTime ? { startTime: snap.startTime } : {}),
    ...(allocatedBytes !== undefined ? { allocatedBytes } : {}),
    ...(partitionTable ? { partitionTable } : {}),
    ...(stageError ? { error: stageError } : {}),
  };
  events.snapshotDone?.(result);
  return { result, errors };
}

/** verifyAll verifies snapshots with bounded concurrency; results keep the input order. */
export async function verifyAll(snaps: SnapshotInfo[], deps: VerifyDeps): Promise<{ results: SnapshotResult[]; errors: HarnessErrorInfo[] }> {
  for (const s of snaps) deps.events.snapshotQueued?.(s.id);
  const out = await mapLimit(snaps, deps.config.concurrency, (s) => verifySnapshot(s, deps));
  return { results: out.map((o) => o.result), errors: out.flatMap((o) => o.errors) };
}
