/**
 * Metrics of the last run in the Prometheus text exposition format, for node_exporter's textfile collector
 * (`--collector.textfile.directory`): one file, rewritten atomically after every run.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, fchmodSync } from 'node:fs';
import path from 'node:path';
import type { NotificationOutcome, RunReport } from '../report/types.js';
import { runMetrics, VERDICTS } from './metrics.js';
import { errorText, outcomeOf } from './outcome.js';

/** PHASE_BUCKETS (seconds): a loop attach takes milliseconds, an EBS restore or a boot test minutes. */
export const PHASE_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/** RTV_BUCKETS (seconds): restore-to-verified spans a local image (seconds) to a large EBS volume with a boot test (an hour or two). */
export const RTV_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

const LAST_SUCCESS = 'snapdrill_last_success_timestamp_seconds';

type Labels = Record<string, string>;

/** renderPrometheus renders a run's metrics; `previous` (the file's old text) carries the last success over a failed run. */
export function renderPrometheus(report: RunReport, previous?: string): string {
  const m = runMetrics(report);
  const lastSuccess = m.exitCode === 0 ? m.finishedAt : previousLastSuccess(previous);
  return [
    gauge('snapdrill_snapshots', 'Snapshots verified by the last run, by consistency verdict.', VERDICTS.map((v) => [{ verdict: v }, m.snapshots[v]])),
    gauge('snapdrill_policy_failures', 'Snapshots of the last run that failed the policy.', [[{}, m.policyFailures]]),
    m.places.length ? gauge('snapdrill_place_snapshots', 'Snapshots verified by the last run per account and region, by consistency verdict.', m.places.flatMap((p) => VERDICTS.map((v): [Labels, number] => [{ account: p.account, region: p.region, verdict: v }, p.snapshots[v]]))) : [],
    m.places.length ? gauge('snapdrill_place_policy_failures', 'Snapshots of the last run that failed the policy, per account and region.', m.places.map((p): [Labels, number] => [{ account: p.account, region: p.region }, p.policyFailures])) : [],
    gauge('snapdrill_harness_errors', 'Harness errors of the last run: run errors plus snapshots that ended in an error.', [[{}, m.harnessErrors]]),
    histogram('snapdrill_phase_seconds', 'Time the last run spent in each phase of each snapshot, by phase kind.', PHASE_BUCKETS, [...m.phaseSeconds].map(([k, v]) => [{ phase: k }, v])),
    histogram('snapdrill_restore_to_verified_seconds', 'Restore-to-verified time (the measured RTO) of each snapshot of the last run.', RTV_BUCKETS, [[{}, m.restoreToVerifiedSeconds]]),
    gauge('snapdrill_rpo_violations', 'Volumes with no snapshot newer than policy.rpo at the last run.', [[{}, m.rpoViolations]]),
    gauge('snapdrill_last_run_timestamp_seconds', 'When the last run finished (Unix time).', [[{}, m.finishedAt]]),
    gauge('snapdrill_last_run_exit_code', 'Exit code of the last run: 0 ok, 1 policy failed, 3 or more harness error.', [[{}, m.exitCode]]),
    lastSuccess === undefined ? [] : gauge(LAST_SUCCESS, 'When a run last finished with exit code 0 (Unix time).', [[{}, lastSuccess]]),
  ]
    .flat()
    .join('\n')
    .concat('\n');
}

/** previousLastSuccess reads snapdrill_last_success_timestamp_seconds from an earlier file; undefined when absent or unreadable. */
export function previousLastSuccess(previous: string | undefined): number | undefined {
  const m = new RegExp(`^${LAST_SUCCESS}(?:\\{\\})?[ \\t]+(\\S+)`, 'm').exec(previous ?? '');
  const value = m ? Number(m[1]) : NaN;
  return Number.isFinite(value) ? value : undefined;
}

/** gauge renders a gauge's HELP, TYPE and one sample per label set. */
function gauge(name: string, help: string, samples: [Labels, number][]): string[] {
  return [...header(name, help, 'gauge'), ...samples.map(([labels, value]) => sample(name, labels, value))];
}

/** histogram renders a histogram: per label set, cumulative `_bucket{le}` (ending with +Inf), `_sum` and `_count`. */
function histogram(name: string, help: string, buckets: number[], series: [Labels, number[]][]): string[] {
  const lines = header(name, help, 'histogram');
  for (const [labels, values] of series) {
    for (const le of buckets) lines.push(sample(`${name}_bucket`, { ...labels, le: formatValue(le) }, values.filter((v) => v <= le).length));
    lines.push(sample(`${name}_bucket`, { ...labels, le: '+Inf' }, values.length));
    // Rounded to the microsecond: adding 0.1 three times must print 0.3, not 0.30000000000000004.
    lines.push(sample(`${name}_sum`, labels, Math.round(values.reduce((a, b) => a + b, 0) * 1e6) / 1e6));
    lines.push(sample(`${name}_count`, labels, values.length));
  }
  return lines;
}

/** header is a metric family's HELP (escaped per the format) and TYPE lines. */
function header(name: string, help: string, type: 'gauge' | 'histogram'): string[] {
  return [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
}

/** sample renders one line: name, labels (values escaped per the exposition format) and value. */
function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

/** escapeLabelValue escapes backslash, double quote and line feed, the three characters the text format escapes in label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** formatValue writes a sample value as Go's ParseFloat reads it (+Inf, -Inf, NaN included). */
function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(n);
}

/**
 * writePrometheusTextfile writes the run's metrics to `file` atomically: a temp file in the same directory (not
 * ending in .prom, so the collector never reads it half-written), fsync, mode 0644, rename. Never throws.
 */
export function writePrometheusTextfile(report: RunReport, file: string): NotificationOutcome {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const text = renderPrometheus(report, readPrevious(file));
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, text);
      // The umask may have narrowed the mode: node_exporter often runs as another user and must read the file.
      fchmodSync(fd, 0o644);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    return outcomeOf('prometheus', file);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      /* never created, or already renamed */
    }
    return outcomeOf('prometheus', file, [errorText(err)]);
  }
}

/** readPrevious is the file's current text, or undefined when there is none yet. */
function readPrevious(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
