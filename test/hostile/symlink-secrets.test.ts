/**
 * Hostile image symlink-secrets (fixtures/build-hostile.sh): absolute symlinks to /var/lib/snapdrill-hostile-secret
 * inside data directories: backup_label and tablespace_map of a real PostgreSQL cluster
 * (/var/lib/postgresql/15/main), global/pg_control and postmaster.opts of a second one (/srv/pgctl/data, PG_VERSION
 * next to them), ib_logfile0 and mysql_upgrade_info of a real MariaDB datadir (/var/lib/mysql).
 *
 * On the code before the trust boundary (commit 2e029dc) the check scripts read them as root: the token was in
 * report.json 64 times and index.html 63 times (evidence postgresql.backup_label, mariadb.versions from
 * mysql_upgrade_info, mariadb.redo_format from the ib_logfile0 "creator" bytes, the backup_label excerpt); the
 * snapshot was corrupt (exit 1). Paths inside the restored tree must now be resolved inside it.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSING, SECRET, type HostileRun, expectCompletedCleanly, expectImagesUnchanged, expectNoLeftovers, findLeaks, hostileRun, manifest, secretNeedles, writeSecret } from './helpers.js';

const ID = 'snap-hostile-symlink-secrets';

describe('hostile: absolute symlinks in data directories pointing at a host secret', () => {
  let r: HostileRun;
  let token: string;

  beforeAll(async () => {
    expect(manifest().images['symlink-secrets']).toEqual({ postgresql: ['/var/lib/postgresql/15/main', '/srv/pgctl/data'], mariadb: ['/var/lib/mysql'] });
    ({ token } = writeSecret(SECRET));
    r = await hostileRun(['symlink-secrets'], { timeoutMs: 600_000 });
  }, 700_000);

  afterAll(() => rmSync(SECRET, { force: true }));

  it('completes with a verdict, leaves nothing running or attached, and does not write the source image', () => {
    expectCompletedCleanly(r);
    expectNoLeftovers(r);
    expectImagesUnchanged(r);
  });

  it('writes reports (report.json, index.html, junit.xml)', () => {
    const names = Object.keys(r.reportFiles).map((f) => f.split('/').at(-1));
    for (const n of ['report.json', 'index.html', 'junit.xml']) expect(names).toContain(n);
  });

  it('no byte of the host secret reaches any report file, nor the terminal output', () => {
    const needles = secretNeedles(token);
    expect(findLeaks({ ...r.reportFiles, stdout: r.stdout, stderr: r.stderr }, needles)).toEqual([]);
  });

  it('finds the three data directories and passes none of those whose files lead out of the disk', () => {
    const s = r.snapshot(ID);
    const byPath = Object.fromEntries(s.databases.map((d) => [d.path, d]));
    expect(Object.keys(byPath).sort()).toEqual(['/srv/pgctl/data', '/var/lib/mysql', '/var/lib/postgresql/15/main']);
    // pg_control and the redo log are outside the disk: these cannot be judged sound.
    for (const p of ['/srv/pgctl/data', '/var/lib/mysql']) {
      expect(['clean-shutdown', 'recovered', 'backup-mode'], `${p}: ${byPath[p]!.state}: ${byPath[p]!.summary}`).not.toContain(byPath[p]!.state);
    }
    expect(PASSING, `${s.consistency}: ${s.summary}`).not.toContain(s.consistency);
    expect(s.policy.pass).toBe(false);
    expect(r.code).toBe(1);
  });
});
