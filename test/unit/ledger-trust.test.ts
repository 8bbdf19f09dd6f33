import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ledger, scanLedgers } from '../../src/ledger/ledger.js';
import { isSameProcessAlive, processStartTicks, releaseResource, settleOrder, type ResourceRecord } from '../../src/ledger/resources.js';
import { readTrustedFile, recordRefusal, scratchRoots, secureDir } from '../../src/ledger/trust.js';
import { tempDir } from '../helpers.js';

const isRoot = process.geteuid?.() === 0;
const mode = (p: string) => statSync(p).mode & 0o7777;
const rootOf = (dir: string) => scratchRoots([dir]).roots;

describe('state directory', () => {
  it('GIVEN no state directory WHEN a run starts its ledger THEN the state and runs/ directories are 0700 and the ledger 0600, whatever the umask', () => {
    const state = path.join(tempDir('trust-state'), 'nested', 'state');
    const old = process.umask(0o000);
    try {
      const l = Ledger.create(state, 'run-1');
      expect(mode(state)).toBe(0o700);
      expect(mode(path.join(state, 'runs'))).toBe(0o700);
      expect(mode(l.file)).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('GIVEN a state directory of ours that others can read and write WHEN secured THEN it is set to 0700 with a warning naming the old mode', () => {
    const state = tempDir('trust-loose');
    chmodSync(state, 0o777);
    const check = secureDir(state, { create: false });
    expect(check.refused).toBeUndefined();
    expect(check.warnings.join()).toMatch(/was mode 0777; set to 0700/);
    expect(mode(state)).toBe(0o700);
  });

  it('GIVEN a looser state directory of ours WHEN only listed (no fix) THEN it is left as it is and the warning says gc will fix it', () => {
    const state = tempDir('trust-loose-list');
    chmodSync(state, 0o755);
    expect(secureDir(state, { create: false, fix: false }).warnings.join()).toMatch(/is mode 0755; gc sets it to 0700/);
    expect(mode(state)).toBe(0o755);
  });

  it.runIf(isRoot)('GIVEN a state directory owned by another user WHEN secured THEN it is refused and its mode is left alone', () => {
    const state = tempDir('trust-foreign');
    chownSync(state, 65534, 65534);
    chmodSync(state, 0o777);
    expect(secureDir(state, { create: false }).refused).toMatch(/owned by uid 65534/);
    expect(mode(state)).toBe(0o777);
    expect(() => Ledger.create(state, 'run-1')).toThrow(/owned by uid 65534/);
  });

  it.each([
    ['a shared sticky directory like /tmp', 0o1777, [] as string[]],
    ['a directory holding other things like /var/lib', 0o755, ['postgresql']],
  ])('GIVEN %s named as the state directory THEN it is refused, never chmodded', (_what, m, entries) => {
    const dir = tempDir('trust-shared');
    for (const e of entries) mkdirSync(path.join(dir, e));
    chmodSync(dir, m);
    expect(secureDir(dir, { create: true }).refused).toMatch(/use a state directory of its own/);
    expect(mode(dir)).toBe(m);
  });

  it('GIVEN a file where the state directory should be THEN it is refused', () => {
    const f = path.join(tempDir('trust-file'), 'state');
    writeFileSync(f, '');
    expect(secureDir(f, { create: true }).refused).toMatch(/not a directory/);
  });
});

describe('ledger files', () => {
  const ledgerText = `${JSON.stringify({ type: 'run', runId: 'r', pid: 2147483646, startedAt: 'x', host: 'h' })}\n`;

  it('GIVEN a regular 0600 ledger of ours THEN it is read', () => {
    const f = path.join(tempDir('trust-ok'), 'r.jsonl');
    writeFileSync(f, ledgerText, { mode: 0o600 });
    expect(readTrustedFile(f)).toEqual({ text: ledgerText });
  });

  it.each([
    [0o620, /writable by its group/],
    [0o602, /writable by other users/],
  ])('GIVEN a ledger of mode %o THEN it is refused', (m, reason) => {
    const f = path.join(tempDir('trust-mode'), 'r.jsonl');
    writeFileSync(f, ledgerText);
    chmodSync(f, m);
    expect(readTrustedFile(f)).toEqual({ refused: expect.stringMatching(reason) });
  });

  it('GIVEN a ledger that is a symlink (even to a ledger of ours) THEN it is refused', () => {
    const dir = tempDir('trust-link');
    writeFileSync(path.join(dir, 'real'), ledgerText, { mode: 0o600 });
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'r.jsonl'));
    expect(readTrustedFile(path.join(dir, 'r.jsonl'))).toEqual({ refused: expect.stringMatching(/symbolic link/) });
  });

  it.runIf(isRoot)('GIVEN a ledger owned by another user in our state directory THEN scanLedgers refuses it and reads the others', () => {
    const state = tempDir('trust-scan');
    mkdirSync(path.join(state, 'runs'), { mode: 0o700 });
    writeFileSync(path.join(state, 'runs', 'mine.jsonl'), ledgerText, { mode: 0o600 });
    writeFileSync(path.join(state, 'runs', 'theirs.jsonl'), ledgerText, { mode: 0o600 });
    chownSync(path.join(state, 'runs', 'theirs.jsonl'), 65534, 65534);
    const scan = scanLedgers(state);
    expect(scan.runs.map((r) => path.basename(r.file))).toEqual(['mine.jsonl']);
    expect(scan.refused).toEqual([{ file: path.join(state, 'runs', 'theirs.jsonl'), reason: expect.stringMatching(/owned by uid 65534/) }]);
  });
});

describe('records', () => {
  const scratch = tempDir('trust-scratch');
  const roots = rootOf(scratch);

  it.each<[string, ResourceRecord, RegExp]>([
    ['pid 1', { kind: 'process', pid: 1, startTicks: '1', what: 'x' }, /only pids above 1/],
    ['pid 0', { kind: 'process', pid: 0, startTicks: '1', what: 'x' }, /only pids above 1/],
    ['pid -1', { kind: 'process', pid: -1, startTicks: '1', what: 'x' }, /only pids above 1/],
    ['a fractional pid', { kind: 'process', pid: 1.5, startTicks: '1', what: 'x' }, /only pids above 1/],
    ['a string pid', { kind: 'process', pid: '-1' as unknown as number, startTicks: '1', what: 'x' }, /only pids above 1/],
    ['no start ticks', { kind: 'process', pid: 4242, what: 'x' }, /without its start time/],
    ['gc itself', { kind: 'process', pid: process.pid, startTicks: '1', what: 'x' }, /gc itself/],
    ['a path outside the scratch root', { kind: 'scratch-dir', path: '/etc' }, /outside the scratch root/],
    ['the scratch root itself', { kind: 'scratch-dir', path: scratch }, /outside the scratch root/],
    ['a path climbing out', { kind: 'scratch-dir', path: `${scratch}/../x` }, /not a normalized path/],
    ['a relative path', { kind: 'mount', mountpoint: 'x/y' }, /not an absolute path/],
    ['a loop backing file outside', { kind: 'loop', backingFile: '/var/lib/x.img' }, /outside the scratch root/],
    ['a device that is not a loop device', { kind: 'loop', backingFile: `${scratch}/x.img`, device: '/dev/sda' }, /not a \/dev\/loopN/],
    ['a malformed instance id', { kind: 'aws-instance', id: 'i-$(reboot)', region: 'us-east-1' }, /malformed/],
    ['a malformed region', { kind: 'aws-volume', id: 'vol-0123456789abcdef0', region: 'http://x' }, /malformed/],
  ])('GIVEN a record with %s THEN it is refused', (_what, r, reason) => {
    expect(recordRefusal(r, roots)).toMatch(reason);
  });

  it('GIVEN a path below the scratch root that goes through a symlink out of it THEN it is refused', () => {
    const outside = tempDir('trust-outside');
    symlinkSync(outside, path.join(scratch, 'escape'));
    expect(recordRefusal({ kind: 'scratch-dir', path: path.join(scratch, 'escape', 'victim') }, roots)).toMatch(/resolves to .* outside the scratch root/);
  });

  it('GIVEN no scratch root at all THEN local paths are refused, naming --scratch-dir', () => {
    expect(recordRefusal({ kind: 'scratch-dir', path: path.join(scratch, 'run') }, [])).toMatch(/--scratch-dir/);
  });

  it.each<[string, ResourceRecord]>([
    ['a scratch copy', { kind: 'scratch-dir', path: path.join(scratch, 'run-1', 'snap') }],
    ['a loop device', { kind: 'loop', backingFile: path.join(scratch, 'run-1', 'disk.img'), device: '/dev/loop7' }],
    ['a process with its start time', { kind: 'process', pid: 4242, startTicks: '123456', what: 'check' }],
    ['a helper', { kind: 'aws-instance', id: 'i-0123456789abcdef0', region: 'eu-west-1' }],
    ['an attachment', { kind: 'aws-attachment', volumeId: 'vol-0123456789abcdef0', instanceId: 'i-0123456789abcdef0', region: 'us-gov-west-1' }],
  ])('GIVEN %s as a run records it THEN it is accepted', (_what, r) => {
    expect(recordRefusal(r, roots)).toBeUndefined();
  });
});

describe('scratch roots', () => {
  it('GIVEN / or a relative path or a directory anyone can write (not sticky) THEN it is no scratch root', () => {
    const open = tempDir('trust-open');
    chmodSync(open, 0o777);
    const r = scratchRoots(['/', 'relative/dir', open]);
    expect(r.roots).toEqual([]);
    expect(r.refused.join('\n')).toMatch(/root directory[\s\S]*not an absolute path[\s\S]*writable by group or others/);
  });

  it('GIVEN a sticky world-writable directory like /var/tmp THEN it may be a scratch root', () => {
    const sticky = tempDir('trust-sticky');
    chmodSync(sticky, 0o1777);
    expect(scratchRoots([sticky]).roots.map((r) => r.path)).toEqual([sticky]);
  });
});

describe('settle order', () => {
  it('GIVEN a run holding a helper, its volumes and attachments WHEN settled THEN the helper goes first, then the rest newest first', () => {
    const rec = (id: number, resource: ResourceRecord) => ({ id, resource });
    const order = settleOrder([
      rec(1, { kind: 'aws-instance', id: 'i-0123456789abcdef0', region: 'us-east-1' }),
      rec(2, { kind: 'aws-volume', id: 'vol-0123456789abcdef0', region: 'us-east-1' }),
      rec(3, { kind: 'aws-attachment', volumeId: 'vol-0123456789abcdef0', instanceId: 'i-0123456789abcdef0', region: 'us-east-1' }),
      rec(4, { kind: 'aws-volume', id: 'vol-0123456789abcdef1', region: 'us-east-1' }),
    ]);
    expect(order.map((r) => r.id)).toEqual([1, 4, 3, 2]);
  });
});

describe('releasing a recorded process', () => {
  /** tree starts bash leading its own session and group, with a child in the group, one in another group of the session (a job), and one that left the session. */
  async function tree() {
    const dir = tempDir('trust-tree');
    const leader = spawn('bash', ['-c', `sleep 300 & echo $! > ${dir}/in-group; set -m; sleep 301 & echo $! > ${dir}/other-group; setsid bash -c 'echo $$ > ${dir}/left; exec sleep 302' & wait`], { detached: true, stdio: 'ignore' });
    const read = (f: string) => Number(readFileSync(path.join(dir, f), 'utf8'));
    for (let i = 0; i < 100 && !['in-group', 'other-group', 'left'].every((f) => existsSync(path.join(dir, f)) && readFileSync(path.join(dir, f), 'utf8').trim()); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    const pids = { leader: leader.pid!, inGroup: read('in-group'), otherGroup: read('other-group'), left: read('left') };
    const ticks = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, processStartTicks(p)!])) as Record<keyof typeof pids, string>;
    const alive = (k: keyof typeof pids) => isSameProcessAlive(pids[k], ticks[k]);
    const cleanup = () => {
      for (const k of Object.keys(pids) as (keyof typeof pids)[]) {
        try {
          if (alive(k)) process.kill(pids[k], 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
    };
    return { pids, ticks, alive, cleanup };
  }

  it('GIVEN a process recorded as the group leader it was spawned as WHEN released THEN its group and the rest of its session end, a process that left the session does not', async () => {
    const t = await tree();
    try {
      await releaseResource({ kind: 'process', pid: t.pids.leader, startTicks: t.ticks.leader, what: 'check', group: true });
      expect([t.alive('leader'), t.alive('inGroup'), t.alive('otherGroup'), t.alive('left')]).toEqual([false, false, false, true]);
    } finally {
      t.cleanup();
    }
  });

  it('GIVEN a process recorded without the group flag WHEN released THEN only that pid is signalled', async () => {
    const t = await tree();
    try {
      await releaseResource({ kind: 'process', pid: t.pids.leader, startTicks: t.ticks.leader, what: 'check' });
      expect([t.alive('leader'), t.alive('inGroup'), t.alive('otherGroup')]).toEqual([false, true, true]);
    } finally {
      t.cleanup();
    }
  });

  it('GIVEN a record whose start ticks do not match (a recycled pid) or are missing WHEN released THEN nothing is signalled', async () => {
    const t = await tree();
    try {
      await releaseResource({ kind: 'process', pid: t.pids.leader, startTicks: String(Number(t.ticks.leader) + 1), what: 'check', group: true });
      await releaseResource({ kind: 'process', pid: t.pids.leader, what: 'check', group: true });
      expect([t.alive('leader'), t.alive('inGroup'), t.alive('otherGroup')]).toEqual([true, true, true]);
    } finally {
      t.cleanup();
    }
  });
});
