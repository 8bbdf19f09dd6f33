import { ConfigError } from '../errors.js';
import type { SnapshotInfo } from '../provider.js';

/** Shard is one part of a fleet run: the k-th of n (1-based), of one account's region when the run covers several. */
export interface Shard {
  k: number;
  n: number;
  account?: string;
  region?: string;
}

/** MAX_SHARDS bounds --shard: more shards than this is a typo, not a fleet. */
export const MAX_SHARDS = 1000;

/** GIB is the least work a snapshot counts for: restoring, attaching and checking even a tiny one takes time. */
const GIB = 1024 ** 3;

/** parseShard reads --shard K/N (1 ≤ K ≤ N ≤ 1000); anything else is a usage error naming the flag. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const remedy = `write it as K/N with 1 ≤ K ≤ N ≤ ${MAX_SHARDS}, e.g. --shard 2/4 for the second of four shards`;
  if (!m) throw new ConfigError('--shard', `"${text}" is not K/N`, remedy);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || n > MAX_SHARDS) throw new ConfigError('--shard', `"${text}": the shard count must be between 1 and ${MAX_SHARDS}`, remedy);
  if (k < 1 || k > n) throw new ConfigError('--shard', `"${text}": the shard index must be between 1 and ${n}`, remedy);
  return { k, n };
}

/** shardName is how a shard is named in directories and history records: "K-of-N", or "ACCOUNT-REGION-K-of-N" in a fleet. */
export function shardName(shard: Shard): string {
  return `${shard.account !== undefined ? `${shard.account}-${shard.region}-` : ''}${shard.k}-of-${shard.n}`;
}

/** unitKey is what must stay together: a multi-volume set, else a lineage (the volume), else the snapshot alone. */
function unitKey(s: SnapshotInfo): string {
  return s.set !== undefined ? `set:${s.set}` : s.volumeId !== undefined ? `vol:${s.volumeId}` : `id:${s.id}`;
}

/** assignShards maps every unit key of a selection to its shard index (0-based), by a greedy on estimated work. */
function assignShards(selected: readonly SnapshotInfo[], n: number): Map<string, number> {
  const work = new Map<string, number>();
  for (const s of selected) work.set(unitKey(s), (work.get(unitKey(s)) ?? 0) + Math.max(s.sizeBytes, GIB));
  // Largest first, then by key: the same units give the same shards whatever order the provider listed them in.
  const units = [...work].sort(([ka, wa], [kb, wb]) => wb - wa || (ka < kb ? -1 : ka > kb ? 1 : 0));
  const load = new Array<number>(n).fill(0);
  const out = new Map<string, number>();
  for (const [key, w] of units) {
    let best = 0;
    for (let i = 1; i < n; i++) if (load[i]! < load[best]!) best = i;
    load[best]! += w;
    out.set(key, best);
  }
  return out;
}

/**
 * shardOf is the part of a selection the k-th of n shards verifies: sets and lineages are never split, units are
 * balanced by size (at least 1 GiB each snapshot), and every shard computes the same split from the same selection.
 * The selection's order is kept within the shard.
 */
export function shardOf(selected: readonly SnapshotInfo[], k: number, n: number): SnapshotInfo[] {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 1 || k > n) throw new ConfigError('--shard', `${k}/${n} is not a shard (1 ≤ K ≤ N)`);
  const shards = assignShards(selected, n);
  return selected.filter((s) => shards.get(unitKey(s)) === k - 1);
}
