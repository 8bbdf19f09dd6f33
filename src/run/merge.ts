import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, ReportFormat } from '../config/types.js';
import { ConfigError, errorMessage, InfraError } from '../errors.js';
import { judgeRun } from '../judges/run.js';
import type { HarnessErrorInfo, NotificationOutcome, RunReport } from '../report/types.js';
import { REPORT_FILES, writeReports } from '../report/write.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import { VERSION } from '../version.js';
import { notify, recordHistory } from './after.js';
import { distinctErrors, harnessError } from './harness-errors.js';
import { RUN_ID_PATTERN, shardDirName } from './run.js';
import { MAX_SHARDS, shardName, type Shard } from './shard.js';

/** ShardPart is one shard's report as merge found it. */
export interface ShardPart {
  shard: Shard;
  report: RunReport;
}

/** ShardReading is what a run directory holds: the shard count, the reports read, and a harness error per shard that has none usable. */
export interface ShardReading {
  count: number;
  parts: ShardPart[];
  problems: HarnessErrorInfo[];
}

const SHARD_DIR = /^shard-(\d+)-of-(\d+)$/;

/** label names a shard the way an operator types it: "shard 2/4 (shard-2-of-4)". */
function label(shard: Shard): string {
  return `shard ${shard.k}/${shard.n} (${shardDirName(shard)})`;
}

/** problem is a harness error of the merge about one shard: the shard is its subject, and the remedy reruns it. */
function problem(code: 'shard-missing' | 'shard-failed' | 'shard-invalid' | 'shard-overlap', shard: Shard, runId: string, message: string): HarnessErrorInfo {
  return harnessError({
    code,
    message,
    stage: 'merge',
    subject: shardDirName(shard),
    remedy: `run that shard again with "snapdrill run --shard ${shard.k}/${shard.n} --run-id ${runId}" (same config and --out), then merge again`,
  });
}

/** shardCount is N of the run: --expect, else what the shard-K-of-N directories agree on. */
function shardCount(runDir: string, names: string[], expect: number | undefined): number {
  const counts = [...new Set(names.map((d) => Number(SHARD_DIR.exec(d)![2])))].sort((a, b) => a - b);
  const stray = names.filter((d) => {
    const [, k, n] = SHARD_DIR.exec(d)!.map(Number);
    return k! < 1 || k! > n! || (expect !== undefined && n !== expect);
  });
  if (stray.length) throw new ConfigError(runDir, `holds shard directories that do not belong to a run of ${expect ?? counts.join(' or ')} shard(s): ${stray.join(', ')}`, 'move them away, or pass the right --expect');
  if (expect !== undefined) return expect;
  if (counts.length > 1) throw new ConfigError(runDir, `holds shards of runs split ${counts.join(' and ')} ways: ${names.join(', ')}`, 'pass --expect N to say how many shards the run has, and move the others away');
  if (!counts.length) throw new ConfigError(runDir, 'holds no shard-K-of-N directory: nothing to merge', 'run "snapdrill run --shard K/N --run-id RUN-ID --out OUT" for every K first, or pass --expect N to report every shard missing');
  return counts[0]!;
}

/** readShard reads and validates one shard's report.json; a string is why it cannot be used. */
function readShard(file: string, shard: Shard, runId: string): RunReport | string {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return `its report ${file} cannot be read: ${errorMessage(e)}`;
  }
  const validate = compiledSchema('report.schema.json');
  if (!validate(data)) return `its report ${file} does not match schemas/report.schema.json: ${describeSchemaErrors(validate.errors).slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('; ')}`;
  const report = data as RunReport;
  if (report.runId !== runId || report.shard?.index !== shard.k || report.shard?.count !== shard.n) {
    return `its report ${file} is of run ${report.runId}${report.shard ? ` shard ${report.shard.index}/${report.shard.count}` : ' (not a shard)'}, not of this run's ${shard.k}/${shard.n}`;
  }
  return report;
}

/**
 * readShardReports reads OUT/RUNID/shard-K-of-N/report.json for every K of the run. A shard with no report (fewer
 * than N, or than --expect), an unusable one, or one that ended with exit 3 is a harness error naming it: never dropped.
 */
export function readShardReports(runDir: string, runId: string, expect?: number): ShardReading {
  const names = existsSync(runDir) ? readdirSync(runDir).filter((d) => SHARD_DIR.test(d)) : [];
  const count = shardCount(runDir, names, expect);
  const parts: ShardPart[] = [];
  const problems: HarnessErrorInfo[] = [];
  for (let k = 1; k <= count; k++) {
    const shard = { k, n: count };
    const file = path.join(runDir, shardDirName(shard), REPORT_FILES.json);
    if (!existsSync(file)) {
      problems.push(problem('shard-missing', shard, runId, `${label(shard)} has no report in ${runDir}: it did not run, did not finish, or wrote no report.json`));
      continue;
    }
    const read = readShard(file, shard, runId);
    if (typeof read === 'string') {
      problems.push(problem('shard-invalid', shard, runId, `${label(shard)}: ${read}`));
      continue;
    }
    if (read.exitCode === 3) problems.push(problem('shard-failed', shard, runId, `${label(shard)} could not complete (exit 3${read.interrupted ? ', interrupted' : ''}): its own errors follow`));
    parts.push({ shard, report: read });
  }
  return { count, parts, problems };
}

/** distinct joins the different values of a field of the shards. */
function distinct(values: string[], sep: string): string {
  return [...new Set(values)].join(sep);
}

/** overlaps names every snapshot more than one shard verified: shards made from different selections (the catalog changed between them). */
function overlaps(parts: ShardPart[], runId: string): HarnessErrorInfo[] {
  const seen = new Map<string, Shard>();
  const out: HarnessErrorInfo[] = [];
  for (const { shard, report } of parts) {
    for (const s of report.snapshots) {
      const first = seen.get(s.id);
      if (first) out.push(problem('shard-overlap', shard, runId, `${s.id} was verified by ${label(first)} and by ${label(shard)}: the shards saw different selections (did the snapshots change between them?)`));
      else seen.set(s.id, shard);
    }
  }
  return out;
}

/**
 * mergeShardReports makes one run report of a fleet run's shards: snapshots by id, every error (the merge's own
 * first), the RPO violations (judged by shard 1), the time from the earliest start to the latest finish, and the
 * summary and exit code judged again over the whole. At least one shard's report is needed.
 */
export function mergeShardReports(runId: string, reading: ShardReading): RunReport {
  const parts = [...reading.parts].sort((a, b) => a.shard.k - b.shard.k);
  if (!parts.length) {
    throw new InfraError('shard-missing', `no shard of run ${runId} left a usable report: ${reading.problems.map((p) => p.message).join('; ')}`, { remedy: 'run the shards again with the same --run-id, then merge again' });
  }
  const first = parts[0]!.report;
  const reports = parts.map((p) => p.report);
  const ms = (t: string) => Date.parse(t);
  const startedAt = reports.map((r) => r.startedAt).reduce((a, b) => (ms(b) < ms(a) ? b : a));
  const finishedAt = reports.map((r) => r.finishedAt).reduce((a, b) => (ms(b) > ms(a) ? b : a));
  const byVolume = new Map(reports.flatMap((r) => r.rpo ?? []).map((v) => [`${v.account ?? ''}/${v.region ?? ''}/${v.volumeId}`, v]));
  const rpo = [...byVolume.values()];
  const snapshots = reports.flatMap((r) => r.snapshots).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const errors = distinctErrors([...reading.problems, ...overlaps(parts, runId), ...reports.flatMap((r) => r.errors)]);
  const interrupted = reports.some((r) => r.interrupted);
  const run = judgeRun(snapshots, rpo, errors.length, interrupted);
  const notifications: NotificationOutcome[] = parts.flatMap(({ shard, report }) => (report.notifications ?? []).map((n) => ({ ...n, target: `${shardName(shard)}: ${n.target}` })));
  return {
    schemaVersion: 1,
    tool: { name: 'snapdrill', version: VERSION },
    runId,
    startedAt,
    finishedAt,
    durationMs: ms(finishedAt) - ms(startedAt),
    host: distinct(reports.map((r) => r.host), ', '),
    provider: { type: distinct(reports.map((r) => r.provider.type), ', '), source: distinct(reports.map((r) => r.provider.source), '; ') },
    concurrency: reports.reduce((n, r) => n + r.concurrency, 0),
    policy: first.policy,
    ...(first.scope ? { scope: first.scope } : {}),
    interrupted,
    exitCode: run.exitCode,
    summary: { ...run.summary, checkTimeMs: snapshots.reduce((n, r) => n + r.checks.reduce((m, c) => m + c.durationMs, 0), 0) },
    errors,
    snapshots,
    ...(rpo.length || reports.some((r) => r.rpo) ? { rpo } : {}),
    ...(notifications.length ? { notifications } : {}),
  };
}

/** MergeOptions are the settings of one merge. */
export interface MergeOptions {
  /** How many shards the run has; default: what the shard directories say. */
  expect?: number;
  /** With a config: compare with the history and send the alerts and metrics, once for the whole run. */
  config?: Config;
  log: (line: string) => void;
}

/** MergeOutcome is the merged report and where its files went (OUT/RUNID/). */
export interface MergeOutcome {
  report: RunReport;
  reportDir: string;
  files: string[];
}

const ALL_FORMATS: ReportFormat[] = ['html', 'json', 'junit'];

/**
 * mergeRun merges OUT/RUNID/shard-*-of-N/ into OUT/RUNID/ (HTML, JSON, JUnit; OUT/latest points at it). The shards
 * stored their own history records (the store merges them when listing), so the merge only reads the history to say
 * what changed; it sends the alerts and metrics the shards did not.
 */
export async function mergeRun(runDir: string, opts: MergeOptions): Promise<MergeOutcome> {
  if (opts.expect !== undefined && (!Number.isInteger(opts.expect) || opts.expect < 1 || opts.expect > MAX_SHARDS)) {
    throw new ConfigError('--expect', `${opts.expect} is not a shard count (1 to ${MAX_SHARDS})`);
  }
  const dir = path.resolve(runDir);
  const runId = path.basename(dir);
  if (!RUN_ID_PATTERN.test(runId)) throw new ConfigError(runDir, `is not a run directory OUT/RUN-ID (its name "${runId}" is not a run id)`, 'name the directory the shards wrote into: OUT/RUN-ID, with the --run-id they were given');
  const report = mergeShardReports(runId, readShardReports(dir, runId, opts.expect));
  if (opts.config) {
    const history = await recordHistory(report, opts.config, opts.log, { store: false });
    report.notifications = [...(report.notifications ?? []), history, ...(await notify(report, opts.config, dir, opts.log))];
  }
  const { files } = writeReports(report, path.dirname(dir), opts.config?.output.formats ?? ALL_FORMATS);
  return { report, reportDir: dir, files };
}
