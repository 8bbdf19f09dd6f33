/**
 * Hostile image pg-autoconf-exec (fixtures/build-hostile.sh): a PostgreSQL 15 data directory owned by uid 1000,
 * gid 0, whose postgresql.auto.conf sets ssl=on with an encrypted key and ssl_passphrase_command (a shell command
 * the postmaster runs at start), archive_mode/archive_command and more in its own postgresql.conf. The payload
 * writes a marker under /tmp/snapdrill-hostile, connects to 127.0.0.1:47631-47638 and leaves a detached
 * "snapdrill-hostile-sleeper" process.
 *
 * On the code before the trust boundary (commit 2e029dc) the command ran as uid 1000 gid 0, the marker was written,
 * the listener got "snapdrill-hostile pg-autoconf-exec ssl_passphrase_command", and the snapshot was reported
 * application-consistent, exit 0. The engine must start with our settings only (DESIGN.md section 8).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LoopbackWatch,
  MARKER_DIR,
  PASSING,
  SLEEPER,
  type HostileRun,
  expectCompletedCleanly,
  expectImagesUnchanged,
  expectNoLeftovers,
  findingText,
  hostileRun,
  killProcesses,
  manifest,
  sleepers,
} from './helpers.js';

const ID = 'snap-hostile-pg-autoconf-exec';
const DATADIR = '/var/lib/postgresql/15/main';

describe('hostile: code execution from the data directory (postgresql.auto.conf, ssl_passphrase_command)', () => {
  let r: HostileRun;
  const watch = new LoopbackWatch();
  let sleepersBefore: Set<number>;

  beforeAll(async () => {
    expect(manifest().images['pg-autoconf-exec'].dataDir).toBe(DATADIR);
    // A world-writable marker directory: whatever the payload runs as could write there on the host.
    rmSync(MARKER_DIR, { recursive: true, force: true });
    mkdirSync(MARKER_DIR);
    chmodSync(MARKER_DIR, 0o1777);
    sleepersBefore = new Set(sleepers().map((p) => p.pid));
    await watch.start();
    r = await hostileRun(['pg-autoconf-exec'], { timeoutMs: 600_000 });
    // let a late connection attempt land before we count
    await new Promise((res) => setTimeout(res, 1000));
  }, 700_000);

  afterAll(async () => {
    await watch.stop();
    // payload processes of this run: recorded and killed by pid (never by name)
    killProcesses(sleepers().filter((p) => !sleepersBefore.has(p.pid)));
    rmSync(MARKER_DIR, { recursive: true, force: true });
  });

  it('completes with a verdict, leaves nothing running or attached, and does not write the source image', () => {
    expectCompletedCleanly(r);
    expectNoLeftovers(r);
    expectImagesUnchanged(r);
  });

  it('runs no command from the disk: no marker file on the host', () => {
    expect(existsSync(MARKER_DIR), `${MARKER_DIR} was removed`).toBe(true);
    expect(readdirSync(MARKER_DIR)).toEqual([]);
  });

  it('no connection from the check to a listener on 127.0.0.1', () => {
    expect(watch.connections).toEqual([]);
  });

  it('leaves no detached payload process behind', () => {
    // hostileRun recorded (and then killed) what the run left behind; the payload's process carries its name
    const left = [...r.leftoverProcesses, ...sleepers().filter((p) => !sleepersBefore.has(p.pid))].filter((p) => p.cmdline.includes(SLEEPER));
    expect(left.map((p) => `${p.pid} uid ${p.uid} gid ${p.gid}: ${p.cmdline}`)).toEqual([]);
  });

  it('checks the database with our settings: judged on its merits, the moved-aside configuration named as evidence', () => {
    const s = r.snapshot(ID);
    const db = s.databases.find((d) => d.path === DATADIR);
    expect(db, JSON.stringify(s.databases.map((d) => d.path))).toBeDefined();
    // Our settings replace theirs (no ssl, no archiving): the cluster was shut down cleanly and is fine.
    expect(db!.state, db!.summary).toBe('clean-shutdown');
    expect(PASSING, s.summary).toContain(s.consistency);
    // The data directory's own configuration files were set aside, and the finding says so.
    expect(findingText(db)).toMatch(/postgresql\.auto\.conf/);
  });
});
