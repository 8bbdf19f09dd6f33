import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Fact } from '../../src/checks/runner.js';
import { validateRawConfig } from '../../src/config/load.js';
import type { BootOutcome } from '../../src/boot/types.js';
import type { AttachedVolume, BootRequest, Provider, RestoredVolume, SnapshotInfo } from '../../src/provider.js';
import type { SnapshotResult } from '../../src/report/types.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import type { Shell, ShellResult } from '../../src/shells/shell.js';

/**
 * The orchestrator without root: a scripted provider "restores" and "attaches" nothing, and its shell answers each
 * check script with the facts the real check printed on the real fixture (test/golden/facts*), wrapped the way
 * src/checks/runner.ts expects. Everything from executeRun down to the report is the product's own code.
 */

const GOLDEN = path.resolve(import.meta.dirname, '../golden');

/** captured reads the facts one fixture's checks printed (scripts/capture-facts.ts). */
function captured(file: string): Fact[] {
  return readFileSync(path.join(GOLDEN, file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Fact);
}

/** exported reads a variable the script exports (`export NAME='value'`), as buildCheckScript writes it. */
function exported(script: string, name: string): string | undefined {
  const m = new RegExp(`^export ${name}='((?:[^']|'\\\\'')*)'$`, 'm').exec(script);
  return m?.[1]!.replace(/'\\''/g, "'");
}

/** ScriptedShell answers a wrapped check with the captured facts of that check on that target, then the runner's end marker. */
class ScriptedShell implements Shell {
  readonly kind = 'local' as const;
  // Large enough that no answer is read back in pages.
  readonly outputLimit = 64 * 1024 * 1024;
  readonly scripts: string[] = [];
  constructor(
    private readonly facts: Fact[],
    private readonly mountFails = false,
  ) {}

  async run(script: string): Promise<ShellResult> {
    this.scripts.push(script);
    const answer = (stdout: string): ShellResult => ({ exitCode: 0, stdout, stderr: '', durationMs: 1, timedOut: false, truncated: false });
    const nonce = /^cat > .* <<'__SNAPDRILL_CHECK_([0-9a-f]+)'$/m.exec(script)?.[1];
    // Not a wrapped check: a library command (fs_unmount), which succeeds silently.
    if (!nonce) return answer('');
    const check = exported(script, 'SNAPDRILL_CHECK');
    const target = exported(script, 'SNAPDRILL_TARGET');
    // Check inputs travel as their headers declare: the database path in base64.
    const b64 = exported(script, 'SNAPDRILL_DBPATH');
    const db = b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
    let mine = this.facts.filter((f) => f.check === check && f.target === (db ? `${target}#${db}` : target));
    // The filesystem captures hold no database search: it mounted and found nothing, unless the test says the mount fails.
    if (check === 'dbfind' && !this.facts.some((f) => f.check === 'dbfind')) mine = [{ check, target: target!, fact: 'mount', value: this.mountFails ? { ok: false, output: 'mount: wrong fs type' } : { ok: true, mountpoint: '/SCRATCH/fs' } }];
    const out = mine.map((f) => `${JSON.stringify(f)}\n`).join('');
    return answer(`${out}\n{"snapdrill-end":"${nonce}","bytes":${Buffer.byteLength(out)},"exit":0}\n`);
  }
}

/** Scripted is one snapshot the scripted provider lists, and the captured facts its checks answer with. */
interface Scripted {
  snapshot: Partial<SnapshotInfo> & { id: string };
  /** Capture files under test/golden, replayed together (a filesystem capture and a pre-boot lint capture of the same disk). */
  facts: string | string[];
  /** The database search cannot mount the filesystem (one fault on a known-good capture). */
  mountFails?: boolean;
}

/** ScriptedProvider lists the scripted snapshots, creates nothing, and gives each attached volume a shell replaying its captured facts. */
class ScriptedProvider implements Provider {
  readonly type = 'scripted';
  private readonly shells = new Map<AttachedVolume, ScriptedShell>();
  /** What keepForForensics was asked to keep: owner and until. */
  readonly keptFor: { owner: string; until: Date }[] = [];
  constructor(
    private readonly scripted: Scripted[],
    private readonly scratch: string,
    readonly keepOnFailureMs?: number,
  ) {}
  /** The boot tests asked for, and what each answers (default: the machine boots). */
  readonly booted: BootRequest[] = [];
  bootOutcome: BootOutcome = { result: 'boots', mode: 'bios', platform: 'scripted', durationMs: 1, milestones: [], console: 'login:' };
  async bootTest(req: BootRequest): Promise<BootOutcome> {
    this.booted.push(req);
    return { ...this.bootOutcome };
  }
  async keepForForensics(_ledger: unknown, owner: string, until: Date): Promise<string[]> {
    this.keptFor.push({ owner, until });
    return [`vol-${owner}`];
  }
  describe() {
    return 'captured facts';
  }
  async preflight() {}
  async start() {}
  async listSnapshots(): Promise<SnapshotInfo[]> {
    return this.scripted.map((s) => ({ source: [s.facts].flat().join('+'), tags: {}, sizeBytes: 64 * 1024 * 1024, ...s.snapshot }));
  }
  async restore(snapshot: SnapshotInfo): Promise<RestoredVolume> {
    return { snapshot, handle: snapshot.id, scratch: path.join(this.scratch, snapshot.id) };
  }
  async attach(volume: RestoredVolume): Promise<AttachedVolume> {
    const attached: AttachedVolume = { device: '/dev/loopX', warnings: [] };
    const s = this.scripted.find((x) => x.snapshot.id === volume.snapshot.id)!;
    this.shells.set(attached, new ScriptedShell([s.facts].flat().flatMap(captured), s.mountFails));
    return attached;
  }
  shell(attached?: AttachedVolume): Shell {
    const shell = attached && this.shells.get(attached);
    if (!shell) throw new Error('scripted provider: a shell for a volume that was never attached');
    return shell;
  }
}

const made: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(path.join(os.tmpdir(), `snapdrill-orch-${prefix}-`));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** run verifies the scripted snapshots through executeRun; the pre-boot lint is off unless the boot section says otherwise. */
async function run(scripted: Scripted[], provider?: (dir: string) => ScriptedProvider, boot: Record<string, unknown> = { lint: false }): Promise<RunOutcome> {
  const dir = temp('run');
  const config = validateRawConfig({ provider: { type: 'local', catalog: dir, scratchDir: temp('scratch') }, output: { dir: temp('out'), formats: ['json'] }, boot }, '(test)', dir);
  return executeRun(config, { stateDir: temp('state'), events: {}, signal: new AbortController().signal, providerFactory: () => provider?.(dir) ?? new ScriptedProvider(scripted, dir) });
}

const byId = (o: RunOutcome, id: string): SnapshotResult => o.report.snapshots.find((s) => s.id === id)!;
const states = (s: SnapshotResult, of: 'filesystems' | 'databases') => Object.fromEntries(s[of].map((f: { target?: string; path?: string; state: string }) => [f.target ?? f.path, f.state]));

describe('executeRun on captured facts (no root)', () => {
  it('GIVEN single filesystems WHEN verified THEN clean is application-consistent, crash is crash-consistent, corrupt fails the policy', async () => {
    const t0 = performance.now();
    const o = await run([
      { snapshot: { id: 'snap-ext4-clean' }, facts: 'facts/ext4-clean.ndjson' },
      { snapshot: { id: 'snap-ext4-crash' }, facts: 'facts/ext4-crash.ndjson' },
      { snapshot: { id: 'snap-ext4-corrupt' }, facts: 'facts/ext4-corrupt.ndjson' },
      { snapshot: { id: 'snap-xfs-frozen' }, facts: 'facts/xfs-frozen.ndjson' },
      { snapshot: { id: 'snap-gpt-two' }, facts: 'facts/gpt-two.ndjson' },
      { snapshot: { id: 'random' }, facts: 'facts/random.ndjson' },
    ]);
    // Milliseconds a snapshot, not the minutes of a real restore: a pipeline change is tested at once.
    expect((performance.now() - t0) / 6).toBeLessThan(1000);
    const want: Record<string, [SnapshotResult['consistency'], Record<string, string>]> = {
      'snap-ext4-clean': ['application-consistent', { disk: 'clean' }],
      'snap-ext4-crash': ['crash-consistent', { disk: 'replayed' }],
      'snap-ext4-corrupt': ['corrupt', { disk: 'corrupt' }],
      'snap-xfs-frozen': ['application-consistent', { disk: 'frozen' }],
      'snap-gpt-two': ['application-consistent', { p1: 'clean', p2: 'clean' }],
      random: ['unknown', { disk: 'unknown' }],
    };
    for (const [id, [consistency, fs]] of Object.entries(want)) {
      const s = byId(o, id);
      expect(s.consistency, `${id}: ${s.summary}`).toBe(consistency);
      expect(states(s, 'filesystems'), id).toEqual(fs);
    }
    // Each phase says what it spent its time on; the label is only for humans.
    expect(byId(o, 'snap-ext4-clean').phases.map((p) => [p.kind, p.phase])).toEqual([
      ['restore', 'restore'],
      ['attach', 'attach'],
      ['discover', 'discover'],
      ['check', 'check ext4 disk'],
      ['discover', 'find databases disk'],
      ['teardown', 'unmount disk'],
      ['teardown', 'teardown'],
    ]);
    expect(byId(o, 'snap-ext4-crash').hints.map((h) => h.remedy).join(' ')).toMatch(/fsfreeze/);
    expect(byId(o, 'snap-ext4-corrupt').checks.find((c) => c.check === 'dbfind')).toMatchObject({ status: 'skipped', reason: 'blocked by: filesystem disk is corrupt' });
    // Every replayed answer is a valid fact of its check: the captures and the contracts agree.
    for (const s of o.report.snapshots) for (const c of s.checks) expect(c.protocolErrors, `${s.id} ${c.check}`).toEqual([]);
    expect(o.report.errors).toEqual([]);
    expect(o.report.exitCode).toBe(1);
    expect(o.report.summary).toMatchObject({ total: 6, failed: 2 });
  });

  it('GIVEN a clean filesystem the database search cannot mount WHEN verified THEN the filesystem is unknown, saying why', async () => {
    const o = await run([{ snapshot: { id: 'snap-ext4-clean' }, facts: 'facts/ext4-clean.ndjson', mountFails: true }]);
    const s = byId(o, 'snap-ext4-clean');
    expect(s.consistency).toBe('unknown');
    expect(s.filesystems[0]).toMatchObject({ state: 'unknown', summary: expect.stringMatching(/could not be mounted to look for databases$/) });
    expect(s.filesystems[0]!.evidence.at(-1)).toEqual({ key: 'data.mount', value: false, text: 'could not mount disk to look for databases: mount: wrong fs type' });
  });

  it('GIVEN database fixtures WHEN verified THEN each database is judged from its engine check, and the snapshot by its worst', async () => {
    const o = await run([
      { snapshot: { id: 'snap-pg-clean' }, facts: 'facts-db/pg-clean.ndjson' },
      { snapshot: { id: 'snap-pg-crash' }, facts: 'facts-db/pg-crash.ndjson' },
      { snapshot: { id: 'snap-sqlite-corrupt' }, facts: 'facts-db/sqlite-corrupt.ndjson' },
      { snapshot: { id: 'snap-mariadb-crash' }, facts: 'facts-db/mariadb-crash.ndjson' },
    ]);
    const want: Record<string, [SnapshotResult['consistency'], Record<string, string>]> = {
      'snap-pg-clean': ['application-consistent', { '/var/lib/postgresql/15/main': 'clean-shutdown' }],
      'snap-pg-crash': ['crash-consistent', { '/var/lib/postgresql/15/main': 'recovered' }],
      'snap-sqlite-corrupt': ['corrupt', { '/srv/app/data/app.db': 'corrupt' }],
      'snap-mariadb-crash': ['crash-consistent', { '/var/lib/mysql': 'recovered' }],
    };
    for (const [id, [consistency, dbs]] of Object.entries(want)) {
      const s = byId(o, id);
      expect(s.consistency, `${id}: ${s.summary}`).toBe(consistency);
      expect(states(s, 'databases'), id).toMatchObject(dbs);
    }
    expect(o.report.errors).toEqual([]);
  });

  it('GIVEN a multi-volume set WHEN verified THEN the set is as consistent as its worst member, and a lone snapshot has no set', async () => {
    const set = 'i-0abc/2026-11-24T01:00';
    const o = await run([
      { snapshot: { id: 'snap-root', set, startTime: '2026-11-24T01:00:00Z' }, facts: 'facts/xfs-frozen.ndjson' },
      { snapshot: { id: 'snap-alone', startTime: '2026-11-24T01:00:00Z' }, facts: 'facts/ext4-clean.ndjson' },
      { snapshot: { id: 'snap-data', set, startTime: '2026-11-24T01:00:01Z' }, facts: 'facts/ext4-crash.ndjson' },
    ]);
    expect(byId(o, 'snap-root').consistency).toBe('application-consistent');
    expect(byId(o, 'snap-data').consistency).toBe('crash-consistent');
    for (const id of ['snap-root', 'snap-data']) {
      expect(byId(o, id).set).toEqual({ key: set, members: ['snap-root', 'snap-data'], consistency: 'crash-consistent', summary: `set ${set} (2 volumes) is crash-consistent: because of snap-data`, skewMs: 1000, notes: [] });
    }
    expect(byId(o, 'snap-alone').set).toBeUndefined();
    // Results keep the input order, with the set's members where the set first appeared.
    expect(o.report.snapshots.map((s) => s.id)).toEqual(['snap-root', 'snap-data', 'snap-alone']);
  });

  it('GIVEN a provider that keeps failed volumes WHEN a snapshot fails its policy THEN only that one is kept, for as long as the provider says', async () => {
    const scripted: Scripted[] = [
      { snapshot: { id: 'snap-ext4-clean' }, facts: 'facts/ext4-clean.ndjson' },
      { snapshot: { id: 'snap-ext4-corrupt' }, facts: 'facts/ext4-corrupt.ndjson' },
    ];
    let provider: ScriptedProvider | undefined;
    const t0 = Date.now();
    const o = await run(scripted, (dir) => (provider = new ScriptedProvider(scripted, dir, 3_600_000)));
    expect(provider!.keptFor.map((k) => k.owner)).toEqual(['snap-ext4-corrupt']);
    expect(provider!.keptFor[0]!.until.getTime()).toBeGreaterThanOrEqual(t0 + 3_600_000);
    expect(byId(o, 'snap-ext4-corrupt').kept).toEqual({ resources: ['vol-snap-ext4-corrupt'], until: provider!.keptFor[0]!.until.toISOString() });
    expect(byId(o, 'snap-ext4-corrupt').phases.map((p) => p.phase)).toContain('keep for forensics');
    expect(byId(o, 'snap-ext4-clean').kept).toBeUndefined();
  });

  it('GIVEN a provider that keeps nothing WHEN a snapshot fails THEN nothing is kept and no keep phase is recorded', async () => {
    const scripted: Scripted[] = [{ snapshot: { id: 'snap-ext4-corrupt' }, facts: 'facts/ext4-corrupt.ndjson' }];
    let provider: ScriptedProvider | undefined;
    const o = await run(scripted, (dir) => (provider = new ScriptedProvider(scripted, dir)));
    expect(provider!.keptFor).toEqual([]);
    expect(byId(o, 'snap-ext4-corrupt').kept).toBeUndefined();
    expect(byId(o, 'snap-ext4-corrupt').phases.map((p) => p.phase)).not.toContain('keep for forensics');
  });

  it('GIVEN a set whose root is linted WHEN boot-tested THEN the root boots with the data volume as its disk, and a required boot that fails fails the policy', async () => {
    const set = 'i-0abc/boot';
    const scripted: Scripted[] = [
      { snapshot: { id: 'snap-data', set, startTime: '2026-11-24T01:00:00Z' }, facts: 'facts/xfs-clean.ndjson' },
      { snapshot: { id: 'snap-root', set, startTime: '2026-11-24T01:00:00Z' }, facts: ['facts/ext4-clean.ndjson', 'facts-boot/clean.ndjson'] },
    ];
    let provider: ScriptedProvider | undefined;
    const boots = await run(scripted, (dir) => (provider = new ScriptedProvider(scripted, dir)), { enabled: true });
    expect(provider!.booted.map((r) => [r.snapshot.id, r.data.map((d) => d.id)])).toEqual([['snap-root', ['snap-data']]]);
    expect(byId(boots, 'snap-root')).toMatchObject({ boot: 'boots', lint: [{ target: 'disk', status: 'linted' }] });
    expect(byId(boots, 'snap-data')).toMatchObject({ boot: 'not-tested', bootNote: 'booted as a data volume of snap-root' });
    expect(byId(boots, 'snap-root').phases.filter((p) => p.kind === 'lint' || p.kind === 'boot').map((p) => p.phase)).toEqual(['lint disk', 'boot']);

    const fails = await run(scripted, (dir) => {
      provider = new ScriptedProvider(scripted, dir);
      provider.bootOutcome = { ...provider.bootOutcome, result: 'fails-to-boot', reason: 'no login prompt', console: 'Kernel panic - not syncing: VFS: Unable to mount root fs' };
      return provider;
    }, { enabled: true, required: true });
    const root = byId(fails, 'snap-root');
    expect(root.boot).toBe('fails-to-boot');
    expect(root.consistency).toBe('application-consistent');
    expect(root.policy.pass).toBe(false);
    expect(root.policy.reason).toMatch(/^fails to boot \(.+\); application-consistent meets crash-consistent/);
  });

  it('GIVEN set members taken minutes apart WHEN verified THEN the set is unknown', async () => {
    const set = 'i-0abc/late';
    const o = await run([
      { snapshot: { id: 'a', set, startTime: '2026-11-24T01:00:00Z' }, facts: 'facts/ext4-clean.ndjson' },
      { snapshot: { id: 'b', set, startTime: '2026-11-24T01:05:00Z' }, facts: 'facts/xfs-clean.ndjson' },
    ]);
    expect(byId(o, 'a').set).toMatchObject({ consistency: 'unknown', skewMs: 300_000 });
    expect(byId(o, 'a').consistency).toBe('application-consistent');
  });
});
