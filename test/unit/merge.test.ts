import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/report/types.js';
import { mergeRun, mergeShardReports, readShardReports } from '../../src/run/merge.js';
import { tempDir } from '../helpers.js';
import { sampleReport } from '../report/sample.js';

const RUN = '20261124T030000Z-abcdef';
const quiet = { log: () => {} };

/** asShard makes a sample report the k-th of n shards of RUN, started `startS` seconds after 03:00 and lasting `s` seconds. */
function asShard(report: RunReport, k: number, n: number, startS: number, s: number): RunReport {
  const at = (sec: number) => new Date(Date.UTC(2026, 10, 24, 3, 0, sec)).toISOString();
  return { ...report, runId: RUN, shard: { index: k, count: n }, startedAt: at(startS), finishedAt: at(startS + s), durationMs: s * 1000 };
}

/** fleetDir writes the given shard reports into OUT/RUN/shard-K-of-N/report.json and returns OUT/RUN. */
function fleetDir(reports: RunReport[]): string {
  const dir = path.join(tempDir('merge'), RUN);
  for (const r of reports) {
    const sub = path.join(dir, `shard-${r.shard!.index}-of-${r.shard!.count}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, 'report.json'), JSON.stringify(r));
  }
  return dir;
}

/** The known-good fleet: shard 1 verified the clean snapshot, shard 2 the rest of the mixed sample (one fails the policy). */
function goodShards(): RunReport[] {
  const mixed = sampleReport('mixed-exit1');
  const clean = sampleReport('all-pass-exit0');
  return [asShard(clean, 1, 2, 0, 30), asShard({ ...mixed, snapshots: mixed.snapshots.filter((s) => s.id !== clean.snapshots[0]!.id) }, 2, 2, 5, 60)];
}

describe('merge: shards of one run into one report', () => {
  it('GIVEN every shard THEN snapshots once each by id, counts and exit code judged over the whole, time from first start to last finish', async () => {
    const dir = fleetDir(goodShards());
    const { report, files } = await mergeRun(dir, quiet);
    const mixed = sampleReport('mixed-exit1');
    expect(report.snapshots.map((s) => s.id)).toEqual(mixed.snapshots.map((s) => s.id).sort());
    expect(report.summary).toMatchObject({ total: mixed.summary.total, passed: mixed.summary.passed, failed: mixed.summary.failed, byConsistency: mixed.summary.byConsistency });
    expect(report.exitCode).toBe(1);
    expect(report.errors).toEqual([]);
    expect(report.shard).toBeUndefined();
    expect(report).toMatchObject({ runId: RUN, startedAt: '2026-11-24T03:00:00.000Z', finishedAt: '2026-11-24T03:01:05.000Z', durationMs: 65_000, concurrency: 4 });
    expect(files.map((f) => path.relative(dir, f)).sort()).toEqual(['index.html', 'junit.xml', 'report.json']);
    expect(JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')).snapshots).toHaveLength(mixed.snapshots.length);
    expect(existsSync(path.join(dir, '..', 'latest'))).toBe(true);
  });

  it('GIVEN all shards pass THEN the merged run exits 0', async () => {
    const clean = sampleReport('all-pass-exit0');
    const other = { ...clean.snapshots[0]!, id: 'snap-other', lineage: 'vol-other', volumeId: 'vol-other' };
    const { report } = await mergeRun(fleetDir([asShard(clean, 1, 2, 0, 1), asShard({ ...clean, snapshots: [other] }, 2, 2, 0, 1)]), quiet);
    expect(report.exitCode).toBe(0);
    expect(report.summary).toMatchObject({ total: 2, passed: 2, failed: 0 });
  });

  it('GIVEN a shard directory removed THEN a shard-missing error names it, and the run exits 3', async () => {
    const dir = fleetDir([goodShards()[0]!]);
    mkdirSync(path.join(dir, 'shard-2-of-2'));
    const { report } = await mergeRun(dir, quiet);
    expect(report.exitCode).toBe(3);
    expect(report.errors).toEqual([expect.objectContaining({ code: 'shard-missing', subject: 'shard-2-of-2', stage: 'merge', source: 'infrastructure' })]);
    expect(report.errors[0]!.message).toContain('shard 2/2');
    expect(report.errors[0]!.remedy).toContain(`--shard 2/2 --run-id ${RUN}`);
    expect(report.snapshots.map((s) => s.id)).toEqual([sampleReport('all-pass-exit0').snapshots[0]!.id]);
  });

  it('GIVEN --expect above the shards found THEN every absent shard is named', async () => {
    const { report } = await mergeRun(fleetDir(goodShards().map((r) => ({ ...r, shard: { index: r.shard!.index, count: 4 } }))), { ...quiet, expect: 4 });
    expect(report.exitCode).toBe(3);
    expect(report.errors.map((e) => [e.code, e.subject])).toEqual([
      ['shard-missing', 'shard-3-of-4'],
      ['shard-missing', 'shard-4-of-4'],
    ]);
  });

  it('GIVEN a shard that ended with exit 3 THEN shard-failed names it, before its own errors', async () => {
    const failed = asShard(sampleReport('harness-error-exit3'), 2, 2, 0, 10);
    const { report } = await mergeRun(fleetDir([goodShards()[0]!, { ...failed, snapshots: failed.snapshots.filter((s) => s.id === 'snap-infra') }]), quiet);
    expect(report.exitCode).toBe(3);
    expect(report.errors.map((e) => [e.code, e.subject ?? ''])).toEqual([
      ['shard-failed', 'shard-2-of-2'],
      ['attach-failed', ''],
    ]);
  });

  it('GIVEN a truncated report or one of another run THEN shard-invalid names the shard and why', () => {
    const [one, two] = goodShards();
    const dir = fleetDir([one!, { ...two!, runId: '20261124T030000Z-000000' }]);
    const torn = readShardReports(dir, RUN);
    expect(torn.problems.map((p) => [p.code, p.subject])).toEqual([['shard-invalid', 'shard-2-of-2']]);
    expect(torn.problems[0]!.message).toContain('of run 20261124T030000Z-000000');
    writeFileSync(path.join(dir, 'shard-1-of-2', 'report.json'), '{"schemaVersion": 1, "run');
    expect(readShardReports(dir, RUN).problems.map((p) => p.subject)).toEqual(['shard-1-of-2', 'shard-2-of-2']);
  });

  it('GIVEN a snapshot in two shards THEN shard-overlap names it: the shards saw different selections', () => {
    const one = goodShards()[0]!;
    const report = mergeShardReports(RUN, { count: 2, parts: [{ shard: { k: 1, n: 2 }, report: one }, { shard: { k: 2, n: 2 }, report: { ...one, shard: { index: 2, count: 2 } } }], problems: [] });
    expect(report.errors).toEqual([expect.objectContaining({ code: 'shard-overlap', subject: 'shard-2-of-2' })]);
    expect(report.exitCode).toBe(3);
  });

  it('keeps the RPO violations shard 1 judged, once each', () => {
    const rpo = [{ volumeId: 'vol-old', budgetMs: 1000, reason: 'vol-old has no snapshot newer than 1s: no snapshot at all' }];
    const [one, two] = goodShards();
    const report = mergeShardReports(RUN, { count: 2, parts: [{ shard: { k: 1, n: 2 }, report: { ...one!, rpo } }, { shard: { k: 2, n: 2 }, report: two! }], problems: [] });
    expect(report.rpo).toEqual(rpo);
    expect(report.exitCode).toBe(1);
  });

  it('GIVEN no shard directory and no --expect THEN a usage error; GIVEN a directory not named by a run id THEN a usage error', async () => {
    await expect(mergeRun(path.join(tempDir('merge'), RUN), quiet)).rejects.toMatchObject({ code: 'config-invalid', exitCode: 2 });
    await expect(mergeRun(tempDir('merge'), quiet)).rejects.toMatchObject({ code: 'config-invalid', exitCode: 2 });
    await expect(mergeRun(path.join(tempDir('merge'), RUN), { ...quiet, expect: 2 })).rejects.toMatchObject({ code: 'shard-missing', exitCode: 3 });
  });
});
