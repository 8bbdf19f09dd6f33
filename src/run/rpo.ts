import type { SnapshotSelector } from '../config/types.js';
import type { CoveredVolume } from '../judges/rpo.js';
import type { Provider, SnapshotInfo } from '../provider.js';

/**
 * coveredVolumes gathers what the RPO check needs: every volume the selection covers (named by a selector's volumeIds,
 * or the volume of a selected snapshot) with every completed snapshot of it the provider knows. A volume named in
 * volumeIds with no snapshot at all is still covered: that is the failure the check exists for.
 */
export async function coveredVolumes(provider: Pick<Provider, 'snapshotsOfVolumes'>, all: readonly SnapshotInfo[], selected: readonly SnapshotInfo[], selectors: readonly SnapshotSelector[]): Promise<CoveredVolume[]> {
  const ids = [...new Set([...selectors.flatMap((s) => s.volumeIds ?? []), ...selected.flatMap((s) => (s.volumeId ? [s.volumeId] : []))])].sort();
  if (!ids.length) return [];
  const inventory = provider.snapshotsOfVolumes ? await provider.snapshotsOfVolumes(ids) : all;
  const byVolume = new Map<string, SnapshotInfo[]>(ids.map((id) => [id, []]));
  for (const s of inventory) if (s.volumeId && byVolume.has(s.volumeId)) byVolume.get(s.volumeId)!.push(s);
  return ids.map((volumeId) => {
    const snaps = byVolume.get(volumeId)!;
    const where = snaps[0] ?? selected.find((s) => s.volumeId === volumeId);
    return {
      volumeId,
      ...(where?.account ? { account: where.account } : {}),
      ...(where?.region ? { region: where.region } : {}),
      snapshots: snaps.map((s) => ({ id: s.id, ...(s.startTime ? { startTime: s.startTime } : {}) })),
    };
  });
}
