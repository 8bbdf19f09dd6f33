/**
 * The run's metrics in CloudWatch (PutMetricData), the same content as the Prometheus textfile:
 *
 * | metric | dimensions | unit | value |
 * |---|---|---|---|
 * | Snapshots | Verdict | Count | snapshots per consistency verdict (0 included) |
 * | Snapshots | Account, Region, Verdict | Count | the same per account and region (AWS snapshots; a fleet run's every place) |
 * | PolicyFailures, HarnessErrors, RpoViolations | | Count | as snapdrill_policy_failures, _harness_errors, _rpo_violations |
 * | PolicyFailures | Account, Region | Count | policy failures per account and region |
 * | PhaseDuration | Phase | Seconds | every snapshot's phases of that kind (Values/Counts) |
 * | RestoreToVerified | | Seconds | each snapshot's restore-to-verified time (Values/Counts) |
 * | ExitCode | | None | the run's exit code |
 * | RunSucceeded | | Count | 1 when the exit code is 0, else 0: alarm on its Maximum over a day being below 1 (or missing) |
 *
 * Every datum also carries `opts.dimensions` and is stamped with the run's finish time.
 */
import { PutMetricDataCommand, type CloudWatchClient, type Dimension, type MetricDatum, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { NotificationOutcome, RunReport } from '../report/types.js';
import { runMetrics, VERDICTS } from './metrics.js';
import { errorText, outcomeOf } from './outcome.js';

/** CloudWatchOptions name the namespace ("Snapdrill", say) and dimensions added to every metric (Environment=prod). */
export interface CloudWatchOptions {
  namespace: string;
  dimensions?: Record<string, string>;
}

/** MAX_DATA_PER_CALL is PutMetricData's limit of metric data per request. */
const MAX_DATA_PER_CALL = 1000;
/** MAX_VALUES is PutMetricData's limit of distinct Values in one datum: more go into further data of the same metric. */
const MAX_VALUES = 150;

/** putCloudWatchMetrics sends the run's metrics, in batches of at most 1000 data. Never throws. */
export async function putCloudWatchMetrics(report: RunReport, client: CloudWatchClient, opts: CloudWatchOptions, signal?: AbortSignal): Promise<NotificationOutcome> {
  const target = opts.namespace;
  try {
    const data = cloudWatchData(report, opts.dimensions ?? {});
    for (let i = 0; i < data.length; i += MAX_DATA_PER_CALL) {
      await client.send(new PutMetricDataCommand({ Namespace: opts.namespace, MetricData: data.slice(i, i + MAX_DATA_PER_CALL) }), { abortSignal: signal });
    }
    return outcomeOf('cloudwatch', target);
  } catch (err) {
    return outcomeOf('cloudwatch', target, [errorText(err)]);
  }
}

/** cloudWatchData lists the run's metric data (see the module comment). */
export function cloudWatchData(report: RunReport, dimensions: Record<string, string>): MetricDatum[] {
  const m = runMetrics(report);
  const base = Object.entries(dimensions).map(([Name, Value]): Dimension => ({ Name, Value }));
  const at = new Date(m.finishedAt * 1000);
  const datum = (name: string, unit: StandardUnit, value: number | Distribution, extra: Dimension[] = []): MetricDatum => ({
    MetricName: name,
    Dimensions: [...base, ...extra],
    Timestamp: at,
    Unit: unit,
    ...(typeof value === 'number' ? { Value: value } : value),
  });
  return [
    ...VERDICTS.map((v) => datum('Snapshots', 'Count', m.snapshots[v], [{ Name: 'Verdict', Value: v }])),
    datum('PolicyFailures', 'Count', m.policyFailures),
    ...m.places.flatMap((p) => {
      const where: Dimension[] = [{ Name: 'Account', Value: p.account }, { Name: 'Region', Value: p.region }];
      return [...VERDICTS.map((v) => datum('Snapshots', 'Count', p.snapshots[v], [...where, { Name: 'Verdict', Value: v }])), datum('PolicyFailures', 'Count', p.policyFailures, where)];
    }),
    datum('HarnessErrors', 'Count', m.harnessErrors),
    datum('RpoViolations', 'Count', m.rpoViolations),
    datum('ExitCode', 'None', m.exitCode),
    datum('RunSucceeded', 'Count', m.exitCode === 0 ? 1 : 0),
    ...[...m.phaseSeconds].flatMap(([phase, values]) => distribution(values).map((d) => datum('PhaseDuration', 'Seconds', d, [{ Name: 'Phase', Value: phase }]))),
    ...distribution(m.restoreToVerifiedSeconds).map((d) => datum('RestoreToVerified', 'Seconds', d)),
  ];
}

/** Distribution is a datum's Values and how often each occurred (Counts). */
export interface Distribution {
  Values: number[];
  Counts: number[];
}

/** distribution folds values into PutMetricData's Values/Counts pairs, at most MAX_VALUES distinct values per datum; none for no values. */
export function distribution(values: number[]): Distribution[] {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const pairs = [...counts];
  const out: Distribution[] = [];
  for (let i = 0; i < pairs.length; i += MAX_VALUES) {
    const chunk = pairs.slice(i, i + MAX_VALUES);
    out.push({ Values: chunk.map(([v]) => v), Counts: chunk.map(([, c]) => c) });
  }
  return out;
}
