import type { LintRule } from '../rule.js';

const MiB = 1024 * 1024;
/** ROOT_MIN_FREE_BYTES is the free space below which the root filesystem is an error whatever its size: journald, apt and logins need room at boot. */
export const ROOT_MIN_FREE_BYTES = 50 * MiB;

const fmtBytes = (b: number) => (b >= 1024 * MiB ? `${(b / (1024 * MiB)).toFixed(1)} GiB` : `${(b / MiB).toFixed(1)} MiB`);

/** rootSpace: a root filesystem at 95% is a warning; at 99%, or under ROOT_MIN_FREE_BYTES free, services that write at boot fail. */
export const rootSpace: LintRule = {
  name: 'space',
  ids: ['root-nearly-full'],
  check({ facts }) {
    const s = facts.space;
    if (!s || s.usedBytes === null || s.availBytes === null) return [];
    const denom = s.usedBytes + s.availBytes;
    const pct = denom > 0 ? Math.ceil((s.usedBytes * 100) / denom) : 100;
    const error = pct >= 99 || s.availBytes < ROOT_MIN_FREE_BYTES;
    if (!error && pct < 95) return [];
    const line = `the root filesystem is ${pct}% full (${fmtBytes(s.availBytes)} free of ${fmtBytes(s.sizeBytes)})`;
    return [
      {
        id: 'root-nearly-full',
        severity: error ? 'error' : 'warning',
        message: error
          ? `${line}: services that write at boot (journald, systemd, sshd host keys, package triggers) fail with "No space left on device"`
          : `${line}: little room for logs and package updates after boot`,
        remedy: 'free space in the source system (journalctl --vacuum-size=100M, apt-get clean / dnf clean all, old kernels, logs) before the snapshot, or grow the restored volume and its filesystem (growpart, resize2fs / xfs_growfs)',
        evidence: [`size ${s.sizeBytes} used ${s.usedBytes} avail ${s.availBytes} (${pct}%)`],
      },
    ];
  },
};

/** rootInodes: no free inodes (or under 1%) means no file can be created at boot. */
export const rootInodes: LintRule = {
  name: 'inodes',
  ids: ['root-inodes-nearly-full'],
  check({ facts }) {
    const s = facts.space;
    if (!s?.inodes || s.inodesFree === null || (s.inodesFree > 0 && s.inodesFree / s.inodes >= 0.01)) return [];
    return [
      {
        id: 'root-inodes-nearly-full',
        severity: 'error',
        message: `the root filesystem has ${s.inodesFree} free inodes of ${s.inodes}: creating any file at boot fails with "No space left on device"`,
        remedy: 'delete the many small files (session files, caches, mail queues) in the source system before the snapshot',
        evidence: [`inodes ${s.inodes} used ${s.inodesUsed} free ${s.inodesFree}`],
      },
    ];
  },
};
