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

/** SHARD_DIR is a shard's directory: shard-K-of-N, or shard-ACCOUNT-REGION-K-of-N for a fleet item. */
const SHARD_DIR = /^shard-(?:(\d{12})-([a-z]{2}(?:-gov)?-[a-z]+-\d)-)?(\d+)-of-(\d+)$/;

/** shardOfDir reads a shard directory's name. */
function shardOfDir(name: string): Shard {
  const m = SHARD_DIR.exec(name)!;
  return { k: Number(m[3]), n: Number(m[4]), ...(m[1] !== undefined ? { account: m[1], region: m[2]! } : {}) };
}

/** label names a shard the way an operator types it: "shard 2/4 (shard-2-of-4)", "item 111111111111/eu-west-1/2/4". */
function label(shard: Shard): string {
  return shard.account !== undefined ? `item ${shard.account}/${shard.region}/${shard.k}/${shard.n}` : `shard ${shard.k}/${shard.n} (${shardDirName(shard)})`;
}

/** rerun is the command that runs one shard or item again. */
function rerun(shard: Shard, runId: string): string {
  return shard.account !== undefined
    ? `snapdrill run -c CONFIG --item ${shard.account}/${shard.region}/${shard.k}/${shard.n} --run-id ${runId} (same --out)`
    : `snapdrill run --shard ${shard.k}/${shard.n} --run-id ${runId} (same config and --out)`;
}

/** problem is a harness error of the merge about one shard: the shard is its subject, and the remedy reruns it. */
function problem(code: 'shard-missing' | 'shard-failed' | 'shard-invalid' | 'shard-overlap', shard: Shard, runId: string, message: string): HarnessErrorInfo {
  return harnessError({ code, message, stage: 'merge', subject: shardDirName(shard), remedy: `run it again with "${rerun(shard, runId)}", then merge again` });
}

/** groupCounts infers a fleet run's items from its item directories: every k of each account-region's n (they must agree). */
function groupCounts(runDir: string, shards: Shard[]): Shard[] {
  const byGroup = new Map<string, Set<number>>();
  for (const s of shards) {
    const key = `${s.account}/${s.region}`;
    if (!byGroup.has(key)) byGroup.set(key, new Set());
    byGroup.get(key)!.add(s.n);
  }
  const out: Shard[] = [];
  for (const [key, counts] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
    if (counts.size > 1) throw new ConfigError(runDir, `holds items of ${key} split ${[...counts].join(' and ')} ways`, 'pass --items (the run\'s item list) to say which items the run has, and move the others away');
    const [account, region] = key.split('/') as [string, string];
    const n = [...counts][0]!;
    for (let k = 1; k <= n; k++) out.push({ k, n, account, region });
  }
  return out;
}

/** expectedShards is every shard of the run: --items or --expect when given, else what the shard directories agree on. */
function expectedShards(runDir: string, names: string[], expect: number | Shard[] | undefined): Shard[] {
  if (Array.isArray(expect)) return expect;
  const found = names.map(shardOfDir);
  if (found.some((s) => s.account !== undefined)) {
    if (expect !== undefined) throw new ConfigError('--expect', 'this run directory holds fleet items (shard-ACCOUNT-REGION-K-of-N): give the run\'s item list with --items instead');
    return groupCounts(runDir, found);
  }
  const counts = [...new Set(found.map((s) => s.n))].sort((a, b) => a - b);
  const stray = names.filter((d, i) => found[i]!.k < 1 || found[i]!.k > found[i]!.n || (expect !== undefined && found[i]!.n !== expect));
  if (stray.length) throw new ConfigError(runDir, `holds shard directories that do not belong to a run of ${expect ?? counts.join(' or ')} shard(s): ${stray.join(', ')}`, 'move them away, or pass the right --expect');
  if (counts.length > 1 && expect === undefined) throw new ConfigError(runDir, `holds shards of runs split ${counts.join(' and ')} ways: ${names.join(', ')}`, 'pass --expect N to say how many shards the run has, and move the others away');
  const n = expect ?? counts[0];
  if (n === undefined) throw new ConfigError(runDir, 'holds no shard-K-of-N directory: nothing to merge', 'run "snapdrill run --shard K/N --run-id RUN-ID --out OUT" for every K first, or pass --expect N (or --items) to report every shard missing');
  return Array.from({ length: n }, (_, i) => ({ k: i + 1, n }));
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
  const r = report.shard;
  if (report.runId !== runId || r?.index !== shard.k || r?.count !== shard.n || r?.account !== shard.account || r?.region !== shard.region) {
    return `its report ${file} is of run ${report.runId}${r ? ` ${label({ k: r.index, n: r.count, ...(r.account !== undefined ? { account: r.account, region: r.region! } : {}) })}` : ' (not a shard)'}, not of this run's ${label(shard)}`;
  }
  return report;
}

/**
 * readShardReports reads OUT/RUNID/shard-…/report.json for every shard of the run (--items, --expect, or what the
 * directories say). A shard with no report, an unusable one, or one that ended with exit 3 is a harness error naming
 * it: never dropped.
 */
export function readShardReports(runDir: string, runId: string, expect?: number | Shard[]): ShardReading {
  const names = existsSync(runDir) ? readdirSync(runDir).filter((d) => SHARD_DIR.test(d)) : [];
  const shards = expectedShards(runDir, names, expect);
  const parts: ShardPart[] = [];
  const problems: HarnessErrorInfo[] = [];
  for (const shard of shards) {
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
  return { count: shards.length, parts, problems };
}

/**
 * tolerate applies fleet.toleratedFailurePercent to the shards that left no usable report: within it they are still
 * named but marked tolerated (they do not fail the run); over it, one more error says the run failed and why.
 */
export function tolerate(reading: ShardReading, percent: number | undefined, runId: string): HarnessErrorInfo[] {
  const lost = reading.problems.filter((p) => p.code === 'shard-missing' || p.code === 'shard-invalid');
  if (percent === undefined || !lost.length) return reading.problems;
  const share = (100 * lost.length) / reading.count;
  if (share <= percent) return reading.problems.map((p) => (lost.includes(p) ? { ...p, tolerated: true } : p));
  return [
    harnessError({
      code: 'fleet-failure-threshold',
      message: `${lost.length} of ${reading.count} work items (${share.toFixed(1)}%) left no usable report, over the tolerated ${percent}% (fleet.toleratedFailurePercent): the run failed`,
      stage: 'merge',
      subject: runId,
      remedy: 'look at the named items below; run them again with "snapdrill run --item", then merge again',
    }),
    ...reading.problems,
  ];
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
export function mergeShardReports(runId: string, reading: ShardReading, toleratedPercent?: number): RunReport {
  const parts = [...reading.parts].sort((a, b) => shardName(a.shard).localeCompare(shardName(b.shard), 'en', { numeric: true }));
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
  const errors = distinctErrors([...tolerate(reading, toleratedPercent, runId), ...overlaps(parts, runId), ...reports.flatMap((r) => r.errors)]);
  const interrupted = reports.some((r) => r.interrupted);
  const run = judgeRun(snapshots, rpo, errors.filter((e) => !e.tolerated).length, interrupted);
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
  /** How many shards the run has, or every shard (a fleet run's items); default: what the shard directories say. */
  expect?: number | Shard[];
  /** fleet.toleratedFailurePercent: the share of shards that may leave no report without failing the run. */
  toleratedPercent?: number;
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
  if (typeof opts.expect === 'number' && (!Number.isInteger(opts.expect) || opts.expect < 1 || opts.expect > MAX_SHARDS)) {
    throw new ConfigError('--expect', `${opts.expect} is not a shard count (1 to ${MAX_SHARDS})`);
  }
  const dir = path.resolve(runDir);
  const runId = path.basename(dir);
  if (!RUN_ID_PATTERN.test(runId)) throw new ConfigError(runDir, `is not a run directory OUT/RUN-ID (its name "${runId}" is not a run id)`, 'name the directory the shards wrote into: OUT/RUN-ID, with the --run-id they were given');
  const report = mergeShardReports(runId, readShardReports(dir, runId, opts.expect), opts.toleratedPercent);
  if (opts.config) {
    const history = await recordHistory(report, opts.config, opts.log, { store: false });
    report.notifications = [...(report.notifications ?? []), history, ...(await notify(report, opts.config, dir, opts.log))];
  }
  const { files } = writeReports(report, path.dirname(dir), opts.config?.output.formats ?? ALL_FORMATS);
  return { report, reportDir: dir, files };
}
