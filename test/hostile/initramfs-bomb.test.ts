import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LintResult } from '../../src/boot/types.js';
import type { CheckRun } from '../../src/checks/runner.js';
import { judgeBootLint } from '../../src/judges/bootlint/index.js';
import { buildImage, debianRoot, lintContext, lintDevice, ROOT_UUID, SNAPSHOT, type Scenario } from '../fixtures/bootlint-scenarios.js';
import { leftovers, sha256, tempDir } from '../helpers.js';

/**
 * newcBomb is a gzip'd newc archive whose listing is far larger than any real initramfs: ENTRIES empty files with
 * 1,000-character names, about 140 MiB of names from a 1 MiB file. Before the sandbox, `cpio -t` wrote them all into the
 * scratch area; a larger bomb filled it, and cpio's write errors went unnoticed.
 */
function newcBomb(entries: number): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const parts: Buffer[] = [];
  const entry = (name: string, mode: number) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const header = `070701${hex(entries + 1)}${hex(mode)}${hex(0)}${hex(0)}${hex(1)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(nameBytes.length)}${hex(0)}`;
    const pad = (4 - ((110 + nameBytes.length) % 4)) % 4;
    parts.push(Buffer.from(header), nameBytes, Buffer.alloc(pad));
  };
  const stem = 'usr/lib/modules/6.1.0-9-amd64/kernel/' + 'x'.repeat(960);
  for (let i = 0; i < entries; i++) entry(`${stem}/${String(i).padStart(8, '0')}`, 0o100644);
  entry('TRAILER!!!', 0);
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

describe('hostile: an initramfs that decompresses to gigabytes of names', () => {
  const s: Scenario = {
    name: 'initramfs-bomb',
    fstype: 'ext4',
    sizeMiB: 64,
    uuid: ROOT_UUID,
    label: 'root',
    tree: debianRoot(),
    initramfs: newcBomb(140_000),
    set: [{ snapshotId: SNAPSHOT, target: 'disk', uuid: ROOT_UUID, label: 'root', fstype: 'ext4' }],
    nvme: true,
    expect: { status: 'linted', findings: [] },
  };
  let run: CheckRun;
  let lint: LintResult;
  let before: string;
  let after: string;
  let left: string[];
  let ms: number;
  let scratchFree: { before: number; after: number };

  beforeAll(async () => {
    const dir = tempDir('initramfs-bomb');
    const img = path.join(dir, 'root.img');
    buildImage(s, dir, img);
    before = await sha256(img);
    const scratch = path.join(dir, 'scratch');
    execFileSync('mkdir', ['-p', scratch]);
    const free = () => Number(execFileSync('df', ['-B1', '--output=avail', scratch], { encoding: 'utf8' }).split('\n')[1]);
    const dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
    const t0 = Date.now();
    const f0 = free();
    try {
      run = await lintDevice(s, dev, scratch);
    } finally {
      execFileSync('losetup', ['-d', dev]);
    }
    ms = Date.now() - t0;
    scratchFree = { before: f0, after: free() };
    left = await leftovers(scratch);
    after = await sha256(img);
    lint = judgeBootLint(s.name, run.facts, lintContext(s));
  }, 300_000);

  it('GIVEN the bomb THEN the listing stops at its cap, in bounded time, and the lint says the initramfs was not read to the end (a warning, never "nvme present")', () => {
    expect(run.status).toBe('ran');
    const fact = run.facts.find((f) => f.fact === 'initramfs')?.value as { ok: boolean; capped: boolean; error: string };
    expect(fact).toEqual(expect.objectContaining({ ok: false, capped: true }));
    expect(fact.error).toMatch(/more than 64 MiB of file names/);
    const finding = lint.findings.find((f) => f.id === 'initramfs-unreadable');
    expect(finding?.severity).toBe('warning');
    expect(finding?.message).toMatch(/not listed to the end/);
    expect(ms).toBeLessThan(120_000);
  });

  it('writes nothing to the scratch area (the listing lives in the sandbox\'s own capped /tmp), leaves nothing behind, and never writes the image', () => {
    // The old check wrote the whole listing under the scratch directory.
    expect(scratchFree.before - scratchFree.after).toBeLessThan(16 * 1024 * 1024);
    expect(left).toEqual([]);
    expect(after).toBe(before);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('initramfs-bomb');
  });
});
