import type { NumberedLine } from './facts.js';
import { specRef, type Ref } from './refs.js';

/** FstabEntry is one parsed /etc/fstab line. */
export interface FstabEntry {
  line: number;
  text: string;
  spec: string;
  file: string;
  vfstype: string;
  options: string[];
}

/** unescapeFstab decodes fstab's octal escapes (\040 for a space). */
function unescapeFstab(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** parseFstabLine reads one fstab line; undefined for comments, blanks and lines too short to mean anything. */
export function parseFstabLine(line: number, text: string): FstabEntry | undefined {
  const t = text.trim();
  if (!t || t.startsWith('#')) return undefined;
  const f = t.split(/\s+/);
  if (f.length < 3) return undefined;
  return { line, text, spec: unescapeFstab(f[0]!), file: unescapeFstab(f[1]!), vfstype: f[2]!, options: (f[3] ?? 'defaults').split(',') };
}

/** Filesystem types that are not backed by a local block device: nothing to find on the restored instance. */
const VIRTUAL_TYPES = new Set([
  'proc', 'sysfs', 'tmpfs', 'devtmpfs', 'devpts', 'ramfs', 'cgroup', 'cgroup2', 'securityfs', 'debugfs', 'tracefs', 'hugetlbfs', 'mqueue', 'pstore',
  'efivarfs', 'configfs', 'fusectl', 'bpf', 'binfmt_misc', 'autofs', 'overlay', 'nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'ceph', 'glusterfs', '9p',
  'virtiofs', 'sshfs', 'davfs', 'none', 'rpc_pipefs', 'nfsd', 'lustre', 'efs',
]);

/** BootMount is an fstab entry the boot waits for: a local block device mounted (or swapped on) at boot. */
export interface BootMount {
  entry: FstabEntry;
  ref: Ref;
  nofail: boolean;
  /** "UUID=... on /data" or "swap on /dev/xvdb". */
  what: string;
  /** "/etc/fstab line 3". */
  where: string;
  /** What happens at boot when its device is absent. */
  consequence: string;
  /** The line quoted as evidence. */
  quoted: string;
}

/** bootMounts lists the fstab entries that name a local block device the boot will wait for (not noauto, bind, network or virtual). */
export function bootMounts(lines: NumberedLine[]): BootMount[] {
  return lines.flatMap((l) => {
    const e = parseFstabLine(l.n, l.text);
    if (!e || VIRTUAL_TYPES.has(e.vfstype) || e.vfstype.startsWith('fuse')) return [];
    if (e.options.some((o) => o === 'bind' || o === 'rbind' || o === 'noauto' || o === '_netdev')) return [];
    const ref = specRef(e.spec);
    if (!ref) return [];
    const nofail = e.options.includes('nofail');
    const where = `/etc/fstab line ${e.line}`;
    const consequence = nofail
      ? 'with nofail the boot goes on without it (the mount, and whatever needs it, will be missing)'
      : 'systemd waits 90 s for the device, then stops the boot in emergency mode ("Timed out waiting for device", "Dependency failed for")';
    return [{ entry: e, ref, nofail, what: e.vfstype === 'swap' ? `swap on ${e.spec}` : `${e.spec} on ${e.file}`, where, consequence, quoted: `${where}: ${e.text.trim()}` }];
  });
}

/** separateBoot says whether fstab mounts /boot from a filesystem of its own. */
export const separateBoot = (lines: NumberedLine[]): boolean => lines.some((l) => parseFstabLine(l.n, l.text)?.file === '/boot');
