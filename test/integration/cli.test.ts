import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogOf, cli, leftovers, tempDir } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('snapdrill CLI', () => {
  it('documents the exit codes in --help of every command', () => {
    for (const args of [['--help'], ['run', '--help'], ['checks', '--help'], ['validate', '--help'], ['gc', '--help']]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Exit codes:\n {2}0 {2}every snapshot met the policy/);
      expect(r.stdout).toMatch(/ {2}3 {2}the harness could not complete/);
    }
  });

  it('exits 2 with usage when no command is given', () => {
    const r = cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/name a command/);
  });

  it('validate: prints every issue with its JSON path and exits 2', () => {
    const dir = tempDir('cli');
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'provider: {type: local, catalog: /x}\nsnapshots: [{tags: oops}]\ntimeouts: {check: soon}\n');
    const r = cli(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/snapshots/0/tags: must be object');
    expect(r.stderr).toContain('/timeouts/check: must be a duration such as 500ms, 90s, 5m, 1h or 2d');
    writeFileSync(file, 'provider: {type: local, catalog: /x}\n');
    expect(cli(['validate', file])).toMatchObject({ code: 0 });
  });

  it('run: a missing snapshot id is named, exits 2, and nothing is created', () => {
    const scratch = tempDir('cli-scratch');
    const state = tempDir('cli-state');
    const r = cli(['run', '--provider', 'local', '--catalog', catalogOf(['ext4-clean.img']), '--id', 'snap-ext4-clean', '--id', 'snap-0badc0ffee', '--scratch-dir', scratch, '--state-dir', state, '--out', tempDir('cli-out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('snapshot not found in local catalog');
    expect(r.stderr).toContain('snap-0badc0ffee');
    expect(readdirSync(scratch)).toEqual([]);
    expect(existsSync(path.join(state, 'runs'))).toBe(false);
  });

  it('run: a bad sidecar names the file and the field, exits 2', () => {
    const catalog = catalogOf(['ext4-clean.img']);
    const side = path.join(catalog, 'ext4-clean.json');
    writeFileSync(`${side}.new`, JSON.stringify({ id: 'snap-x', startTime: 'yesterday', tags: { a: 1 } }));
    spawnSync('mv', [`${side}.new`, side]);
    const r = cli(['run', '--provider', 'local', '--catalog', catalog, '--out', tempDir('cli-out'), '--scratch-dir', tempDir('cli-scratch')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`in sidecar ${side}`);
    expect(r.stderr).toContain('/startTime: must match format "date-time"');
    expect(r.stderr).toContain('/tags/a: must be string');
  });

  it('run --json: per snapshot id, source, consistency and boot on stdout; progress only on stderr; exit 0 when all pass', () => {
    const scratch = tempDir('cli-scratch');
    const catalog = catalogOf(['ext4-clean.img', 'xfs-frozen.img']);
    const r = cli(['run', '--provider', 'local', '--catalog', catalog, '--json', '--scratch-dir', scratch, '--state-dir', tempDir('cli-state'), '--out', tempDir('cli-out')]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.snapshots.map((s: any) => [s.id, path.basename(s.source), s.consistency, s.boot, s.policy])).toEqual([
      ['snap-ext4-clean', 'ext4-clean.img', 'application-consistent', 'not-tested', 'pass'],
      ['snap-xfs-frozen', 'xfs-frozen.img', 'application-consistent', 'not-tested', 'pass'],
    ]);
    expect(summary.snapshots[1].filesystems[0]).toMatchObject({ target: 'disk', fstype: 'xfs', state: 'frozen', evidence: { 'xfs.log_state': 'DIRTY' } });
    expect(r.stderr).toMatch(/snap-ext4-clean: restore/);
    expect(existsSync(path.join(summary.reportDir, 'index.html'))).toBe(true);
  });

  it('run: exits 1 when a snapshot fails the policy, and a config can demand application-consistent', async () => {
    const scratch = tempDir('cli-scratch');
    const dir = tempDir('cli-cfg');
    const cfg = path.join(dir, 'snapdrill.yaml');
    writeFileSync(cfg, `provider: {type: local, catalog: ${catalogOf(['ext4-crash.img'])}, scratchDir: ${scratch}}\noutput: {dir: ${tempDir('cli-out')}, formats: [json]}\n`);
    const lenient = cli(['run', '-c', cfg, '--json', '--state-dir', tempDir('cli-state')]);
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(JSON.parse(lenient.stdout).snapshots[0].consistency).toBe('crash-consistent');
    writeFileSync(cfg, `provider: {type: local, catalog: ${catalogOf(['ext4-crash.img'])}, scratchDir: ${scratch}}\noutput: {dir: ${tempDir('cli-out')}, formats: [json]}\npolicy: {minimum: application-consistent}\n`);
    const strict = cli(['run', '-c', cfg, '--json', '--state-dir', tempDir('cli-state')]);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout).files.map((f: string) => path.basename(f))).toEqual(['report.json']);
    expect(await leftovers(scratch)).toEqual([]);
  });

  it('checks --json lists each check with what it applies to and needs', () => {
    const r = cli(['checks', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout);
    expect(list.find((c: any) => c.id === 'xfs')).toMatchObject({ stage: 'filesystem', appliesTo: ['xfs'], packages: { debian: ['xfsprogs'] }, mutatesScratchCopy: true });
  });

  it('refuses to run the local provider without root, with the remedy, exit 3', () => {
    const catalog = catalogOf(['ext4-clean.img']);
    chmodSync(catalog, 0o755);
    // The checkout may lie where other users cannot traverse (/root/..., a mktemp -d directory): in a private
    // mount namespace it is bind-mounted at a traversable path first, so only the uid under test differs.
    const view = tempDir('cli-nobody');
    chmodSync(view, 0o755);
    const node = process.execPath;
    const args = [node, '--import', 'tsx', 'src/bin.ts', 'run', '--provider', 'local', '--catalog', catalog, '--state-dir', '/tmp/nobody-state', '--out', '/tmp/nobody-out'];
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"', 'sh', ROOT, view, ...args], {
      encoding: 'utf8',
      env: { ...process.env, HOME: '/tmp' },
    });
    expect(r.stderr).toContain('the local provider needs root');
    expect(r.stderr).toContain('remedy: run snapdrill with sudo');
    expect(r.status).toBe(3);
  });
});
