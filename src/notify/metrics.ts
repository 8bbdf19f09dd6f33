import type { Consistency } from '../config/types.js';
import type { PhaseKind } from '../judges/types.js';
import type { RunReport } from '../report/types.js';
import { harnessErrorCount } from './alerts.js';

/** VERDICTS are the four consistency verdicts, each exported (0 included) so a series never disappears. */
export const VERDICTS = Object.keys({ 'application-consistent': 1, 'crash-consistent': 1, corrupt: 1, unknown: 1 } satisfies Record<Consistency, 1>) as Consistency[];

/** PHASE_KINDS are every phase kind, each exported (empty included), so rates and alarms see stable series. */
export const PHASE_KINDS = Object.keys({ restore: 1, attach: 1, discover: 1, check: 1, lint: 1, boot: 1, keep: 1, teardown: 1 } satisfies Record<PhaseKind, 1>) as PhaseKind[];

/** RunMetrics are the numbers a run exports, whatever the backend (Prometheus textfile, CloudWatch). */
export interface RunMetrics {
  snapshots: Record<Consistency, number>;
  policyFailures: number;
  harnessErrors: number;
  /** Every snapshot's phase durations in seconds, by phase kind: every known kind, then any other the report holds. */
  phaseSeconds: Map<string, number[]>;
  /** Each snapshot's restore-to-verified time in seconds. */
  restoreToVerifiedSeconds: number[];
  rpoViolations: number;
  /** Per account and region (snapshots that name them: AWS), verdict counts and policy failures; empty otherwise. */
  places: PlaceMetrics[];
  /** The run's finish, Unix seconds. */
  finishedAt: number;
  exitCode: number;
}

/** PlaceMetrics are one account and region's share of a run. */
export interface PlaceMetrics {
  account: string;
  region: string;
  snapshots: Record<Consistency, number>;
  policyFailures: number;
}

/** placeMetrics counts verdicts and policy failures per account and region, sorted; snapshots naming neither are left out. */
export function placeMetrics(report: RunReport): PlaceMetrics[] {
  const by = new Map<string, PlaceMetrics>();
  for (const s of report.snapshots) {
    if (s.account === undefined && s.region === undefined) continue;
    const key = `${s.account ?? ''}/${s.region ?? ''}`;
    if (!by.has(key)) by.set(key, { account: s.account ?? '', region: s.region ?? '', snapshots: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Consistency, number>, policyFailures: 0 });
    const p = by.get(key)!;
    p.snapshots[s.consistency]++;
    if (!s.policy.pass) p.policyFailures++;
  }
  return [...by.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, p]) => p);
}

/** runMetrics reads a finished run's metrics from its report. */
export function runMetrics(report: RunReport): RunMetrics {
  const snapshots = Object.fromEntries(VERDICTS.map((v) => [v, report.snapshots.filter((s) => s.consistency === v).length])) as Record<Consistency, number>;
  const phaseSeconds = new Map<string, number[]>(PHASE_KINDS.map((k) => [k, []]));
  for (const p of report.snapshots.flatMap((s) => s.phases)) {
    if (!phaseSeconds.has(p.kind)) phaseSeconds.set(p.kind, []);
    phaseSeconds.get(p.kind)!.push(p.durationMs / 1000);
  }
  return {
    snapshots,
    policyFailures: report.snapshots.filter((s) => !s.policy.pass).length,
    harnessErrors: harnessErrorCount(report),
    phaseSeconds,
    restoreToVerifiedSeconds: report.snapshots.map((s) => s.restoreToVerifiedMs / 1000),
    rpoViolations: report.rpo?.length ?? 0,
    places: placeMetrics(report),
    finishedAt: Date.parse(report.finishedAt) / 1000,
    exitCode: report.exitCode,
  };
}
