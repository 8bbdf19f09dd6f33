/**
 * Helpers for test/hostile/: run the CURRENT tree's CLI on hostile disk images (fixtures/build-hostile.sh) and
 * watch the host while it runs: files outside the scratch tree, a listener on loopback, processes left behind,
 * secrets in the reports, the source images.
 *
 * The attacks name fixed host paths and a fixed loopback port range (see fixtures/build-hostile.sh); they are
 * checked against the catalog's manifest.json so the two cannot drift apart. Test files of this suite touch
 * different host paths, so they may run in parallel with each other.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, expect, inject } from 'vitest';
import { releaseResource } from '../../src/ledger/resources.js';
import type { SnapshotResult } from '../../src/report/types.js';
import { leftovers, sha256, tempDir } from '../helpers.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * The tree whose CLI is run: this one, or SNAPDRILL_HOSTILE_CLI_ROOT (e.g. a worktree of an older commit, to see the
 * suite catch the attacks that worked there: `git worktree add /tmp/sd-orig 2e029dc`, link node_modules, then
 * `SNAPDRILL_HOSTILE_CLI_ROOT=/tmp/sd-orig npx vitest run test/hostile/`).
 */
export const CLI_ROOT = process.env.SNAPDRILL_HOSTILE_CLI_ROOT || ROOT;

/** Host paths and ports baked into the images (fixtures/build-hostile.sh). */
export const SECRET = '/var/lib/snapdrill-hostile-secret';
export const VICTIM = '/var/lib/snapdrill-hostile-victim';
export const MARKER_DIR = '/tmp/snapdrill-hostile';
export const PORTS: [number, number] = [47631, 47638];
export const SLEEPER = 'snapdrill-hostile-sleeper';

export interface Manifest {
  secret: string;
  victim: string;
  markerDir: string;
  ports: [number, number];
  hostileUid: number;
  hostileGid: number;
  sleeperName: string;
  images: Record<string, any>;
}

/** hostileCatalog is the hostile image catalog built by test/setup/fixtures.ts (fixtures/build-hostile.sh). */
export function hostileCatalog(): string {
  return inject('hostileCatalog');
}

/** manifest reads the catalog's manifest.json and checks that it names the paths and ports these helpers watch. */
export function manifest(): Manifest {
  const m = JSON.parse(readFileSync(path.join(hostileCatalog(), 'manifest.json'), 'utf8')) as Manifest;
  expect({ secret: m.secret, victim: m.victim, markerDir: m.markerDir, ports: m.ports, sleeper: m.sleeperName }).toEqual({ secret: SECRET, victim: VICTIM, markerDir: MARKER_DIR, ports: PORTS, sleeper: SLEEPER });
  return m;
}

/** catalogOfHostile makes a catalog directory holding symlinks to the named hostile images and their sidecars. */
export function catalogOfHostile(names: string[]): string {
  const dir = tempDir('hcat');
  for (const n of names) {
    for (const f of [`${n}.img`, `${n}.json`]) {
      const from = path.join(hostileCatalog(), f);
      if (!existsSync(from)) throw new Error(`no hostile fixture ${f} in ${hostileCatalog()}`);
      symlinkSync(from, path.join(dir, f));
    }
  }
  return dir;
}

// ------------------------------------------------------------------ processes
export interface Proc {
  pid: number;
  uid: number;
  gid: number;
  comm: string;
  exe: string;
  cwd: string;
  cmdline: string;
  /** Our run tag was found in its environment. */
  tagged: boolean;
  /** Start time in clock ticks since boot: with the pid, identifies one process. */
  start: number;
}

function readProc(pid: number, tag: string): Proc | undefined {
  const base = `/proc/${pid}`;
  try {
    const stat = readFileSync(`${base}/stat`, 'latin1');
    const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(afterComm[19]);
    const status = readFileSync(`${base}/status`, 'latin1');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    const comm = readFileSync(`${base}/comm`, 'latin1').trim();
    const cmdline = readFileSync(`${base}/cmdline`, 'latin1').split('\0').join(' ').trim();
    const safe = (f: () => string) => {
      try {
        return f();
      } catch {
        return '';
      }
    };
    const exe = safe(() => readlinkSync(`${base}/exe`));
    const cwd = safe(() => readlinkSync(`${base}/cwd`));
    const environ = safe(() => readFileSync(`${base}/environ`, 'latin1'));
    return { pid, uid, gid, comm, exe, cwd, cmdline, tagged: environ.includes(tag), start };
  } catch {
    return undefined; // gone
  }
}

/** processKeys lists every process as "pid:starttime" (a pid reused by a new process is a new key). */
export function processKeys(): Set<string> {
  const keys = new Set<string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      keys.add(`${e}:${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`);
    } catch {
      // gone
    }
  }
  return keys;
}

const ENGINES = /^(postgres|postmaster|mariadbd|mysqld|sqlite3|pg_ctl|pg_controldata|pg_waldump|pg_amcheck|psql|mariadb|innochecksum|aria_chk|myisamchk|sleep|sh|bash|dash)$/;

/**
 * newProcesses lists processes that did not exist in `before` and belong to our run: its tag in their environment,
 * a working directory, executable or command line under one of `dirs` (scratch, catalog, output), the hostile
 * payload's name, or an engine/shell running as the uid:gid the disk chose. Processes of other people's concurrent runs match
 * none of these.
 */
export function newProcesses(before: Set<string>, tag: string, dirs: string[], hostile?: { uid: number; gid: number }): Proc[] {
  const out: Proc[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const p = readProc(Number(e), tag);
    if (!p || before.has(`${p.pid}:${p.start}`)) continue;
    const underDirs = dirs.some((d) => p.cwd.startsWith(d) || p.exe.startsWith(d) || p.cmdline.includes(d));
    const hostileName = p.cmdline.includes('snapdrill-hostile');
    const diskUid = hostile !== undefined && p.uid === hostile.uid && p.gid === hostile.gid && (ENGINES.test(p.comm) || /postgres/.test(p.comm));
    if (p.tagged || underDirs || hostileName || diskUid) out.push(p);
  }
  return out;
}

/** killProcesses SIGKILLs processes a run left behind, each by pid, only if it is still the same process. */
export function killProcesses(procs: Proc[]): void {
  for (const p of procs) {
    const now = readProc(p.pid, '\0');
    if (now && now.start === p.start) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** sleepers lists every process whose command line carries the hostile payload's name (anyone's). */
export function sleepers(): Proc[] {
  const out: Proc[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const p = readProc(Number(e), '\0');
    if (p && p.cmdline.includes(SLEEPER)) out.push(p);
  }
  return out;
}

// ------------------------------------------------------------------ loopback listener
/**
 * LoopbackWatch listens on every port of the range the payloads try, on 127.0.0.1, and records each connection and
 * what it sent. A port of the range already in use by someone else fails the test: a payload could reach that
 * listener instead of ours, and we would not see it.
 */
export class LoopbackWatch {
  readonly connections: { port: number; data: string }[] = [];
  private servers: net.Server[] = [];

  async start(range: [number, number] = PORTS): Promise<void> {
    for (let port = range[0]; port <= range[1]; port++) {
      const server = net.createServer((sock) => {
        const rec = { port, data: '' };
        this.connections.push(rec);
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => {
          if (rec.data.length < 4096) rec.data += d;
        });
        sock.on('error', () => undefined);
        setTimeout(() => sock.destroy(), 2000).unref();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`port ${port} of the hostile range ${range.join('-')} is taken (${(e as Error).message}): the test cannot watch it; stop what listens there`)));
        server.listen(port, '127.0.0.1', () => resolve());
      });
      this.servers.push(server);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers = [];
  }
}

// ------------------------------------------------------------------ secrets
/** writeSecret puts a fresh random token into the host secret file (root, 0600) and returns the token and content. */
export function writeSecret(file = SECRET): { token: string; content: Buffer } {
  const token = `SDSECRET${randomBytes(16).toString('hex')}`;
  const content = Buffer.from(`${token}\n`.repeat(64));
  writeFileSync(file, content, { mode: 0o600 });
  return { token, content };
}

/**
 * needles are the forms in which bytes of the secret could reach a report: any 16-character window of the token
 * as text, and the hex (lower and upper case) and base64 of any 12-byte window of its bytes (an excerpt, an
 * od dump, a value carried as bytes).
 */
export function secretNeedles(token: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i + 16 <= token.length; i++) out.add(token.slice(i, i + 16));
  const bytes = Buffer.from(`${token}\n${token}`);
  for (let i = 0; i + 12 <= bytes.length; i++) {
    const w = bytes.subarray(i, i + 12);
    out.add(w.toString('hex'));
    out.add(w.toString('hex').toUpperCase());
  }
  for (let i = 0; i < 3; i++) out.add(Buffer.from(`${token}\n`.repeat(3)).subarray(i).toString('base64').slice(4, 24));
  return [...out];
}

/** findLeaks returns "file: needle" for every needle found in any of the files (or named strings). */
export function findLeaks(sources: Record<string, string>, needles: string[]): string[] {
  const hits: string[] = [];
  for (const [name, text] of Object.entries(sources)) {
    for (const n of needles) if (text.includes(n)) hits.push(`${name}: ${n}`);
  }
  return hits;
}

// ------------------------------------------------------------------ files
/** filesUnder lists the regular files under a directory (symlinks not followed: a report's "latest" link). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** listDir lists a directory's entries, or null when it does not exist. */
export function listDir(dir: string): string[] | null {
  return existsSync(dir) ? readdirSync(dir) : null;
}

// ------------------------------------------------------------------ the run
const shortDirs: string[] = [];
/**
 * shortScratchDir: a scratch directory with a short path (/tmp/sdh-XXXXXX). Engines put their unix sockets under the
 * scratch area when the path fits in a socket address; with a longer one (tempDir's) the code before the trust
 * boundary fell back to mktemp and the socket-name collision of socket-crosstalk could not happen at all. Removed
 * after the file's tests the way tempDir's directories are (releaseResource: processes, mounts, loops, then rm).
 */
function shortScratchDir(): string {
  const d = mkdtempSync('/tmp/sdh-');
  shortDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of shortDirs.splice(0)) await releaseResource({ kind: 'scratch-dir', path: d });
});

export interface HostileRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
  outDir: string;
  scratch: string;
  stateDir: string;
  /** report.json of the run (undefined when none was written). */
  report: any;
  /** Every report file's text, by path relative to the output directory. */
  reportFiles: Record<string, string>;
  /** sha256 of each source image before and after. */
  imagesBefore: Record<string, string>;
  imagesAfter: Record<string, string>;
  /** Processes of this run still alive after the CLI exited (killed by the helper once recorded). */
  leftoverProcesses: Proc[];
  /** Loop devices and mounts left under the scratch directory. */
  leftoverDevices: string[];
  snapshot(id: string): SnapshotResult;
}

export interface RunOptions {
  /** Extra YAML appended to the generated configuration (e.g. a databases: section). */
  extraConfig?: string;
  /** Kill the CLI (its whole process group) after this long. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * hostileRun runs `snapdrill run` of the current tree (node --import tsx src/bin.ts, as test/integration/cli.test.ts
 * does) on the named hostile images with a generated configuration, and records what the host looked like after.
 */
export async function hostileRun(images: string[], opts: RunOptions = {}): Promise<HostileRun> {
  const catalog = catalogOfHostile(images);
  const scratch = shortScratchDir();
  const stateDir = tempDir('hstate');
  const outDir = tempDir('hout');
  const cfgDir = tempDir('hcfg');
  const cfg = path.join(cfgDir, 'snapdrill.yaml');
  writeFileSync(cfg, `provider: {type: local, catalog: ${catalog}, scratchDir: ${scratch}}\noutput: {dir: ${outDir}}\n${opts.extraConfig ?? ''}`);

  const imagesBefore: Record<string, string> = {};
  for (const n of images) imagesBefore[n] = await sha256(path.join(hostileCatalog(), `${n}.img`));

  const tag = `SNAPDRILL_HOSTILE_RUN=${randomBytes(8).toString('hex')}`;
  const before = processKeys();
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(CLI_ROOT, 'src/bin.ts'), 'run', '-c', cfg, '--state-dir', stateDir, '--progress', 'plain'], {
    cwd: CLI_ROOT,
    env: { ...process.env, CI: '1', ...opts.env, [tag.split('=')[0]!]: tag.split('=')[1] },
    detached: true, // its own process group: a timeout kills the CLI and everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 30_000).unref();
  }, opts.timeoutMs ?? 600_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const ms = performance.now() - t0;

  // Give anything detached a moment to show itself, then look.
  await new Promise((r) => setTimeout(r, 500));
  const m = manifest();
  const leftoverProcesses = newProcesses(before, tag, [scratch, catalog, outDir, stateDir], { uid: m.hostileUid, gid: m.hostileGid });
  killProcesses(leftoverProcesses);
  const leftoverDevices = await leftovers(scratch);

  const imagesAfter: Record<string, string> = {};
  for (const n of images) imagesAfter[n] = await sha256(path.join(hostileCatalog(), `${n}.img`));

  const reportFiles: Record<string, string> = {};
  for (const f of filesUnder(outDir)) reportFiles[path.relative(outDir, f)] = readFileSync(f, 'latin1');
  const reportJson = Object.entries(reportFiles).find(([f]) => f.endsWith('report.json'))?.[1];
  const report = reportJson ? JSON.parse(reportJson) : undefined;
  return {
    code,
    signal,
    stdout,
    stderr,
    ms,
    timedOut,
    outDir,
    scratch,
    stateDir,
    report,
    reportFiles,
    imagesBefore,
    imagesAfter,
    leftoverProcesses,
    leftoverDevices,
    snapshot(id: string) {
      const s = report?.snapshots?.find((x: SnapshotResult) => x.id === id);
      if (!s) throw new Error(`snapshot ${id} not in the report (exit ${code}${timedOut ? ', timed out' : ''}); stderr tail:\n${stderr.slice(-3000)}`);
      return s as SnapshotResult;
    },
  };
}

/** describeProcs formats processes for an assertion message. */
export function describeProcs(ps: Proc[]): string[] {
  return ps.map((p) => `pid ${p.pid} uid ${p.uid} gid ${p.gid} ${p.comm} (${p.exe}) cwd ${p.cwd}: ${p.cmdline.slice(0, 200)}`);
}

/**
 * expectCompletedCleanly: the CLI finished by itself with a verdict: not killed by our timeout, a report written,
 * exit 0 or 1 (not 3: no harness error).
 */
export function expectCompletedCleanly(r: HostileRun): void {
  expect(r.timedOut, `the run did not end within its time (stderr tail: ${r.stderr.slice(-2000)})`).toBe(false);
  expect(r.report, `no report.json (exit ${r.code}); stderr tail:\n${r.stderr.slice(-3000)}`).toBeDefined();
  expect([0, 1], `exit ${r.code}; stderr tail:\n${r.stderr.slice(-3000)}`).toContain(r.code);
  expect(r.report.errors ?? [], 'harness errors').toEqual([]);
}

/** expectNoLeftovers: nothing the run started is still running; no loop device or mount is left. */
export function expectNoLeftovers(r: HostileRun): void {
  expect(describeProcs(r.leftoverProcesses), 'processes of the run still alive after it ended').toEqual([]);
  expect(r.leftoverDevices, 'loop devices or mounts left behind').toEqual([]);
}

/** expectImagesUnchanged: the source images are byte for byte what they were. */
export function expectImagesUnchanged(r: HostileRun): void {
  expect(r.imagesAfter).toEqual(r.imagesBefore);
}

/** PASSING are the snapshot consistencies that pass a default policy. */
export const PASSING = ['application-consistent', 'crash-consistent'];

/** findingText flattens a finding (summary, evidence, hints, excerpts) into one string to search. */
export function findingText(f: unknown): string {
  return JSON.stringify(f);
}
