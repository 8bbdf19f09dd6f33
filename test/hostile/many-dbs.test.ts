/**
 * Hostile image many-dbs (fixtures/build-hostile.sh): 3000 directories that look like MongoDB dbPaths (mongod.lock +
 * WiredTiger: found, reported "not checked") under 1.6 KB paths, 1000 small SQLite files, and one corrupt SQLite
 * database /many/sq/zz-corrupt.db, which dbfind reports last. The dbfind facts alone are ~5 MB, over the 4 MiB a
 * local check's output was kept.
 *
 * On the code before the trust boundary (commit 2e029dc) the dbfind output was cut inside the directories (one
 * protocol error, `truncated` never read), no SQLite database was ever seen, the corrupt one went unchecked, and
 * the snapshot passed. Now a cap on databases per filesystem and a per-snapshot deadline must end the run in
 * bounded time with *unknown* and the reason (or find the corrupt database), never a pass.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PASSING, type HostileRun, expectCompletedCleanly, expectImagesUnchanged, expectNoLeftovers, hostileRun, manifest } from './helpers.js';

const ID = 'snap-hostile-many-dbs';
const CORRUPT = '/many/sq/zz-corrupt.db';
/** However the cap and deadline are set by default, a run on one disk must not take longer than this. */
const BOUND_MS = 10 * 60_000;

describe('hostile: thousands of database-looking directories and one corrupt database', () => {
  let r: HostileRun;

  beforeAll(async () => {
    expect(manifest().images['many-dbs']).toMatchObject({ lookalikeDirs: 3000, lookalikeEngine: 'mongodb', sqlite: 1000, corrupt: CORRUPT });
    r = await hostileRun(['many-dbs'], { timeoutMs: BOUND_MS + 120_000 });
  }, BOUND_MS + 240_000);

  it('ends by itself within a bounded time, with a verdict, leaving nothing behind', () => {
    expectCompletedCleanly(r);
    expect(r.ms, 'run duration (ms)').toBeLessThan(BOUND_MS);
    expectNoLeftovers(r);
    expectImagesUnchanged(r);
  });

  it('is unknown (or corrupt), never a pass', () => {
    const s = r.snapshot(ID);
    expect(['unknown', 'corrupt'], s.summary).toContain(s.consistency);
    expect(PASSING).not.toContain(s.consistency);
    expect(s.policy.pass).toBe(false);
    expect(r.code).toBe(1);
  });

  it('names the cap on databases per filesystem as the reason', () => {
    const s = r.snapshot(ID);
    const text = JSON.stringify({ summary: s.summary, filesystems: s.filesystems, databases: s.databases.filter((d) => d.state === 'unknown' || d.state === 'skipped'), hints: s.hints, checks: s.checks });
    expect(text).toMatch(/\b(limit|cap|capped|at most|too many|maximum)\b/i);
  });

  it('does not report the corrupt database as sound, if it got to it', () => {
    const s = r.snapshot(ID);
    const db = s.databases.find((d) => d.path === CORRUPT);
    if (db) expect(['corrupt', 'unknown'], `${db.state}: ${db.summary}`).toContain(db.state);
  });
});
