import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listLedgers } from '../../src/ledger/ledger.js';
import { currentMounts, isSameProcessAlive, processesUsing } from '../../src/ledger/resources.js';
import { catalogOf, leftovers, tempDir } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const HOLD_CHECKS = path.join(ROOT, 'test/fixtures/checks');

function cli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ledgerText(stateDir: string): string {
  const dir = path.join(stateDir, 'runs');
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('');
}

/** recordedPids lists the check processes a run recorded in its ledger. */
function recordedPids(stateDir: string): { pid: number; startTicks?: string }[] {
  return ledgerText(stateDir)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'acquire' && l.resource.kind === 'process')
    .map((l) => l.resource);
}

function setup() {
  return {
    catalog: catalogOf(['ext4-clean.img', 'xfs-crash.img', 'gpt-two.img']),
    scratch: tempDir('kill-scratch'),
    state: tempDir('kill-state'),
    out: tempDir('kill-out'),
  };
}

function runArgs(s: ReturnType<typeof setup>): string[] {
  return ['run', '--provider', 'local', '--catalog', s.catalog, '--scratch-dir', s.scratch, '--state-dir', s.state, '--out', s.out, '--progress', 'plain', '-j', '3'];
}

/** Kill points: each waits for a different stage to be under way, judged from the ledger or the mount table. */
const KILL_POINTS: [string, (s: ReturnType<typeof setup>) => boolean][] = [
  ['scratch copy recorded', (s) => ledgerText(s.state).includes('"kind":"scratch-dir","path":"' + s.scratch + '/')],
  ['loop device attached', (s) => /"type":"update".*"kind":"loop".*"device":"\/dev\/loop/.test(ledgerText(s.state))],
  ['check holding a mount', (s) => currentMounts().some((m) => m.mountpoint.startsWith(s.scratch))],
];

describe('a run killed mid-flight', () => {
  for (const [point, reached] of KILL_POINTS) {
    it(`GIVEN a run killed with SIGKILL at "${point}" WHEN snapdrill gc runs THEN nothing is left`, async () => {
      const s = setup();
      const child = cli(runArgs(s), { SNAPDRILL_EXTRA_CHECKS: HOLD_CHECKS });
      const done = exited(child);
      await waitFor(point, () => reached(s));
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');

      // The run could not clean up: its ledger says what it held.
      const left = listLedgers(s.state);
      expect(left).toHaveLength(1);
      expect(left[0]!.alive).toBe(false);
      expect(left[0]!.resources.length).toBeGreaterThan(0);
      const pids = recordedPids(s.state);

      const gc = await exited(cli(['gc', '--state-dir', s.state, '--scratch-dir', s.scratch, '--yes', '--json']));
      expect(gc.code, gc.stderr).toBe(0);
      const outcome = JSON.parse(gc.stdout) as { resources: { action: string }[] };
      expect(outcome.resources.length).toBeGreaterThan(0);
      expect(outcome.resources.every((r) => r.action === 'removed')).toBe(true);

      expect(await leftovers(s.scratch)).toEqual([]);
      expect(readdirSync(s.scratch)).toEqual([]);
      expect(listLedgers(s.state)).toEqual([]);
      for (const p of pids) expect(isSameProcessAlive(p.pid, p.startTicks), `check process ${p.pid} still alive`).toBe(false);

      // A second gc finds nothing: removal is complete, not just recorded.
      const again = await exited(cli(['gc', '--state-dir', s.state, '--scratch-dir', s.scratch, '--yes']));
      expect(again.stdout).toBe('nothing left over\n');
    });
  }

  it('GIVEN a run killed with SIGKILL while PostgreSQL runs on the scratch copy WHEN gc runs THEN it kills only what the run recorded and never reports a busy copy as removed', async () => {
    const s = { ...setup(), catalog: catalogOf(['pg-crash.img']) };
    // A canary that sleeps keeps the server up long enough for the kill to land while it runs.
    const cfg = path.join(tempDir('kill-cfg'), 'snapdrill.yaml');
    writeFileSync(cfg, `provider: {type: local, catalog: ${s.catalog}}\ndatabases:\n  canaries: [{name: slow, engine: postgresql, database: shop, query: "select pg_sleep(120)", equals: ""}]\n`);
    const child = cli([...runArgs(s), '-c', cfg]);
    const done = exited(child);
    // Wait for the sleeping canary itself ("postgres: ... SELECT"): the check is then blocked in psql and
    // cannot notice the kill (an earlier write to the dead pipe would stop the server through its EXIT trap).
    const cmdline = (p: number) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    };
    const serverRunning = () => processesUsing(s.scratch).some((p) => /postgres.*SELECT/.test(cmdline(p)));
    await waitFor('the canary query running in postgres on the copy', () => {
      try {
        return serverRunning();
      } catch {
        return false;
      }
    });
    child.kill('SIGKILL');
    await done;
    expect(processesUsing(s.scratch).length).toBeGreaterThan(0);
    const recorded = recordedPids(s.state);
    const gc = await exited(cli(['gc', '--state-dir', s.state, '--scratch-dir', s.scratch, '--yes']));
    for (const p of recorded) expect(isSameProcessAlive(p.pid, p.startTicks), `recorded process ${p.pid} still alive`).toBe(false);
    if (gc.code !== 0) {
      // The server is not a process the run recorded (it runs below the check, in a session or sandbox of its own
      // that the run did not record as a group): gc does not look for processes by path, so it reports the copy as
      // busy, leaves it and exits 3, and the server lives. (Once the run records each check's sandbox as the group it
      // leads, the server dies with it and the first gc settles everything: the other branch.)
      expect(gc.code, gc.stderr).toBe(3);
      expect(gc.stdout).toMatch(/failed +.*(is busy, used by \d+|is still in use)/);
      expect(gc.stdout).not.toMatch(/removed +scratch directory/);
      const server = processesUsing(s.scratch).filter((p) => /postgres/.test(cmdline(p)));
      expect(server.length, 'gc must not kill what the run did not record').toBeGreaterThan(0);
      expect(listLedgers(s.state)).toHaveLength(1);
      // This test started them (through the run): end the sessions holding the copy, by pid, then gc again.
      const sessionOf = (p: number) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
      const sessions = new Set(server.map(sessionOf));
      for (const e of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
        try {
          if (sessions.has(sessionOf(Number(e)))) process.kill(Number(e), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await waitFor('the server to stop', () => processesUsing(s.scratch).length === 0, 30_000);
      const again = await exited(cli(['gc', '--state-dir', s.state, '--scratch-dir', s.scratch, '--yes']));
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }
    expect(processesUsing(s.scratch)).toEqual([]);
    expect(await leftovers(s.scratch)).toEqual([]);
    expect(readdirSync(s.scratch)).toEqual([]);
    expect(listLedgers(s.state)).toEqual([]);
  });

  /** qemuOn lists the pids of snapdrill boot-test VMs whose files are under dir. */
  const qemuOn = (dir: string) =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          return cmd.startsWith('qemu-system-x86_64') && cmd.includes(dir);
        } catch {
          return false;
        }
      });

  const bootRun = () => {
    const s = { ...setup(), catalog: catalogOf(['boot-good.img']) };
    const cfg = path.join(tempDir('kill-cfg'), 'snapdrill.yaml');
    writeFileSync(cfg, `provider: {type: local, catalog: ${s.catalog}, scratchDir: ${s.scratch}}\ndatabases: {enabled: false}\nboot: {enabled: true, memory: 512}\n`);
    return { s, args: ['run', '-c', cfg, '--state-dir', s.state, '--out', s.out, '--progress', 'plain'] };
  };

  it('GIVEN a run killed with SIGKILL while its VM boots WHEN gc runs THEN the VM is killed and its overlay removed', async () => {
    const { s, args } = bootRun();
    const child = cli(args);
    const done = exited(child);
    await waitFor('QEMU booting the restored copy', () => qemuOn(s.scratch).length > 0, 180_000);
    child.kill('SIGKILL');
    await done;
    expect(qemuOn(s.scratch).length).toBe(1);
    expect(recordedPids(s.state).some((p) => p.pid === Number(qemuOn(s.scratch)[0]))).toBe(true);
    const gc = await exited(cli(['gc', '--state-dir', s.state, '--scratch-dir', s.scratch, '--yes']));
    expect(gc.code, gc.stderr).toBe(0);
    expect(qemuOn(s.scratch)).toEqual([]);
    expect(await leftovers(s.scratch)).toEqual([]);
    expect(readdirSync(s.scratch)).toEqual([]);
  }, 300_000);

  it('GIVEN a run that receives SIGTERM while its VM boots THEN it kills the VM, removes everything and exits 3', async () => {
    const { s, args } = bootRun();
    const child = cli(args);
    const done = exited(child);
    await waitFor('QEMU booting the restored copy', () => qemuOn(s.scratch).length > 0, 180_000);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(3);
    expect(qemuOn(s.scratch)).toEqual([]);
    expect(await leftovers(s.scratch)).toEqual([]);
    expect(readdirSync(s.scratch)).toEqual([]);
    expect(listLedgers(s.state)).toEqual([]);
  }, 300_000);

  it('GIVEN a run that receives SIGTERM while a check holds a mount THEN it removes everything itself, reports the interruption and exits 3', async () => {
    const s = setup();
    const child = cli(runArgs(s), { SNAPDRILL_EXTRA_CHECKS: HOLD_CHECKS });
    const done = exited(child);
    await waitFor('a check holding a mount', () => currentMounts().some((m) => m.mountpoint.startsWith(s.scratch)));
    const pids = recordedPids(s.state);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/SIGTERM received/);
    expect(await leftovers(s.scratch)).toEqual([]);
    expect(readdirSync(s.scratch)).toEqual([]);
    expect(listLedgers(s.state)).toEqual([]);
    for (const p of pids) expect(isSameProcessAlive(p.pid, p.startTicks)).toBe(false);
    const report = JSON.parse(readFileSync(path.join(s.out, 'latest', 'report.json'), 'utf8'));
    expect(report.interrupted).toBe(true);
    expect(report.exitCode).toBe(3);
    expect(report.errors.map((e: { code: string }) => e.code)).toContain('interrupted');
  });

  it('GIVEN a live run WHEN gc runs alongside THEN gc leaves its resources alone', async () => {
    const s = setup();
    const child = cli(runArgs(s), { SNAPDRILL_EXTRA_CHECKS: HOLD_CHECKS });
    const done = exited(child);
    await waitFor('a check holding a mount', () => currentMounts().some((m) => m.mountpoint.startsWith(s.scratch)));
    const gc = await exited(cli(['gc', '--state-dir', s.state, '--scratch-dir', s.scratch, '--yes', '--json']));
    const outcome = JSON.parse(gc.stdout) as { resources: { action: string }[] };
    expect(outcome.resources.length).toBeGreaterThan(0);
    expect(outcome.resources.every((r) => r.action === 'skipped-live-run')).toBe(true);
    expect(currentMounts().some((m) => m.mountpoint.startsWith(s.scratch))).toBe(true);
    child.kill('SIGINT');
    expect((await done).code).toBe(3);
    expect(await leftovers(s.scratch)).toEqual([]);
  });
});
