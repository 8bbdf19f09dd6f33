import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogOf, tempDir } from '../helpers.js';
import { consoleScreenshot, ec2Error, ec2Xml, JPEG_BASE64 } from '../aws/fault-proxy.js';
import { AWS_ENV, useEmulator } from '../aws/use-emulator.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PUBLISHED = path.join(ROOT, 'test/golden/console/published');
const ENV = { ...AWS_ENV, NO_COLOR: '1' };

/**
 * cli runs `snapdrill diagnose` with `input` on its standard input; output is decoded as UTF-8 once whole. Never
 * spawnSync: the AWS endpoint of --instance (the fault proxy) lives in this process, and a worker blocked by calls
 * that add up to a minute misses vitest's answers to it ("Timeout calling onTaskUpdate").
 */
function cli(args: string[], input?: string | Buffer): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'diagnose', ...args], { cwd: ROOT, env: ENV });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => stdout.push(d));
    p.stderr.on('data', (d: Buffer) => stderr.push(d));
    p.on('error', reject);
    // 'close', not 'exit': both pipes are drained.
    p.on('close', (status) => resolve({ status, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }));
    p.stdin.on('error', () => {}); // a command that does not read its input may close it first
    p.stdin.end(input);
  });
}

describe('snapdrill diagnose --console', () => {
  it('explains a pasted transcript in the terminal: the likely cause, why, the fix, and the lines that show it', async () => {
    const r = await cli(['--console', path.join(PUBLISHED, 'fstab-missing-device-2.txt')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Likely cause: An \/etc\/fstab entry names a device this instance does not have \[fstab-missing-device\]\n  Why: .*\n  Fix: .*nofail/);
    expect(r.stdout).toMatch(/\n  line \d+: .*Dependency failed for \/var\/lib\/cassandra/);
  });

  it('--json gives the cause ids with their matched lines and remedies; reads standard input with -', async () => {
    const text = readFileSync(path.join(PUBLISHED, 'kernel-panic-vfs-2.txt'), 'utf8');
    const r = await cli(['--console', '-', '--json'], text);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe('stdin');
    expect(out.causes[0]).toMatchObject({ id: 'root-fs-unmountable', remedy: expect.stringMatching(/initramfs/) });
    expect(out.causes[0].matches[0]).toEqual({ line: expect.any(Number), text: expect.stringMatching(/VFS: /), signature: expect.any(String) });
  });

  it('reads standard input with a lone "-" (as the README documents), and prints no escape sequence of a hostile transcript', async () => {
    // OSC 52 (clipboard), clear screen, 8-bit CSI, NEL, a bidi override, invalid UTF-8: nothing of it may reach the terminal as a control.
    const hostile = Buffer.concat([
      Buffer.from('[    0.000000] Linux version 6.1.0\n'),
      Buffer.from('boot \x1b]52;c;cm0gLXJmIH4K\x07ok \x1b[2J\x1b[H\u009b31mred \u0085 \u202eevil\n'),
      Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x0a]),
    ]);
    const r = await cli(['-'], hostile);
    const out = r.stdout;
    expect(r.status, r.stderr).toBe(0);
    expect(out).toMatch(/No known failure signature in \d+ line\(s\) of console output from stdin/);
    expect(out).toContain('boot ok red');
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    // --json keeps the data (escaped), with nothing a terminal would act on.
    const json = (await cli(['-', '--json'], hostile.toString('utf8'))).stdout;
    expect(JSON.parse(json).source).toBe('stdin');
    expect(json).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
  });

  it('says plainly when nothing matches, instead of guessing', async () => {
    const f = path.join(tempDir('diag'), 'clean.txt');
    writeFileSync(f, '[    0.000000] Linux version 6.1.0\n[  OK  ] Reached target Multi-User System.\n\nDebian GNU/Linux 12 host ttyS0\n\nhost login: \n');
    const r = await cli(['--console', f]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^No known failure signature in 7 line\(s\) of console output from .*clean\.txt\.\nsnapdrill does not guess\./);
    const j = JSON.parse((await cli(['--console', f, '--json'])).stdout);
    expect(j.causes).toEqual([]);
  });

  it('writes an HTML page with the transcript escaped and the matched lines highlighted', async () => {
    const dir = tempDir('diag');
    const f = path.join(dir, 'evil.txt');
    writeFileSync(f, '<script>alert(1)</script>\nKernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
    const html = path.join(dir, 'd.html');
    expect((await cli(['--console', f, '--html', html])).status).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toMatch(/<mark id="c-L2">.*VFS: Unable to mount root fs/);
    expect(page).toContain('Likely cause: The kernel could not mount the root filesystem');
  });

  it('names the file on bad input (missing, empty) and exits 2; insists on exactly one source', async () => {
    const missing = await cli(['--console', '/nonexistent/console.txt']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--console: cannot read \/nonexistent\/console\.txt: ENOENT/);
    const f = path.join(tempDir('diag'), 'empty.txt');
    writeFileSync(f, '\n\n');
    const empty = await cli(['--console', f]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/empty\.txt is empty/);
    expect((await cli([])).status).toBe(2);
  });
});

describe('snapdrill diagnose --snapshot (lint of the restored root)', () => {
  it('restores the snapshot, lints its root, and prints the findings with the console diagnosis', async () => {
    const catalog = catalogOf(['boot-fstab-missing.img', 'ext4-clean.img']);
    const dir = tempDir('diag-snap');
    const cfg = path.join(dir, 'local.yaml');
    writeFileSync(cfg, `provider: {type: local, catalog: ${catalog}, scratchDir: ${tempDir('diag-scratch')}}\n`);
    const state = tempDir('diag-state');
    const r = await cli(['--snapshot', 'snap-boot-fstab-missing', '-c', cfg, '--state-dir', state, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.causes).toEqual([]);
    expect(out.lint[0]).toMatchObject({ target: 'p2', status: 'linted' });
    expect(out.lint[0].findings.map((f: { id: string }) => f.id)).toContain('fstab-device-missing');
    const both = await cli(['test/golden/console/boot-fstab-missing.txt', '--snapshot', 'snap-boot-fstab-missing', '-c', cfg, '--state-dir', state]);
    expect(both.status, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/^Likely cause: .*\[fstab-missing-device\][\s\S]*\nLint error on p2: .*\/dev\/xvdf.* \[fstab-device-missing\]/);
    // A filesystem without a root says so; a snapshot that does not exist is named (exit 2).
    const plain = JSON.parse((await cli(['--snapshot', 'snap-ext4-clean', '-c', cfg, '--state-dir', state, '--json'])).stdout);
    expect(plain.lint).toEqual([{ target: 'disk', status: 'not-root', reason: expect.stringMatching(/^no root filesystem found on snap-ext4-clean/), findings: [] }]);
    const missing = await cli(['--snapshot', 'snap-nope', '-c', cfg, '--state-dir', state]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/snap-nope/);
  }, 120_000);
});

describe('snapdrill diagnose --instance (moto + fault proxy)', () => {
  const emu = useEmulator();

  it('fetches the latest console output of the instance and explains it', async () => {
    const text = readFileSync(path.join(PUBLISHED, 'root-device-not-found.txt'), 'utf8');
    emu.proxy.addRule(
      ec2Xml('GetConsoleOutput', (req) => `<?xml version="1.0" encoding="UTF-8"?>\n<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instanceId>${req.params.get('InstanceId')}</instanceId><timestamp>2026-11-24T00:00:00.000Z</timestamp><output>${Buffer.from(text).toString('base64')}</output></GetConsoleOutputResponse>`, { times: 1 }),
    );
    emu.proxy.addRule(consoleScreenshot(JPEG_BASE64, { times: 1 }));
    const html = path.join(tempDir('diag-aws'), 'd.html');
    const r = await cli(['--instance', 'i-0123456789abcdef0', '-c', emu.configFile(), '--json', '--html', html]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source).toBe('i-0123456789abcdef0');
    expect(out.screenshot).toBe(true);
    expect(readFileSync(html, 'utf8')).toContain(`src="data:image/jpeg;base64,${JPEG_BASE64}"`);
    expect(out.causes[0].id).toBe('root-device-not-found');
    const call = emu.proxy.calls.find((c) => c.action === 'GetConsoleOutput')!;
    expect(call.params!.get('Latest')).toBe('true');
  });

  it('names an instance that does not exist, and exits 2', async () => {
    emu.proxy.addRule(ec2Error('GetConsoleOutput', 'InvalidInstanceID.NotFound', "The instance ID 'i-0000000000000dead' does not exist", 400, { times: 1 }));
    const r = await cli(['--instance', 'i-0000000000000dead', '-c', emu.configFile()]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/instance i-0000000000000dead does not exist in us-east-1/);
  });
});
