import type { LintFinding, LintResult } from '../boot/types.js';
import type { Fact } from '../checks/runner.js';

/**
 * The pre-boot lint judge: turns the facts checks/bootlint.sh gathered on a restored root filesystem
 * (mounted read-only, never replayed) into the problems that would stop the restored machine from
 * booting, each with a remedy. Pure: no I/O.
 */

/** SetFilesystem is one filesystem restored together with the linted one (SNAPDRILL_UUIDS), as the check echoed it. */
interface SetFilesystem {
  uuid: string;
  label: string;
  fstype: string;
  target: string;
  partuuid: string | null;
}
interface FsIdentity {
  uuid: string | null;
  label: string | null;
  fstype: string | null;
  partuuid: string | null;
}
interface Context {
  targetNvme: boolean;
  setGiven: boolean;
  self: FsIdentity;
  filesystems: SetFilesystem[];
}
interface NumberedLine {
  n: number;
  text: string;
}
interface KernelFact {
  version: string | null;
  source: string | null;
  path: string | null;
  exists: boolean;
  initramfs: string | null;
  modulesDir: string | null;
  builtinRead: boolean;
  builtin: { nvme: boolean; ena: boolean };
  modules: { nvme: string[]; ena: string[] };
  kernels: string[];
}
interface InitramfsFact {
  path: string;
  bytes: number;
  ok: boolean;
  reader?: string;
  error?: string;
  segments: { offset: number; format: string; entries: number }[];
  entries?: number;
  nvme?: string[];
  ena?: string[];
}
interface SpaceFact {
  sizeBytes: number;
  usedBytes: number | null;
  availBytes: number | null;
  inodes: number | null;
  inodesUsed: number | null;
  inodesFree: number | null;
}

const MiB = 1024 * 1024;
/** Free space below which the root filesystem is an error whatever its size: journald, apt and logins need room at boot. */
export const ROOT_MIN_FREE_BYTES = 50 * MiB;

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

/** Device names: Xen/SCSI-style (xvd, sd, hd), virtio (vd), NVMe. */
const XEN_NAME = /^\/dev\/(xvd[a-z]+|sd[a-z]+|hd[a-z]+)\d*$/;
const VIRTIO_NAME = /^\/dev\/vd[a-z]+\d*$/;
const NVME_NAME = /^\/dev\/nvme(\d+)n\d+(p\d+)?$/;

type Ref = { kind: 'uuid' | 'label' | 'partuuid' | 'device'; value: string };

/** specRef says how an fstab spec (or a kernel root=) names its filesystem, or undefined when it names no block device we can judge. */
function specRef(spec: string): Ref | undefined {
  const eq = /^(UUID|LABEL|PARTUUID)=(.+)$/i.exec(spec);
  if (eq) {
    const v = eq[2]!.replace(/^"(.*)"$/, '$1');
    return { kind: eq[1]!.toLowerCase() as Ref['kind'], value: v };
  }
  const by = /^\/dev\/disk\/by-(uuid|label|partuuid)\/(.+)$/.exec(spec);
  if (by) return { kind: by[1] as Ref['kind'], value: by[2]! };
  if (XEN_NAME.test(spec) || VIRTIO_NAME.test(spec) || NVME_NAME.test(spec)) return { kind: 'device', value: spec };
  return undefined;
}

const fmtBytes = (b: number) => (b >= 1024 * MiB ? `${(b / (1024 * MiB)).toFixed(1)} GiB` : `${(b / MiB).toFixed(1)} MiB`);

function factValue<T>(facts: Fact[], name: string): T | undefined {
  return facts.find((f) => f.fact === name)?.value as T | undefined;
}

/** Where a device name will be absent: the reason in words, or undefined when it will exist. */
function deviceAbsence(dev: string, targetNvme: boolean): string | undefined {
  if (targetNvme && (XEN_NAME.test(dev) || VIRTIO_NAME.test(dev))) {
    return `the target instance type is Nitro, where EBS disks appear only as /dev/nvme*n1: ${dev} will not exist`;
  }
  if (!targetNvme && NVME_NAME.test(dev)) return `the target instance type is Xen, where EBS disks appear as /dev/xvd* (or /dev/sd*): ${dev} will not exist`;
  return undefined;
}

/** The distribution-specific way to add a driver to the initramfs. */
function initramfsRemedy(tool: string | null | undefined, driver: string, kver: string | null): string {
  const k = kver ?? '$(uname -r)';
  switch (tool) {
    case 'initramfs-tools':
      return `in the source system (or a chroot into the restored volume): echo ${driver} >> /etc/initramfs-tools/modules && update-initramfs -u -k ${k} (MODULES=dep in /etc/initramfs-tools/initramfs.conf only includes drivers of the current hardware; MODULES=most includes ${driver}), then take a new snapshot`;
    case 'dracut':
      return `in the source system (or a chroot into the restored volume): echo 'add_drivers+=" ${driver} "' > /etc/dracut.conf.d/${driver}.conf && dracut -f --kver ${k} (hostonly mode only includes drivers of the current hardware), then take a new snapshot`;
    case 'mkinitcpio':
      return `add ${driver} to MODULES=() in /etc/mkinitcpio.conf and run mkinitcpio -P in the source system, then take a new snapshot`;
    default:
      return `rebuild the initramfs of kernel ${k} with the ${driver} driver included (initramfs-tools: /etc/initramfs-tools/modules + update-initramfs -u; dracut: add_drivers+=" ${driver} " + dracut -f), then take a new snapshot`;
  }
}

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** judgeBootLint turns the bootlint check's facts on one filesystem into the lint of that root filesystem. */
export function judgeBootLint(target: string, facts: Fact[]): LintResult {
  const notRun = (reason: string): LintResult => ({ target, ran: false, reason, findings: [] });
  const skipped = factValue<{ reason?: string; remedy?: string }>(facts, 'skipped');
  if (skipped) return notRun(`skipped: ${skipped.reason ?? 'the check could not run'}${skipped.remedy ? ` (${skipped.remedy})` : ''}`);
  if (facts.length === 0) return notRun('the bootlint check printed nothing');
  const mount = factValue<{ ok: boolean; output?: string }>(facts, 'mount');
  if (!mount) return notRun('the bootlint check printed no mount result');
  if (!mount.ok) return notRun(`could not mount the filesystem read-only: ${(mount.output ?? '').trim().split('\n').slice(-1)[0] || 'mount failed'}`);
  const root = factValue<{ fstab: boolean; init: string | null; sbinInit?: boolean }>(facts, 'root');
  if (!root) return notRun('the bootlint check stopped before it could tell whether this is a root filesystem');
  if (!root.fstab && !root.init) return notRun('not a root filesystem');

  const findings: LintFinding[] = [];
  const add = (f: LintFinding) => findings.push(f);
  const ctx = factValue<Context>(facts, 'context') ?? { targetNvme: true, setGiven: false, self: { uuid: null, label: null, fstype: null, partuuid: null }, filesystems: [] };
  const targetKind = ctx.targetNvme ? 'Nitro (NVMe)' : 'Xen';
  const os = factValue<{ initramfsTool: string | null }>(facts, 'os');
  const ec2Rules = factValue<{ rules: string[] }>(facts, 'ec2-udev')?.rules ?? [];

  // What will exist on the restored instance.
  const setFs = ctx.filesystems;
  const uuids = new Set([...setFs.map((f) => f.uuid), ctx.self.uuid ?? ''].filter(Boolean).map((u) => u.toLowerCase()));
  const labels = new Set([...setFs.map((f) => f.label), ctx.self.label ?? ''].filter(Boolean));
  const partuuids = new Set([...setFs.map((f) => f.partuuid ?? ''), ctx.self.partuuid ?? ''].filter(Boolean).map((u) => u.toLowerCase()));
  const setDesc = setFs.length ? setFs.map((f) => `${f.target || '?'}=${f.uuid || '-'}${f.label ? ` (${f.label})` : ''}`).join(', ') : '(none)';
  /** known says whether a UUID/LABEL/PARTUUID reference resolves; undefined when it cannot be told. */
  const known = (r: Ref): boolean | undefined => {
    if (!ctx.setGiven) return undefined;
    if (r.kind === 'uuid') return uuids.has(r.value.toLowerCase());
    if (r.kind === 'label') return labels.has(r.value);
    if (r.kind === 'partuuid') return partuuids.size ? partuuids.has(r.value.toLowerCase()) : undefined;
    return undefined;
  };

  if (!ctx.setGiven) {
    add({
      id: 'restored-set-unknown',
      severity: 'info',
      message: 'the filesystems restored with this one were not given (SNAPDRILL_UUIDS), so fstab and kernel command-line UUIDs and labels were not checked',
      remedy: 'run the lint through snapdrill, which passes the UUIDs of every filesystem of the snapshot or snapshot set',
      evidence: [],
    });
  }

  // Duplicate UUIDs in the restored set.
  const byUuid = new Map<string, SetFilesystem[]>();
  for (const f of setFs) {
    if (!f.uuid) continue;
    const k = f.uuid.toLowerCase();
    const list = byUuid.get(k) ?? [];
    if (!list.some((x) => x.target === f.target)) list.push(f);
    byUuid.set(k, list);
  }
  for (const [uuid, list] of byUuid) {
    if (list.length < 2) continue;
    const names = list.map((f) => `${f.target || '?'} (${f.fstype || 'unknown type'})`);
    const xfs = list.some((f) => f.fstype === 'xfs');
    add({
      id: 'duplicate-uuid',
      severity: 'error',
      message: `filesystem UUID ${uuid} is carried by ${names.join(' and ')}: ${xfs ? 'XFS refuses to mount the second one ("Filesystem has duplicate UUID - can\'t mount") and ' : ''}/dev/disk/by-uuid/${uuid} points at one of them at random, so UUID=${uuid} in fstab or root= may mount the wrong one`,
      remedy: `give one of them a new UUID on the restored copy (XFS: xfs_admin -U generate DEV after log replay; ext4: e2fsck -f DEV then tune2fs -U random DEV) and update the fstab/GRUB references to it, or do not attach both to the same instance`,
      evidence: list.map((f) => `${f.target}\t${f.uuid}\t${f.label}\t${f.fstype}`),
    });
  }

  // /etc/fstab.
  const fstab = factValue<{ path: string; lines: NumberedLine[] }>(facts, 'fstab');
  for (const l of fstab?.lines ?? []) {
    const e = parseFstabLine(l.n, l.text);
    if (!e) continue;
    if (VIRTUAL_TYPES.has(e.vfstype) || e.vfstype.startsWith('fuse') || e.options.some((o) => o === 'bind' || o === 'rbind' || o === 'noauto' || o === '_netdev')) continue;
    const ref = specRef(e.spec);
    if (!ref) continue;
    const nofail = e.options.includes('nofail');
    const what = e.vfstype === 'swap' ? `swap on ${e.spec}` : `${e.spec} on ${e.file}`;
    const where = `/etc/fstab line ${e.line}`;
    const consequence = nofail
      ? 'with nofail the boot goes on without it (the mount, and whatever needs it, will be missing)'
      : 'systemd waits 90 s for the device, then stops the boot in emergency mode ("Timed out waiting for device", "Dependency failed for")';
    if (ref.kind === 'device') {
      const absent = deviceAbsence(ref.value, ctx.targetNvme);
      if (absent) {
        const mappedByRule = ctx.targetNvme && ec2Rules.length > 0 && /^\/dev\/(xvd|sd)/.test(ref.value);
        if (mappedByRule) {
          add({
            id: 'fstab-device-name-mapped',
            severity: 'warning',
            message: `${where} mounts ${what} by a Xen-style device name; on a Nitro instance it exists only as a symlink made by Amazon's udev rule (${ec2Rules[0]}) from the block-device mapping name, so it breaks if the volume is attached under another name`,
            remedy: `refer to the filesystem by UUID= (blkid shows it) instead of ${ref.value}${nofail ? '' : ', and add nofail to entries of volumes that may be absent'}`,
            evidence: [`${where}: ${e.text.trim()}`, ...ec2Rules],
          });
          continue;
        }
        add({
          id: nofail ? 'fstab-device-missing-nofail' : 'fstab-device-missing',
          severity: nofail ? 'warning' : 'error',
          message: `${where} mounts ${what}, but ${absent}; ${consequence}`,
          remedy: `refer to the filesystem by UUID= (blkid shows it) instead of ${ref.value}${nofail ? '' : ', and add nofail to entries of volumes that may be absent'}${ctx.targetNvme && /^\/dev\/(xvd|sd)/.test(ref.value) ? '; or install amazon-ec2-utils, whose udev rules also create /dev/xvd* and /dev/sd* names on Nitro' : ''}`,
          evidence: [`${where}: ${e.text.trim()}`, `target instance: ${targetKind}`],
        });
      } else if (ctx.targetNvme && Number(NVME_NAME.exec(ref.value)?.[1] ?? '0') > 0) {
        add({
          id: 'fstab-device-name-unstable',
          severity: 'warning',
          message: `${where} mounts ${what} by NVMe device name; Nitro numbers attached EBS volumes in arbitrary order, so ${ref.value} may be another volume (or absent) on the restored instance`,
          remedy: `refer to the filesystem by UUID= (blkid shows it) instead of ${ref.value}`,
          evidence: [`${where}: ${e.text.trim()}`],
        });
      }
      continue;
    }
    const k = known(ref);
    if (ref.kind === 'partuuid' && k === undefined && ctx.setGiven) {
      add({
        id: 'fstab-partuuid-unverified',
        severity: 'info',
        message: `${where} mounts ${what} by PARTUUID, and the partition UUIDs of the restored set could not be read, so it was not checked`,
        remedy: 'none needed if the partition table was restored with the filesystem; UUID= is independent of the partition table',
        evidence: [`${where}: ${e.text.trim()}`],
      });
      continue;
    }
    if (k !== false) continue;
    const kindWord = ref.kind === 'uuid' ? 'UUID' : ref.kind === 'label' ? 'label' : 'partition UUID';
    add({
      id: ref.kind === 'uuid' ? 'fstab-uuid-unknown' : ref.kind === 'label' ? 'fstab-label-unknown' : 'fstab-partuuid-unknown',
      severity: nofail ? 'warning' : 'error',
      message: `${where} mounts ${what}, but no filesystem restored with this one has ${kindWord} ${ref.value}; ${consequence}`,
      remedy: `restore the missing volume with this one (same snapshot set), or change ${where} to a ${kindWord} that exists${nofail ? '' : ' or add nofail'}`,
      evidence: [`${where}: ${e.text.trim()}`, `restored set: ${setDesc}`],
    });
  }

  // Boot loader: kernel command lines (root=) and GRUB's search for its own files.
  const cmdlineSeen = new Map<string, LintFinding>();
  const initArgs: string[] = [];
  for (const cfg of facts.filter((f) => f.fact === 'bootcfg').map((f) => f.value as { file: string; lines: NumberedLine[] })) {
    const isDefault = cfg.file.startsWith('/etc/default/grub');
    const isGrubCfg = /\/(grub\.cfg|menu\.lst|grub\.conf)$/.test(cfg.file);
    for (const l of cfg.lines) {
      const t = l.text.trim();
      let cmdline: string | undefined;
      if (isGrubCfg && /^(linux|linux16|linuxefi|kernel)\s/.test(t)) cmdline = t;
      else if (cfg.file.startsWith('/boot/loader/entries/') && /^options\s/.test(t)) cmdline = t;
      else if (/grubenv$/.test(cfg.file) && t.startsWith('kernelopts=')) cmdline = t;
      else if (isDefault && /^GRUB_CMDLINE_LINUX(_DEFAULT)?=/.test(t)) cmdline = t;
      if (cmdline) {
        const init = [...cmdline.matchAll(/(?:^|[\s"'])init=([^\s"']+)/g)].at(-1)?.[1];
        if (init && !isDefault) initArgs.push(`${cfg.file}:${l.n}: init=${init}`);
        // The kernel takes the last root= on its command line.
        const roots = [...cmdline.matchAll(/(?:^|[\s"'=])root=([^\s"']+)/g)].map((m) => m[1]!);
        const rootArg = roots.at(-1);
        const ref = rootArg && !rootArg.includes('$') ? specRef(rootArg) : undefined;
        if (ref) {
          let problem: { id: string; why: string } | undefined;
          if (ref.kind === 'device') {
            const absent = deviceAbsence(ref.value, ctx.targetNvme);
            if (absent) problem = { id: 'grub-root-device-missing', why: absent };
          } else if (known(ref) === false) {
            const kindWord = ref.kind === 'uuid' ? 'UUID' : ref.kind === 'label' ? 'label' : 'partition UUID';
            problem = { id: ref.kind === 'label' ? 'grub-root-label-unknown' : 'grub-root-uuid-mismatch', why: `no filesystem restored with this one has ${kindWord} ${ref.value}` };
          }
          if (problem) {
            const key = `${problem.id}|${cfg.file}|${rootArg}`;
            const prev = cmdlineSeen.get(key);
            const ev = `${cfg.file}:${l.n}: ${t}`;
            if (prev) {
              if (prev.evidence.length < 6) prev.evidence.splice(prev.evidence.length - 1, 0, ev);
            } else {
              const f: LintFinding = {
                id: problem.id,
                severity: isDefault ? 'warning' : 'error',
                message: isDefault
                  ? `${cfg.file} line ${l.n} puts root=${rootArg} on the kernel command line, but ${problem.why}: the next update-grub/grub2-mkconfig (a kernel update) will write it into grub.cfg and the machine will not find its root filesystem`
                  : `${cfg.file} line ${l.n} boots the kernel with root=${rootArg}, but ${problem.why}: the initramfs will wait for it and drop to a shell ("Gave up waiting for root device", "ALERT! ... does not exist")`,
                remedy:
                  ref.kind === 'device'
                    ? `use root=UUID=${ctx.self.uuid ?? '<uuid of the root filesystem>'} (blkid shows it) instead of a device name, in ${isDefault ? cfg.file : '/etc/default/grub, then update-grub / grub2-mkconfig'}`
                    : `point root= at the restored root filesystem (UUID ${ctx.self.uuid ?? 'shown by blkid'}) in ${isDefault ? cfg.file : `${cfg.file} (regenerate it with update-grub / grub2-mkconfig, or grubby --update-kernel=ALL --args=root=UUID=...)`}, or restore the volume that carries ${ref.value}`,
                evidence: [ev, `restored set: ${setDesc}`],
              };
              cmdlineSeen.set(key, f);
              add(f);
            }
          }
        }
        continue;
      }
      // search --fs-uuid [--set=root] [--hint...] UUID, or search.fs_uuid UUID [var].
      if (isGrubCfg && ctx.setGiven) {
        let uuid: string | undefined;
        const words = t.split(/\s+/);
        if (words[0] === 'search.fs_uuid') uuid = words[1];
        else if (words[0] === 'search' && words.some((w) => w === '--fs-uuid' || w === '-u')) uuid = words.slice(1).filter((w) => !w.startsWith('-')).at(-1);
        if (uuid && !uuid.includes('$') && !uuids.has(uuid.toLowerCase())) {
          const key = `grub-search|${cfg.file}|${uuid}`;
          const prev = cmdlineSeen.get(key);
          const ev = `${cfg.file}:${l.n}: ${t}`;
          if (prev) {
            if (prev.evidence.length < 6) prev.evidence.splice(prev.evidence.length - 1, 0, ev);
          } else {
            const f: LintFinding = {
              id: 'grub-search-uuid-unknown',
              severity: 'error',
              message: `${cfg.file} line ${l.n} makes GRUB search for the filesystem with UUID ${uuid}, which no filesystem restored with this one has: GRUB will not find the kernel ("error: no such device", or the grub rescue> prompt)`,
              remedy: `regenerate grub.cfg (update-grub / grub2-mkconfig -o ${cfg.file}) so it names the restored /boot filesystem (UUID ${ctx.self.uuid ?? 'shown by blkid'}), or restore the volume that carries ${uuid}`,
              evidence: [ev, `restored set: ${setDesc}`],
            };
            cmdlineSeen.set(key, f);
            add(f);
          }
        }
      }
    }
  }

  // The init the kernel starts.
  if (root.sbinInit === false) {
    add({
      id: 'init-missing',
      severity: initArgs.length ? 'warning' : 'error',
      message: initArgs.length
        ? `/sbin/init does not exist; the kernel command line names another init (${initArgs[0]}), which this lint did not verify`
        : `/sbin/init does not exist (not installed, or a dangling symlink${root.init ? `; ${root.init} is there` : ''}): the initramfs stops with "Target filesystem doesn't have requested /sbin/init" or the kernel panics "No working init found"`,
      remedy: 'install the init system in the source system (Debian/Ubuntu: systemd-sysv; RHEL/Amazon Linux: systemd) or restore the /sbin/init symlink to /lib/systemd/systemd, then take a new snapshot',
      evidence: ['/sbin/init: missing', ...(root.init ? [`${root.init}: present`] : []), ...initArgs.slice(0, 3)],
    });
  }

  // The default kernel's initramfs: NVMe (root disk) and ENA (network) drivers on Nitro.
  const kernel = factValue<KernelFact>(facts, 'kernel');
  const initramfs = factValue<InitramfsFact>(facts, 'initramfs');
  const separateBoot = (fstab?.lines ?? []).map((l) => parseFstabLine(l.n, l.text)).some((e) => e?.file === '/boot');
  if (kernel && !kernel.version && !kernel.path) {
    add({
      id: 'kernel-not-found',
      severity: 'info',
      message: separateBoot
        ? 'no kernel under /boot: /boot is a separate filesystem (in /etc/fstab), so the kernel, its initramfs and grub.cfg were not linted'
        : 'no kernel found under /boot (a container image, or a kernel loaded from elsewhere): the initramfs was not linted',
      remedy: separateBoot ? 'lint the /boot filesystem of the same snapshot set too, or rely on the boot test' : 'none, unless this filesystem is expected to boot on its own',
      evidence: [],
    });
  } else if (kernel) {
    const kdesc = `kernel ${kernel.version ?? kernel.path}${kernel.source ? ` (default, from ${kernel.source})` : ''}`;
    const evidence = [
      `${kdesc}: ${kernel.path ?? '?'}${kernel.exists ? '' : ' (missing)'}`,
      kernel.builtinRead ? `${kernel.modulesDir}/modules.builtin: nvme ${kernel.builtin.nvme ? 'built in' : 'not built in'}, ena ${kernel.builtin.ena ? 'built in' : 'not built in'}` : `modules.builtin of ${kernel.version ?? 'the kernel'} not found`,
    ];
    if (kernel.path && !kernel.exists) {
      add({
        id: 'kernel-missing',
        severity: 'error',
        message: `${kernel.source ?? 'the boot loader'} boots ${kernel.path}, which does not exist on this filesystem${separateBoot ? ' (/boot is a separate filesystem: check it there)' : ''}`,
        remedy: 'reinstall the kernel package or regenerate the boot loader configuration (update-grub / grub2-mkconfig) in the source system, then take a new snapshot',
        evidence,
      });
    }
    if (ctx.targetNvme) {
      const nvmeBuiltin = kernel.builtinRead && kernel.builtin.nvme;
      if (!initramfs) {
        if (!nvmeBuiltin && kernel.exists) {
          add({
            id: 'initramfs-missing',
            severity: 'error',
            message: `${kdesc} has no initramfs on this filesystem, and nvme is not built into the kernel: on a Nitro instance it cannot reach its NVMe root disk`,
            remedy: initramfsRemedy(os?.initramfsTool, 'nvme', kernel.version),
            evidence,
          });
        }
      } else if (!initramfs.ok) {
        if (!nvmeBuiltin) {
          add({
            id: 'initramfs-unreadable',
            severity: 'info',
            message: `could not list ${initramfs.path} (${initramfs.error ?? 'unknown format'}), so whether it holds the nvme driver was not checked`,
            remedy: 'install cpio and the decompressor of the initramfs (zstd, xz-utils, lz4) on the helper, or lsinitramfs/lsinitrd, and run the lint again',
            evidence: [...evidence, `${initramfs.path}: ${initramfs.bytes} bytes`],
          });
        }
      } else {
        const ev = [...evidence, `${initramfs.path}: ${initramfs.entries ?? '?'} entries read with ${initramfs.reader}${initramfs.segments.length ? ` (${initramfs.segments.map((s) => `${s.format} at ${s.offset}`).join(', ')})` : ''}`];
        if (!nvmeBuiltin && !(initramfs.nvme ?? []).length) {
          const noModule = kernel.modulesDir !== null && kernel.modules.nvme.length === 0;
          add({
            id: 'initramfs-no-nvme',
            severity: kernel.builtinRead ? 'error' : 'warning',
            message: `the initramfs ${initramfs.path} of ${kdesc} has no nvme driver${kernel.builtinRead ? ' and the kernel does not build it in' : ' (and the kernel\'s modules.builtin could not be read)'}: on a Nitro instance the root disk is NVMe, so the boot stops waiting for the root device ("Gave up waiting for root device")${noModule ? `; the kernel has no nvme module at all under ${kernel.modulesDir}` : ''}`,
            remedy: noModule ? 'install a kernel with NVMe support (any distribution kernel since Linux 4.x has it) and rebuild its initramfs, or restore to a Xen instance type' : initramfsRemedy(os?.initramfsTool, 'nvme', kernel.version),
            evidence: ev,
          });
        }
        // ENA is loaded by udev from the root filesystem after the switch; it only has to exist somewhere.
        const enaFound = (kernel.builtinRead && kernel.builtin.ena) || kernel.modules.ena.length > 0 || (initramfs.ena ?? []).length > 0;
        if (!enaFound && (kernel.builtinRead || kernel.modulesDir !== null)) {
          add({
            id: 'initramfs-no-ena',
            severity: 'warning',
            message: `${kdesc} has no ENA network driver (not built in, not under ${kernel.modulesDir ?? '/lib/modules'}, not in ${initramfs.path}): the instance boots but has no network on instance types that only offer ENA (every current Nitro type), so SSH and SSM will not reach it`,
            remedy: 'install a kernel (or the amzn-drivers ena module via DKMS) that has the ena driver, and register the image with ENA support; see the AWS guide "Enable enhanced networking with ENA"',
            evidence: ev,
          });
        }
      }
    }
  }

  // SELinux relabel on first boot.
  const ar = factValue<{ present: boolean; selinux: string | null }>(facts, 'autorelabel');
  if (ar?.present) {
    const active = ar.selinux !== null && ar.selinux !== 'disabled';
    add({
      id: 'autorelabel',
      severity: active ? 'warning' : 'info',
      message: active
        ? `/.autorelabel is present and SELinux is ${ar.selinux}: the first boot relabels every file (minutes on a large filesystem) and reboots, so status checks and boot tests may time out`
        : `/.autorelabel is present but SELinux is ${ar.selinux ?? 'not configured (no /etc/selinux/config)'}: nothing will relabel; the file is stale`,
      remedy: active ? 'remove /.autorelabel in the source system after a relabel has run (or relabel before the snapshot with fixfiles -F onboot && reboot), or allow a longer boot timeout' : 'remove /.autorelabel in the source system',
      evidence: ['/.autorelabel', `SELINUX=${ar.selinux ?? '(no /etc/selinux/config)'}`],
    });
  }

  // Free space and inodes.
  const space = factValue<SpaceFact>(facts, 'space');
  if (space && space.usedBytes !== null && space.availBytes !== null) {
    const denom = space.usedBytes + space.availBytes;
    const pct = denom > 0 ? Math.ceil((space.usedBytes * 100) / denom) : 100;
    const ev = [`size ${space.sizeBytes} used ${space.usedBytes} avail ${space.availBytes} (${pct}%)`];
    const line = `the root filesystem is ${pct}% full (${fmtBytes(space.availBytes)} free of ${fmtBytes(space.sizeBytes)})`;
    const remedy = 'free space in the source system (journalctl --vacuum-size=100M, apt-get clean / dnf clean all, old kernels, logs) before the snapshot, or grow the restored volume and its filesystem (growpart, resize2fs / xfs_growfs)';
    if (pct >= 99 || space.availBytes < ROOT_MIN_FREE_BYTES) {
      add({ id: 'root-nearly-full', severity: 'error', message: `${line}: services that write at boot (journald, systemd, sshd host keys, package triggers) fail with "No space left on device"`, remedy, evidence: ev });
    } else if (pct >= 95) {
      add({ id: 'root-nearly-full', severity: 'warning', message: `${line}: little room for logs and package updates after boot`, remedy, evidence: ev });
    }
    if (space.inodes && space.inodesFree !== null && (space.inodesFree === 0 || space.inodesFree / space.inodes < 0.01)) {
      add({
        id: 'root-inodes-nearly-full',
        severity: 'error',
        message: `the root filesystem has ${space.inodesFree} free inodes of ${space.inodes}: creating any file at boot fails with "No space left on device"`,
        remedy: 'delete the many small files (session files, caches, mail queues) in the source system before the snapshot',
        evidence: [`inodes ${space.inodes} used ${space.inodesUsed} free ${space.inodesFree}`],
      });
    }
  }

  // The lint saw the filesystem as it was on disk, before journal replay.
  if (factValue<{ replayPending: boolean | null }>(facts, 'journal')?.replayPending) {
    add({
      id: 'lint-before-replay',
      severity: 'info',
      message: 'the journal holds changes not yet replayed (the filesystem was not cleanly unmounted or frozen): the lint read the files as they were before those changes',
      remedy: 'none for the lint; freeze the filesystem around snapshots (fsfreeze) to make them consistent',
      evidence: ['ext4 feature needs_recovery'],
    });
  }

  findings.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return { target, ran: true, findings };
}
