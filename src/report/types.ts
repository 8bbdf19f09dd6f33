import type { BootOutcome, LintResult } from '../boot/types.js';
import type { CheckStatus } from '../checks/runner.js';
import type { Consistency } from '../config/types.js';
import type { CanaryResult, DatabaseFinding } from '../judges/database.js';
import type { BootResult as JudgedBootResult, PolicyResult } from '../judges/policy.js';
import type { SetVerdict } from '../judges/set.js';
import type { FilesystemFinding, Hint, PhaseKind } from '../judges/types.js';
import type { HistoryView, RpoViolation } from '../judges/history.js';

/** BootResult is the bootability axis (boot.enabled), judged by judges/policy.ts: the details are in SnapshotResult.bootTest. */
export type BootResult = JudgedBootResult;

/** PhaseKind is what a phase spends its time on (judges/types.ts). */
export type { PhaseKind } from '../judges/types.js';

/** PhaseTiming records where a snapshot's restore time went (the real RTO). */
export interface PhaseTiming {
  /** The label, for humans: "check ext4 p1", "find databases disk". */
  phase: string;
  kind: PhaseKind;
  startedAt: string;
  durationMs: number;
  status: 'ok' | 'failed';
  detail?: string;
}

/** CheckRunSummary is a check run as reported: without the raw facts, which live in the findings. */
export interface CheckRunSummary {
  check: string;
  target: string;
  status: CheckStatus;
  exitCode: number | null;
  durationMs: number;
  reason?: string;
  remedy?: string;
  protocolErrors: string[];
}

/** HarnessErrorInfo is a harness problem recorded in the report (the snapshot result is then unknown). */
export interface HarnessErrorInfo {
  code: string;
  message: string;
  stage: string;
  source: 'user' | 'infrastructure';
  remedy?: string;
  /** What it is about (a snapshot id, a set, a resource owner): problems are reported once per code and subject. */
  subject?: string;
  /** A fleet item that failed within fleet.toleratedFailurePercent: named in the report, not failing the run. */
  tolerated?: boolean;
}

/** SnapshotResult is everything the report says about one snapshot. */
export interface SnapshotResult {
  id: string;
  source: string;
  /** What the snapshot is a backup of, across runs: the set key, else the volume id, else the snapshot id (judges/history.ts). */
  lineage: string;
  /** Account and region, when the provider knows them (AWS). */
  account?: string;
  region?: string;
  /** Restore-to-verified time (the measured RTO): every phase but teardown and keep. */
  restoreToVerifiedMs: number;
  volumeId?: string;
  startTime?: string;
  tags: Record<string, string>;
  sizeBytes: number;
  allocatedBytes?: number;
  partitionTable?: string;
  consistency: Consistency;
  boot: BootResult;
  summary: string;
  reasons: string[];
  hints: Hint[];
  filesystems: FilesystemFinding[];
  databases: DatabaseFinding[];
  canaries: CanaryResult[];
  checks: CheckRunSummary[];
  phases: PhaseTiming[];
  policy: PolicyResult;
  /** The multi-volume snapshot set this snapshot was verified with (all its volumes attached at once). */
  set?: SetVerdict;
  /** Pre-boot lint of each root filesystem found (and of filesystems the lint could not read). */
  lint?: LintResult[];
  /** The boot test, when one ran: how far the machine got, its console and the diagnosis. */
  bootTest?: BootOutcome;
  /** Why the snapshot was not boot-tested, or how it took part in another's boot test. */
  bootNote?: string;
  /** Restored volumes kept for forensics (keep-on-failure) instead of deleted, and until when. */
  kept?: { resources: string[]; until: string };
  error?: HarnessErrorInfo;
}

/** RunReport is the JSON report of a run (schemas/report.schema.json). */
export interface RunReport {
  schemaVersion: 1;
  tool: { name: 'snapdrill'; version: string };
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  host: string;
  provider: { type: string; source: string };
  concurrency: number;
  policy: { minimum: string; allowUnknown: boolean; rules: number; rtoMs?: number; rpoMs?: number };
  /** What the run was asked to verify, in the config's words: for the auditor's summary. */
  scope?: string[];
  /** The part of a fleet run this report covers (run --shard K/N); absent for a whole run and for a merged one. */
  shard?: { index: number; count: number; account?: string; region?: string };
  interrupted: boolean;
  exitCode: number;
  summary: {
    total: number;
    passed: number;
    failed: number;
    byConsistency: Record<Consistency, number>;
    /** Sum of the time spent inside check scripts, to separate tool time from harness overhead. */
    checkTimeMs: number;
  };
  errors: HarnessErrorInfo[];
  snapshots: SnapshotResult[];
  /** Volumes the selection covers that have no snapshot newer than policy.rpo (each fails the run). */
  rpo?: RpoViolation[];
  /** The comparison with earlier runs, when a history store was read. */
  history?: HistoryView;
  /** Notifications sent after the run (alerts never change the exit code). */
  notifications?: NotificationOutcome[];
}

/** NotificationOutcome is one step after a run (history, alert, metrics export, evidence pack): done, or why not. */
export interface NotificationOutcome {
  channel: 'sns' | 'eventbridge' | 'webhook' | 'cloudwatch' | 'prometheus' | 'history' | 'evidence';
  target: string;
  ok: boolean;
  error?: string;
}
