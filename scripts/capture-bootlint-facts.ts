// Builds small root-filesystem images (ext4 with mkfs.ext4 -d, XFS by copying into a loop mount), runs
// the real bootlint check on each and, when run as a script, saves the facts it printed for the judge's
// unit tests. The scenarios are shared with test/integration/bootlint.test.ts.
// Usage (root): node --import tsx scripts/capture-bootlint-facts.ts [test/golden/facts-boot]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CheckRegistry } from '../src/checks/registry.js';
import { runCheck, type CheckRun, type Fact } from '../src/checks/runner.js';
import { LocalShell } from '../src/shells/local.js';

/** KVER is the kernel version every scenario's tree carries. */
export const KVER = '6.1.0-9-amd64';
/** Fixed filesystem UUIDs, so captured facts and expectations are stable. */
export const ROOT_UUID = '5a5d7e57-0000-4000-8000-0000000b1001';
export const DATA_UUID = '5a5d7e57-0000-4000-8000-0000000b1002';
export const BOGUS_UUID = '0badf00d-1111-4222-8333-444455556666';

/** TreeEntry is a file's content, or a symlink. */
export type TreeEntry = string | Buffer | { symlink: string };

/** writeTree creates files (parents included) and symlinks under dir. */
export function writeTree(dir: string, entries: Record<string, TreeEntry>): void {
  for (const [rel, e] of Object.entries(entries)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    if (typeof e === 'object' && !Buffer.isBuffer(e)) symlinkSync(e.symlink, p);
    else writeFileSync(p, e);
  }
}

const sh = (script: string, args: string[] = []) => execFileSync('bash', ['-c', script, 'bash', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

/** InitramfsSpec describes an initramfs built with cpio -o -H newc. */
export interface InitramfsSpec {
  /** Paths of the main archive's files (module .ko files, say), relative to its root. */
  files: string[];
  compress: 'gzip' | 'zstd' | 'xz' | 'lz4' | 'none';
  /** Prepend an uncompressed early-microcode archive, as Debian and dracut do on x86. */
  early?: boolean;
}

/** makeInitramfs writes an initramfs image to out: [early microcode archive, uncompressed] + main archive, compressed. */
export function makeInitramfs(out: string, spec: InitramfsSpec): void {
  const work = mkdtempSync(path.join(tmpdir(), 'snapdrill-initramfs-'));
  try {
    writeTree(path.join(work, 'early'), { 'kernel/x86/microcode/GenuineIntel.bin': randomBytes(3001), 'kernel/x86/microcode/AuthenticAMD.bin': randomBytes(517) });
    writeTree(path.join(work, 'main'), Object.fromEntries([['init', '#!/bin/sh\n'], ...spec.files.map((f) => [f, `module ${path.basename(f)}\n`])]));
    const comp = { gzip: 'gzip -9n', zstd: 'zstd -q -19', xz: 'xz --check=crc32', lz4: 'lz4 -l -q', none: 'cat' }[spec.compress];
    sh(
      `set -o pipefail; : >"$2"; if [ "$3" = 1 ]; then (cd "$1/early" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >>"$2"; fi; (cd "$1/main" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | ${comp}) >>"$2"`,
      [work, out, spec.early ? '1' : '0'],
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Module paths inside an initramfs or under /lib/modules. */
export const NVME_KO = `usr/lib/modules/${KVER}/kernel/drivers/nvme/host/nvme.ko`;
export const NVME_CORE_KO = `usr/lib/modules/${KVER}/kernel/drivers/nvme/host/nvme-core.ko`;
export const ENA_KO = `usr/lib/modules/${KVER}/kernel/drivers/net/ethernet/amazon/ena/ena.ko`;

/** SetRecord is one line of SNAPDRILL_UUIDS: a filesystem restored with the linted one. */
export interface SetRecord {
  uuid: string;
  label: string;
  fstype: string;
  /** The device (or target name); "SELF" is replaced by the linted device. */
  target: string;
}

/** Scenario is one root filesystem to build and lint, with the finding ids the lint must report. */
export interface Scenario {
  name: string;
  fstype: 'ext4' | 'xfs';
  sizeMiB: number;
  uuid: string;
  label: string;
  /** The tree's files; the initramfs, when given, is written at /boot/initrd.img-KVER. */
  tree: Record<string, TreeEntry>;
  initramfs?: InitramfsSpec | Buffer;
  /** Fill the filesystem until less than this many bytes are available (ext4 only). */
  fillToBytes?: number;
  set: SetRecord[];
  nvme: boolean;
  /** Expected: ran (false for not-a-root) and the finding ids with their severities ("id:severity"), sorted. */
  expect: { ran: boolean; findings: string[] };
}

const fstabRoot = (fstype: string) => `# /etc/fstab: static file system information.\nUUID=${ROOT_UUID}  /  ${fstype}  defaults,errors=remount-ro  0  1\n`;
const grubCfg = (root: string, extra = '') =>
  [
    '### BEGIN /etc/grub.d/00_header ###',
    'set default=0',
    'insmod part_msdos',
    `search --no-floppy --fs-uuid --set=root ${ROOT_UUID}`,
    `menuentry 'Debian GNU/Linux' --class debian {`,
    `\tsearch --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 ${ROOT_UUID}`,
    `\tlinux\t/boot/vmlinuz-${KVER} root=${root} ro quiet`,
    `\tinitrd\t/boot/initrd.img-${KVER}`,
    '}',
    extra,
  ].join('\n');
const osRelease = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';

/** debianRoot is a minimal Debian-like root tree: merged /usr (with an absolute /lib symlink), GRUB, a kernel and its module tree. */
export function debianRoot(opts: { fstab?: string; grub?: string; builtin?: string[]; modules?: string[] } = {}): Record<string, TreeEntry> {
  const t: Record<string, TreeEntry> = {
    'etc/fstab': opts.fstab ?? fstabRoot('ext4'),
    'usr/sbin/init': '#!/bin/sh\n',
    sbin: { symlink: 'usr/sbin' },
    // Absolute, as some images have it: must resolve inside the restored tree, never on the helper.
    lib: { symlink: '/usr/lib' },
    'usr/lib/os-release': osRelease,
    'etc/os-release': { symlink: '../usr/lib/os-release' },
    'etc/initramfs-tools/modules': '# initramfs modules\n',
    'boot/grub/grub.cfg': opts.grub ?? grubCfg(`UUID=${ROOT_UUID}`),
    [`boot/vmlinuz-${KVER}`]: 'not really a kernel\n',
    vmlinuz: { symlink: `boot/vmlinuz-${KVER}` },
    [`usr/lib/modules/${KVER}/modules.builtin`]: (opts.builtin ?? ['kernel/drivers/ata/libata.ko', 'kernel/fs/ext4/ext4.ko']).join('\n') + '\n',
  };
  for (const m of opts.modules ?? [NVME_KO, NVME_CORE_KO, ENA_KO]) t[m] = 'module\n';
  return t;
}

const selfRecord = (fstype = 'ext4'): SetRecord => ({ uuid: ROOT_UUID, label: 'root', fstype, target: 'SELF' });

/** SCENARIOS are the root filesystems the integration test lints and the capture saves facts of. */
export const SCENARIOS: Scenario[] = [
  {
    name: 'clean',
    fstype: 'ext4',
    sizeMiB: 128,
    uuid: ROOT_UUID,
    label: 'root',
    tree: debianRoot({
      fstab: `${fstabRoot('ext4')}UUID=${DATA_UUID}  /data  xfs  defaults  0  2\nproc  /proc  proc  defaults  0  0\ntmpfs  /tmp  tmpfs  mode=1777  0  0\n`,
      grub: grubCfg(`UUID=${ROOT_UUID}`),
    }),
    initramfs: { files: [NVME_KO, NVME_CORE_KO, ENA_KO], compress: 'gzip', early: true },
    set: [selfRecord(), { uuid: DATA_UUID, label: 'data', fstype: 'xfs', target: 'p2' }],
    nvme: true,
    expect: { ran: true, findings: [] },
  },
  {
    name: 'fstab-xen-names',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    tree: debianRoot({
      fstab: `${fstabRoot('ext4')}/dev/xvdf  /data  ext4  defaults  0  2\n/dev/sdg1  /logs  ext4  defaults,nofail  0  2\n/dev/xvdb  none  swap  sw  0  0\n`,
    }),
    initramfs: { files: [NVME_KO, NVME_CORE_KO], compress: 'zstd', early: true },
    set: [selfRecord()],
    nvme: true,
    expect: { ran: true, findings: ['fstab-device-missing:error', 'fstab-device-missing:error', 'fstab-device-missing-nofail:warning'] },
  },
  {
    name: 'unknown-ids',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    tree: {
      ...debianRoot({
        fstab: `${fstabRoot('ext4')}UUID=${BOGUS_UUID}  /data  ext4  defaults  0  2\nLABEL=nowhere  /srv  ext4  defaults,nofail  0  2\n`,
        grub: grubCfg(`UUID=${BOGUS_UUID}`, `menuentry 'Debian GNU/Linux (recovery mode)' {\n\tlinux\t/boot/vmlinuz-${KVER} root=/dev/xvda1 ro single\n\tinitrd\t/boot/initrd.img-${KVER}\n}\n`),
      }),
      'etc/default/grub': 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0 root=/dev/xvda1"\n',
    },
    initramfs: { files: [NVME_KO, NVME_CORE_KO, ENA_KO], compress: 'gzip' },
    set: [selfRecord()],
    nvme: true,
    expect: {
      ran: true,
      findings: ['fstab-label-unknown:warning', 'fstab-uuid-unknown:error', 'grub-root-device-missing:error', 'grub-root-device-missing:warning', 'grub-root-uuid-mismatch:error'],
    },
  },
  {
    name: 'no-nvme',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    // Built on a Xen instance with MODULES=dep: the kernel has nvme, its initramfs does not; no ena anywhere.
    tree: debianRoot({ modules: [NVME_KO, NVME_CORE_KO] }),
    initramfs: { files: [`usr/lib/modules/${KVER}/kernel/drivers/block/xen-blkfront.ko`], compress: 'zstd', early: true },
    set: [selfRecord()],
    nvme: true,
    expect: { ran: true, findings: ['initramfs-no-ena:warning', 'initramfs-no-nvme:error'] },
  },
  {
    name: 'xen-target',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    // The same initramfs without nvme is fine on a Xen target; an NVMe name in fstab is not.
    tree: debianRoot({ modules: [], fstab: `${fstabRoot('ext4')}/dev/nvme1n1  /data  ext4  defaults,nofail  0  2\n` }),
    // Uncompressed, and large enough (> 64 entries) to be listed with cpio -t rather than header by header.
    initramfs: {
      files: [`usr/lib/modules/${KVER}/kernel/drivers/block/xen-blkfront.ko`, ...Array.from({ length: 100 }, (_, i) => `usr/lib/firmware/blob-${i}.bin`)],
      compress: 'none',
      early: true,
    },
    set: [selfRecord()],
    nvme: false,
    expect: { ran: true, findings: ['fstab-device-missing-nofail:warning'] },
  },
  {
    name: 'autorelabel',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    tree: { ...debianRoot(), '.autorelabel': '', 'etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' },
    initramfs: { files: [NVME_KO, NVME_CORE_KO, ENA_KO], compress: 'lz4', early: true },
    set: [selfRecord()],
    nvme: true,
    expect: { ran: true, findings: ['autorelabel:warning'] },
  },
  {
    name: 'full',
    fstype: 'ext4',
    sizeMiB: 72,
    uuid: ROOT_UUID,
    label: 'root',
    tree: debianRoot(),
    initramfs: { files: [NVME_KO, NVME_CORE_KO, ENA_KO], compress: 'xz' },
    fillToBytes: 512 * 1024,
    set: [selfRecord()],
    nvme: true,
    expect: { ran: true, findings: ['root-nearly-full:error'] },
  },
  {
    name: 'duplicate-uuid',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    tree: debianRoot({ fstab: `${fstabRoot('ext4')}UUID=${DATA_UUID}  /data  xfs  defaults  0  2\n` }),
    initramfs: { files: [NVME_KO, NVME_CORE_KO, ENA_KO], compress: 'gzip' },
    // Two volumes of one lineage restored together: the data filesystem's UUID twice.
    set: [selfRecord(), { uuid: DATA_UUID, label: 'data', fstype: 'xfs', target: 'vol-a/disk' }, { uuid: DATA_UUID, label: 'data', fstype: 'xfs', target: 'vol-b/disk' }],
    nvme: true,
    expect: { ran: true, findings: ['duplicate-uuid:error'] },
  },
  {
    name: 'unreadable-initramfs',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    tree: debianRoot(),
    initramfs: Buffer.concat([Buffer.from('NOTACPIO'), randomBytes(4000)]),
    set: [selfRecord()],
    nvme: true,
    expect: { ran: true, findings: ['initramfs-unreadable:info'] },
  },
  {
    name: 'no-init',
    fstype: 'ext4',
    sizeMiB: 96,
    uuid: ROOT_UUID,
    label: 'root',
    // systemd is installed but /sbin/init (systemd-sysv's symlink) is gone.
    tree: (() => {
      const t = debianRoot();
      delete t['usr/sbin/init'];
      return { ...t, 'usr/lib/systemd/systemd': '#!/bin/sh\n' };
    })(),
    initramfs: { files: [NVME_KO, NVME_CORE_KO, ENA_KO], compress: 'gzip', early: true },
    set: [selfRecord()],
    nvme: true,
    expect: { ran: true, findings: ['init-missing:error'] },
  },
  {
    name: 'not-root',
    fstype: 'ext4',
    sizeMiB: 64,
    uuid: DATA_UUID,
    label: 'data',
    tree: { 'srv/www/index.html': '<p>hello</p>\n', 'etc/app.conf': 'x=1\n' },
    set: [{ uuid: DATA_UUID, label: 'data', fstype: 'ext4', target: 'SELF' }],
    nvme: true,
    expect: { ran: false, findings: [] },
  },
  {
    name: 'xfs-root',
    fstype: 'xfs',
    sizeMiB: 320,
    uuid: ROOT_UUID,
    label: 'root',
    // Amazon-Linux-2023-like: dracut, BLS entries, nvme built into the kernel, xz initramfs without it.
    tree: {
      'etc/fstab': fstabRoot('xfs'),
      'usr/lib/systemd/systemd': '#!/bin/sh\n',
      sbin: { symlink: 'usr/sbin' },
      'usr/sbin/init': { symlink: '../lib/systemd/systemd' },
      lib: { symlink: 'usr/lib' },
      'etc/os-release': 'NAME="Amazon Linux"\nVERSION_ID="2023"\nID="amzn"\nPRETTY_NAME="Amazon Linux 2023"\n',
      'etc/dracut.conf.d/ec2.conf': 'hostonly="yes"\n',
      'boot/grub2/grub.cfg': `set default="\${saved_entry}"\nsearch --no-floppy --fs-uuid --set=root ${ROOT_UUID}\nblscfg\n`,
      'boot/grub2/grubenv': `# GRUB Environment Block\nsaved_entry=ec2-${KVER}\nkernelopts=root=UUID=${ROOT_UUID} ro console=ttyS0\n`,
      [`boot/loader/entries/ec2-${KVER}.conf`]: `title Amazon Linux (${KVER})\nversion ${KVER}\nlinux /boot/vmlinuz-${KVER}\ninitrd /boot/initramfs-${KVER}.img\noptions root=UUID=${ROOT_UUID} ro console=ttyS0\n`,
      [`boot/vmlinuz-${KVER}`]: 'not really a kernel\n',
      [`usr/lib/modules/${KVER}/modules.builtin`]: 'kernel/drivers/nvme/host/nvme-core.ko\nkernel/drivers/nvme/host/nvme.ko\n',
      [ENA_KO]: 'module\n',
    },
    initramfs: { files: [`usr/lib/modules/${KVER}/kernel/fs/xfs/xfs.ko`], compress: 'xz', early: true },
    set: [selfRecord('xfs')],
    nvme: true,
    expect: { ran: true, findings: [] },
  },
];

/** initramfsPath is where a scenario's tree keeps its initramfs (dracut's name for the BLS scenario). */
const initramfsPath = (s: Scenario) => (s.tree[`boot/loader/entries/ec2-${KVER}.conf`] ? `boot/initramfs-${KVER}.img` : `boot/initrd.img-${KVER}`);

/** buildTree writes a scenario's tree (and its initramfs) under dir. */
export function buildTree(s: Scenario, dir: string): void {
  writeTree(dir, s.tree);
  if (s.initramfs) {
    const out = path.join(dir, initramfsPath(s));
    mkdirSync(path.dirname(out), { recursive: true });
    if (Buffer.isBuffer(s.initramfs)) writeFileSync(out, s.initramfs);
    else makeInitramfs(out, s.initramfs);
    chmodSync(out, 0o600);
  }
}

/** ext4Available reads what df would call available on a fresh ext4 image (free blocks less reserved ones). */
function ext4Available(img: string): number {
  const out = execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const num = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(out)?.[1] ?? 0);
  return (num('Free blocks') - num('Reserved block count')) * num('Block size');
}

/** buildImage makes the scenario's filesystem image at img (a sparse file) from a tree under work. */
export function buildImage(s: Scenario, work: string, img: string): void {
  const tree = path.join(work, 'tree');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  buildTree(s, tree);
  const mk = () => {
    rmSync(img, { force: true });
    execFileSync('truncate', ['-s', `${s.sizeMiB}M`, img]);
  };
  if (s.fstype === 'ext4') {
    mk();
    execFileSync('mkfs.ext4', ['-q', '-U', s.uuid, '-L', s.label, '-d', tree, img], { stdio: 'ignore' });
    if (s.fillToBytes !== undefined) {
      // Rebuild with a filler file that leaves about fillToBytes available (a few blocks go to its extent tree).
      const filler = ext4Available(img) - s.fillToBytes;
      mkdirSync(path.join(tree, 'var/cache'), { recursive: true });
      // Not zeros: mkfs.ext4 -d leaves all-zero blocks unallocated.
      sh('head -c "$1" /dev/zero | tr "\\0" x >"$2"', [String(filler), path.join(tree, 'var/cache/filler.bin')]);
      mk();
      execFileSync('mkfs.ext4', ['-q', '-U', s.uuid, '-L', s.label, '-d', tree, img], { stdio: 'ignore' });
    }
    return;
  }
  // XFS: mkfs.xfs has no -d; copy the tree into a loop mount, then unmount and detach whatever happens.
  mk();
  execFileSync('mkfs.xfs', ['-q', '-m', `uuid=${s.uuid}`, '-L', s.label, img], { stdio: 'ignore' });
  const mnt = path.join(work, 'xfs-mnt');
  mkdirSync(mnt, { recursive: true });
  const dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'xfs', '-o', 'nouuid', dev, mnt]);
    mounted = true;
    sh('cp -a "$1"/. "$2"/', [tree, mnt]);
  } finally {
    if (mounted) execFileSync('umount', [mnt]);
    execFileSync('losetup', ['-d', dev]);
  }
}

/** setRecords renders SNAPDRILL_UUIDS for a scenario, the linted device standing for "SELF". */
export function setRecords(s: Scenario, device: string): string {
  const text = s.set.map((r) => [r.uuid, r.label, r.fstype, r.target === 'SELF' ? device : r.target].join('\t')).join('\n');
  return Buffer.from(`${text}\n`).toString('base64');
}

/** lintDevice runs the real bootlint check on a device through the local shell. */
export async function lintDevice(s: Scenario, device: string, scratch: string, registry = CheckRegistry.load()): Promise<CheckRun> {
  return runCheck(registry, registry.get('bootlint'), new LocalShell(), {
    target: device,
    scratch,
    defaultTimeoutMs: 120_000,
    vars: { SNAPDRILL_FSTYPE: s.fstype, SNAPDRILL_UUIDS: setRecords(s, device), SNAPDRILL_TARGET_NVME: s.nvme ? '1' : '0' },
  });
}

/** normaliseFacts makes captured facts independent of the loop device and scratch directory of the run. */
export function normaliseFacts(facts: Fact[], device: string, scratch: string): string {
  return `${facts
    .map((f) => JSON.stringify(f))
    .join('\n')
    .replaceAll(scratch, '/SCRATCH')
    .replaceAll(device, '/dev/loopX')
    .replaceAll(path.basename(device), 'loopX')}\n`;
}

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../test/golden/facts-boot'));
  mkdirSync(outDir, { recursive: true });
  const registry = CheckRegistry.load();
  for (const s of SCENARIOS) {
    const work = mkdtempSync(path.join(tmpdir(), 'snapdrill-bootlint-capture-'));
    let dev: string | undefined;
    try {
      const img = path.join(work, `${s.name}.img`);
      buildImage(s, work, img);
      dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
      const scratch = path.join(work, 'scratch');
      mkdirSync(scratch);
      const run = await lintDevice(s, dev, scratch, registry);
      if (run.status !== 'ran' || run.protocolErrors.length) throw new Error(`${s.name}: ${run.status} ${run.reason ?? ''} ${run.protocolErrors.join('\n')} ${run.stderrTail}`);
      writeFileSync(path.join(outDir, `${s.name}.ndjson`), normaliseFacts(run.facts, dev, scratch));
      process.stderr.write(`captured ${s.name}: ${run.facts.length} facts\n`);
    } finally {
      if (dev) execFileSync('losetup', ['-d', dev]);
      rmSync(work, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
