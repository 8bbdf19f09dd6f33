import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/diagnose/engine.js';
import { terminalFailure } from '../../src/boot/qemu.js';

const DIR = path.resolve(import.meta.dirname, '../golden/console');

/**
 * Serial consoles captured from real QEMU boots of the fixture disk and its broken variants (fixtures/build-boot.sh,
 * fixtures/capture-console.sh; test/golden/console/README.md says how). A boot that reached its login prompt must
 * get no diagnosis at all: boot-disk-full still boots (the pre-boot lint is what flags it).
 */
const CAPTURED: Record<string, string | null> = {
  'boot-good.txt': null,
  'boot-good-uefi.txt': null,
  'boot-good-direct.txt': null,
  'boot-disk-full.txt': null,
  'boot-fstab-missing.txt': 'fstab-missing-device',
  'boot-wrong-root-uuid.txt': 'root-device-not-found',
  'boot-no-init.txt': 'init-missing',
  'boot-grub-rescue.txt': 'grub-no-such-device',
  'boot-fsck-fail.txt': 'fsck-required',
  'direct-no-initrd.txt': 'root-fs-unmountable',
};

describe('diagnosis of consoles captured from real failing boots of the fixtures', () => {
  for (const [file, cause] of Object.entries(CAPTURED)) {
    it(`${file} → ${cause ?? 'no diagnosis (it booted)'}`, () => {
      const d = diagnose(readFileSync(path.join(DIR, file), 'utf8'));
      if (cause === null) expect(d.causes).toEqual([]);
      else {
        expect(d.causes[0]?.id).toBe(cause);
        expect(d.causes[0]!.matches.length).toBeGreaterThan(0);
      }
    });
  }
});

describe('a boot that cannot go on is recognised on the console (the test ends early instead of waiting out its timeout)', () => {
  for (const [file, cause] of Object.entries(CAPTURED)) {
    it(`${file}: ${cause === null || file === 'boot-disk-full.txt' ? 'not terminal' : 'terminal'}`, () => {
      const text = readFileSync(path.join(DIR, file), 'utf8');
      if (cause === null) expect(terminalFailure(text)).toBeUndefined();
      else expect(terminalFailure(text)).toEqual(expect.any(String));
    });
  }
});
