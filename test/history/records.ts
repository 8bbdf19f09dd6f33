import type { LineageEntry, RunRecord } from '../../src/judges/history.js';

/** entry is a known-good lineage entry (application-consistent, passing, 10 s RTO); tests change one field. */
export function entry(lineage: string, over: Partial<LineageEntry> = {}): LineageEntry {
  return {
    lineage,
    snapshotId: `snap-${lineage}`,
    consistency: 'application-consistent',
    boot: 'not-tested',
    policyPass: true,
    reason: 'application-consistent meets crash-consistent (policy.minimum)',
    restoreToVerifiedMs: 10_000,
    phases: { restore: 4000, check: 6000, teardown: 500 },
    ...over,
  };
}

/** record is a known-good run record started at `startedAt` (ISO), with the given entries. */
export function record(runId: string, startedAt: string, entries: LineageEntry[] = [], over: Partial<RunRecord> = {}): RunRecord {
  return {
    schemaVersion: 1,
    runId,
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + 60_000).toISOString(),
    exitCode: entries.every((e) => e.policyPass) ? 0 : 1,
    interrupted: false,
    provider: { type: 'local', source: 'local catalog /catalog' },
    host: 'helper-1',
    errors: 0,
    entries,
    rpo: [],
    ...over,
  };
}

/** nightly is the ISO start of the n-th nightly run from 2026-12-01 03:00Z. */
export function nightly(n: number): string {
  return new Date(Date.UTC(2026, 11, 1, 3) + n * 86_400_000).toISOString();
}
