import { describe, expect, it } from 'vitest';
import type { RpoViolation } from '../../src/judges/history.js';
import { fmt } from '../../src/judges/rto.js';
import { compareRuns, historyView, lineageTrends } from '../../src/judges/trends.js';
import { compiledSchema } from '../../src/util/schema.js';
import { entry, nightly, record } from '../history/records.js';
import { sampleReport } from '../report/sample.js';

const rpo = (volumeId: string): RpoViolation => ({ volumeId, lastSnapshotId: `snap-old-${volumeId}`, ageMs: 3 * 86_400_000, budgetMs: 86_400_000, reason: 'newest snapshot snap-old is 3 days old, over the RPO of 1 day' });

/** pair is the previous run with `before` and the current one with `after` (one lineage each, unless given more). */
function pair(before: Parameters<typeof entry>[1], after: Parameters<typeof entry>[1]) {
  const prev = record('r1', nightly(0), [entry('vol-1', { snapshotId: 'snap-1', ...before })]);
  const cur = record('r2', nightly(1), [entry('vol-1', { snapshotId: 'snap-2', ...after })]);
  return compareRuns(cur, prev);
}

describe('compareRuns', () => {
  it('GIVEN no previous run THEN nothing changed', () => {
    expect(compareRuns(record('r1', nightly(0), [entry('vol-1')]), undefined)).toEqual([]);
  });

  it('GIVEN the same outcome twice THEN nothing changed', () => {
    expect(pair({}, {})).toEqual([]);
  });

  it('new-failure: pass → fail carries the consistency change in its detail, with no separate verdict-change', () => {
    const changes = pair({}, { consistency: 'corrupt', policyPass: false, reason: 'corrupt' });
    expect(changes).toEqual([
      { kind: 'new-failure', lineage: 'vol-1', snapshotId: 'snap-2', previousSnapshotId: 'snap-1', before: 'application-consistent', after: 'corrupt', detail: 'vol-1: fails the policy now: corrupt; application-consistent → corrupt (snap-2, was snap-1)' },
    ]);
  });

  it('new-failure without a consistency change (a boot failure) says the verdict is unchanged', () => {
    const [c] = pair({}, { boot: 'fails-to-boot', policyPass: false, reason: 'fails to boot (fstab)' });
    expect(c).toMatchObject({ kind: 'new-failure', before: 'application-consistent', after: 'application-consistent' });
    expect(c!.detail).toBe('vol-1: fails the policy now: fails to boot (fstab); still application-consistent (snap-2, was snap-1)');
  });

  it('new-failure to unknown is one line, not also a new-unknown', () => {
    const changes = pair({}, { consistency: 'unknown', policyPass: false, reason: 'losetup: no free loop device', errorCode: 'attach-failed' });
    expect(changes.map((c) => c.kind)).toEqual(['new-failure']);
    expect(changes[0]!.detail).toContain('losetup: no free loop device; application-consistent → unknown');
  });

  it('recovery: fail → pass', () => {
    const changes = pair({ consistency: 'corrupt', policyPass: false, reason: 'corrupt' }, { consistency: 'crash-consistent' });
    expect(changes).toEqual([
      { kind: 'recovery', lineage: 'vol-1', snapshotId: 'snap-2', previousSnapshotId: 'snap-1', before: 'corrupt', after: 'crash-consistent', detail: 'vol-1: passes the policy again; corrupt → crash-consistent (snap-2, was snap-1)' },
    ]);
  });

  it('verdict-change: application- → crash-consistent, still passing', () => {
    expect(pair({}, { consistency: 'crash-consistent' })).toEqual([
      { kind: 'verdict-change', lineage: 'vol-1', snapshotId: 'snap-2', previousSnapshotId: 'snap-1', before: 'application-consistent', after: 'crash-consistent', detail: 'vol-1: application-consistent → crash-consistent (snap-2, was snap-1)' },
    ]);
  });

  it('verdict-change names the same snapshot when it was verified again', () => {
    const prev = record('r1', nightly(0), [entry('vol-1', { snapshotId: 'snap-1' })]);
    const cur = record('r2', nightly(1), [entry('vol-1', { snapshotId: 'snap-1', consistency: 'crash-consistent' })]);
    expect(compareRuns(cur, prev)[0]!.detail).toBe('vol-1: application-consistent → crash-consistent (snap-1, same snapshot)');
  });

  it('verdict-change between two failing verdicts (corrupt → still failing crash-consistent under a stricter rule)', () => {
    const changes = pair({ consistency: 'corrupt', policyPass: false }, { consistency: 'crash-consistent', policyPass: false });
    expect(changes.map((c) => c.kind)).toEqual(['verdict-change']);
  });

  it('new-unknown: unknown now, allowed by the policy so not a failure', () => {
    const changes = pair({}, { consistency: 'unknown', reason: 'unknown, allowed by policy.allowUnknown' });
    expect(changes).toEqual([expect.objectContaining({ kind: 'new-unknown', before: 'application-consistent', after: 'unknown', detail: 'vol-1: unknown now (was application-consistent): unknown, allowed by policy.allowUnknown (snap-2, was snap-1)' })]);
  });

  it('an unknown that stays unknown is not new', () => {
    expect(pair({ consistency: 'unknown', policyPass: false }, { consistency: 'unknown', policyPass: false })).toEqual([]);
  });

  describe('rto-regression: grew by more than 25% and by at least 1 s', () => {
    const rto = (was: number, now: number) => pair({ restoreToVerifiedMs: was }, { restoreToVerifiedMs: now }).filter((c) => c.kind === 'rto-regression');
    it('flags 10 s → 12.6 s', () => {
      expect(rto(10_000, 12_600)).toEqual([expect.objectContaining({ before: fmt(10_000), after: fmt(12_600), detail: `vol-1: restore-to-verified ${fmt(10_000)} → ${fmt(12_600)} (+26%) (snap-2, was snap-1)` })]);
    });
    it('not at exactly 25% (10 s → 12.5 s)', () => expect(rto(10_000, 12_500)).toEqual([]));
    it('at exactly 1 s more when that is over 25% (2 s → 3 s)', () => expect(rto(2000, 3000)).toHaveLength(1));
    it('not under 1 s more, however large the share (2 s → 2.999 s)', () => expect(rto(2000, 2999)).toEqual([]));
    it('not from a previous 0 ms (a restore that failed at once is no baseline)', () => expect(rto(0, 60_000)).toEqual([]));
    it('not when it got faster', () => expect(rto(60_000, 10_000)).toEqual([]));
  });

  it('rpo-violation and rpo-recovered: volumes that began or stopped violating the RPO', () => {
    const prev = record('r1', nightly(0), [], { rpo: [rpo('vol-a'), rpo('vol-b')] });
    const cur = record('r2', nightly(1), [], { rpo: [rpo('vol-b'), rpo('vol-c')] });
    expect(compareRuns(cur, prev)).toEqual([
      { kind: 'rpo-violation', lineage: 'vol-c', snapshotId: 'snap-old-vol-c', detail: 'vol-c: newest snapshot snap-old is 3 days old, over the RPO of 1 day' },
      { kind: 'rpo-recovered', lineage: 'vol-a', previousSnapshotId: 'snap-old-vol-a', detail: 'vol-a: within the RPO again (was: newest snapshot snap-old is 3 days old, over the RPO of 1 day)' },
    ]);
  });

  it('the same volume id in another account is another volume for the RPO', () => {
    const prev = record('r1', nightly(0), [], { rpo: [{ ...rpo('vol-a'), account: '111111111111' }] });
    const cur = record('r2', nightly(1), [], { rpo: [{ ...rpo('vol-a'), account: '222222222222' }] });
    expect(compareRuns(cur, prev).map((c) => c.kind)).toEqual(['rpo-violation', 'rpo-recovered']);
  });

  it('new-lineage and missing-lineage', () => {
    const prev = record('r1', nightly(0), [entry('vol-gone', { snapshotId: 'snap-g' })]);
    const cur = record('r2', nightly(1), [entry('vol-new', { snapshotId: 'snap-n', consistency: 'corrupt', policyPass: false, reason: 'corrupt' })]);
    expect(compareRuns(cur, prev)).toEqual([
      { kind: 'missing-lineage', lineage: 'vol-gone', previousSnapshotId: 'snap-g', before: 'application-consistent', detail: 'vol-gone: verified last run (snap-g, application-consistent), not in this run' },
      { kind: 'new-lineage', lineage: 'vol-new', snapshotId: 'snap-n', after: 'corrupt', detail: 'vol-new: first verified in this run: corrupt, fails the policy: corrupt (snap-n)' },
    ]);
  });

  it('compares the newest snapshot of a lineage when a run verified several', () => {
    const prev = record('r1', nightly(0), [entry('vol-1', { snapshotId: 'snap-1' })]);
    const cur = record('r2', nightly(1), [
      entry('vol-1', { snapshotId: 'snap-3', snapshotStartTime: '2026-12-02T01:00:00Z', consistency: 'crash-consistent' }),
      entry('vol-1', { snapshotId: 'snap-2', snapshotStartTime: '2026-12-01T01:00:00Z', consistency: 'corrupt', policyPass: false }),
    ]);
    expect(compareRuns(cur, prev)).toEqual([expect.objectContaining({ kind: 'verdict-change', snapshotId: 'snap-3' })]);
  });

  it('orders failures, unknowns, RPO, regressions, recoveries, then the rest; by lineage within a kind', () => {
    const prev = record('r1', nightly(0), [
      entry('a-verdict'),
      entry('b-recovery', { policyPass: false, consistency: 'corrupt' }),
      entry('c-slow'),
      entry('d-unknown'),
      entry('e-fail'),
      entry('f-fail'),
      entry('g-gone'),
    ]);
    const cur = record(
      'r2',
      nightly(1),
      [
        entry('a-verdict', { consistency: 'crash-consistent' }),
        entry('b-recovery'),
        entry('c-slow', { restoreToVerifiedMs: 60_000 }),
        entry('d-unknown', { consistency: 'unknown' }),
        entry('f-fail', { policyPass: false, consistency: 'corrupt' }),
        entry('e-fail', { policyPass: false, consistency: 'corrupt' }),
        entry('h-new'),
      ],
      { rpo: [rpo('vol-late')] },
    );
    expect(compareRuns(cur, prev).map((c) => `${c.kind} ${c.lineage}`)).toEqual([
      'new-failure e-fail',
      'new-failure f-fail',
      'new-unknown d-unknown',
      'rpo-violation vol-late',
      'rto-regression c-slow',
      'recovery b-recovery',
      'verdict-change a-verdict',
      'missing-lineage g-gone',
      'new-lineage h-new',
    ]);
  });
});

describe('lineageTrends', () => {
  const runs = (passes: boolean[]) => passes.map((p, i) => record(`r${i}`, nightly(i), [entry('vol-1', { policyPass: p, snapshotId: `snap-${i}`, restoreToVerifiedMs: 1000 * i })]));

  it('keeps one point per run, oldest first, and counts pass ↔ fail flips', () => {
    const [t] = lineageTrends(runs([true, false, false, true]));
    expect(t).toMatchObject({ lineage: 'vol-1', flips: 2, flapping: false });
    expect(t!.points.map((p) => [p.runId, p.snapshotId, p.policyPass, p.restoreToVerifiedMs])).toEqual([
      ['r0', 'snap-0', true, 0],
      ['r1', 'snap-1', false, 1000],
      ['r2', 'snap-2', false, 2000],
      ['r3', 'snap-3', true, 3000],
    ]);
  });

  it('is flapping at 3 flips', () => {
    expect(lineageTrends(runs([true, false, true, false]))[0]).toMatchObject({ flips: 3, flapping: true });
    expect(lineageTrends(runs([true, false, true, true]))[0]).toMatchObject({ flips: 2, flapping: false });
  });

  it('looks at the last maxPoints runs only', () => {
    const [t] = lineageTrends(runs([true, false, true, false, true, true, true]), 3);
    expect(t!.points.map((p) => p.runId)).toEqual(['r4', 'r5', 'r6']);
    expect(t).toMatchObject({ flips: 0, flapping: false });
  });

  it('follows each lineage over the runs that verified it, sorted by lineage', () => {
    const recs = [record('r0', nightly(0), [entry('vol-b'), entry('vol-a')]), record('r1', nightly(1), [entry('vol-a')])];
    expect(lineageTrends(recs).map((t) => [t.lineage, t.points.length])).toEqual([
      ['vol-a', 2],
      ['vol-b', 1],
    ]);
  });
});

describe('historyView', () => {
  it('compares with the latest earlier run and trends the lineages of this run, this run last', () => {
    const past = [record('r0', nightly(0), [entry('vol-1'), entry('vol-old')]), record('r1', nightly(1), [entry('vol-1')])];
    const cur = record('r2', nightly(2), [entry('vol-1', { consistency: 'crash-consistent' })]);
    const view = historyView(cur, [...past, cur]);
    expect(view).toMatchObject({ runs: 2, previousRunId: 'r1', previousStartedAt: nightly(1) });
    expect(view.changes.map((c) => c.kind)).toEqual(['verdict-change']);
    expect(view.trends.map((t) => t.lineage)).toEqual(['vol-1']);
    expect(view.trends[0]!.points.map((p) => p.runId)).toEqual(['r0', 'r1', 'r2']);
  });

  it('is what the JSON report schema expects under history', () => {
    const past = [record('r0', nightly(0), [entry('vol-web', { policyPass: false, consistency: 'corrupt' }), entry('vol-gone')], { rpo: [{ volumeId: 'vol-x', budgetMs: 1, reason: 'old' }] })];
    const cur = record('r1', nightly(1), [entry('vol-web', { restoreToVerifiedMs: 60_000 }), entry('vol-new', { consistency: 'unknown' })]);
    const view = historyView(cur, past);
    expect(view.changes.map((c) => c.kind).sort()).toEqual(['missing-lineage', 'new-lineage', 'recovery', 'rpo-recovered', 'rto-regression']);
    const validate = compiledSchema('report.schema.json');
    expect(validate({ ...sampleReport('all-pass-exit0'), history: view }), JSON.stringify(validate.errors)).toBe(true);
  });

  it('GIVEN an empty history THEN no changes and a one-point trend', () => {
    const cur = record('r0', nightly(0), [entry('vol-1')]);
    expect(historyView(cur, [])).toEqual({ runs: 0, changes: [], trends: [{ lineage: 'vol-1', points: [expect.objectContaining({ runId: 'r0' })], flips: 0, flapping: false }] });
  });
});
