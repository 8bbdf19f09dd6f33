import type { LineageEntry, RunRecord } from '../judges/history.js';
import { phaseTotals } from '../judges/rto.js';
import type { RunReport, SnapshotResult } from '../report/types.js';

/** oneLine folds a reason that may quote tool output onto one line, as history keeps it. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** entryOf is what history keeps of one snapshot's result: the harness error, when there is one, is the reason (it says more than "unknown"). */
function entryOf(s: SnapshotResult): LineageEntry {
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
export function recordFromReport(report: RunReport, shard?: string): RunRecord {
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
