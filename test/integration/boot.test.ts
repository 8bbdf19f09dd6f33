import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootQemu, chooseAccel } from '../../src/boot/qemu.js';
import { loadConfig } from '../../src/config/load.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import { bootCatalog, catalogOf, sha256, tempDir } from '../helpers.js';

/** qemuProcesses lists running QEMU processes started for snapdrill boot tests. */
function qemuProcesses(): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'qemu-system-x86_64 -name snapdrill-boot'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Real boots under QEMU (software emulation here: /dev/kvm is paravirtual) of the bootable Debian fixture and two
 * broken variants, through `snapdrill run` with boot tests on: the lint flags the broken ones before they boot, the
 * boot test sees them fail, and the diagnosis names the cause.
 */
describe('boot tests on the local provider (QEMU)', () => {
  let outcome: RunOutcome;
  let before: string;
  beforeAll(async () => {
    const catalog = catalogOf(['boot-good.img', 'boot-fstab-missing.img', 'boot-wrong-root-uuid.img', 'boot-no-init.img', 'boot-fsck-fail.img', 'boot-grub-rescue.img']);
    before = await sha256(path.join(bootCatalog(), 'boot-fstab-missing.img'));
    const cfg = path.join(tempDir('boot-cfg'), 'snapdrill.yaml');
    writeFileSync(cfg, `provider: {type: local, catalog: ${catalog}, scratchDir: ${tempDir('boot-scratch')}}\noutput: {dir: ${tempDir('boot-out')}, formats: [json, html, junit]}\nconcurrency: 6\ndatabases: {enabled: false}\nboot: {enabled: true, maxConcurrent: 2, timeout: 4m, memory: 512}\n`);
    outcome = await executeRun(loadConfig(cfg), { stateDir: tempDir('boot-state'), events: {}, signal: new AbortController().signal });
  }, 900_000);

  const snap = (id: string) => outcome.report.snapshots.find((s) => s.id === id)!;

  it('boots the good image (its SSH server answers through the forward; a console prompt alone is no proof), and records the milestones', () => {
    const s = snap('snap-boot-good');
    expect(s.boot, s.bootTest?.reason).toBe('boots');
    expect(s.bootTest!.platform).toMatch(/^qemu (tcg|kvm)/);
    const names = s.bootTest!.milestones.map((m) => m.name);
    expect(names.slice(0, 4)).toEqual(['firmware', 'bootloader', 'kernel', 'initramfs']);
    expect(names).toContain('ssh');
    expect(names).not.toContain('login');
    expect(s.lint!.every((l) => l.findings.every((f) => f.severity !== 'error'))).toBe(true);
    expect(s.policy.pass).toBe(true);
  });

  it('flags the fstab entry before the boot, then sees the boot stop in emergency mode, and names the cause and fix', () => {
    const s = snap('snap-boot-fstab-missing');
    expect(s.lint!.flatMap((l) => l.findings.map((f) => f.id))).toContain('fstab-device-missing');
    const lintAt = s.phases.findIndex((p) => p.phase.startsWith('lint '));
    expect(lintAt).toBeGreaterThanOrEqual(0);
    expect(lintAt).toBeLessThan(s.phases.findIndex((p) => p.phase === 'boot'));
    expect(s.boot).toBe('fails-to-boot');
    expect(s.bootTest!.diagnosis!.causes[0]!.id).toBe('fstab-missing-device');
    expect(s.bootTest!.diagnosis!.causes[0]!.remedy).toMatch(/nofail/);
    expect(s.policy.pass).toBe(false);
    expect(s.policy.reason).toMatch(/^fails to boot \(An \/etc\/fstab entry names a device this instance does not have \[fstab-missing-device\]\)/);
  });

  it('flags the GRUB root UUID before the boot, and diagnoses the initramfs giving up on the root device', () => {
    const s = snap('snap-boot-wrong-root-uuid');
    expect(s.lint!.flatMap((l) => l.findings.map((f) => f.id))).toContain('grub-root-uuid-mismatch');
    expect(s.boot).toBe('fails-to-boot');
    expect(s.bootTest!.diagnosis!.causes[0]!.id).toBe('root-device-not-found');
  });

  it('ends a boot early when the console shows it cannot go on, and names the cause of each broken variant', () => {
    const noInit = snap('snap-boot-no-init');
    expect(noInit.lint!.flatMap((l) => l.findings.map((f) => f.id))).toContain('init-missing');
    expect(noInit.bootTest!.diagnosis!.causes[0]!.id).toBe('init-missing');
    // The initramfs falls back to a shell as PID 1: recognised, not waited out until the timeout.
    expect(noInit.bootTest!.reason).toMatch(/^stopped at: /);
    // A root the filesystem check calls corrupt is still linted and booted: whether it starts is the other axis.
    const fsck = snap('snap-boot-fsck-fail');
    expect(fsck.consistency).toBe('corrupt');
    expect(fsck.boot).toBe('fails-to-boot');
    expect(fsck.bootTest!.diagnosis!.causes[0]!.id).toBe('fsck-required');
    expect(fsck.bootTest!.reason).toMatch(/^stopped at: /);
    const grub = snap('snap-boot-grub-rescue');
    expect(grub.bootTest!.diagnosis!.causes[0]!.id).toBe('grub-no-such-device');
    expect(grub.bootTest!.milestones.map((m) => m.name)).not.toContain('kernel');
  });

  it('reports the boot in HTML (console escaped, matched lines highlighted) and in JUnit, exits 1, and leaves no VM or source change', async () => {
    expect(outcome.report.exitCode).toBe(1);
    const html = readFileSync(outcome.files.find((f) => f.endsWith('.html'))!, 'utf8');
    expect(html).toMatch(/<mark id="snap-\d+-console-L\d+"><span class="ln">\d+<\/span>.*Timed out waiting for device/);
    expect(html).toContain('Likely cause: The initramfs never found the root filesystem');
    expect(qemuProcesses()).toEqual([]);
    expect(await sha256(path.join(bootCatalog(), 'boot-fstab-missing.img'))).toBe(before);
  });

  it('runs at most boot.maxConcurrent VMs at once', () => {
    const spans = outcome.report.snapshots.flatMap((s) => s.phases.filter((p) => p.phase === 'boot').map((p) => [Date.parse(p.startedAt), Date.parse(p.startedAt) + p.durationMs] as const));
    expect(spans).toHaveLength(6);
    // Start and end are rounded to the millisecond: a VM that starts as another ends must not count as overlapping.
    const most = Math.max(...spans.map(([t]) => spans.filter(([a, b]) => a <= t && t < b - 5).length));
    expect(most).toBeLessThanOrEqual(2);
  });
});

describe('QEMU boot modes', () => {
  it('chooses software emulation when /dev/kvm is a paravirtual KVM, and says why', () => {
    const sys = tempDir('sys');
    execFileSync('mkdir', ['-p', path.join(sys, 'kvm'), path.join(sys, 'kvm_pvm')]);
    expect(chooseAccel('auto', sys, '/dev/null')).toEqual({ accel: 'tcg', reason: 'software emulation: /dev/null is a paravirtual KVM (kvm_pvm) that cannot boot ordinary guests' });
    execFileSync('mkdir', ['-p', path.join(sys, 'kvm_intel')]);
    expect(chooseAccel('auto', sys, '/dev/null').accel).toBe('kvm');
    expect(chooseAccel('tcg', sys, '/dev/null').accel).toBe('tcg');
    expect(() => chooseAccel('kvm', sys, '/nonexistent/kvm')).toThrow(/boot.accel is kvm but \/nonexistent\/kvm is missing or not accessible/);
  });

  it('GIVEN no qemu-system-x86_64 on the PATH THEN the boot test ends at once as an error naming the package, not after its timeout', async () => {
    const bin = tempDir('nobin');
    execFileSync('ln', ['-s', execFileSync('bash', ['-c', 'command -v qemu-img'], { encoding: 'utf8' }).trim(), path.join(bin, 'qemu-img')]);
    const saved = process.env.PATH;
    process.env.PATH = bin;
    try {
      const t0 = performance.now();
      const out = await bootQemu({ disk: path.join(bootCatalog(), 'boot-good.img'), workDir: tempDir('boot-noqemu'), mode: 'bios', memoryMiB: 256, cpus: 1, timeoutMs: 120_000, accel: 'tcg', ssh: false, settleMs: 1000 });
      expect(out.result).toBe('error');
      expect(out.reason).toMatch(/^cannot start qemu-system-x86_64: .*ENOENT.* \(apt-get install qemu-system-x86\)$/);
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      process.env.PATH = saved;
    }
  });

  for (const mode of ['uefi', 'direct'] as const) {
    it(`boots the good image with ${mode === 'uefi' ? 'UEFI+GRUB (OVMF)' : 'a direct kernel'}, through an overlay that leaves the disk untouched`, async () => {
      const cat = bootCatalog();
      const disk = path.join(cat, 'boot-good.img');
      const hash = await sha256(disk);
      const out = await bootQemu({
        disk,
        workDir: tempDir(`boot-${mode}`),
        mode,
        kernel: path.join(cat, 'boot-kernel/vmlinuz'),
        initrd: path.join(cat, 'boot-kernel/initrd'),
        append: readFileSync(path.join(cat, 'boot-kernel/cmdline'), 'utf8').trim(),
        memoryMiB: 512,
        cpus: 1,
        timeoutMs: 240_000,
        accel: 'auto',
        ssh: true,
        settleMs: 3000,
      });
      expect(out.result, `${out.reason}\n${out.console.slice(-2000)}`).toBe('boots');
      expect(out.mode).toBe(mode);
      const names = out.milestones.map((m) => m.name);
      expect(names).toContain('ssh');
      if (mode === 'direct') expect(names).not.toContain('bootloader');
      // GRUB's "Welcome to GRUB!" (UEFI) is not the init system's welcome: init comes after the kernel.
      expect(names.indexOf('kernel')).toBeGreaterThanOrEqual(0);
      expect(names.indexOf('init')).toBeGreaterThan(names.indexOf('kernel'));
      expect(await sha256(disk)).toBe(hash);
      expect(qemuProcesses()).toEqual([]);
    }, 300_000);
  }
});
