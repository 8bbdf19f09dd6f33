import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LintResult } from '../../src/boot/types.js';
import type { Fact } from '../../src/checks/runner.js';
import { judgeBootLint, parseFstabLine } from '../../src/judges/bootlint.js';
import { BOGUS_UUID, DATA_UUID, ROOT_UUID, SCENARIOS } from '../../scripts/capture-bootlint-facts.js';

// Facts captured from the real bootlint check on the scenario images (scripts/capture-bootlint-facts.ts).
const FACTS = path.resolve(import.meta.dirname, '../golden/facts-boot');
const MiB = 1024 * 1024;

function load(name: string): Fact[] {
  return readFileSync(path.join(FACTS, `${name}.ndjson`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Fact);
}

/** withFault changes one fact's value (or removes it, or adds it when absent) to inject exactly one fault into a real capture. */
function withFault(facts: Fact[], fact: string, change: ((v: any) => unknown) | 'remove'): Fact[] {
  if (change !== 'remove' && !facts.some((f) => f.fact === fact)) return [...facts, { check: 'bootlint', target: '/dev/loopX', fact, value: change(undefined) }];
  return facts.flatMap((f) => (f.fact !== fact ? [f] : change === 'remove' ? [] : [{ ...f, value: change(structuredClone(f.value)) }]));
}
/** withFstab replaces the captured fstab with these lines. */
const withFstab = (facts: Fact[], lines: string[]) => withFault(facts, 'fstab', (v) => ({ ...v, lines: lines.map((text, i) => ({ n: i + 1, text })) }));
const withGrubLines = (facts: Fact[], lines: string[]) =>
  facts.map((f) => (f.fact === 'bootcfg' && (f.value as { file: string }).file === '/boot/grub/grub.cfg' ? { ...f, value: { file: '/boot/grub/grub.cfg', lines: lines.map((text, i) => ({ n: i + 1, text })) } } : f));

const ids = (r: LintResult) => r.findings.map((f) => `${f.id}:${f.severity}`).sort();
const judge = (facts: Fact[]) => judgeBootLint('p1', facts);
const find = (r: LintResult, id: string) => r.findings.find((f) => f.id === id);

describe('bootlint judge on captured facts', () => {
  it('has a capture for every scenario', () => {
    expect(readdirSync(FACTS).sort()).toEqual(SCENARIOS.map((s) => `${s.name}.ndjson`).sort());
  });

  for (const s of SCENARIOS) {
    it(`${s.name}: ${s.expect.ran ? s.expect.findings.join(', ') || 'no findings' : 'not linted'}`, () => {
      const r = judgeBootLint(s.name, load(s.name));
      expect(r.target).toBe(s.name);
      expect(r.ran).toBe(s.expect.ran);
      expect(ids(r)).toEqual([...s.expect.findings].sort());
    });
  }

  it('the captures read every initramfs layout: early microcode + gzip/zstd/lz4/xz, and a large uncompressed archive', () => {
    const formats = (name: string) => ((load(name).find((f) => f.fact === 'initramfs')!.value as { segments: { format: string }[] }).segments.map((s) => s.format));
    expect(formats('clean')).toEqual(['newc', 'gzip']);
    expect(formats('no-nvme')).toEqual(['newc', 'zstd']);
    expect(formats('autorelabel')).toEqual(['newc', 'lz4']);
    expect(formats('xfs-root')).toEqual(['newc', 'xz']);
    expect(formats('xen-target')).toEqual(['newc', 'newc']);
  });

  it('not a root filesystem: not linted, and not an error', () => {
    expect(judge(load('not-root'))).toEqual({ target: 'p1', ran: false, reason: 'not a root filesystem', findings: [] });
  });

  it('lists errors before warnings before notes', () => {
    const sev = judge(load('unknown-ids')).findings.map((f) => f.severity);
    expect(sev).toEqual([...sev].sort((a, b) => ['error', 'warning', 'info'].indexOf(a) - ['error', 'warning', 'info'].indexOf(b)));
  });

  it('a missing NVMe driver gets the remedy of the tool that built the initramfs', () => {
    const r = judge(load('no-nvme'));
    expect(find(r, 'initramfs-no-nvme')!.remedy).toMatch(/echo nvme >> \/etc\/initramfs-tools\/modules && update-initramfs -u -k 6\.1\.0-9-amd64/);
    const dracut = judge(withFault(load('no-nvme'), 'os', (v) => ({ ...v, initramfsTool: 'dracut' })));
    expect(find(dracut, 'initramfs-no-nvme')!.remedy).toMatch(/add_drivers\+=" nvme "/);
    const noModule = judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, modules: { nvme: [], ena: [] } })));
    expect(find(noModule, 'initramfs-no-nvme')!.remedy).toMatch(/install a kernel with NVMe support/);
  });

  it('nvme built into the kernel needs no initramfs module', () => {
    const r = judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, builtin: { nvme: true, ena: false } })));
    expect(ids(r)).toEqual(['initramfs-no-ena:warning']);
  });

  it('ENA is enough anywhere in the kernel: udev loads it from the root filesystem after the switch', () => {
    const r = judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, modules: { ...v.modules, ena: ['kernel/drivers/net/ethernet/amazon/ena/ena.ko'] } })));
    expect(ids(r)).toEqual(['initramfs-no-nvme:error']);
  });

  it('GIVEN modules.builtin could not be read THEN a missing nvme in the initramfs is only a warning', () => {
    const r = judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, builtinRead: false })));
    expect(find(r, 'initramfs-no-nvme')!.severity).toBe('warning');
  });

  it('a Xen target needs neither nvme nor ena', () => {
    const r = judge(withFault(load('no-nvme'), 'context', (v) => ({ ...v, targetNvme: false })));
    expect(r.findings).toEqual([]);
  });

  it('GIVEN no initramfs for a kernel without built-in nvme THEN initramfs-missing', () => {
    const r = judge(withFault(load('clean'), 'initramfs', 'remove'));
    expect(ids(r)).toEqual(['initramfs-missing:error']);
  });

  it('GIVEN no kernel under /boot and a separate /boot in fstab THEN a note that the kernel side was not linted', () => {
    let facts = withFault(load('clean'), 'kernel', (v) => ({ ...v, version: null, path: null, source: null, initramfs: null, exists: false }));
    facts = withFault(facts, 'initramfs', 'remove');
    facts = withFstab(facts, [`UUID=${ROOT_UUID} / ext4 defaults 0 1`, `UUID=${DATA_UUID} /boot ext4 defaults 0 2`]);
    const r = judge(facts);
    expect(ids(r)).toEqual(['kernel-not-found:info']);
    expect(r.findings[0]!.message).toMatch(/\/boot is a separate filesystem/);
  });

  it('GIVEN the boot loader names a kernel that is not there THEN kernel-missing', () => {
    const r = judge(withFault(load('clean'), 'kernel', (v) => ({ ...v, exists: false })));
    expect(ids(r)).toContain('kernel-missing:error');
  });

  it('fstab: nofail turns a missing UUID into a warning; noauto, bind, network and virtual entries are not checked', () => {
    const r = judge(
      withFstab(load('clean'), [
        `UUID=${ROOT_UUID} / ext4 defaults 0 1`,
        `UUID=${BOGUS_UUID} /a ext4 defaults,nofail 0 2`,
        `UUID=${BOGUS_UUID} /b ext4 noauto 0 2`,
        '/dev/xvdh /c ext4 defaults,_netdev 0 2',
        '/srv/x /d none bind 0 0',
        'server:/export /e nfs4 defaults 0 0',
        'tmpfs /tmp tmpfs defaults 0 0',
        '/dev/mapper/vg-lv /f xfs defaults 0 2',
      ]),
    );
    expect(ids(r)).toEqual(['fstab-uuid-unknown:warning']);
    expect(r.findings[0]!.message).toMatch(/^\/etc\/fstab line 2 mounts UUID=\S+ on \/a/);
  });

  it('fstab: UUIDs compare case-insensitively, /dev/disk/by-uuid paths and quoted values are understood', () => {
    const r = judge(withFstab(load('clean'), [`UUID="${ROOT_UUID.toUpperCase()}" / ext4 defaults 0 1`, `/dev/disk/by-uuid/${DATA_UUID} /data xfs defaults 0 2`, `/dev/disk/by-label/nope /x ext4 defaults 0 2`]));
    expect(ids(r)).toEqual(['fstab-label-unknown:error']);
  });

  it('fstab: PARTUUID is checked against the partition UUIDs of the set, and only noted when they are unknown', () => {
    const facts = withFstab(load('clean'), [`UUID=${ROOT_UUID} / ext4 defaults 0 1`, 'PARTUUID=5a5d0b00-03 /data ext4 defaults 0 2']);
    expect(ids(judge(facts))).toEqual(['fstab-partuuid-unverified:info']);
    const withParts = withFault(facts, 'context', (v) => ({ ...v, filesystems: v.filesystems.map((f: object, i: number) => ({ ...f, partuuid: `5a5d0b00-0${i + 1}` })) }));
    expect(ids(judge(withParts))).toEqual(['fstab-partuuid-unknown:error']);
    const found = withFstab(withParts, [`UUID=${ROOT_UUID} / ext4 defaults 0 1`, 'PARTUUID=5A5D0B00-02 /data ext4 defaults 0 2']);
    expect(judge(found).findings).toEqual([]);
  });

  it('fstab: Amazon\'s udev rule makes Xen-style names exist on Nitro: a warning to use UUIDs, not an error', () => {
    const r = judge(withFault(load('fstab-xen-names'), 'ec2-udev', () => ({ rules: ['/usr/lib/udev/rules.d/70-ec2-nvme-devices.rules'] })));
    expect(ids(r)).toEqual(['fstab-device-name-mapped:warning', 'fstab-device-name-mapped:warning', 'fstab-device-name-mapped:warning']);
  });

  it('fstab: an NVMe name other than nvme0 on a Nitro target may be another volume', () => {
    const r = judge(withFstab(load('clean'), [`UUID=${ROOT_UUID} / ext4 defaults 0 1`, '/dev/nvme0n1p1 /x ext4 defaults 0 2', '/dev/nvme2n1 /data xfs defaults 0 2']));
    expect(ids(r)).toEqual(['fstab-device-name-unstable:warning']);
    expect(r.findings[0]!.message).toContain('/dev/nvme2n1');
  });

  it('fstab: an escaped space in a label is decoded', () => {
    expect(parseFstabLine(4, 'LABEL=my\\040disk /mnt/my\\040disk ext4 defaults 0 2')).toMatchObject({ line: 4, spec: 'LABEL=my disk', file: '/mnt/my disk', options: ['defaults'] });
    expect(parseFstabLine(1, '  # comment')).toBeUndefined();
  });

  it('GRUB: the last root= on a kernel line wins; repeated lines give one finding with each line as evidence', () => {
    const ok = judge(withGrubLines(load('clean'), [`linux /boot/vmlinuz root=/dev/xvda1 ro root=UUID=${ROOT_UUID}`]));
    expect(ok.findings).toEqual([]);
    const twice = judge(withGrubLines(load('clean'), [`linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro`, `linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro single`]));
    expect(ids(twice)).toEqual(['grub-root-uuid-mismatch:error']);
    expect(twice.findings[0]!.evidence).toEqual([
      `/boot/grub/grub.cfg:1: linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro`,
      `/boot/grub/grub.cfg:2: linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro single`,
      expect.stringMatching(/^restored set: /),
    ]);
  });

  it('GIVEN /sbin/init is missing but the kernel line names init= THEN only a warning', () => {
    const r = judge(withGrubLines(load('no-init'), [`linux /boot/vmlinuz root=UUID=${ROOT_UUID} ro init=/usr/lib/systemd/systemd`]));
    expect(ids(r)).toEqual(['init-missing:warning']);
    expect(r.findings[0]!.evidence).toContain('/boot/grub/grub.cfg:1: init=/usr/lib/systemd/systemd');
  });

  it('GRUB: a search for a filesystem UUID that is not restored means grub rescue', () => {
    const r = judge(withGrubLines(load('clean'), [`search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 ${BOGUS_UUID}`, `search.fs_uuid ${ROOT_UUID} root`]));
    expect(ids(r)).toEqual(['grub-search-uuid-unknown:error']);
    expect(r.findings[0]!.message).toMatch(/grub rescue>/);
  });

  it('BLS and grubenv command lines are checked too', () => {
    const facts = load('xfs-root').map((f) =>
      f.fact === 'bootcfg' && (f.value as { file: string }).file.startsWith('/boot/loader/entries/')
        ? { ...f, value: { ...(f.value as object), lines: [{ n: 5, text: `options root=UUID=${BOGUS_UUID} ro` }] } }
        : f,
    );
    const r = judge(facts);
    expect(ids(r)).toEqual(['grub-root-uuid-mismatch:error']);
    expect(r.findings[0]!.message).toMatch(/^\/boot\/loader\/entries\/ec2-6\.1\.0-9-amd64\.conf line 5/);
  });

  it('GIVEN the restored set is not known THEN identities are not judged, and the lint says so', () => {
    const r = judge(withFault(load('unknown-ids'), 'context', (v) => ({ ...v, setGiven: false, filesystems: [] })));
    expect(ids(r)).toEqual(['grub-root-device-missing:error', 'grub-root-device-missing:warning', 'restored-set-unknown:info']);
  });

  it('duplicate UUIDs are only duplicates on different targets', () => {
    const r = judge(withFault(load('clean'), 'context', (v) => ({ ...v, filesystems: [...v.filesystems, { ...v.filesystems[0] }] })));
    expect(r.findings).toEqual([]);
    const dup = judge(load('duplicate-uuid'));
    expect(dup.findings[0]!.message).toMatch(/vol-a\/disk \(xfs\) and vol-b\/disk \(xfs\): XFS refuses to mount the second one/);
  });

  it('free space: warning at 95%, error at 99% or below 50 MiB free, whatever the size', () => {
    const space = (sizeBytes: number, usedBytes: number, availBytes: number) => judge(withFault(load('clean'), 'space', (v) => ({ ...v, sizeBytes, usedBytes, availBytes })));
    const GiB = 1024 * MiB;
    expect(ids(space(20 * GiB, 18.8 * GiB, 1.2 * GiB))).toEqual([]);
    expect(ids(space(20 * GiB, 19.1 * GiB, 0.9 * GiB))).toEqual(['root-nearly-full:warning']);
    expect(ids(space(100 * GiB, 99 * GiB, 1 * GiB))).toEqual(['root-nearly-full:error']);
    expect(ids(space(1 * GiB, 100 * MiB, 49 * MiB))).toEqual(['root-nearly-full:error']);
    expect(find(space(20 * GiB, 19.1 * GiB, 0.9 * GiB), 'root-nearly-full')!.message).toBe(
      'the root filesystem is 96% full (921.6 MiB free of 20.0 GiB): little room for logs and package updates after boot',
    );
  });

  it('inodes exhausted: error', () => {
    const r = judge(withFault(load('clean'), 'space', (v) => ({ ...v, inodesFree: 0 })));
    expect(ids(r)).toEqual(['root-inodes-nearly-full:error']);
  });

  it('/.autorelabel without SELinux is stale: a note, not a warning', () => {
    const r = judge(withFault(load('autorelabel'), 'autorelabel', (v) => ({ ...v, selinux: 'disabled' })));
    expect(ids(r)).toEqual(['autorelabel:info']);
  });

  it('a pending journal is noted: the lint read the files before replay', () => {
    const r = judge(withFault(load('clean'), 'journal', (v) => ({ ...v, replayPending: true })));
    expect(ids(r)).toEqual(['lint-before-replay:info']);
  });

  it('GIVEN the check was skipped, printed nothing, or could not mount THEN not linted, with the reason', () => {
    expect(judge([{ check: 'bootlint', target: 'x', fact: 'skipped', value: { reason: 'missing on helper: od', remedy: 'install coreutils' } }])).toMatchObject({
      ran: false,
      reason: 'skipped: missing on helper: od (install coreutils)',
    });
    expect(judge([])).toMatchObject({ ran: false, reason: 'the bootlint check printed nothing' });
    expect(judge([{ check: 'bootlint', target: 'x', fact: 'mount', value: { ok: false, output: 'mount: /x: wrong fs type, bad option, bad superblock on /dev/loop3.' } }])).toMatchObject({
      ran: false,
      reason: 'could not mount the filesystem read-only: mount: /x: wrong fs type, bad option, bad superblock on /dev/loop3.',
    });
    expect(judge(load('clean').slice(0, 2))).toMatchObject({ ran: false, reason: expect.stringMatching(/stopped before/) });
  });
});
