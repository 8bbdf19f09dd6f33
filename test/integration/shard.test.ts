import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogOf, cli, leftovers, tempDir } from '../helpers.js';

const RUN_ID = '20261203T020000Z-5a4d00';
const IMAGES = ['ext4-clean.img', 'ext4-crash.img', 'ext4-corrupt.img', 'xfs-clean.img', 'xfs-frozen.img'];

/** verdicts is what must not depend on sharding: per snapshot its consistency and policy result, by id. */
const verdicts = (summary: any) => summary.snapshots.map((s: any) => [s.id, s.consistency, s.policy]).sort((a: string[], b: string[]) => (a[0]! < b[0]! ? -1 : 1));

describe('fleet run: run --shard K/N on a real catalog, then merge', () => {
  const catalog = catalogOf(IMAGES);
  const scratch = tempDir('shard-scratch');
  const out = tempDir('shard-out');
  const runDir = path.join(out, RUN_ID);
  const common = ['--provider', 'local', '--catalog', catalog, '--scratch-dir', scratch, '--state-dir', tempDir('shard-state'), '--out', out, '--json'];

  it('GIVEN two shards of one run THEN merge has every snapshot once, with the verdicts and exit code of an unsharded run', () => {
    const whole = cli(['run', '--provider', 'local', '--catalog', catalog, '--scratch-dir', scratch, '--state-dir', tempDir('shard-state'), '--out', tempDir('shard-whole'), '--json']);
    expect(whole.code, whole.stderr).toBe(1);
    const expected = JSON.parse(whole.stdout);

    const parts = [1, 2].map((k) => {
      const r = cli(['run', ...common, '--shard', `${k}/2`, '--run-id', RUN_ID]);
      expect([0, 1], r.stderr).toContain(r.code);
      const summary = JSON.parse(r.stdout);
      expect(summary.runId).toBe(RUN_ID);
      expect(summary.reportDir).toBe(path.join(out, RUN_ID, `shard-${k}-of-2`));
      return summary.snapshots.map((s: any) => s.id as string);
    });
    expect(parts[0]!.length).toBeGreaterThan(0);
    expect(parts[1]!.length).toBeGreaterThan(0);
    expect([...parts[0]!, ...parts[1]!].sort()).toEqual(expected.snapshots.map((s: any) => s.id).sort());
    // Each shard stored its own history record beside the other's; neither sent alerts.
    expect(readdirSync(path.join(out, 'history', 'runs')).map((f) => f.replace(/^.*~/, '')).sort()).toEqual(['1-of-2.json', '2-of-2.json']);

    const merged = cli(['merge', runDir, '--json']);
    expect(merged.code, merged.stderr).toBe(expected.exitCode);
    const summary = JSON.parse(merged.stdout);
    expect(summary.runId).toBe(RUN_ID);
    expect(summary.reportDir).toBe(runDir);
    expect(summary.errors).toEqual([]);
    expect(verdicts(summary)).toEqual(verdicts(expected));
    expect(summary.summary).toEqual({ ...expected.summary, checkTimeMs: expect.any(Number) });
    expect(readdirSync(runDir).sort()).toEqual(['index.html', 'junit.xml', 'report.json', 'shard-1-of-2', 'shard-2-of-2']);
  });

  it('GIVEN one shard\'s directory deleted THEN merge exits 3 naming the missing shard', async () => {
    rmSync(path.join(runDir, 'shard-2-of-2'), { recursive: true });
    const r = cli(['merge', runDir, '--expect', '2', '--json']);
    expect(r.code, r.stderr).toBe(3);
    const summary = JSON.parse(r.stdout);
    expect(summary.errors).toEqual([expect.objectContaining({ code: 'shard-missing', subject: 'shard-2-of-2' })]);
    expect(summary.errors[0].message).toContain('shard 2/2');
    expect(await leftovers(scratch)).toEqual([]);
  });

  it('refuses --shard without --run-id, and a malformed --shard or --run-id, before creating anything (exit 2)', () => {
    expect(cli(['run', ...common, '--shard', '1/2'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--shard: needs --run-id') });
    expect(cli(['run', ...common, '--shard', '3/2', '--run-id', RUN_ID])).toMatchObject({ code: 2, stderr: expect.stringContaining('--shard') });
    expect(cli(['run', ...common, '--shard', '1/2', '--run-id', '../nightly'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--run-id') });
  });
});
