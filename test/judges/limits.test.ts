import { describe, expect, it } from 'vitest';
import type { CheckRun, Fact } from '../../src/checks/runner.js';
import { readMarker, outputPlan, wrapCheckScript } from '../../src/checks/runner.js';
import { dbTargetsFrom, newDbFinding, type DatabaseFinding, type DbTarget } from '../../src/judges/database.js';
import type { FsTarget } from '../../src/judges/discovery.js';
import { applySnapshotDeadline, deadlineRun, judgeDatabaseRun, judgeDatabaseSearch, judgeDiscoveryLimits, judgeFilesystemRun, limitLint, runLimits } from '../../src/judges/limits.js';
import type { FilesystemFinding } from '../../src/judges/types.js';

const fact = (check: string, name: string, value: unknown): Fact => ({ check, target: '/dev/loop0', fact: name, value });
const run = (check: string, facts: Fact[], over: Partial<CheckRun> = {}): CheckRun => ({ check, target: '/dev/loop0', status: 'ran', exitCode: 0, durationMs: 1, facts, protocolErrors: [], stderrTail: '', truncated: false, ...over });
const t: FsTarget = { target: 'p1', device: '/dev/loop0p1', fstype: 'ext4', sizeBytes: 1 << 30 };
const fsFinding = (state: FilesystemFinding['state']): FilesystemFinding => ({ target: 'p1', device: '/dev/loop0p1', fstype: 'ext4', state, summary: `ext4 ${state}`, evidence: [], hints: [], excerpts: [] });
const db: DbTarget = { engine: 'sqlite', path: '/srv/app.db', filesystem: 'p1' };
const dbJudge = (state: DatabaseFinding['state']) => (d: DbTarget) => ({ ...newDbFinding(d), state, summary: `sqlite ${state}` });

const LIMIT = fact('sqlite', 'limit', { what: 'tables', limit: 10000, reason: 'more than 10000 tables' });
const KILLED = fact('postgresql', 'sandbox', { killed: true, reason: 'memory limit (512 MiB)', exitCode: 137 });

describe('runLimits', () => {
  it('reads a cut, a cap and a killed sandbox, each with a reason and a remedy', () => {
    expect(runLimits(run('x', []))).toEqual([]);
    expect(runLimits(run('x', [fact('x', 'sandbox', { killed: false })]))).toEqual([]);
    const [cut] = runLimits(run('sqlite', [], { status: 'truncated', reason: 'output incomplete: cut', remedy: 'set helper.ssmOutput' }));
    expect(cut).toMatchObject({ kind: 'truncated', remedy: 'set helper.ssmOutput' });
    const [cap] = runLimits(run('sqlite', [LIMIT]));
    expect(cap).toMatchObject({ kind: 'limit', what: 'tables', limit: 10000 });
    expect(cap!.text).toMatch(/cap on tables \(10000\): more than 10000 tables/);
    expect(cap!.remedy).toBeTruthy();
    const [killed] = runLimits(run('postgresql', [KILLED]));
    expect(killed).toMatchObject({ kind: 'sandbox' });
    expect(killed!.text).toMatch(/sandbox was killed: memory limit \(512 MiB\) \(exit 137\)/);
  });

  it('does not trust the shape of a fact value (a check prints it, from disk content)', () => {
    const [l] = runLimits(run('x', [fact('x', 'limit', 'not an object'), fact('x', 'sandbox', null)]));
    expect(l).toMatchObject({ kind: 'limit', what: 'something' });
  });
});

describe('filesystem and database findings with limits', () => {
  it('a clean filesystem whose check hit a cap is unknown, never clean; a corrupt one stays corrupt', () => {
    const clean = judgeFilesystemRun(t, run('ext4', [fact('ext4', 'limit', { what: 'output', limit: 1, reason: 'x' })]), () => fsFinding('clean'))!;
    expect(clean.state).toBe('unknown');
    expect(clean.summary).toMatch(/^incomplete: .*said: clean/);
    expect(clean.evidence.map((e) => e.key)).toContain('ext4.limit_output');
    const corrupt = judgeFilesystemRun(t, run('ext4', [fact('ext4', 'limit', { what: 'output', limit: 1, reason: 'x' })]), () => fsFinding('corrupt'))!;
    expect(corrupt.state).toBe('corrupt');
    expect(judgeFilesystemRun(t, run('ext4', []), () => fsFinding('clean'))!.state).toBe('clean');
  });

  it('a truncated filesystem check is unknown with the reason and the remedy', () => {
    const f = judgeFilesystemRun(t, run('xfs', [fact('xfs', 'features', [])], { status: 'truncated', reason: 'output incomplete: cut at 24000', remedy: 'set provider.helper.ssmOutput' }), () => fsFinding('clean'))!;
    expect(f.state).toBe('unknown');
    expect(f.summary).toMatch(/xfs check truncated: output incomplete/);
    expect(f.hints[0]!.remedy).toBe('set provider.helper.ssmOutput');
  });

  it('a database whose check hit a cap or whose sandbox was killed is unknown, never clean-shutdown or recovered', () => {
    for (const state of ['clean-shutdown', 'recovered', 'backup-mode', 'skipped'] as const) {
      const f = judgeDatabaseRun(db, run('sqlite', [LIMIT]), dbJudge(state));
      expect(f.state).toBe('unknown');
      expect(f.hints.length).toBeGreaterThan(0);
    }
    expect(judgeDatabaseRun(db, run('postgresql', [KILLED]), dbJudge('clean-shutdown')).summary).toMatch(/sandbox .*killed/);
    expect(judgeDatabaseRun(db, run('sqlite', [LIMIT]), dbJudge('corrupt')).state).toBe('corrupt');
    expect(judgeDatabaseRun(db, run('sqlite', []), dbJudge('clean-shutdown')).state).toBe('clean-shutdown');
  });

  it('a truncated or blocked database check is unknown with its reason (a blocked run is not the engine judge\'s business)', () => {
    const cut = judgeDatabaseRun(db, run('sqlite', [], { status: 'truncated', reason: 'output incomplete', remedy: 'set provider.helper.ssmOutput' }), dbJudge('clean-shutdown'));
    expect(cut).toMatchObject({ state: 'unknown', summary: 'sqlite check truncated: output incomplete' });
    expect(cut.hints[0]!.remedy).toBe('set provider.helper.ssmOutput');
    const blocked = judgeDatabaseRun(db, deadlineRun('sqlite', '/dev/loop0', 7_200_000, false), dbJudge('clean-shutdown'));
    expect(blocked.state).toBe('unknown');
    expect(blocked.summary).toMatch(/blocked by: snapshot deadline/);
  });

  it('the lint and discovery say when they are incomplete', () => {
    expect(limitLint({ target: 'p1', status: 'linted', findings: [] }, run('bootlint', [fact('bootlint', 'limit', { what: 'initramfs bytes', limit: 1 << 30, reason: 'decompresses to more than 1 GiB' })])).findings[0]).toMatchObject({ id: 'lint-incomplete', severity: 'warning' });
    expect(judgeDiscoveryLimits(run('discover', []), '/dev/loop0', 1)).toBeUndefined();
    expect(judgeDiscoveryLimits(run('discover', [fact('discover', 'limit', { what: 'partitions', limit: 128, reason: 'x' })]), '/dev/loop0', 1)).toMatchObject({ target: 'disk', state: 'unknown' });
  });
});

describe('judgeDatabaseSearch', () => {
  const dbs = (n: number) => Array.from({ length: n }, (_, i) => fact('dbfind', 'database', { engine: 'sqlite', path: `/srv/db${i}.sqlite` }));
  const mounted = fact('dbfind', 'mount', { ok: true });

  it('checks at most max databases; beyond it the filesystem is unknown, naming the count and the cap', () => {
    const s = judgeDatabaseSearch(fsFinding('clean'), run('dbfind', [mounted, ...dbs(250)]), 100);
    expect(s).toMatchObject({ searched: true, found: 250 });
    expect(s.targets).toHaveLength(100);
    expect(s.targets[0]!.path).toBe('/srv/db0.sqlite');
    expect(s.finding.state).toBe('unknown');
    expect(s.finding.summary).toMatch(/250 databases were found and only the first 100 \(databases.maxPerFilesystem\) were checked/);
    expect(s.finding.evidence.find((e) => e.key === 'databases.limit')).toMatchObject({ value: 250 });
    expect(s.finding.hints.at(-1)!.remedy).toMatch(/databases.maxPerFilesystem/);
  });

  it('leaves the filesystem as it was at or under the cap', () => {
    const s = judgeDatabaseSearch(fsFinding('replayed'), run('dbfind', [mounted, ...dbs(100)]), 100);
    expect(s.finding.state).toBe('replayed');
    expect(s.targets).toHaveLength(100);
  });

  it('a cut or capped search makes the database part unknown, but what it found is still checked', () => {
    const capped = judgeDatabaseSearch(fsFinding('clean'), run('dbfind', [mounted, ...dbs(3), fact('dbfind', 'limit', { what: 'databases', limit: 3, reason: 'stopped looking after 3' })]), 100);
    expect(capped.finding.state).toBe('unknown');
    expect(capped.targets).toHaveLength(3);
    const cut = judgeDatabaseSearch(fsFinding('clean'), run('dbfind', dbs(3), { status: 'truncated', reason: 'output incomplete', remedy: 'set provider.helper.ssmOutput' }), 100);
    expect(cut).toMatchObject({ searched: false, targets: [] });
    expect(cut.finding.state).toBe('unknown');
    expect(cut.finding.hints.at(-1)!.remedy).toBe('set provider.helper.ssmOutput');
    const unmounted = judgeDatabaseSearch(fsFinding('clean'), run('dbfind', [fact('dbfind', 'mount', { ok: false, output: 'wrong fs type' })]), 100);
    expect(unmounted.finding.state).toBe('unknown');
    expect(unmounted.finding.evidence.at(-1)).toMatchObject({ key: 'data.mount', value: false });
  });
});

describe('applySnapshotDeadline', () => {
  const ok = { consistency: 'application-consistent' as const, summary: 'application-consistent: p1 clean', reasons: ['p1: clean'], hints: [] };
  it('makes a snapshot unknown when the deadline stopped something, naming what', () => {
    expect(applySnapshotDeadline(ok, undefined)).toBe(ok);
    const v = applySnapshotDeadline(ok, { deadlineMs: 7_200_000, stopped: ['sqlite /srv/a.db', 'sqlite /srv/b.db'] });
    expect(v.consistency).toBe('unknown');
    expect(v.summary).toMatch(/snapshot deadline.*timeouts.snapshot \(2h00m\).*2 check\(s\) not run or aborted: sqlite \/srv\/a.db, sqlite \/srv\/b.db/);
    expect(v.hints[0]!.remedy).toMatch(/timeouts.snapshot/);
    expect(applySnapshotDeadline({ ...ok, consistency: 'corrupt' }, { deadlineMs: 1000, stopped: ['x'] }).consistency).toBe('corrupt');
  });
});

describe('database paths as bytes', () => {
  it('takes the display path from the raw bytes (pathB64), safe and unambiguous, and keeps the bytes', () => {
    const raw = Buffer.concat([Buffer.from('/srv/a'), Buffer.from([0xff, 0x0a, 0x1b]), Buffer.from('[2J.db')]);
    const [d] = dbTargetsFrom([fact('dbfind', 'database', { engine: 'sqlite', path: '/srv/a?\n?[2J.db', pathB64: raw.toString('base64') })], 'p1');
    expect(d!.path).toBe('/srv/a\\xff\\x0a\\x1b[2J.db');
    expect(Buffer.from(d!.pathB64!, 'base64').equals(raw)).toBe(true);
  });
  it('without bytes, makes the printed path terminal-safe; refuses unknown engines', () => {
    const targets = dbTargetsFrom([fact('dbfind', 'database', { engine: 'sqlite', path: '/srv/\x1b]52;c;eA==\x07x.db' }), fact('dbfind', 'database', { engine: 'oracle', path: '/x' })], 'p1');
    expect(targets).toEqual([{ engine: 'sqlite', path: '/srv/x.db', filesystem: 'p1' }]);
  });
});

describe('check output framing', () => {
  it('sizes inline output and pages to the transport (SSM without a bucket: pages under 24,000 characters as base64)', () => {
    const p = outputPlan({ outputLimit: 24_000 });
    expect(p.inlineBytes).toBeLessThan(24_000);
    expect(Math.ceil(p.pageBytes / 3) * 4).toBeLessThan(24_000);
    expect(outputPlan({}).inlineBytes).toBe(p.inlineBytes);
  });

  it('trusts only the end marker of its own nonce, at the very end', () => {
    const nonce = 'a'.repeat(24);
    const out = `{"x":1}\n\n{"snapdrill-end":"${nonce}","bytes":8,"exit":0}\n`;
    expect(readMarker(out, nonce)).toEqual({ marker: { bytes: 8, exit: 0 }, before: '{"x":1}\n' });
    expect(readMarker(out, 'b'.repeat(24))).toBeUndefined();
    expect(readMarker(`${out}more\n`, nonce)).toBeUndefined();
    const script = wrapCheckScript('echo hi', { dir: '/s/.snapdrill-out', base: `x-${nonce}` }, nonce, outputPlan({ outputLimit: 24_000 }));
    expect(script).toContain(`<<'__SNAPDRILL_CHECK_${nonce}'`);
    expect(script).toContain('</dev/null');
  });
});
