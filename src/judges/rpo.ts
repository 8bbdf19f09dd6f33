import type { RpoViolation } from './history.js';
import { formatDuration } from '../util/duration.js';

/** CoveredVolume is one volume the selection covers, with every completed snapshot of it the provider knows. */
export interface CoveredVolume {
  volumeId: string;
  account?: string;
  region?: string;
  snapshots: { id: string; startTime?: string }[];
}

/**
 * judgeRpo finds the covered volumes whose newest completed snapshot is older than the RPO budget at run time, or that
 * have no snapshot at all: each is a failure of its own, so a backup plan that stopped running is caught even though
 * there is nothing to verify. A snapshot without a start time cannot show the volume is within budget.
 */
export function judgeRpo(volumes: readonly CoveredVolume[], budgetMs: number, now: Date): RpoViolation[] {
  const out: RpoViolation[] = [];
  for (const v of volumes) {
    const where = { ...(v.account ? { account: v.account } : {}), ...(v.region ? { region: v.region } : {}) };
    const dated = v.snapshots.filter((s) => s.startTime && Number.isFinite(Date.parse(s.startTime)));
    const newest = dated.sort((a, b) => Date.parse(b.startTime!) - Date.parse(a.startTime!))[0];
    if (!newest) {
      const why = v.snapshots.length ? `none of its ${v.snapshots.length} snapshot(s) has a start time` : 'no snapshot at all';
      out.push({ volumeId: v.volumeId, ...where, budgetMs, reason: `${v.volumeId} has no snapshot newer than ${formatDuration(budgetMs)}: ${why}` });
      continue;
    }
    const ageMs = Math.max(0, now.getTime() - Date.parse(newest.startTime!));
    if (ageMs <= budgetMs) continue;
    out.push({
      volumeId: v.volumeId,
      ...where,
      lastSnapshotId: newest.id,
      lastSnapshotTime: newest.startTime!,
      ageMs,
      budgetMs,
      reason: `${v.volumeId} has no snapshot newer than ${formatDuration(budgetMs)}: the last one (${newest.id}) is ${formatDuration(ageMs)} old`,
    });
  }
  return out.sort((a, b) => a.volumeId.localeCompare(b.volumeId));
}
