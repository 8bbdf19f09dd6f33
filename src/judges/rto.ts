import { formatDuration } from '../util/duration.js';
import type { PhaseKind } from '../judges/types.js';

/** PhaseTiming is what the RTO reads of a phase (report/types.ts). */
export interface PhaseTiming {
  kind: PhaseKind;
  startedAt: string;
  durationMs: number;
}

/** NOT_RTO are the phase kinds that come after the data is verified: the restore was over before them. */
const NOT_RTO: ReadonlySet<PhaseKind> = new Set<PhaseKind>(['teardown', 'keep']);

/** phaseTotals sums a snapshot's phase durations by kind. */
export function phaseTotals(phases: readonly Pick<PhaseTiming, 'kind' | 'durationMs'>[]): Partial<Record<PhaseKind, number>> {
  const out: Partial<Record<PhaseKind, number>> = {};
  for (const p of phases) out[p.kind] = (out[p.kind] ?? 0) + p.durationMs;
  return out;
}

/**
 * restoreToVerifiedMs is the measured RTO of a snapshot: from the start of its first phase to the end of its last
 * phase that is part of the restore (restore, attach, discovery, every check, the lint and the boot test), so
 * phases that ran side by side count once, and teardown does not count.
 */
export function restoreToVerifiedMs(phases: readonly Pick<PhaseTiming, 'kind' | 'startedAt' | 'durationMs'>[]): number {
  const mine = phases.filter((p) => !NOT_RTO.has(p.kind));
  if (!mine.length) return 0;
  const start = Math.min(...mine.map((p) => Date.parse(p.startedAt)));
  const end = Math.max(...mine.map((p) => Date.parse(p.startedAt) + p.durationMs));
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, Math.round(end - start)) : mine.reduce((s, p) => s + p.durationMs, 0);
}

/** RtoVerdict is the RTO budget applied to one snapshot: within it or not, and the phase kind that ate the most time. */
export interface RtoVerdict {
  pass: boolean;
  measuredMs: number;
  budgetMs: number;
  /** The phase kind with the largest share of the time. */
  phase?: PhaseKind;
  phaseMs?: number;
  reason: string;
}

/** judgeRto compares a snapshot's restore-to-verified time with its budget. */
export function judgeRto(phases: readonly Pick<PhaseTiming, 'kind' | 'startedAt' | 'durationMs'>[], budgetMs: number): RtoVerdict {
  const measuredMs = restoreToVerifiedMs(phases);
  const totals = Object.entries(phaseTotals(phases.filter((p) => !NOT_RTO.has(p.kind)))) as [PhaseKind, number][];
  const top = totals.sort((a, b) => b[1] - a[1])[0];
  const where = top ? `; ${top[0]} took ${fmt(top[1])}` : '';
  const pass = measuredMs <= budgetMs;
  return {
    pass,
    measuredMs,
    budgetMs,
    ...(top ? { phase: top[0], phaseMs: top[1] } : {}),
    reason: pass ? `restored and verified in ${fmt(measuredMs)}, within the RTO of ${fmt(budgetMs)}` : `restore-to-verified ${fmt(measuredMs)} exceeds the RTO of ${fmt(budgetMs)}${where}`,
  };
}

/** fmt prints a duration for a reason line (util/duration.ts formatDuration). */
export const fmt = formatDuration;
