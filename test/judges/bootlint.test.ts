import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LintContext, LintResult } from '../../src/boot/types.js';
import type { Fact } from '../../src/checks/runner.js';
import { judgeBootLint, parseFstabLine, RULES } from '../../src/judges/bootlint/index.js';
import { BOGUS_UUID, DATA_UUID, lintContext, ROOT_UUID, SCENARIOS, SNAPSHOT } from '../fixtures/bootlint-scenarios.js';
import { captured, faultInjector } from './facts.js';

// Facts captured from the real bootlint check on the scenario images (scripts/capture-bootlint-facts.ts), each
// scenario a known-good root with at most one fault; a test injects one more fault into the facts or the context.
const { dir: FACTS, load } = captured('facts-boot');
const MiB = 1024 * 1024;

/** withFault changes one fact's value (or removes it, or adds it when absent) to inject exactly one fault into a real capture. */
const withFault = faultInjector({ addAs: { check: 'bootlint', target: '/dev/loopX' } });
/** withFstab replaces the captured fstab with these lines. */
const withFstab = (facts: Fact[], lines: string[]) => withFault(facts, 'fstab', (v) => ({ ...v, lines: lines.map((text, i) => ({ n: i + 1, text })) }));
/** withGrubLines replaces the captured grub.cfg lines with these. */
const withGrubLines = (facts: Fact[], lines: string[]) =>
  facts.map((f) => (f.fact === 'bootcfg' && (f.value as { file: string }).file === '/boot/grub/grub.cfg' ? { ...f, value: { file: '/boot/grub/grub.cfg', lines: lines.map((text, i) => ({ n: i + 1, text })) } } : f));

const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;
/** CLEAN is the context the harness gives the clean root: itself and a data volume restored with it, on a Nitro target. */
const CLEAN = lintContext(scenario('clean'));
const ids = (r: LintResult) => r.findings.map((f) => `${f.id}:${f.severity}`).sort();
const judge = (facts: Fact[], context: LintContext = CLEAN) => judgeBootLint('p1', facts, context);
const find = (r: LintResult, id: string) => r.findings.find((f) => f.id === id);
const fstabRoot = `UUID=${ROOT_UUID} / ext4 defaults 0 1`;

describe('bootlint judge on captured facts', () => {
  it('has a capture for every scenario', () => {
    expect(readdirSync(FACTS).sort()).toEqual(SCENARIOS.map((s) => `${s.name}.ndjson`).sort());
  });

  for (const s of SCENARIOS) {
    it(`${s.name}: ${s.expect.status === 'linted' ? s.expect.findings.join(', ') || 'no findings' : s.expect.status}`, () => {
      const r = judgeBootLint(s.name, load(s.name), lintContext(s));
      expect(r.target).toBe(s.name);
      expect(r.status).toBe(s.expect.status);
      expect(ids(r)).toEqual([...s.expect.findings].sort());
    });
  }

  it('the captures read every initramfs layout: early microcode + gzip/zstd/lz4/xz, and a large uncompressed archive', () => {
    const formats = (name: string) => (load(name).find((f) => f.fact === 'initramfs')!.value as { segments: { format: string }[] }).segments.map((s) => s.format);
    expect(formats('clean')).toEqual(['newc', 'gzip']);
    expect(formats('no-nvme')).toEqual(['newc', 'zstd']);
    expect(formats('autorelabel')).toEqual(['newc', 'lz4']);
    expect(formats('xfs-root')).toEqual(['newc', 'xz']);
    expect(formats('xen-target')).toEqual(['newc', 'newc']);
  });

  it('the check reports only what the disk says about itself: its identity, no echo of the restored set', () => {
    const facts = load('clean');
    expect(facts.find((f) => f.fact === 'identity')!.value).toEqual({ uuid: ROOT_UUID, label: 'root', fstype: 'ext4', partuuid: null });
    expect(facts.some((f) => f.fact === 'context')).toBe(false);
  });

  it('every finding of every scenario is one its rule declares, and rule names are unique', () => {
    const declared = new Set(RULES.flatMap((r) => r.ids));
    const reported = SCENARIOS.flatMap((s) => judgeBootLint(s.name, load(s.name), lintContext(s)).findings.map((f) => f.id));
    expect(reported.filter((id) => !declared.has(id))).toEqual([]);
    expect(new Set(RULES.map((r) => r.name)).size).toBe(RULES.length);
  });

  it('lists errors before warnings before notes', () => {
    const sev = judge(load('unknown-ids')).findings.map((f) => f.severity);
    expect(sev).toEqual([...sev].sort((a, b) => ['error', 'warning', 'info'].indexOf(a) - ['error', 'warning', 'info'].indexOf(b)));
  });
});

describe('lint status', () => {
  it('GIVEN a filesystem with neither /etc/fstab nor an init THEN not-root, with no findings', () => {
    expect(judge(load('not-root'))).toEqual({ target: 'p1', status: 'not-root', findings: [] });
  });

  it('GIVEN the check was skipped, printed nothing, could not mount, or stopped early THEN not-run, with the reason', () => {
    expect(judge([{ check: 'bootlint', target: 'x', fact: 'skipped', value: { reason: 'missing on helper: od', remedy: 'install coreutils' } }])).toMatchObject({
      status: 'not-run',
      reason: 'skipped: missing on helper: od (install coreutils)',
    });
    expect(judge([])).toMatchObject({ status: 'not-run', reason: 'the bootlint check printed nothing' });
    expect(judge([{ check: 'bootlint', target: 'x', fact: 'mount', value: { ok: false, output: 'mount: /x: wrong fs type, bad option, bad superblock on /dev/loop3.' } }])).toMatchObject({
      status: 'not-run',
      reason: 'could not mount the filesystem read-only: mount: /x: wrong fs type, bad option, bad superblock on /dev/loop3.',
    });
    expect(judge(load('clean').slice(0, 2))).toMatchObject({ status: 'not-run', reason: expect.stringMatching(/stopped before/) });
  });
});

describe('rule duplicate-uuid', () => {
  it('GIVEN two volumes of the set carry one UUID WHEN linted THEN an error naming both, XFS refusing the second', () => {
    const r = judge(load('duplicate-uuid'), lintContext(scenario('duplicate-uuid')));
    expect(ids(r)).toEqual(['duplicate-uuid:error']);
    expect(r.findings[0]!.message).toMatch(/snap-data-a:disk \(xfs\) and snap-data-b:disk \(xfs\): XFS refuses to mount the second one/);
  });

  it('GIVEN the same filesystem listed twice WHEN linted THEN no duplicate: only different targets are', () => {
    expect(judge(load('clean'), { ...CLEAN, filesystems: [...CLEAN.filesystems, { ...CLEAN.filesystems[0]! }] }).findings).toEqual([]);
  });
});

describe('rule fstab-device-names', () => {
  it('GIVEN Xen names in fstab on a Nitro target THEN errors, and a warning with nofail', () => {
    expect(ids(judge(load('fstab-xen-names')))).toEqual(['fstab-device-missing-nofail:warning', 'fstab-device-missing:error', 'fstab-device-missing:error']);
  });

  it("GIVEN Amazon's udev rule is installed THEN Xen-style names exist on Nitro: a warning to use UUIDs, not an error", () => {
    const r = judge(withFault(load('fstab-xen-names'), 'ec2-udev', () => ({ rules: ['/usr/lib/udev/rules.d/70-ec2-nvme-devices.rules'] })));
    expect(ids(r)).toEqual(['fstab-device-name-mapped:warning', 'fstab-device-name-mapped:warning', 'fstab-device-name-mapped:warning']);
  });

  it('GIVEN an NVMe name other than nvme0 on a Nitro target THEN a warning: it may be another volume', () => {
    const r = judge(withFstab(load('clean'), [fstabRoot, '/dev/nvme0n1p1 /x ext4 defaults 0 2', '/dev/nvme2n1 /data xfs defaults 0 2']));
    expect(ids(r)).toEqual(['fstab-device-name-unstable:warning']);
    expect(r.findings[0]!.message).toContain('/dev/nvme2n1');
  });

  it('GIVEN noauto, bind, network and virtual entries THEN they are not checked', () => {
    const r = judge(withFstab(load('clean'), [fstabRoot, '/dev/xvdh /c ext4 defaults,_netdev 0 2', '/dev/xvdi /b ext4 noauto 0 2', '/srv/x /d none bind 0 0', 'server:/export /e nfs4 defaults 0 0', 'tmpfs /tmp tmpfs defaults 0 0']));
    expect(r.findings).toEqual([]);
  });
});

describe('rule fstab-identities', () => {
  it('GIVEN a UUID and a label no restored filesystem has THEN an error, and a warning with nofail', () => {
    const r = judge(load('unknown-ids'), lintContext(scenario('unknown-ids')));
    expect(find(r, 'fstab-uuid-unknown')!.severity).toBe('error');
    expect(find(r, 'fstab-label-unknown')!.severity).toBe('warning');
    expect(find(r, 'fstab-uuid-unknown')!.evidence).toEqual([expect.stringMatching(/^\/etc\/fstab line 3: UUID=0badf00d/), `restored set: ${SNAPSHOT}:disk=${ROOT_UUID} (root)`]);
  });

  it('GIVEN the data volume is not restored with the root WHEN linted THEN its UUID in fstab is unknown', () => {
    const rootOnly = { ...CLEAN, filesystems: CLEAN.filesystems.filter((f) => f.snapshotId === SNAPSHOT) };
    expect(ids(judge(load('clean'), rootOnly))).toEqual(['fstab-uuid-unknown:error']);
  });

  it('GIVEN UUIDs in capitals, quoted, or as /dev/disk/by-uuid paths THEN they are understood', () => {
    const r = judge(withFstab(load('clean'), [`UUID="${ROOT_UUID.toUpperCase()}" / ext4 defaults 0 1`, `/dev/disk/by-uuid/${DATA_UUID} /data xfs defaults 0 2`, `/dev/disk/by-label/nope /x ext4 defaults 0 2`]));
    expect(ids(r)).toEqual(['fstab-label-unknown:error']);
  });

  it('GIVEN an escaped space in a label THEN it is decoded', () => {
    expect(parseFstabLine(4, 'LABEL=my\\040disk /mnt/my\\040disk ext4 defaults 0 2')).toMatchObject({ line: 4, spec: 'LABEL=my disk', file: '/mnt/my disk', options: ['defaults'] });
    expect(parseFstabLine(1, '  # comment')).toBeUndefined();
  });

  describe('PARTUUID', () => {
    // As discovery reports a GPT disk: the root on p1, the data filesystem on p2 of the same snapshot.
    const disk: LintContext = {
      targetNvme: true,
      filesystems: [
        { snapshotId: SNAPSHOT, target: 'p1', uuid: ROOT_UUID, label: 'root', fstype: 'ext4', partuuid: '5a5d7e57-0000-4000-8000-0000000c0001' },
        { snapshotId: SNAPSHOT, target: 'p2', uuid: DATA_UUID, label: 'data', fstype: 'xfs', partuuid: '5a5d7e57-0000-4000-8000-0000000c0002' },
      ],
    };

    it('GIVEN fstab names another partition of the same restored disk by PARTUUID WHEN the harness gives the set THEN no finding', () => {
      // The false error of issue 10: the check never learned the sibling's PARTUUID, so this was fstab-partuuid-unknown.
      const r = judge(withFstab(load('clean'), [fstabRoot, 'PARTUUID=5A5D7E57-0000-4000-8000-0000000C0002 /data xfs defaults 0 2']), disk);
      expect(r.findings).toEqual([]);
    });

    it('GIVEN a PARTUUID no partition of the set has THEN an error naming the set', () => {
      const r = judge(withFstab(load('clean'), [fstabRoot, 'PARTUUID=5a5d7e57-0000-4000-8000-0000000c0009 /gone ext4 defaults 0 2']), disk);
      expect(ids(r)).toEqual(['fstab-partuuid-unknown:error']);
      expect(r.findings[0]!.evidence[1]).toContain(`${SNAPSHOT}:p2=${DATA_UUID} (data) PARTUUID=5a5d7e57-0000-4000-8000-0000000c0002`);
    });

    it("GIVEN only the check's own identity carries a PARTUUID THEN a PARTUUID= of the root itself resolves", () => {
      const facts = withFault(withFstab(load('clean'), ['PARTUUID=5a5d0b00-01 / ext4 defaults 0 1', `UUID=${DATA_UUID} /data xfs defaults 0 2`]), 'identity', (v) => ({ ...v, partuuid: '5a5d0b00-01' }));
      expect(judge(facts).findings).toEqual([]);
    });

    it('GIVEN no partition UUID is known in the set (bare filesystems) THEN the entry is only noted as unverified', () => {
      expect(ids(judge(withFstab(load('clean'), [fstabRoot, 'PARTUUID=5a5d0b00-03 /data ext4 defaults 0 2'])))).toEqual(['fstab-partuuid-unverified:info']);
    });
  });
});

describe('rule kernel-root', () => {
  it('GIVEN root= by UUID, by device name, and in /etc/default/grub THEN errors for what boots, a warning for what the next update-grub writes', () => {
    const r = judge(load('unknown-ids'), lintContext(scenario('unknown-ids')));
    expect(ids(r).filter((i) => i.startsWith('grub-root'))).toEqual(['grub-root-device-missing:error', 'grub-root-device-missing:warning', 'grub-root-uuid-mismatch:error']);
    expect(find(r, 'grub-root-uuid-mismatch')!.remedy).toContain(ROOT_UUID);
  });

  it('GIVEN several root= on one line THEN the last wins; GIVEN the same problem on two lines THEN one finding with both as evidence', () => {
    expect(judge(withGrubLines(load('clean'), [`linux /boot/vmlinuz root=/dev/xvda1 ro root=UUID=${ROOT_UUID}`])).findings).toEqual([]);
    const twice = judge(withGrubLines(load('clean'), [`linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro`, `linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro single`]));
    expect(ids(twice)).toEqual(['grub-root-uuid-mismatch:error']);
    expect(twice.findings[0]!.evidence).toEqual([
      `/boot/grub/grub.cfg:1: linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro`,
      `/boot/grub/grub.cfg:2: linux /boot/vmlinuz root=UUID=${BOGUS_UUID} ro single`,
      expect.stringMatching(/^restored set: /),
    ]);
  });

  it('GIVEN a BLS entry whose options name an unknown root THEN it is checked too', () => {
    const facts = load('xfs-root').map((f) =>
      f.fact === 'bootcfg' && (f.value as { file: string }).file.startsWith('/boot/loader/entries/') ? { ...f, value: { ...(f.value as object), lines: [{ n: 5, text: `options root=UUID=${BOGUS_UUID} ro` }] } } : f,
    );
    const r = judge(facts, lintContext(scenario('xfs-root')));
    expect(ids(r)).toEqual(['grub-root-uuid-mismatch:error']);
    expect(r.findings[0]!.message).toMatch(/^\/boot\/loader\/entries\/ec2-6\.1\.0-9-amd64\.conf line 5/);
  });

  it('GIVEN root=LABEL= of a label not restored THEN grub-root-label-unknown', () => {
    expect(ids(judge(withGrubLines(load('clean'), ['linux /boot/vmlinuz root=LABEL=cloudimg-rootfs ro'])))).toEqual(['grub-root-label-unknown:error']);
  });
});

describe('rule grub-search', () => {
  it('GIVEN GRUB searches for a filesystem UUID that is not restored THEN an error: grub rescue', () => {
    const r = judge(withGrubLines(load('clean'), [`search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 ${BOGUS_UUID}`, `search.fs_uuid ${ROOT_UUID} root`]));
    expect(ids(r)).toEqual(['grub-search-uuid-unknown:error']);
    expect(r.findings[0]!.message).toMatch(/grub rescue>/);
  });
});

describe('rule init', () => {
  it('GIVEN /sbin/init is missing THEN an error', () => {
    expect(ids(judge(load('no-init')))).toEqual(['init-missing:error']);
  });

  it('GIVEN /sbin/init is missing but the kernel line names init= THEN only a warning, quoting it', () => {
    const r = judge(withGrubLines(load('no-init'), [`linux /boot/vmlinuz root=UUID=${ROOT_UUID} ro init=/usr/lib/systemd/systemd`]));
    expect(ids(r)).toEqual(['init-missing:warning']);
    expect(r.findings[0]!.evidence).toContain('/boot/grub/grub.cfg:1: init=/usr/lib/systemd/systemd');
  });
});

describe('rule kernel', () => {
  it('GIVEN no kernel under /boot and a separate /boot in fstab THEN a note that the kernel side was not linted', () => {
    let facts = withFault(load('clean'), 'kernel', (v) => ({ ...v, version: null, path: null, source: null, initramfs: null, exists: false }));
    facts = withFault(facts, 'initramfs', 'remove');
    const r = judge(withFstab(facts, [fstabRoot, `UUID=${DATA_UUID} /boot ext4 defaults 0 2`]));
    expect(ids(r)).toEqual(['kernel-not-found:info']);
    expect(r.findings[0]!.message).toMatch(/\/boot is a separate filesystem/);
  });

  it('GIVEN the boot loader names a kernel that is not there THEN kernel-missing', () => {
    expect(ids(judge(withFault(load('clean'), 'kernel', (v) => ({ ...v, exists: false }))))).toContain('kernel-missing:error');
  });
});

describe('rule initramfs-nvme', () => {
  it('GIVEN an initramfs without nvme THEN the remedy of the tool that built it', () => {
    const r = judge(load('no-nvme'));
    expect(find(r, 'initramfs-no-nvme')!.remedy).toMatch(/echo nvme >> \/etc\/initramfs-tools\/modules && update-initramfs -u -k 6\.1\.0-9-amd64/);
    expect(find(judge(withFault(load('no-nvme'), 'os', (v) => ({ ...v, initramfsTool: 'dracut' }))), 'initramfs-no-nvme')!.remedy).toMatch(/add_drivers\+=" nvme "/);
    expect(find(judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, modules: { nvme: [], ena: [] } }))), 'initramfs-no-nvme')!.remedy).toMatch(/install a kernel with NVMe support/);
  });

  it('GIVEN nvme built into the kernel THEN no initramfs module is needed', () => {
    expect(ids(judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, builtin: { nvme: true, ena: false } }))))).toEqual(['initramfs-no-ena:warning']);
  });

  it('GIVEN modules.builtin could not be read THEN a missing nvme in the initramfs is only a warning', () => {
    expect(find(judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, builtinRead: false }))), 'initramfs-no-nvme')!.severity).toBe('warning');
  });

  it('GIVEN no initramfs for a kernel without built-in nvme THEN initramfs-missing', () => {
    expect(ids(judge(withFault(load('clean'), 'initramfs', 'remove')))).toEqual(['initramfs-missing:error']);
  });

  it('GIVEN an initramfs that could not be listed THEN only a note', () => {
    expect(ids(judge(load('unreadable-initramfs')))).toEqual(['initramfs-unreadable:info']);
  });

  it('GIVEN a Xen target THEN neither nvme nor ena is needed', () => {
    expect(judge(load('no-nvme'), { ...CLEAN, targetNvme: false }).findings).toEqual([]);
  });
});

describe('rule ena', () => {
  it('GIVEN ena anywhere in the kernel THEN enough: udev loads it from the root filesystem after the switch', () => {
    const r = judge(withFault(load('no-nvme'), 'kernel', (v) => ({ ...v, modules: { ...v.modules, ena: ['kernel/drivers/net/ethernet/amazon/ena/ena.ko'] } })));
    expect(ids(r)).toEqual(['initramfs-no-nvme:error']);
  });

  it('GIVEN no ena in the kernel, its modules or the initramfs THEN a warning: no network on Nitro', () => {
    const r = judge(withFault(load('clean'), 'kernel', (v) => ({ ...v, modules: { ...v.modules, ena: [] } })).map((f) => (f.fact === 'initramfs' ? { ...f, value: { ...(f.value as object), ena: [] } } : f)));
    expect(ids(r)).toEqual(['initramfs-no-ena:warning']);
  });
});

describe('rule autorelabel', () => {
  it('GIVEN /.autorelabel with SELinux enforcing THEN a warning: the first boot relabels and reboots', () => {
    expect(ids(judge(load('autorelabel')))).toEqual(['autorelabel:warning']);
  });

  it('GIVEN /.autorelabel without SELinux THEN it is stale: a note', () => {
    expect(ids(judge(withFault(load('autorelabel'), 'autorelabel', (v) => ({ ...v, selinux: 'disabled' }))))).toEqual(['autorelabel:info']);
  });
});

describe('rules space and inodes', () => {
  const space = (sizeBytes: number, usedBytes: number, availBytes: number) => judge(withFault(load('clean'), 'space', (v) => ({ ...v, sizeBytes, usedBytes, availBytes })));
  const GiB = 1024 * MiB;

  it('GIVEN a root filesystem at 95% THEN a warning; at 99% or below 50 MiB free, whatever the size, an error', () => {
    expect(ids(space(20 * GiB, 18.8 * GiB, 1.2 * GiB))).toEqual([]);
    expect(ids(space(20 * GiB, 19.1 * GiB, 0.9 * GiB))).toEqual(['root-nearly-full:warning']);
    expect(ids(space(100 * GiB, 99 * GiB, 1 * GiB))).toEqual(['root-nearly-full:error']);
    expect(ids(space(1 * GiB, 100 * MiB, 49 * MiB))).toEqual(['root-nearly-full:error']);
    expect(find(space(20 * GiB, 19.1 * GiB, 0.9 * GiB), 'root-nearly-full')!.message).toBe(
      'the root filesystem is 96% full (921.6 MiB free of 20.0 GiB): little room for logs and package updates after boot',
    );
  });

  it('GIVEN the captured full image THEN an error', () => {
    expect(ids(judge(load('full')))).toEqual(['root-nearly-full:error']);
  });

  it('GIVEN no free inodes THEN an error', () => {
    expect(ids(judge(withFault(load('clean'), 'space', (v) => ({ ...v, inodesFree: 0 }))))).toEqual(['root-inodes-nearly-full:error']);
  });
});

describe('rule journal', () => {
  it('GIVEN a journal replay pending THEN a note: the lint read the files before replay', () => {
    expect(ids(judge(withFault(load('clean'), 'journal', (v) => ({ ...v, replayPending: true }))))).toEqual(['lint-before-replay:info']);
  });
});
