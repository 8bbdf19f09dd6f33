import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { inject } from 'vitest';
import { currentMounts, loopDevices, releaseResource } from '../src/ledger/resources.js';

/** fsCatalog is the fixture catalog built by test/setup/fixtures.ts. */
export function fsCatalog(): string {
  return inject('fsCatalog');
}

/** dbCatalog is the database fixture catalog built by test/setup/fixtures.ts. */
export function dbCatalog(): string {
  return inject('dbCatalog');
}

/** bootCatalog is the bootable Debian disk and its broken variants (fixtures/build-boot.sh). */
export function bootCatalog(): string {
  return inject('bootCatalog');
}

/** fixture returns the path of one fixture image. */
export function fixture(name: string): string {
  return path.join(fsCatalog(), name);
}

/** sha256 hashes a file by streaming it (fixtures are sparse but up to 512 MiB). */
export function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

const made: string[] = [];

/** tempDir makes a fresh directory for one test; test/setup/cleanup.ts removes it after the file's tests. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `snapdrill-${prefix}-`));
  made.push(d);
  return d;
}

/**
 * removeTempDirs deletes every directory tempDir made in this test file, the way the product releases a
 * scratch directory: processes using it stopped, mounts under it unmounted, loop devices detached, then
 * removed. A failed test must not leave a mount behind, nor delete files through one.
 */
export async function removeTempDirs(): Promise<void> {
  for (const d of made.splice(0)) await releaseResource({ kind: 'scratch-dir', path: d });
}

/** catalogOf makes a catalog directory holding symlinks to the named fixtures (with their sidecars), from either fixture catalog. */
export function catalogOf(names: string[]): string {
  const dir = tempDir('cat');
  for (const n of names) {
    const base = n.replace(/\.(img|raw)$/, '');
    const from = [fsCatalog(), dbCatalog(), bootCatalog()].find((c) => readdirSync(c).includes(n));
    if (!from) throw new Error(`no fixture named ${n}`);
    for (const f of readdirSync(from).filter((f) => f === n || f === `${base}.json`)) {
      execFileSync('ln', ['-s', path.join(from, f), path.join(dir, f)]);
    }
  }
  return dir;
}

/** leftovers lists loop devices and mounts that reference a directory: what a clean run must not leave. */
export async function leftovers(dir: string): Promise<string[]> {
  const loops = (await loopDevices()).filter((l) => l.backFile.startsWith(dir)).map((l) => `loop ${l.name} -> ${l.backFile}`);
  const mounts = currentMounts()
    .filter((m) => m.mountpoint.startsWith(dir))
    .map((m) => `mount ${m.mountpoint}`);
  return [...loops, ...mounts];
}

/** CliResult is how a snapdrill process ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BIN = path.resolve(import.meta.dirname, '../src/bin.ts');

/** cli runs `snapdrill` from source as a child process (CI set: plain progress), synchronously. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', BIN, ...args], { cwd: path.dirname(path.dirname(BIN)), env: { ...process.env, CI: '1', ...env }, encoding: 'utf8', timeout: 170_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** cliAsync is cli without blocking this process: for tests whose own servers (a webhook receiver) must answer the run. */
export function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], { cwd: path.dirname(path.dirname(BIN)), env: { ...process.env, CI: '1', ...env }, timeout: 170_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
