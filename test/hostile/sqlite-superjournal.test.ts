/**
 * Hostile image sqlite-superjournal (fixtures/build-hostile.sh): /srv/app/data/app.db with a HOT rollback journal
 * whose super-journal record names /var/lib/snapdrill-hostile-victim, an absolute path on the verifier. SQLite
 * rolls the journal back when the database is opened and then deletes the super-journal it names.
 *
 * On the code before the trust boundary (commit 2e029dc) sqlite3 ran as root on the copy: the root-only victim file
 * was deleted, and the snapshot was reported crash-consistent ("recovered on open, integrity ok"), exit 0.
 * Now the journal naming a path outside the database's directory must be a finding, and nothing privileged may
 * open that path.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSING, VICTIM, type HostileRun, expectCompletedCleanly, expectImagesUnchanged, expectNoLeftovers, findingText, hostileRun, manifest } from './helpers.js';

const ID = 'snap-hostile-sqlite-superjournal';
const DB = '/srv/app/data/app.db';

describe('hostile: a SQLite hot journal naming a super-journal on the host', () => {
  let r: HostileRun;
  const content = `snapdrill hostile victim ${randomBytes(16).toString('hex')}\n`;
  let before: { mode: number; uid: number; ino: number };

  beforeAll(async () => {
    expect(manifest().images['sqlite-superjournal']).toEqual({ database: DB, superJournal: VICTIM });
    writeFileSync(VICTIM, content, { mode: 0o600 });
    const st = statSync(VICTIM);
    expect(st.uid).toBe(0);
    before = { mode: st.mode & 0o7777, uid: st.uid, ino: st.ino };
    r = await hostileRun(['sqlite-superjournal'], { timeoutMs: 600_000 });
  }, 700_000);

  afterAll(() => rmSync(VICTIM, { force: true }));

  it('completes with a verdict, leaves nothing running or attached, and does not write the source image', () => {
    expectCompletedCleanly(r);
    expectNoLeftovers(r);
    expectImagesUnchanged(r);
  });

  it('the root-only victim file named as super-journal still exists, unchanged', () => {
    expect(existsSync(VICTIM), `${VICTIM} was deleted`).toBe(true);
    const st = statSync(VICTIM);
    expect({ mode: st.mode & 0o7777, uid: st.uid, ino: st.ino }).toEqual(before);
    expect(readFileSync(VICTIM, 'utf8')).toBe(content);
  });

  it('reports the super-journal outside the database directory as a finding, naming the path, and does not pass', () => {
    const s = r.snapshot(ID);
    const db = s.databases.find((d) => d.path === DB);
    expect(db, JSON.stringify(s.databases.map((d) => d.path))).toBeDefined();
    const text = findingText(db);
    expect(text).toMatch(/super-?journal|master journal/i);
    expect(text).toContain(VICTIM);
    // The journal cannot be played back as SQLite would on the source machine: not a silent "recovered".
    expect(['clean-shutdown', 'recovered'], `${db!.state}: ${db!.summary}`).not.toContain(db!.state);
    expect(PASSING, `${s.consistency}: ${s.summary}`).not.toContain(s.consistency);
    expect(s.policy.pass).toBe(false);
    expect(r.code).toBe(1);
  });
});
