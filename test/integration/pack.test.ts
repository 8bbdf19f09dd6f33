import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Asynchronous, so the worker keeps answering vitest while npm works. */
const exec = promisify(execFile);

/** The published package, installed from its tarball into a prefix of its own, works without the checkout. */
describe('the packed tarball', () => {
  let bin: string;
  let work: string;

  beforeAll(async () => {
    work = tempDir('pack');
    // prepack builds dist/; --offline installs the dependencies from npm's cache (filled by npm ci), so no network.
    await exec('npm', ['pack', '--pack-destination', work], { cwd: ROOT });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    const prefix = path.join(work, 'prefix');
    await exec('npm', ['install', '--global', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, path.join(work, tgz)], { cwd: work });
    bin = path.join(prefix, 'bin', 'snapdrill');
  }, 300_000);

  const run = (args: string[], input?: string) => spawnSync(bin, args, { cwd: work, encoding: 'utf8', input: input ?? '' });

  it('GIVEN the installed package THEN --help, checks, validate and diagnose work from there', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('snapdrill <command>');

    const checks = run(['checks', '--json']);
    expect(checks.status).toBe(0);
    expect(JSON.parse(checks.stdout).map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining(['discover', 'ext4', 'xfs', 'postgresql', 'sqlite', 'bootlint']));

    const cfg = path.join(work, 'snapdrill.yaml');
    writeFileSync(cfg, 'provider: {type: local, catalog: /tmp}\n');
    const valid = run(['validate', cfg]);
    expect(valid.status).toBe(0);
    writeFileSync(cfg, 'provider: {type: local, catalog: /tmp}\nconcurrency: many\n');
    const invalid = run(['validate', cfg]);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr + invalid.stdout).toContain('/concurrency');

    // The diagnosis catalog is data shipped beside the schemas: reading a console from stdin needs it.
    const diag = run(['diagnose', '-'], 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
    expect(diag.status).toBe(0);
    expect(diag.stdout).toContain('root-fs-unmountable');
  });
});
