import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isSameProcessAlive, processStartTicks, type ResourceRecord } from '../../src/ledger/resources.js';
import { tempDir } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const isRoot = process.geteuid?.() === 0;

/**
 * `snapdrill gc` runs as root and acts on ledgers. A ledger it did not write, or a record outside its rules, must be
 * reported (refused, exit 3) and never acted on: each test plants victims (a directory with a marker file, a sleeping
 * process leading its own group, as a run's check would) and a ledger naming them, runs the real gc, and checks
 * that every victim survived.
 */

interface Victims {
  scratch: string;
  state: string;
  dir: string;
  marker: string;
  proc: ChildProcess;
  pid: number;
  ticks: string;
}

const started: ChildProcess[] = [];
afterEach(() => {
  // Only the victims this file started, by their own pids.
  for (const p of started.splice(0)) if (p.pid && isSameProcessAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
});

function victims(): Victims {
  const scratch = tempDir('gc-hostile-scratch');
  const state = tempDir('gc-hostile-state');
  const dir = path.join(scratch, 'run-x', 'snap-victim');
  mkdirSync(dir, { recursive: true });
  const marker = path.join(dir, 'marker');
  writeFileSync(marker, 'must survive');
  const proc = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  started.push(proc);
  const pid = proc.pid!;
  return { scratch, state, dir, marker, proc, pid, ticks: processStartTicks(pid)! };
}

/** deadRun is a run header whose process is gone (gc only settles dead runs). */
function deadRun(runId: string): object {
  const gone = spawnSync('true').pid;
  return { type: 'run', runId, pid: gone, pidStart: '1', startedAt: new Date().toISOString(), host: 'test' };
}

function writeLedger(state: string, runId: string, records: ResourceRecord[], fileMode = 0o600): string {
  const runs = path.join(state, 'runs');
  mkdirSync(runs, { recursive: true, mode: 0o700 });
  const file = path.join(runs, `${runId}.jsonl`);
  const lines = [deadRun(runId), ...records.map((resource, i) => ({ type: 'acquire', id: i + 1, owner: 'run', resource }))];
  writeFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: fileMode });
  chmodSync(file, fileMode);
  return file;
}

function gc(v: Victims, extra: string[] = []): Promise<{ code: number | null; out: { resources: { action: string; resource: string; error?: string }[]; warnings: string[] }; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'gc', '--state-dir', v.state, '--scratch-dir', v.scratch, '--yes', '--json', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out: JSON.parse(stdout || '{"resources":[],"warnings":[]}'), stderr })));
}

function expectUntouched(v: Victims): void {
  expect(existsSync(v.marker), 'victim directory removed').toBe(true);
  expect(isSameProcessAlive(v.pid, v.ticks), 'victim process signalled').toBe(true);
}

const records = (v: Victims): ResourceRecord[] => [
  { kind: 'scratch-dir', path: v.dir },
  { kind: 'process', pid: v.pid, startTicks: v.ticks, what: 'victim', group: true },
];

describe('gc refuses ledgers it did not write', () => {
  it.runIf(isRoot)('GIVEN a ledger written by another user WHEN root gc runs THEN it is refused, gc exits 3, nothing is touched', async () => {
    const v = victims();
    const file = writeLedger(v.state, 'foreign', records(v));
    chownSync(file, 65534, 65534);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([{ runId: 'foreign', resource: `ledger ${file}`, action: 'refused', error: expect.stringMatching(/owned by uid 65534/) }]);
    expectUntouched(v);
    expect(existsSync(file)).toBe(true);
  });

  it('GIVEN a group-writable ledger WHEN gc runs THEN it is refused and nothing is touched', async () => {
    const v = victims();
    const file = writeLedger(v.state, 'groupw', records(v), 0o660);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([expect.objectContaining({ action: 'refused', error: expect.stringMatching(/writable by its group/) })]);
    expectUntouched(v);
    expect(existsSync(file)).toBe(true);
  });

  it('GIVEN a ledger that is a symlink to a ledger of ours WHEN gc runs THEN it is refused and nothing is touched', async () => {
    const v = victims();
    const real = writeLedger(tempDir('gc-hostile-elsewhere'), 'linked', records(v));
    mkdirSync(path.join(v.state, 'runs'), { mode: 0o700 });
    symlinkSync(real, path.join(v.state, 'runs', 'linked.jsonl'));
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([expect.objectContaining({ action: 'refused', error: expect.stringMatching(/symbolic link/) })]);
    expectUntouched(v);
  });

  it.runIf(isRoot)('GIVEN a state directory owned by another user WHEN root gc runs THEN nothing in it is trusted and nothing is touched', async () => {
    const v = victims();
    writeLedger(v.state, 'foreign-dir', records(v));
    chownSync(v.state, 65534, 65534);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([expect.objectContaining({ resource: `ledger ${v.state}`, action: 'refused', error: expect.stringMatching(/owned by uid 65534/) })]);
    expectUntouched(v);
  });

  it('GIVEN our state directory left open (0777) with a ledger of ours WHEN gc runs THEN it is set to 0700 with a warning and the ledger is settled', async () => {
    const v = victims();
    v.proc.kill('SIGKILL'); // this ledger is ours and legitimate: its scratch copy is removed
    writeLedger(v.state, 'ours', [{ kind: 'scratch-dir', path: v.dir }]);
    chmodSync(v.state, 0o777);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out.warnings.join()).toMatch(/was mode 0777; set to 0700/);
    expect(r.stderr).toMatch(/warning: .* set to 0700/);
    expect(existsSync(v.dir)).toBe(false);
  });
});

describe('gc refuses records outside its rules, in a ledger it trusts', () => {
  it('GIVEN a process record with pid 1 WHEN gc runs THEN it is refused and no process is signalled', async () => {
    const v = victims();
    writeLedger(v.state, 'pid1', [{ kind: 'process', pid: 1, startTicks: processStartTicks(1)!, what: 'init', group: true }]);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([expect.objectContaining({ action: 'refused', error: expect.stringMatching(/only pids above 1/) })]);
    expectUntouched(v);
  });

  it('GIVEN a process record without start ticks naming a live process WHEN gc runs THEN it is refused and the process lives', async () => {
    const v = victims();
    writeLedger(v.state, 'noticks', [{ kind: 'process', pid: v.pid, what: 'victim' }]);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([expect.objectContaining({ action: 'refused', error: expect.stringMatching(/without its start time/) })]);
    expectUntouched(v);
  });

  it('GIVEN a scratch directory outside the scratch root WHEN gc runs THEN it is refused and the directory stays', async () => {
    const v = victims();
    const outside = tempDir('gc-hostile-outside');
    writeFileSync(path.join(outside, 'marker'), 'must survive');
    writeLedger(v.state, 'outside', [{ kind: 'scratch-dir', path: outside }, { kind: 'mount', mountpoint: '/' }]);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    const refusedOutside = expect.objectContaining({ action: 'refused', error: expect.stringMatching(/outside the scratch root/) });
    expect(r.out.resources).toEqual([refusedOutside, refusedOutside]);
    expect(existsSync(path.join(outside, 'marker'))).toBe(true);
    expectUntouched(v);
  });

  it('GIVEN a scratch path that leaves the root through a symlink WHEN gc runs THEN it is refused and the target stays', async () => {
    const v = victims();
    const outside = tempDir('gc-hostile-target');
    mkdirSync(path.join(outside, 'victim'));
    writeFileSync(path.join(outside, 'victim', 'marker'), 'must survive');
    symlinkSync(outside, path.join(v.scratch, 'escape'));
    writeLedger(v.state, 'symlink', [{ kind: 'scratch-dir', path: path.join(v.scratch, 'escape', 'victim') }]);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources).toEqual([expect.objectContaining({ action: 'refused', error: expect.stringMatching(/resolves to .* outside the scratch root/) })]);
    expect(existsSync(path.join(outside, 'victim', 'marker'))).toBe(true);
    expectUntouched(v);
  });

  it('GIVEN a recorded process whose pid now belongs to another process (start time differs) WHEN gc runs THEN it is not signalled', async () => {
    const v = victims();
    writeLedger(v.state, 'recycled', [{ kind: 'process', pid: v.pid, startTicks: String(Number(v.ticks) - 1), what: 'an earlier process', group: true }]);
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(0); // a recorded process that is gone is settled; the pid's new owner is not ours
    expectUntouched(v);
  });

  it('GIVEN a trusted ledger mixing refused records with legitimate ones WHEN gc runs THEN the legitimate ones are settled, the refused ones reported, and the ledger kept', async () => {
    const v = victims();
    const own = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    started.push(own);
    const ownTicks = processStartTicks(own.pid!)!;
    const file = writeLedger(v.state, 'mixed', [
      { kind: 'process', pid: 1, startTicks: '1', what: 'init' },
      { kind: 'scratch-dir', path: path.join(v.scratch, 'run-x', 'snap-ours') },
      { kind: 'process', pid: own.pid!, startTicks: ownTicks, what: 'check', group: true },
    ]);
    mkdirSync(path.join(v.scratch, 'run-x', 'snap-ours'));
    const r = await gc(v);
    expect(r.code, r.stderr).toBe(3);
    expect(r.out.resources.map((o) => o.action).sort()).toEqual(['refused', 'removed', 'removed']);
    expect(isSameProcessAlive(own.pid!, ownTicks)).toBe(false);
    expect(existsSync(path.join(v.scratch, 'run-x', 'snap-ours'))).toBe(false);
    expect(existsSync(file)).toBe(true);
    expectUntouched(v);
  });
});
