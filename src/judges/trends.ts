import type { Change, ChangeKind, HistoryView, LineageEntry, LineageTrend, RpoViolation, RunRecord, TrendPoint } from './history.js';
import { fmt } from './rto.js';

/** RTO_GROWTH and RTO_MIN_GROWTH_MS say when a restore got slower: by more than 25%, and by at least a second (not jitter). */
const RTO_GROWTH = 1.25;
const RTO_MIN_GROWTH_MS = 1000;

/** FLAPPING_FLIPS is how many pass ↔ fail changes over the points kept make a lineage flapping. */
const FLAPPING_FLIPS = 3;

/** RANK orders changes for a reader: failures, then unknowns, RPO, regressions, recoveries, the rest. */
const RANK: Record<ChangeKind, number> = {
  'new-failure': 0,
  'new-unknown': 1,
  'rpo-violation': 2,
  'rto-regression': 3,
  recovery: 4,
  'rpo-recovered': 5,
  'verdict-change': 6,
  'missing-lineage': 7,
  'new-lineage': 8,
};

/** newer says whether entry a is a newer snapshot than b (by snapshot time; the later in the run when not known). */
function newer(a: LineageEntry, b: LineageEntry): boolean {
  return a.snapshotStartTime === undefined || b.snapshotStartTime === undefined ? true : Date.parse(a.snapshotStartTime) >= Date.parse(b.snapshotStartTime);
}

/** byLineage indexes a run's entries by lineage: when a run verified several snapshots of one lineage, the newest stands for it. */
function byLineage(record: RunRecord): Map<string, LineageEntry> {
  const out = new Map<string, LineageEntry>();
  for (const e of record.entries) {
    const had = out.get(e.lineage);
    if (!had || newer(e, had)) out.set(e.lineage, e);
  }
  return out;
}

/** snapshots names the snapshot verified now, and the one last run when it was another. */
function snapshots(cur: LineageEntry, prev: LineageEntry): string {
  return cur.snapshotId === prev.snapshotId ? `(${cur.snapshotId}, same snapshot)` : `(${cur.snapshotId}, was ${prev.snapshotId})`;
}

/** verdicts is "before → after", or "still X" when the consistency did not change. */
function verdicts(cur: LineageEntry, prev: LineageEntry): string {
  return cur.consistency === prev.consistency ? `still ${cur.consistency}` : `${prev.consistency} → ${cur.consistency}`;
}

/** change builds one Change of a lineage seen in both runs. */
function change(kind: ChangeKind, cur: LineageEntry, prev: LineageEntry, before: string, after: string, detail: string): Change {
  return { kind, lineage: cur.lineage, snapshotId: cur.snapshotId, previousSnapshotId: prev.snapshotId, before, after, detail: `${cur.lineage}: ${detail}` };
}

/**
 * verdictChange is the one line about a lineage's verdict: a new failure or a recovery (they carry the consistency
 * change), else a new unknown, else a consistency change; undefined when nothing changed.
 */
function verdictChange(cur: LineageEntry, prev: LineageEntry): Change | undefined {
  const [before, after] = [prev.consistency, cur.consistency];
  if (prev.policyPass && !cur.policyPass) return change('new-failure', cur, prev, before, after, `fails the policy now: ${cur.reason}; ${verdicts(cur, prev)} ${snapshots(cur, prev)}`);
  if (!prev.policyPass && cur.policyPass) return change('recovery', cur, prev, before, after, `passes the policy again; ${verdicts(cur, prev)} ${snapshots(cur, prev)}`);
  if (after === 'unknown' && before !== 'unknown') return change('new-unknown', cur, prev, before, after, `unknown now (was ${before}): ${cur.reason} ${snapshots(cur, prev)}`);
  if (after !== before) return change('verdict-change', cur, prev, before, after, `${before} → ${after} ${snapshots(cur, prev)}`);
  return undefined;
}

/** rtoRegression flags a restore-to-verified time that grew by more than 25% and at least 1 s (a first run of 0 ms is no baseline). */
function rtoRegression(cur: LineageEntry, prev: LineageEntry): Change | undefined {
  const [was, now] = [prev.restoreToVerifiedMs, cur.restoreToVerifiedMs];
  if (was <= 0 || now <= was * RTO_GROWTH || now - was < RTO_MIN_GROWTH_MS) return undefined;
  const pct = Math.round(((now - was) / was) * 100);
  return change('rto-regression', cur, prev, fmt(was), fmt(now), `restore-to-verified ${fmt(was)} → ${fmt(now)} (+${pct}%) ${snapshots(cur, prev)}`);
}

/** rpoKey identifies a volume across accounts and regions. */
function rpoKey(v: RpoViolation): string {
  return `${v.account ?? ''}/${v.region ?? ''}/${v.volumeId}`;
}

/** rpoChanges lists volumes that began or stopped violating the RPO since the previous run. */
function rpoChanges(current: RpoViolation[], previous: RpoViolation[]): Change[] {
  const [now, was] = [new Map(current.map((v) => [rpoKey(v), v])), new Map(previous.map((v) => [rpoKey(v), v]))];
  const out: Change[] = [];
  for (const [k, v] of now) {
    if (!was.has(k)) out.push({ kind: 'rpo-violation', lineage: v.volumeId, ...(v.lastSnapshotId ? { snapshotId: v.lastSnapshotId } : {}), detail: `${v.volumeId}: ${v.reason}` });
  }
  for (const [k, v] of was) {
    if (!now.has(k)) out.push({ kind: 'rpo-recovered', lineage: v.volumeId, ...(v.lastSnapshotId ? { previousSnapshotId: v.lastSnapshotId } : {}), detail: `${v.volumeId}: within the RPO again (was: ${v.reason})` });
  }
  return out;
}

/** policyWord is how a lineage's policy result reads in a line. */
function policyWord(e: LineageEntry): string {
  return e.policyPass ? 'passes the policy' : `fails the policy: ${e.reason}`;
}

/**
 * compareRuns lists what changed for each lineage since the previous run, most urgent first: at most one line about
 * its verdict (new failure, recovery, new unknown or verdict change), a restore-time regression, RPO violations begun
 * or ended, lineages new or gone. Nothing without a previous run.
 */
export function compareRuns(current: RunRecord, previous: RunRecord | undefined): Change[] {
  if (!previous) return [];
  const [now, was] = [byLineage(current), byLineage(previous)];
  const out: Change[] = [];
  for (const [lineage, cur] of now) {
    const prev = was.get(lineage);
    if (!prev) {
      out.push({ kind: 'new-lineage', lineage, snapshotId: cur.snapshotId, after: cur.consistency, detail: `${lineage}: first verified in this run: ${cur.consistency}, ${policyWord(cur)} (${cur.snapshotId})` });
      continue;
    }
    for (const c of [verdictChange(cur, prev), rtoRegression(cur, prev)]) if (c) out.push(c);
  }
  for (const [lineage, prev] of was) {
    if (!now.has(lineage)) out.push({ kind: 'missing-lineage', lineage, previousSnapshotId: prev.snapshotId, before: prev.consistency, detail: `${lineage}: verified last run (${prev.snapshotId}, ${prev.consistency}), not in this run` });
  }
  out.push(...rpoChanges(current.rpo, previous.rpo));
  return out.sort((a, b) => RANK[a.kind] - RANK[b.kind] || (a.lineage < b.lineage ? -1 : a.lineage > b.lineage ? 1 : 0));
}

/** pointOf is a lineage's outcome in one run, for a trend. */
function pointOf(run: RunRecord, e: LineageEntry): TrendPoint {
  return { runId: run.runId, startedAt: run.startedAt, snapshotId: e.snapshotId, consistency: e.consistency, policyPass: e.policyPass, restoreToVerifiedMs: e.restoreToVerifiedMs };
}

/**
 * lineageTrends follows every lineage over the last `maxPoints` runs (records oldest first): one point per run that
 * verified it, the pass ↔ fail flips between consecutive points, and whether that is flapping (3 flips or more).
 */
export function lineageTrends(records: RunRecord[], maxPoints = 30): LineageTrend[] {
  const points = new Map<string, TrendPoint[]>();
  for (const run of records.slice(Math.max(0, records.length - maxPoints))) {
    for (const [lineage, e] of byLineage(run)) {
      const pts = points.get(lineage);
      if (pts) pts.push(pointOf(run, e));
      else points.set(lineage, [pointOf(run, e)]);
    }
  }
  return [...points]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([lineage, pts]) => {
      const flips = pts.reduce((n, p, i) => (i > 0 && p.policyPass !== pts[i - 1]!.policyPass ? n + 1 : n), 0);
      return { lineage, points: pts, flips, flapping: flips >= FLAPPING_FLIPS };
    });
}

/**
 * historyView is what a run's report shows of the history (past: oldest first, as the store lists it): the changes
 * since the latest earlier run, and the trends of the lineages this run verified, this run the last point.
 */
export function historyView(current: RunRecord, past: RunRecord[]): HistoryView {
  const earlier = past.filter((r) => r.runId !== current.runId);
  const previous = earlier.at(-1);
  const mine = new Set(current.entries.map((e) => e.lineage));
  return {
    runs: earlier.length,
    ...(previous ? { previousRunId: previous.runId, previousStartedAt: previous.startedAt } : {}),
    changes: compareRuns(current, previous),
    trends: lineageTrends([...earlier, current]).filter((t) => mine.has(t.lineage)),
  };
}
