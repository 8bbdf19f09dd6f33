import type { RestoredFilesystem } from '../../../boot/types.js';
import type { LintRule } from '../rule.js';

const name = (f: RestoredFilesystem) => `${f.snapshotId}:${f.target}`;

/** duplicateUuid: two filesystems of the restored set carry one UUID, so by-uuid names and XFS mounts become a coin toss. */
export const duplicateUuid: LintRule = {
  name: 'duplicate-uuid',
  ids: ['duplicate-uuid'],
  check({ context }) {
    const byUuid = new Map<string, RestoredFilesystem[]>();
    for (const f of context.filesystems) {
      if (!f.uuid) continue;
      const list = byUuid.get(f.uuid.toLowerCase()) ?? [];
      if (!list.some((x) => name(x) === name(f))) list.push(f);
      byUuid.set(f.uuid.toLowerCase(), list);
    }
    return [...byUuid].filter(([, list]) => list.length > 1).map(([uuid, list]) => {
      const xfs = list.some((f) => f.fstype === 'xfs');
      return {
        id: 'duplicate-uuid',
        severity: 'error',
        message: `filesystem UUID ${uuid} is carried by ${list.map((f) => `${name(f)} (${f.fstype || 'unknown type'})`).join(' and ')}: ${xfs ? 'XFS refuses to mount the second one ("Filesystem has duplicate UUID - can\'t mount") and ' : ''}/dev/disk/by-uuid/${uuid} points at one of them at random, so UUID=${uuid} in fstab or root= may mount the wrong one`,
        remedy: 'give one of them a new UUID on the restored copy (XFS: xfs_admin -U generate DEV after log replay; ext4: e2fsck -f DEV then tune2fs -U random DEV) and update the fstab/GRUB references to it, or do not attach both to the same instance',
        evidence: list.map((f) => `${name(f)}\t${f.uuid}\t${f.label ?? ''}\t${f.fstype ?? ''}`),
      };
    });
  },
};
