import { SnapshotNotFoundError } from './errors.js';
import type { SnapshotSelector } from './config/types.js';
import type { SnapshotInfo } from './provider.js';

function matchesTags(s: SnapshotInfo, tags: Record<string, string | string[]>): boolean {
  return Object.entries(tags).every(([k, want]) => {
    const have = s.tags[k];
    if (have === undefined) return false;
    const accepted = Array.isArray(want) ? want : [want];
    return accepted.includes('*') || accepted.includes(have);
  });
}

/** latestPerVolume keeps the newest n snapshots of each volume; snapshots without a volume id stand alone. */
export function latestPerVolume(snaps: SnapshotInfo[], n: number): SnapshotInfo[] {
  const groups = new Map<string, SnapshotInfo[]>();
  for (const s of snaps) {
    const key = s.volumeId ?? `\u0000${s.id}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const keep = new Set<SnapshotInfo>();
  for (const g of groups.values()) {
    g.sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? '') || a.id.localeCompare(b.id));
    g.slice(0, n).forEach((s) => keep.add(s));
  }
  return snaps.filter((s) => keep.has(s));
}

/** selectSnapshots applies the union of selectors; ids that do not exist are an error naming them, before anything is created. */
export function selectSnapshots(all: SnapshotInfo[], selectors: SnapshotSelector[], where: string): SnapshotInfo[] {
  if (selectors.length === 0) return [...all];
  const byId = new Map(all.map((s) => [s.id, s]));
  const missing = selectors.flatMap((sel) => sel.ids ?? []).filter((id) => !byId.has(id));
  if (missing.length) throw new SnapshotNotFoundError([...new Set(missing)], where);
  const chosen = new Set<SnapshotInfo>();
  for (const sel of selectors) {
    let pick = all.filter(
      (s) =>
        (!sel.ids || sel.ids.includes(s.id)) &&
        (!sel.volumeIds || (s.volumeId !== undefined && sel.volumeIds.includes(s.volumeId))) &&
        (!sel.tags || matchesTags(s, sel.tags)),
    );
    if (sel.latestPerVolume) pick = latestPerVolume(pick, sel.latestPerVolume);
    pick.forEach((s) => chosen.add(s));
  }
  // Keep the provider's order so reports are stable.
  return all.filter((s) => chosen.has(s));
}
