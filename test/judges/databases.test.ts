import { describe, expect, it } from 'vitest';
import type { Fact } from '../../src/checks/runner.js';
import { refusing, type DatabaseFinding, type DbTarget } from '../../src/judges/database.js';
import { judgeMariadb, parseRedoBlocks, parseTableCheck } from '../../src/judges/mariadb.js';
import { judgePostgres, lsnToNumber, segmentNumber } from '../../src/judges/postgresql.js';
import { judgeSqlite } from '../../src/judges/sqlite.js';
import { captured, faultInjector } from './facts.js';

// Facts captured from the real engines on the real database fixture images (scripts/capture-facts.ts --databases).
const { load } = captured('facts-db');

/** judgeDb judges the database at `dbPath` in a captured fixture, as the orchestrator does. */
function judgeDb(name: string, dbPath: string, facts: Fact[] = load(name)): DatabaseFinding {
  const mine = facts.filter((f) => f.target.endsWith(`#${dbPath}`));
  const engine = mine[0]?.check as DbTarget['engine'];
  const t: DbTarget = { engine, path: dbPath, filesystem: 'disk' };
  return engine === 'postgresql' ? judgePostgres(t, mine) : engine === 'mariadb' ? judgeMariadb(t, mine) : judgeSqlite(t, mine);
}

const PG = '/var/lib/postgresql/15/main';
const MY = '/var/lib/mysql';
const APP = '/srv/app/data/app.db';
const ev = (f: DatabaseFinding) => Object.fromEntries(f.evidence.map((e) => [e.key, e.value]));

/** withFault replaces one fact's value (or removes it) to inject exactly one fault into a known-good capture; dbfind's facts stay as captured. */
const withFault = faultInjector({ keep: ['dbfind'] });

describe('PostgreSQL judge on captured output', () => {
  it('clean shutdown: clean-shutdown, amcheck and checksums clean', () => {
    const f = judgeDb('pg-clean', PG);
    expect(f.state, f.summary).toBe('clean-shutdown');
    expect(ev(f)).toMatchObject({ 'postgresql.cluster_state': 'shut down', 'postgresql.amcheck_exit': 0, 'postgresql.checksums_exit': 0 });
    expect(f.hints).toEqual([]);
  });

  it('kill -9 under load: recovered, with the recovery log line and the backup-mode remedy', () => {
    const f = judgeDb('pg-crash', PG);
    expect(f.state, f.summary).toBe('recovered');
    expect(ev(f)).toMatchObject({ 'postgresql.cluster_state': 'in production', 'postgresql.postmaster_pid': true, 'postgresql.crash_recovery': true });
    expect(f.hints[0]!.remedy).toMatch(/pg_backup_start/);
  });

  it('backup mode with backup_label: backup-mode', () => {
    const f = judgeDb('pg-backup', PG);
    expect(f.state, f.summary).toBe('backup-mode');
    expect(ev(f)['postgresql.backup_label']).toBe(true);
  });

  it('filesystem frozen under a running server: the database still needed recovery', () => {
    expect(judgeDb('pg-frozen-running', PG).state).toBe('recovered');
  });

  it('damaged heap page: corrupt from pg_amcheck (2) and pg_checksums (1)', () => {
    const f = judgeDb('pg-corrupt', PG);
    expect(f.state).toBe('corrupt');
    expect(ev(f)).toMatchObject({ 'postgresql.amcheck_exit': 2, 'postgresql.checksums_exit': 1 });
  });

  it('WAL gap: the server starts and amcheck passes, yet it is corrupt, naming the segment with the lost records', () => {
    const facts = load('pg-walgap');
    const f = judgeDb('pg-walgap', PG, facts);
    expect(ev(f)['postgresql.started']).toBe(true);
    expect(ev(f)['postgresql.amcheck_exit']).toBe(0);
    expect(f.state).toBe('corrupt');
    expect(f.summary).toMatch(/silent data loss/);
    expect(ev(f)['postgresql.wal_beyond_end']).toMatch(/^[0-9A-F]{24}$/);
    expect(ev(f)['postgresql.redo_stop']).toMatch(/could not read from log segment/);
    // Each signal alone is enough: the truncated size, or valid records after the break.
    expect(judgeDb('pg-walgap', PG, withFault(facts, 'waldump', (v) => ({ ...v, validBeyondEnd: null }))).state).toBe('corrupt');
    expect(judgeDb('pg-walgap', PG, withFault(facts, 'wal', (v) => ({ ...v, oddSizes: [] }))).state).toBe('corrupt');
  });

  it('GIVEN the server died during recovery THEN corrupt; GIVEN it died for a helper reason THEN unknown', () => {
    const crash = load('pg-crash');
    const died = (log: string) => withFault(crash, 'startup', (v) => ({ ...v, ready: false, died: true, log, keyLines: log }));
    expect(judgeDb('pg-crash', PG, died('PANIC:  could not locate a valid checkpoint record')).state).toBe('corrupt');
    const env = judgeDb('pg-crash', PG, died('FATAL:  could not access directory "/x": Permission denied'));
    expect(env.state).toBe('unknown');
    expect(env.summary).toMatch(/not a problem of the snapshot/);
  });

  it('GIVEN backup_label without the WAL up to pg_backup_stop THEN corrupt, naming the missing WAL', () => {
    const log = 'LOG:  starting backup recovery with redo LSN 0/2000028\nFATAL:  WAL ends before end of online backup\nHINT:  All WAL generated while online backup was taken must be available at recovery.';
    const f = judgeDb('pg-backup', PG, withFault(load('pg-backup'), 'startup', (v) => ({ ...v, ready: false, died: true, log, keyLines: log })));
    expect(f.state).toBe('corrupt');
    expect(f.hints[0]!.remedy).toMatch(/archive WAL/);
  });

  it('GIVEN recovery did not finish in time THEN unknown with the timeout remedy', () => {
    const f = judgeDb('pg-crash', PG, withFault(load('pg-crash'), 'startup', (v) => ({ ...v, ready: false, died: false })));
    expect(f.state).toBe('unknown');
    expect(f.hints.map((h) => h.remedy)).toContain('raise databases.startupTimeout');
  });

  it('GIVEN no amcheck result THEN unknown, never clean', () => {
    expect(judgeDb('pg-clean', PG, withFault(load('pg-clean'), 'amcheck', 'remove')).state).toBe('unknown');
  });

  it('GIVEN no binaries of the right major version THEN skipped, with offline evidence and the package to install', () => {
    const facts = load('pg-crash').filter((f) => f.fact === 'files' || f.check === 'dbfind');
    facts.push({ check: 'postgresql', target: `/dev/loopX#${PG}`, fact: 'skipped', value: { reason: 'no PostgreSQL 15 binaries on helper', remedy: 'install the PostgreSQL 15 server on the helper' } });
    const f = judgeDb('pg-crash', PG, facts);
    expect(f.state).toBe('skipped');
    expect(f.summary).toBe('skipped: no PostgreSQL 15 binaries on helper');
    expect(f.hints[0]!.remedy).toMatch(/install the PostgreSQL 15 server/);
    expect(ev(f)['postgresql.postmaster_pid']).toBe(true);
  });

  it('computes segment numbers and LSNs as PostgreSQL does', () => {
    expect(segmentNumber('00000001000000000000001C', 1 << 20)).toBe(0x1c);
    expect(segmentNumber('000000010000000100000002', 16 << 20)).toBe(256 + 2);
    expect(lsnToNumber('1/0')).toBe(0x100000000);
  });
});

describe('MariaDB judge on captured output', () => {
  it('clean shutdown: checkpoint_lsn == end_lsn, every table OK', () => {
    const f = judgeDb('mariadb-clean', MY);
    expect(f.state, f.summary).toBe('clean-shutdown');
    expect(f.evidence.find((e) => e.key === 'mariadb.redo_checkpoint')!.text).toMatch(/== end_lsn .*clean shutdown/);
  });

  it('kill -9: checkpoint_lsn < end_lsn, crash recovery in the log, recovered, mariabackup remedy', () => {
    const f = judgeDb('mariadb-crash', MY);
    expect(f.state, f.summary).toBe('recovered');
    expect(ev(f)['mariadb.crash_recovery']).toBe(true);
    expect(f.hints[0]!.remedy).toMatch(/mariabackup/);
  });

  it('corrupt page: corrupt, although mariadb-check exited 0', () => {
    const facts = load('mariadb-corrupt');
    const f = judgeDb('mariadb-corrupt', MY, facts);
    expect(f.state).toBe('corrupt');
    expect(facts.find((x) => x.fact === 'tablecheck')!.value).toMatchObject({ exitCode: 0 });
    expect(ev(f)['mariadb.tables_bad']).toEqual(['shop.orders']);
    expect(ev(f)['mariadb.innochecksum_failures']).toEqual(['shop/orders.ibd']);
    // Without innochecksum, the parsed CHECK TABLE rows alone convict it.
    expect(judgeDb('mariadb-corrupt', MY, withFault(facts, 'innochecksum', 'remove')).state).toBe('corrupt');
  });

  it('GIVEN a crash before the first checkpoint (redo looks clean) but startup ran crash recovery THEN recovered', () => {
    const facts = withFault(load('mariadb-crash'), 'redo', (v) => ({ ...v, block1: '00000000000393a800000000000393a8', block2: '00000000000393a800000000000393a8' }));
    const f = judgeDb('mariadb-crash', MY, facts);
    expect(f.evidence.find((e) => e.key === 'mariadb.redo_checkpoint')!.text).toMatch(/clean shutdown/);
    expect(f.state).toBe('recovered');
  });

  it('GIVEN the server crashed while checking tables THEN corrupt', () => {
    const f = judgeDb('mariadb-clean', MY, withFault(load('mariadb-clean'), 'tablecheck', (v) => ({ ...v, exitCode: 2, serverAliveAfter: false })));
    expect(f.state).toBe('corrupt');
  });

  it('GIVEN MyISAM/Aria tables left open by a crash THEN recovered, naming them, even with a clean InnoDB redo log', () => {
    const facts = load('mariadb-clean').filter((x) => x.fact !== 'tables');
    facts.push({ check: 'mariadb', target: `/dev/loopX#${MY}`, fact: 'tables', value: { checked: 40, open: [['shop/legacy.MYI', 'open,changed']] } });
    const f = judgeDb('mariadb-clean', MY, facts);
    expect(f.state).toBe('recovered');
    expect(ev(f)['mariadb.open_tables']).toEqual(['shop/legacy.MYI']);
  });

  it('reads the newer of the two checkpoint blocks', () => {
    expect(parseRedoBlocks('000000000003d88d000000000003d88d', '000000000003d89d00000000000a6d6e')).toEqual({ checkpointLsn: 0x3d89dn, endLsn: 0xa6d6en });
  });

  it('parses CHECK TABLE rows: inline OK, and a table followed by Warning/error lines', () => {
    expect(parseTableCheck('a.b    OK\nshop.orders\nWarning  : InnoDB: The B-tree of index PRIMARY is corrupted.\nerror    : Corrupt\nsys.x   OK\n')).toEqual([
      { table: 'a.b', status: 'OK', messages: [] },
      { table: 'shop.orders', status: 'Corrupt', messages: ['warning: InnoDB: The B-tree of index PRIMARY is corrupted.', 'error: Corrupt'] },
      { table: 'sys.x', status: 'OK', messages: [] },
    ]);
  });
});

describe('SQLite judge on captured output', () => {
  it('clean: both databases clean-shutdown; the WAL-mode one recognised', () => {
    expect(judgeDb('sqlite-clean', APP).state).toBe('clean-shutdown');
    const events = judgeDb('sqlite-clean', '/srv/app/data/events.db');
    expect(events.state).toBe('clean-shutdown');
    expect(ev(events)['sqlite.journal_mode']).toBe('wal');
  });

  it('hot journal: recovered (rolled back on open)', () => {
    const f = judgeDb('sqlite-hotjournal', APP);
    expect(f.state).toBe('recovered');
    expect(ev(f)['sqlite.hot_journal']).toBe(true);
  });

  it('un-checkpointed WAL: recovered, with the frame count and the lost-WAL warning', () => {
    const f = judgeDb('sqlite-wal', APP);
    expect(f.state).toBe('recovered');
    expect(ev(f)['sqlite.wal_frames']).toBeGreaterThan(0);
    expect(f.hints[0]!.text).toMatch(/loses the -wal/);
  });

  it('damaged page: corrupt although the sqlite3 CLI exited 0', () => {
    const facts = load('sqlite-corrupt');
    expect((facts.find((x) => x.fact === 'integrity')!.value as { exitCode: number }).exitCode).toBe(0);
    expect(judgeDb('sqlite-corrupt', APP, facts).state).toBe('corrupt');
  });

  it('GIVEN integrity_check prints more than exactly "ok" THEN corrupt', () => {
    const f = judgeDb('sqlite-clean', APP, withFault(load('sqlite-clean'), 'integrity', (v) => ({ ...v, output: 'ok\n*** in database main ***' })));
    expect(f.state).toBe('corrupt');
  });
});

describe('what the sandbox refused or found, on captured output with one fact added', () => {
  const add = (facts: Fact[], fact: string, value: unknown, dbPath = fact === 'superjournal' ? APP : PG) => {
    const target = facts.find((f) => f.target.endsWith(`#${dbPath}`))!;
    return [...facts, { check: target.check, target: target.target, fact, value }];
  };

  it('GIVEN a clean cluster one of whose files was refused (a symlink leaving the snapshot) THEN unknown, naming the file, whatever the rest says', () => {
    const facts = add(load('pg-clean'), 'refused', { path: '/backup_label', pathB64: 'L2JhY2t1cF9sYWJlbA==', reason: "a symlink leads outside the snapshot's tree (to /etc/shadow)" });
    const mine = facts.filter((f) => f.target.endsWith(`#${PG}`));
    const f = refusing(judgePostgres)({ engine: 'postgresql', path: PG, filesystem: 'disk' }, mine);
    expect(f.state).toBe('unknown');
    expect(f.summary).toMatch(/\/backup_label: a symlink leads outside/);
    expect(ev(f)['postgresql.refused']).toBe('/backup_label');
    // The same capture without the refusal is judged on its merits.
    expect(refusing(judgePostgres)({ engine: 'postgresql', path: PG, filesystem: 'disk' }, load('pg-clean').filter((x) => x.target.endsWith(`#${PG}`))).state).toBe('clean-shutdown');
  });

  it('GIVEN a hot journal naming a super-journal outside the database directory THEN unknown, naming it; inside the directory THEN only evidence', () => {
    const outside = add(load('sqlite-hotjournal'), 'superjournal', { nameB64: Buffer.from('/etc/victim').toString('base64'), name: '/etc/victim' });
    const f = judgeDb('sqlite-hotjournal', APP, outside);
    expect(f.state).toBe('unknown');
    expect(f.summary).toMatch(/super-journal outside the database's directory \(\/etc\/victim\)/);
    const inside = add(load('sqlite-hotjournal'), 'superjournal', { nameB64: Buffer.from('/data/srv/app/data/app.db-mj1A2B').toString('base64'), name: '/data/srv/app/data/app.db-mj1A2B' });
    const g = judgeDb('sqlite-hotjournal', APP, inside);
    expect(g.state).toBe('recovered');
    expect(ev(g)['sqlite.super_journal']).toBe('/data/srv/app/data/app.db-mj1A2B');
  });

  it('GIVEN configuration files the check moved aside THEN they are evidence, with the settings they would have made', () => {
    const facts = add(load('pg-clean'), 'aside', [{ file: 'postgresql.auto.conf', settings: "ssl_passphrase_command = 'touch /tmp/x'" }]);
    const f = judgeDb('pg-clean', PG, facts);
    expect(ev(f)['postgresql.config_aside']).toEqual(['postgresql.auto.conf']);
    expect(f.excerpts.some((e) => e.text.includes('ssl_passphrase_command'))).toBe(true);
    expect(f.state).toBe('clean-shutdown');
  });
});
