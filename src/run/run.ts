import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { CheckRegistry } from '../checks/registry.js';
import type { Config, SnapshotSelector } from '../config/types.js';
import { judgeRpo } from '../judges/rpo.js';
import { judgeRun } from '../judges/run.js';
import { Ledger } from '../ledger/ledger.js';
import { createProvider } from '../providers/factory.js';
import type { Provider } from '../provider.js';
import { writeReports } from '../report/write.js';
import { selectSnapshots } from '../select.js';
import { VERSION } from '../version.js';
import type { RunEvents } from './events.js';
import type { HarnessErrorInfo, RunReport } from '../report/types.js';
import { distinctErrors, teardownFailed } from './harness-errors.js';
import { coveredVolumes } from './rpo.js';
import { verifyAll } from './verify.js';
import { FactLog, notify, packEvidence, recordHistory } from './after.js';
import { shardName, shardOf, type Shard } from './shard.js';

/** newRunId makes a sortable, unique run id: UTC timestamp plus random suffix. */
export function newRunId(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${ts}-${randomBytes(3).toString('hex')}`;
}

/**
 * RUN_ID_PATTERN is what --run-id accepts: newRunId's ids, and a workflow's execution names (Step Functions: letters,
 * digits, `-` and `_`), short and safe as a directory name, an S3 key part and a ledger name. History sorts runs by
 * their start time, not their ids.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;

/** shardDirName is the subdirectory of OUT/RUNID/ a shard writes its report into: shard-K-of-N. */
export function shardDirName(shard: Shard): string {
  return `shard-${shardName(shard)}`;
}

/** describeScope says what a run was asked to verify, in the config's words (for the auditor's summary). */
export function describeScope(selectors: readonly SnapshotSelector[]): string[] {
  if (!selectors.length) return ['every snapshot the provider lists'];
  return selectors.map((s) =>
    [
      s.ids ? `snapshots ${s.ids.join(', ')}` : '',
      s.volumeIds ? `volumes ${s.volumeIds.join(', ')}` : '',
      s.tags ? `tagged ${Object.entries(s.tags).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(', ')}` : '',
      s.latestPerVolume ? `the latest ${s.latestPerVolume} per volume` : '',
    ]
      .filter(Boolean)
      .join('; ') || 'every snapshot',
  );
}

/** RunOptions are the per-invocation settings that are not part of the config. */
export interface RunOptions {
  stateDir: string;
  events: RunEvents;
  signal: AbortSignal;
  runId?: string;
  /** Builds the provider; tests use it to point a provider at an emulator. Default: from the config. */
  providerFactory?: (config: Config, runId: string) => Provider;
  /** False for a run that is not one of the nightly series (diagnose's lint): no history, alerts, metrics or evidence. */
  record?: boolean;
  /**
   * The part of the selection to verify (run --shard K/N). A shard writes OUT/RUNID/shard-K-of-N/, stores its history
   * record as shard "K-of-N", judges the RPO only when it is shard 1, and sends no alerts or metrics: `snapdrill merge`
   * sends them once for the whole run.
   */
  shard?: Shard;
}

/** RunOutcome is a finished run: its report and where the report files went. */
export interface RunOutcome {
  report: RunReport;
  reportDir: string;
  files: string[];
  /** The signed evidence pack, when output.evidence asked for one: its manifest, or why it could not be written. */
  evidence?: { manifest: string; files: number } | { error: string };
}

/** executeRun selects, verifies and reports; it creates nothing before the selection and preflight succeed. */
export async function executeRun(config: Config, opts: RunOptions): Promise<RunOutcome> {
  const runId = opts.runId ?? newRunId();
  const record = opts.record ?? true;
  const facts = new FactLog();
  const startedAt = new Date();
  // Shards of one run share the run id; each needs its own ledger and scratch directory.
  const workId = opts.shard ? `${runId}.${shardDirName(opts.shard)}` : runId;
  const provider = (opts.providerFactory ?? createProvider)(config, workId);
  const registry = CheckRegistry.load();
  const all = await provider.listSnapshots();
  const selection = selectSnapshots(all, config.snapshots, provider.describe());
  const selected = opts.shard ? shardOf(selection, opts.shard.k, opts.shard.n) : selection;
  await provider.preflight();
  // The RPO is judged at the start of the run, on what exists then (a snapshot made during the run does not count).
  // A fleet run judges it once, in shard 1, over the whole selection: otherwise every shard would report the same violation.
  const judgesRpo = config.policy.rpoMs !== undefined && (opts.shard?.k ?? 1) === 1;
  const rpo = judgesRpo ? judgeRpo(await coveredVolumes(provider, all, selection, config.snapshots), config.policy.rpoMs!, startedAt) : undefined;

  // The scratch root is recorded so gc accepts this run's paths (and only paths under it); cloud records are released by this provider.
  const releaseCloud = provider.releaseCloud?.bind(provider);
  const ledger = Ledger.create(opts.stateDir, workId, {
    ...(config.provider.type === 'local' ? { scratchRoot: config.provider.scratchDir } : {}),
    ...(releaseCloud ? { cloud: releaseCloud } : {}),
  });
  let results: RunReport['snapshots'] = [];
  const errors: HarnessErrorInfo[] = [];
  try {
    await provider.start(ledger, selected.length, opts.signal);
    const out = await verifyAll(selected, { config, provider, registry, ledger, events: opts.events, signal: opts.signal, ...(record && config.output.evidence ? { factLog: facts.add } : {}) });
    results = out.results;
    errors.push(...out.errors);
  } finally {
    try {
      await ledger.releaseAll();
    } catch (e) {
      errors.push(teardownFailed(e));
    }
    ledger.close();
  }

  const interrupted = opts.signal.aborted;
  // One line per distinct problem: an interruption is reported once, not once per snapshot.
  const distinct = distinctErrors(errors);
  const run = judgeRun(results, rpo ?? [], distinct.length, interrupted);
  const finishedAt = new Date();
  const report: RunReport = {
    schemaVersion: 1,
    tool: { name: 'snapdrill', version: VERSION },
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    host: os.hostname(),
    provider: { type: provider.type, source: provider.describe() },
    concurrency: config.concurrency,
    policy: {
      minimum: config.policy.minimum,
      allowUnknown: config.policy.allowUnknown,
      rules: config.policy.rules.length,
      ...(config.policy.rtoMs !== undefined ? { rtoMs: config.policy.rtoMs } : {}),
      ...(config.policy.rpoMs !== undefined ? { rpoMs: config.policy.rpoMs } : {}),
    },
    scope: describeScope(config.snapshots),
    ...(opts.shard ? { shard: { index: opts.shard.k, count: opts.shard.n, ...(opts.shard.account !== undefined ? { account: opts.shard.account, region: opts.shard.region! } : {}) } } : {}),
    interrupted,
    exitCode: run.exitCode,
    summary: { ...run.summary, checkTimeMs: results.reduce((n, r) => n + r.checks.reduce((m, c) => m + c.durationMs, 0), 0) },
    errors: distinct,
    snapshots: results,
    ...(rpo ? { rpo } : {}),
  };
  if (!record) {
    const written = writeReports(report, config.output.dir, config.output.formats, { latest: false });
    return { report, reportDir: written.dir, files: written.files };
  }
  // After the verdicts, before the files: the report says what changed since the last run and what was sent.
  const log = (line: string) => opts.events.message?.(line);
  const reportDir = path.join(config.output.dir, runId);
  const history = await recordHistory(report, config, log, opts.shard ? { shard: shardName(opts.shard) } : {});
  report.notifications = opts.shard ? [history] : [history, ...(await notify(report, config, reportDir, log))];
  const { dir, files } = opts.shard ? writeShardReports(report, config, opts.shard) : writeReports(report, config.output.dir, config.output.formats);
  if (!config.output.evidence) return { report, reportDir: dir, files };
  try {
    return { report, reportDir: dir, files, evidence: await packEvidence(report, config, dir, facts) };
  } catch (e) {
    log(`evidence pack: ${errorMessage(e)}`);
    return { report, reportDir: dir, files, evidence: { error: errorMessage(e) } };
  }
}

/**
 * writeShardReports writes a shard's reports into OUT/RUNID/shard-K-of-N/, always with report.json (merge reads it).
 * They are written beside it first and renamed into place, so merge never reads a half-written shard, and a shard
 * run again replaces its earlier report.
 */
function writeShardReports(report: RunReport, config: Config, shard: Shard): { dir: string; files: string[] } {
  const runDir = path.join(config.output.dir, report.runId);
  const dir = path.join(runDir, shardDirName(shard));
  const staging = path.join(runDir, `.${shardDirName(shard)}.tmp-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  try {
    const formats = config.output.formats.includes('json') ? config.output.formats : [...config.output.formats, 'json' as const];
    const written = writeReports(report, staging, formats, { latest: false });
    rmSync(dir, { recursive: true, force: true });
    renameSync(written.dir, dir);
    return { dir, files: written.files.map((f) => path.join(dir, path.basename(f))) };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
