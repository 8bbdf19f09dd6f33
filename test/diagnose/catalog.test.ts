import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanLine, diagnose, loadCatalog } from '../../src/diagnose/engine.js';
import { tempDir } from '../helpers.js';

const PUBLISHED = path.resolve(import.meta.dirname, '../golden/console/published');

/**
 * What each published transcript must be diagnosed as (test/golden/console/published/SOURCES.md names the
 * source and what it says the cause was). `also` lists causes that may legitimately rank after it; null means
 * the transcript shows no failure the catalog knows, and the diagnosis must say nothing rather than guess.
 */
const EXPECTED: Record<string, { top: string | null; also?: string[] }> = {
  'block-device-io-error.txt': { top: 'io-error' },
  'disk-full.txt': { top: 'disk-full' },
  'disk-full-2.txt': { top: 'disk-full' },
  'ena-required.txt': { top: 'ena-required' },
  'ena-required-2.txt': { top: 'ena-required' },
  'ena-required-3.txt': { top: 'ena-required' },
  'eth0-not-present.txt': { top: 'mac-address-changed' },
  'fsck-check-forced.txt': { top: null },
  'fsck-required.txt': { top: 'fsck-required' },
  'fsck-required-2.txt': { top: 'fsck-required' },
  'fstab-missing-device.txt': { top: 'fstab-missing-device' },
  'fstab-missing-device-2.txt': { top: 'fstab-missing-device' },
  'fstab-missing-device-3.txt': { top: 'fstab-missing-device' },
  'fstab-missing-device-4.txt': { top: 'fstab-missing-device' },
  'general-mount-error.txt': { top: 'mount-failed' },
  'grub-no-such-device.txt': { top: 'grub-no-such-device' },
  'grub-normal-mod-not-found.txt': { top: 'grub-no-such-device' },
  'grub-unknown-filesystem.txt': { top: 'grub-no-such-device' },
  'grub-prompt-pvgrub.txt': { top: 'pvgrub-invalid-kernel' },
  'invalid-kernel.txt': { top: 'pvgrub-invalid-kernel' },
  'kernel-panic-attempted-kill-init.txt': { top: 'init-missing' },
  'kernel-panic-vfs.txt': { top: 'root-fs-unmountable' },
  'kernel-panic-vfs-2.txt': { top: 'root-fs-unmountable' },
  'kernel-panic-vfs-3.txt': { top: 'root-fs-unmountable' },
  'kernel-too-old.txt': { top: 'kernel-too-old' },
  'kernel-too-old-2.txt': { top: 'kernel-too-old' },
  'mac-address-changed.txt': { top: 'mac-address-changed' },
  'mac-address-changed-2.txt': { top: 'mac-address-changed' },
  // The console cannot tell a missing driver from a wrong root= (the lint can): both are named.
  'nvme-driver-missing.txt': { top: 'root-device-not-found', also: ['nvme-driver-missing'] },
  'oom-kill.txt': { top: 'oom-kill' },
  'root-device-major-minor.txt': { top: 'root-device-not-found' },
  'root-device-not-found.txt': { top: 'root-device-not-found' },
  'root-device-not-found-2.txt': { top: 'root-device-not-found' },
  'root-device-not-found-3.txt': { top: 'root-device-not-found', also: ['nvme-driver-missing'] },
  'selinux-policy.txt': { top: 'selinux-policy' },
  'selinux-policy-2.txt': { top: 'selinux-policy' },
  'selinux-policy-3.txt': { top: 'selinux-policy' },
  'xenbus-timeout.txt': { top: 'xenbus-timeout' },
  'xfs-corruption.txt': { top: 'fs-corruption' },
  'xfs-duplicate-uuid.txt': { top: 'xfs-duplicate-uuid' },
  'xfs-duplicate-uuid-2.txt': { top: 'xfs-duplicate-uuid' },
};

describe('diagnosis catalog', () => {
  it('loads, validates, and every entry has a source and a test transcript or capture', () => {
    const c = loadCatalog();
    expect(c.entries.length).toBeGreaterThanOrEqual(15);
    const tested = new Set(Object.values(EXPECTED).flatMap((e) => [e.top, ...(e.also ?? [])]));
    // Causes only seen in captures of our own failing fixture boots are covered by test/diagnose/captured.test.ts.
    const capturedOnly = ['emergency-mode', 'kernel-panic', 'boot-mode-unsupported'];
    for (const e of c.entries) {
      expect(e.sources.length, e.id).toBeGreaterThan(0);
      if (!capturedOnly.includes(e.id)) expect(tested.has(e.id), `${e.id} has no published transcript test`).toBe(true);
    }
  });

  it('covers every published transcript in the directory', () => {
    expect(readdirSync(PUBLISHED).filter((f) => f.endsWith('.txt')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    it(`${file} → ${want.top ?? 'nothing (said plainly)'}`, () => {
      const text = readFileSync(path.join(PUBLISHED, file), 'utf8');
      const d = diagnose(text);
      if (want.top === null) {
        expect(d.causes).toEqual([]);
        return;
      }
      expect(d.causes[0]?.id).toBe(want.top);
      for (const a of want.also ?? []) expect(d.causes.map((c) => c.id)).toContain(a);
      // Every cause points at real lines of the transcript.
      const lines = text.split('\n').map(cleanLine);
      for (const c of d.causes) {
        expect(c.matches.length).toBeGreaterThan(0);
        for (const m of c.matches) expect(lines[m.line - 1]!.trim()).toBe(m.text);
      }
    });
  }

  it('says nothing about a clean boot, and does not let a generic panic hide the specific cause', () => {
    const clean = ['[    0.000000] Linux version 6.1.0-27-amd64', '[  OK  ] Reached target multi-user.target', 'Debian GNU/Linux 12 snapdrill-boot ttyS0', '', 'snapdrill-boot login: '].join('\n');
    expect(diagnose(clean).causes).toEqual([]);
    const panic = ['[    2.1] VFS: Cannot open root device "UUID=0000" or unknown-block(0,0): error -6', '[    2.2] Please append a correct "root=" boot option', '[    2.3] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)'].join('\n');
    const d = diagnose(panic);
    expect(d.causes.map((c) => c.id)).toEqual(['root-fs-unmountable']);
    expect(d.causes[0]!.matches.map((m) => m.line)).toEqual([1, 2, 3]);
  });

  it('strips console escape sequences before matching, and keeps a boot loop to a few lines', () => {
    const loop = Array.from({ length: 500 }, () => '\x1b[0;1;31mTimed out waiting for device dev-xvdf.device.\x1b[0m\r').join('\n');
    const d = diagnose(loop);
    expect(d.causes[0]!.id).toBe('fstab-missing-device');
    expect(d.causes[0]!.matches.length).toBeLessThanOrEqual(12);
    expect(d.causes[0]!.matches[0]!.text).toBe('Timed out waiting for device dev-xvdf.device.');
  });

  it('rejects a catalog entry without a remedy, naming the field', () => {
    const f = path.join(tempDir('cat'), 'bad.yaml');
    writeFileSync(f, 'causes:\n  - {id: x, title: X, priority: 1, signatures: [a], explanation: e, sources: [s]}\n');
    expect(() => loadCatalog(f)).toThrow(/\/causes\/0.*remedy/);
  });
});
