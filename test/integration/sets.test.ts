import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { executeRun } from '../../src/run/run.js';
import { loopDevices } from '../../src/ledger/resources.js';
import { fixture, tempDir } from '../helpers.js';

/** setCatalog links fixtures into a catalog whose sidecars put them in one multi-volume set, taken at the given times. */
function setCatalog(members: { image: string; id: string; startTime: string; set?: string | null }[]): string {
  const dir = tempDir('set-cat');
  for (const m of members) {
    symlinkSync(fixture(m.image), path.join(dir, `${m.id}.img`));
    writeFileSync(path.join(dir, `${m.id}.json`), JSON.stringify({ id: m.id, volumeId: `vol-${m.id}`, startTime: m.startTime, ...(m.set === null ? {} : { set: m.set ?? 'i-0abc/2026-11-24T01:00' }) }));
  }
  return dir;
}

async function run(catalog: string) {
  const dir = tempDir('set-cfg');
  const cfg = path.join(dir, 'snapdrill.yaml');
  writeFileSync(cfg, `provider: {type: local, catalog: ${catalog}, scratchDir: ${tempDir('set-scratch')}}\noutput: {dir: ${tempDir('set-out')}, formats: [json, html]}\nconcurrency: 4\n`);
  return executeRun(loadConfig(cfg), { stateDir: tempDir('set-state'), events: {}, signal: new AbortController().signal });
}

describe('multi-volume snapshot sets', () => {
  it('restores and attaches every volume of a set before checking any, and judges the set as one unit', async () => {
    const before = loopDevices().length;
    const { report } = await run(
      setCatalog([
        { image: 'xfs-frozen.img', id: 'snap-root', startTime: '2026-11-24T01:00:00Z' },
        { image: 'ext4-crash.img', id: 'snap-data', startTime: '2026-11-24T01:00:01Z' },
        { image: 'ext4-clean.img', id: 'snap-alone', startTime: '2026-11-24T01:00:00Z', set: null },
      ]),
    );
    const byId = Object.fromEntries(report.snapshots.map((s) => [s.id, s]));
    expect(byId['snap-root']!.consistency).toBe('application-consistent');
    expect(byId['snap-data']!.consistency).toBe('crash-consistent');
    for (const id of ['snap-root', 'snap-data']) {
      expect(byId[id]!.set).toMatchObject({ key: 'i-0abc/2026-11-24T01:00', consistency: 'crash-consistent', skewMs: 1000, notes: [] });
      expect(byId[id]!.set!.members.sort()).toEqual(['snap-data', 'snap-root']);
      expect(byId[id]!.set!.summary).toBe('set i-0abc/2026-11-24T01:00 (2 volumes) is crash-consistent: because of snap-data');
    }
    expect(byId['snap-alone']!.set).toBeUndefined();
    // Together: the second member's attach finished before the first member's discovery started.
    const at = (id: string, phase: string) => {
      const p = byId[id]!.phases.find((x) => x.phase === phase)!;
      return { start: Date.parse(p.startedAt), end: Date.parse(p.startedAt) + p.durationMs };
    };
    const firstDiscover = Math.min(at('snap-root', 'discover').start, at('snap-data', 'discover').start);
    expect(at('snap-root', 'attach').end).toBeLessThanOrEqual(firstDiscover + 1);
    expect(at('snap-data', 'attach').end).toBeLessThanOrEqual(firstDiscover + 1);
    // One teardown for the set, and nothing left attached.
    expect(byId['snap-root']!.phases.filter((p) => p.phase === 'teardown').length + byId['snap-data']!.phases.filter((p) => p.phase === 'teardown').length).toBe(1);
    expect(loopDevices().length).toBe(before);
  });

  it('a set whose members were taken minutes apart is not one point in time: unknown, with the skew named', async () => {
    const { report } = await run(
      setCatalog([
        { image: 'ext4-clean.img', id: 'snap-a', startTime: '2026-11-24T01:00:00Z' },
        { image: 'xfs-clean.img', id: 'snap-b', startTime: '2026-11-24T01:05:00Z' },
      ]),
    );
    for (const s of report.snapshots) {
      expect(s.consistency).toBe('application-consistent');
      expect(s.set).toMatchObject({ consistency: 'unknown', skewMs: 300_000 });
      expect(s.set!.notes).toEqual(['members were taken 300 s apart, so the set is not one point in time']);
    }
  });

  it('a corrupt member makes the set corrupt, and two members with one filesystem UUID are named', async () => {
    const { report, files } = await run(
      setCatalog([
        { image: 'ext4-corrupt.img', id: 'snap-x', startTime: '2026-11-24T01:00:00Z' },
        { image: 'ext4-clean.img', id: 'snap-y', startTime: '2026-11-24T01:00:00Z' },
        { image: 'ext4-clean.img', id: 'snap-z', startTime: '2026-11-24T01:00:00Z' },
      ]),
    );
    const y = report.snapshots.find((s) => s.id === 'snap-y')!;
    expect(y.consistency).toBe('application-consistent');
    expect(y.set!.consistency).toBe('corrupt');
    expect(y.set!.summary).toMatch(/^set \S+ \(3 volumes\) is corrupt: because of snap-x; filesystem UUID [0-9a-f-]{36} appears on snap-y:disk and snap-z:disk$/);
    const { readFileSync } = await import('node:fs');
    const html = readFileSync(files.find((f) => f.endsWith('.html'))!, 'utf8');
    expect(html).toContain('Multi-volume set <code>i-0abc/2026-11-24T01:00</code>');
  });
});
