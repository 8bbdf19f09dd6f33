import { describe, expect, it } from 'vitest';
import { SnapshotNotFoundError } from '../../src/errors.js';
import type { SnapshotInfo } from '../../src/provider.js';
import { latestPerVolume, selectSnapshots } from '../../src/select.js';

const snap = (id: string, volumeId: string | undefined, startTime: string, tags: Record<string, string> = {}): SnapshotInfo => ({
  id,
  source: `/c/${id}.img`,
  tags,
  sizeBytes: 512,
  startTime,
  ...(volumeId ? { volumeId } : {}),
});

const all = [
  snap('a1', 'vol-a', '2026-11-01T00:00:00Z', { env: 'prod' }),
  snap('a2', 'vol-a', '2026-11-02T00:00:00Z', { env: 'prod' }),
  snap('a3', 'vol-a', '2026-11-03T00:00:00Z', { env: 'dev' }),
  snap('b1', 'vol-b', '2026-11-01T00:00:00Z', { env: 'prod', team: 'db' }),
  snap('loose', undefined, '2026-10-01T00:00:00Z'),
];

describe('selectSnapshots', () => {
  it('selects everything when no selector is given', () => {
    expect(selectSnapshots(all, [], 'cat').map((s) => s.id)).toEqual(['a1', 'a2', 'a3', 'b1', 'loose']);
  });
  it('names every missing id before anything is created', () => {
    const err = (() => {
      try {
        selectSnapshots(all, [{ ids: ['a1', 'snap-gone', 'snap-lost'] }], 'local catalog /c');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SnapshotNotFoundError);
    expect((err as SnapshotNotFoundError).snapshotIds).toEqual(['snap-gone', 'snap-lost']);
    expect((err as Error).message).toBe('snapshots not found in local catalog /c: snap-gone, snap-lost');
    expect((err as SnapshotNotFoundError).exitCode).toBe(2);
  });
  it('filters by tags with lists and wildcards', () => {
    expect(selectSnapshots(all, [{ tags: { env: ['prod', 'staging'] } }], 'c').map((s) => s.id)).toEqual(['a1', 'a2', 'b1']);
    expect(selectSnapshots(all, [{ tags: { team: '*' } }], 'c').map((s) => s.id)).toEqual(['b1']);
  });
  it('keeps the newest N per volume after filtering', () => {
    expect(selectSnapshots(all, [{ tags: { env: 'prod' }, latestPerVolume: 1 }], 'c').map((s) => s.id)).toEqual(['a2', 'b1']);
    expect(latestPerVolume(all, 2).map((s) => s.id)).toEqual(['a2', 'a3', 'b1', 'loose']);
  });
  it('unions selectors without duplicates, in provider order', () => {
    expect(selectSnapshots(all, [{ ids: ['b1'] }, { volumeIds: ['vol-a'], latestPerVolume: 1 }, { ids: ['a3'] }], 'c').map((s) => s.id)).toEqual(['a3', 'b1']);
  });
});
