import type { Consistency } from '../config/types.js';
import type { BootResult } from './policy.js';
import type { PhaseKind } from './types.js';

/**
 * LineageEntry is one snapshot's outcome in one run, as history keeps it. A lineage is what a snapshot is a
 * backup *of*: the multi-volume set's key when it was verified as a set, else its source volume id, else (no
 * volume known) the snapshot id itself. Successive runs verify successive snapshots of the same lineage.
 */
export interface LineageEntry {
  lineage: string;
  snapshotId: string;
  /** ISO start time of the snapshot (its point in time), when the provider knows it. */
  snapshotStartTime?: string;
  account?: string;
  region?: string;
  consistency: Consistency;
  boot: BootResult;
  policyPass: boolean;
  /** One line: the policy's reason, or the harness error. */
  reason: string;
  /** Restore-to-verified time (the measured RTO): every phase but teardown and keep. */
  restoreToVerifiedMs: number;
  /** Milliseconds spent per phase kind. */
  phases: Partial<Record<PhaseKind, number>>;
  /** Set when a harness error made the result unknown. */
  errorCode?: string;
}

/** RpoViolation is a volume the selection covers whose newest completed snapshot is older than policy.rpo, or that has none. */
export interface RpoViolation {
  volumeId: string;
  account?: string;
  region?: string;
  /** The newest completed snapshot, if any. */
  lastSnapshotId?: string;
  lastSnapshotTime?: string;
  /** Its age at run time; undefined when there is no snapshot at all. */
  ageMs?: number;
  budgetMs: number;
  reason: string;
}

/** RunRecord is one run's summary in the history store: one object per run (and per shard), never rewritten. */
export interface RunRecord {
  schemaVersion: 1;
  runId: string;
  /** A shard or account of a fleet run writing beside others of the same run; undefined for a single run. */
  shard?: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  interrupted: boolean;
  provider: { type: string; source: string };
  host: string;
  /** Harness errors of the run as a whole (not of one snapshot). */
  errors: number;
  entries: LineageEntry[];
  rpo: RpoViolation[];
}

/** ChangeKind is what changed for one lineage between the previous run and this one. */
export type ChangeKind =
  | 'new-failure' // passed the policy last run, fails now
  | 'recovery' // failed last run, passes now
  | 'verdict-change' // consistency changed (application- → crash-consistent, ...) without changing the policy result
  | 'new-unknown' // unknown now, was not last run
  | 'rto-regression' // restore-to-verified time grew by more than 25%
  | 'rpo-violation' // a volume with no snapshot newer than policy.rpo (new since last run)
  | 'rpo-recovered'
  | 'new-lineage'
  | 'missing-lineage'; // verified last run, absent now

/** Change is one line of "what changed since the previous run". */
export interface Change {
  kind: ChangeKind;
  lineage: string;
  snapshotId?: string;
  previousSnapshotId?: string;
  before?: string;
  after?: string;
  /** One line for humans: "vol-1: application-consistent → crash-consistent (snap-2)". */
  detail: string;
}

/** TrendPoint is one lineage's outcome in one past (or the current) run, oldest first in a LineageTrend. */
export interface TrendPoint {
  runId: string;
  startedAt: string;
  snapshotId: string;
  consistency: LineageEntry['consistency'];
  policyPass: boolean;
  restoreToVerifiedMs: number;
}

/** LineageTrend is one lineage over the last runs, for the report's sparklines. */
export interface LineageTrend {
  lineage: string;
  points: TrendPoint[];
  /** Policy result changes (pass ↔ fail) between consecutive points. */
  flips: number;
  /** Flapping: at least 3 flips over the points kept. */
  flapping: boolean;
}

/** HistoryView is what a report shows of the history: the comparison with the previous run and the trends. */
export interface HistoryView {
  /** Runs read from the store (not counting this one). */
  runs: number;
  previousRunId?: string;
  previousStartedAt?: string;
  changes: Change[];
  trends: LineageTrend[];
}
