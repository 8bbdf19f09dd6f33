import type { LineageEntry, RpoViolation, RunRecord } from '../judges/history.js';

/** SnapshotOfReport is what history reads of one snapshot's result (report/types.ts SnapshotResult). */
interface SnapshotOfReport extends Pick<LineageEntry, 'lineage' | 'account' | 'region' | 'consistency' | 'boot' | 'restoreToVerifiedMs'> {
  id: string;
  startTime?: string;
  policy: { pass: boolean; reason: string };
  phases: readonly { kind: keyof LineageEntry['phases']; durationMs: number }[];
  error?: { code: string; message: string };
}

/**
 * ReportOfRun is what history reads of a run's report (report/types.ts RunReport, which is one): declared here because
 * report/ and judges/ import history/, and folders do not import each other both ways (test/unit/architecture.test.ts).
 */
export interface ReportOfRun extends Pick<RunRecord, 'runId' | 'startedAt' | 'finishedAt' | 'exitCode' | 'interrupted' | 'provider' | 'host'> {
  errors: readonly unknown[];
  snapshots: readonly SnapshotOfReport[];
  rpo?: RpoViolation[];
}

/** oneLine folds a reason that may quote tool output onto one line, as history keeps it. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** phaseTotals sums a snapshot's phase durations by kind, as judges/rto.ts does: judges/ imports history/, not the other way. */
function phaseTotals(phases: SnapshotOfReport['phases']): LineageEntry['phases'] {
  const out: LineageEntry['phases'] = {};
  for (const p of phases) out[p.kind] = (out[p.kind] ?? 0) + p.durationMs;
  return out;
}

/** entryOf is what history keeps of one snapshot's result: the harness error, when there is one, is the reason (it says more than "unknown"). */
function entryOf(s: SnapshotOfReport): LineageEntry {
  return {
    lineage: s.lineage,
    snapshotId: s.id,
    ...(s.startTime !== undefined ? { snapshotStartTime: s.startTime } : {}),
    ...(s.account !== undefined ? { account: s.account } : {}),
    ...(s.region !== undefined ? { region: s.region } : {}),
    consistency: s.consistency,
    boot: s.boot,
    policyPass: s.policy.pass,
    reason: oneLine(s.error?.message ?? s.policy.reason),
    restoreToVerifiedMs: s.restoreToVerifiedMs,
    phases: phaseTotals(s.phases),
    ...(s.error ? { errorCode: s.error.code } : {}),
  };
}

/** recordFromReport is the history record of a run (or of one shard of a fleet run): one entry per snapshot verified. */
export function recordFromReport(report: ReportOfRun, shard?: string): RunRecord {
  return {
    schemaVersion: 1,
    runId: report.runId,
    ...(shard !== undefined ? { shard } : {}),
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    exitCode: report.exitCode,
    interrupted: report.interrupted,
    provider: { type: report.provider.type, source: report.provider.source },
    host: report.host,
    errors: report.errors.length,
    entries: report.snapshots.map(entryOf),
    rpo: report.rpo ?? [],
  };
}
