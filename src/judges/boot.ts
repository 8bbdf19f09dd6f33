import type { BootOptions } from '../config/types.js';

/** BootCandidate is what choosing the volume to boot needs of one snapshot of a group. */
export interface BootCandidate {
  id: string;
  tags: Record<string, string>;
  /** How many root filesystems the pre-boot lint recognised on it. */
  roots: number;
  /** False when the snapshot could not be verified (restore, attach or inspection failed). */
  verified: boolean;
}

/** BootChoice is the snapshot a group boots from (if any), and for each other snapshot why it was not booted on its own. */
export interface BootChoice {
  root: string | undefined;
  notes: Record<string, string>;
}

/** matchesBoot says whether boot.match selects a snapshot (no match: every snapshot). */
export function matchesBoot(c: Pick<BootCandidate, 'id' | 'tags'>, match: BootOptions['match']): boolean {
  if (!match) return true;
  if (match.ids?.length && !match.ids.includes(c.id)) return false;
  return Object.entries(match.tags ?? {}).every(([k, v]) => c.tags[k] === v);
}

/**
 * chooseBootRoot picks the first verified snapshot with a root filesystem that boot.match selects; the set's other
 * volumes boot with it as data disks. Without one, each snapshot's note says why it was not boot-tested.
 */
export function chooseBootRoot(candidates: BootCandidate[], match: BootOptions['match']): BootChoice {
  const root = candidates.find((c) => c.roots > 0 && c.verified && matchesBoot(c, match))?.id;
  const anyRoot = candidates.some((c) => c.roots > 0);
  const notes: Record<string, string> = {};
  for (const c of candidates) {
    if (c.id === root) continue;
    notes[c.id] = root
      ? `booted as a data volume of ${root}`
      : !c.verified
        ? 'not boot-tested: the snapshot could not be verified'
        : anyRoot
          ? 'not boot-tested: boot.match excludes it'
          : 'not boot-tested: no root filesystem found (no /etc/fstab with an init)';
  }
  return { root, notes };
}
