import { describe, expect, it } from 'vitest';
import { recordFromReport } from '../../src/history/record.js';
import { HISTORY_SCHEMA } from '../../src/history/store.js';
import { compiledSchema } from '../../src/util/schema.js';
import { sampleReport } from '../report/sample.js';

describe('recordFromReport', () => {
  it('GIVEN the mixed sample report THEN one entry per snapshot, phases summed by kind, the policy reason', () => {
    const r = recordFromReport(sampleReport('mixed-exit1'));
    expect(r).toMatchObject({ schemaVersion: 1, runId: '20261124T030000Z-abcdef', startedAt: '2026-11-24T03:00:00.000Z', finishedAt: '2026-11-24T03:00:05.000Z', exitCode: 1, interrupted: false, host: 'helper-1', errors: 0, rpo: [] });
    expect(r.provider).toEqual({ type: 'local', source: 'local catalog /catalog' });
    expect(r).not.toHaveProperty('shard');
    expect(r.entries).toHaveLength(4);
    expect(r.entries[0]).toEqual({
      lineage: 'vol-web',
      snapshotId: 'snap-0123456789abcdef0',
      snapshotStartTime: '2026-11-24T02:00:00.000Z',
      consistency: 'application-consistent',
      boot: 'not-tested',
      policyPass: true,
      reason: 'application-consistent meets crash-consistent (policy.minimum)',
      restoreToVerifiedMs: 1000,
      phases: { restore: 100, attach: 200, discover: 300, check: 400, teardown: 500 },
    });
    expect(r.entries.map((e) => [e.snapshotId, e.consistency, e.policyPass])).toEqual([
      ['snap-0123456789abcdef0', 'application-consistent', true],
      ['snap-<b>bold</b>&"quoted"', 'corrupt', false],
      ['empty', 'unknown', false],
      ['snap-db-walgap', 'corrupt', false],
    ]);
    expect(compiledSchema(HISTORY_SCHEMA)(r)).toBe(true);
  });

  it('GIVEN a snapshot with a harness error THEN its reason is the error and its code is kept', () => {
    const r = recordFromReport(sampleReport('harness-error-exit3'));
    expect(r.errors).toBe(1);
    expect(r.exitCode).toBe(3);
    expect(r.entries[1]).toMatchObject({ snapshotId: 'snap-infra', consistency: 'unknown', reason: 'losetup: no free loop device', errorCode: 'attach-failed', phases: { restore: 0 } });
  });

  it('GIVEN a shard, account, region, RPO violations and a multi-line reason THEN they are kept, the reason on one line', () => {
    const report = sampleReport('all-pass-exit0');
    report.snapshots[0] = { ...report.snapshots[0]!, account: '123456789012', region: 'eu-west-1', policy: { ...report.snapshots[0]!.policy, reason: 'first line\n  second line' } };
    report.rpo = [{ volumeId: 'vol-late', budgetMs: 86_400_000, reason: 'no snapshot at all' }];
    const r = recordFromReport(report, 'eu-west-1');
    expect(r.shard).toBe('eu-west-1');
    expect(r.entries[0]).toMatchObject({ account: '123456789012', region: 'eu-west-1', reason: 'first line second line' });
    expect(r.rpo).toEqual([{ volumeId: 'vol-late', budgetMs: 86_400_000, reason: 'no snapshot at all' }]);
    expect(compiledSchema(HISTORY_SCHEMA)(r)).toBe(true);
  });

  it('GIVEN the boot sample THEN the bootability axis is kept', () => {
    expect(recordFromReport(sampleReport('boot-fails-exit1')).entries.map((e) => [e.boot, e.policyPass])).toEqual([
      ['boots', true],
      ['fails-to-boot', false],
    ]);
  });
});
