import { describe, expect, it } from 'vitest';
import { isSnapdrillError } from '../../src/errors.js';
import type { SnapshotInfo } from '../../src/provider.js';
import { parseShard, shardOf } from '../../src/run/shard.js';
import { seededRandom } from '../aws/fault-proxy.js';

const GIB = 1024 ** 3;
const snap = (id: string, sizeGiB: number, more: Partial<SnapshotInfo> = {}): SnapshotInfo => ({ id, source: id, tags: {}, sizeBytes: sizeGiB * GIB, ...more });

/** fleet is a known selection: lone snapshots of many sizes, lineages of several snapshots, and multi-volume sets. */
function fleet(): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  for (let i = 0; i < 40; i++) out.push(snap(`snap-lone-${i}`, (i * 7) % 23));
  for (let v = 0; v < 12; v++) for (let j = 0; j < 3; j++) out.push(snap(`snap-vol${v}-${j}`, 8 + v, { volumeId: `vol-${v}` }));
  for (let s = 0; s < 6; s++) for (let d = 0; d < 4; d++) out.push(snap(`snap-set${s}-${d}`, 20, { set: `set-${s}`, volumeId: `vol-set${s}-${d}` }));
  return out;
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const ids = (s: SnapshotInfo[]) => s.map((x) => x.id).sort();
const unitOf = (s: SnapshotInfo) => s.set ?? s.volumeId ?? s.id;
const work = (s: SnapshotInfo[]) => s.reduce((n, x) => n + Math.max(x.sizeBytes, GIB), 0);

describe('parseShard', () => {
  it('reads K/N', () => {
    expect(parseShard('1/1')).toEqual({ k: 1, n: 1 });
    expect(parseShard('3/4')).toEqual({ k: 3, n: 4 });
    expect(parseShard('1000/1000')).toEqual({ k: 1000, n: 1000 });
  });

  it.each(['0/2', '3/2', '1/0', '1/1001', '2', '1/2/3', 'a/b', '-1/2', '1.5/2', ''])('GIVEN %j THEN a usage error naming --shard', (text) => {
    let caught: unknown;
    try {
      parseShard(text);
    } catch (e) {
      caught = e;
    }
    expect(isSnapdrillError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'config-invalid', source: 'user', path: '--shard', exitCode: 2 });
  });
});

describe('shardOf', () => {
  const all = fleet();

  it.each([1, 2, 3, 7, 200])('GIVEN %i shards THEN their union is the selection, with no snapshot in two', (n) => {
    const parts = Array.from({ length: n }, (_, k) => shardOf(all, k + 1, n));
    expect(ids(parts.flat())).toEqual(ids(all));
    expect(parts.flat()).toHaveLength(all.length);
  });

  it('gives every snapshot the same shard whatever order the provider listed them in', () => {
    const n = 5;
    const reference = Array.from({ length: n }, (_, k) => ids(shardOf(all, k + 1, n)));
    for (const seed of [1, 2, 3, 42, 1234]) {
      const input = shuffled(all, seed);
      expect(Array.from({ length: n }, (_, k) => ids(shardOf(input, k + 1, n)))).toEqual(reference);
    }
  });

  it('keeps the selection order inside a shard', () => {
    const part = shardOf(all, 2, 3);
    expect(part).toEqual(all.filter((s) => part.includes(s)));
  });

  it('never splits a multi-volume set or a lineage', () => {
    for (const n of [2, 4, 9]) {
      const owner = new Map<string, number>();
      for (let k = 1; k <= n; k++) {
        for (const s of shardOf(all, k, n)) {
          expect(owner.get(unitOf(s)) ?? k, `${unitOf(s)} in shards ${owner.get(unitOf(s))} and ${k}`).toBe(k);
          owner.set(unitOf(s), k);
        }
      }
    }
  });

  it('balances work: no shard carries more than its fair share plus the largest unit', () => {
    const units = new Map<string, number>();
    for (const s of all) units.set(unitOf(s), (units.get(unitOf(s)) ?? 0) + Math.max(s.sizeBytes, GIB));
    const largest = Math.max(...units.values());
    for (const n of [2, 3, 5, 8]) {
      const loads = Array.from({ length: n }, (_, k) => work(shardOf(all, k + 1, n)));
      expect(Math.max(...loads)).toBeLessThanOrEqual(work(all) / n + largest);
    }
  });

  it('counts a tiny or empty snapshot as 1 GiB of work, so many small ones still spread out', () => {
    const tiny = Array.from({ length: 8 }, (_, i) => snap(`snap-tiny-${i}`, 0));
    expect(Array.from({ length: 4 }, (_, k) => shardOf(tiny, k + 1, 4).length)).toEqual([2, 2, 2, 2]);
  });

  it('GIVEN more shards than units THEN the extra shards are empty, and an empty selection gives empty shards', () => {
    expect(shardOf([snap('a', 1)], 2, 3)).toEqual([]);
    expect(shardOf([], 1, 2)).toEqual([]);
  });

  it('refuses an index outside 1..N', () => {
    expect(() => shardOf(all, 0, 2)).toThrow(/--shard/);
    expect(() => shardOf(all, 3, 2)).toThrow(/--shard/);
  });
});
