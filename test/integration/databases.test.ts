import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { listLedgers } from '../../src/ledger/ledger.js';
import { processesUsing } from '../../src/ledger/resources.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import type { SnapshotResult } from '../../src/report/types.js';
import { dbCatalog, leftovers, sha256, tempDir } from '../helpers.js';

type Want = { consistency: SnapshotResult['consistency']; db: Record<string, string>; evidence?: Record<string, unknown>; policy?: boolean };

/** EXPECTED: per database fixture, the snapshot verdict, each database's state (by path) and deciding evidence. */
const EXPECTED: Record<string, Want> = {
  'snap-pg-clean': { consistency: 'application-consistent', db: { '/var/lib/postgresql/15/main': 'clean-shutdown' }, evidence: { 'postgresql.cluster_state': 'shut down', 'postgresql.amcheck_exit': 0, 'postgresql.checksums_exit': 0 }, policy: true },
  'snap-pg-stale': { consistency: 'application-consistent', db: { '/var/lib/postgresql/15/main': 'clean-shutdown' }, policy: false },
  'snap-pg-crash': { consistency: 'crash-consistent', db: { '/var/lib/postgresql/15/main': 'recovered' }, evidence: { 'postgresql.cluster_state': 'in production', 'postgresql.postmaster_pid': true, 'postgresql.crash_recovery': true }, policy: true },
  'snap-pg-backup': { consistency: 'application-consistent', db: { '/var/lib/postgresql/15/main': 'backup-mode' }, evidence: { 'postgresql.backup_label': true }, policy: true },
  'snap-pg-corrupt': { consistency: 'corrupt', db: { '/var/lib/postgresql/15/main': 'corrupt' }, evidence: { 'postgresql.checksums_exit': 1 }, policy: false },
  'snap-pg-walgap': { consistency: 'corrupt', db: { '/var/lib/postgresql/15/main': 'corrupt' }, policy: false },
  'snap-pg-frozen-running': { consistency: 'crash-consistent', db: { '/var/lib/postgresql/15/main': 'recovered' }, evidence: { 'ext4.needs_recovery': false, 'postgresql.cluster_state': 'in production' }, policy: true },
  'snap-mariadb-clean': { consistency: 'application-consistent', db: { '/var/lib/mysql': 'clean-shutdown' }, policy: true },
  'snap-mariadb-crash': { consistency: 'crash-consistent', db: { '/var/lib/mysql': 'recovered' }, evidence: { 'mariadb.crash_recovery': true }, policy: true },
  'snap-mariadb-corrupt': { consistency: 'corrupt', db: { '/var/lib/mysql': 'corrupt' }, policy: false },
  'snap-sqlite-clean': { consistency: 'application-consistent', db: { '/srv/app/data/app.db': 'clean-shutdown', '/srv/app/data/events.db': 'clean-shutdown' }, evidence: { 'sqlite.integrity': 'ok' }, policy: true },
  'snap-sqlite-hotjournal': { consistency: 'crash-consistent', db: { '/srv/app/data/app.db': 'recovered' }, evidence: { 'sqlite.hot_journal': true }, policy: true },
  'snap-sqlite-wal': { consistency: 'crash-consistent', db: { '/srv/app/data/app.db': 'recovered' }, policy: true },
  'snap-sqlite-corrupt': { consistency: 'corrupt', db: { '/srv/app/data/app.db': 'corrupt' }, policy: false },
};

describe('databases, end to end on the database fixture catalog', () => {
  let outcome: RunOutcome;
  let before: Map<string, string>;
  let scratch: string;
  let stateDir: string;
  const byId = (id: string) => outcome.report.snapshots.find((s) => s.id === id)!;
  const evidenceOf = (s: SnapshotResult) => Object.fromEntries([...s.filesystems, ...s.databases].flatMap((f) => f.evidence.map((e) => [e.key, e.value])));

  beforeAll(async () => {
    const images = readdirSync(dbCatalog()).filter((f) => f.endsWith('.img'));
    before = new Map(await Promise.all(images.map(async (f) => [f, await sha256(path.join(dbCatalog(), f))] as [string, string])));
    scratch = tempDir('db-scratch');
    stateDir = tempDir('db-state');
    const cfgDir = tempDir('db-cfg');
    const cfg = path.join(cfgDir, 'snapdrill.yaml');
    writeFileSync(
      cfg,
      `provider: {type: local, catalog: ${dbCatalog()}, scratchDir: ${scratch}}
output: {dir: ${tempDir('db-out')}}
databases:
  canaries:
    - {name: pg orders fresh, engine: postgresql, database: shop, query: "select max(created_at) from orders", freshWithin: 26h}
    - {name: mariadb orders fresh, engine: mariadb, database: shop, query: "select max(created_at) from orders", freshWithin: 26h}
    - {name: sqlite orders count, engine: sqlite, path: /srv/app/data/app.db, query: "select count(*) from orders", atLeast: 1}
`,
    );
    outcome = await executeRun(loadConfig(cfg), { stateDir, events: {}, signal: new AbortController().signal });
  }, 900_000);

  for (const [id, want] of Object.entries(EXPECTED)) {
    it(`${id}: ${want.consistency}, databases ${Object.values(want.db).join(', ')}`, () => {
      const s = byId(id);
      expect(s, `fixture ${id} missing`).toBeDefined();
      expect(s.consistency, `${id}: ${s.summary}`).toBe(want.consistency);
      expect(Object.fromEntries(s.databases.map((d) => [d.path, d.state])), s.databases.map((d) => d.summary).join(' | ')).toEqual(want.db);
      const ev = evidenceOf(s);
      for (const [k, v] of Object.entries(want.evidence ?? {})) expect(ev[k], `${id} ${k}`).toEqual(v);
      if (want.policy !== undefined) expect(s.policy.pass, `${id}: ${s.policy.reason}`).toBe(want.policy);
    });
  }

  it('reports the silent WAL gap as corrupt with the evidence that gives it away', () => {
    const s = byId('snap-pg-walgap');
    const ev = evidenceOf(s);
    expect(ev['postgresql.wal_beyond_end'] ?? ev['postgresql.wal_segment_size'], JSON.stringify(ev)).toBeDefined();
    expect(s.databases[0]!.summary).toMatch(/silent data loss|truncated/);
  });

  it('fails the stale canary with the age of the newest row, and passes the fresh ones', () => {
    const stale = byId('snap-pg-stale').canaries.find((c) => c.name === 'pg orders fresh')!;
    expect(stale).toMatchObject({ pass: false, value: '2026-11-16 02:00:00' });
    expect(stale.detail).toMatch(/older than the snapshot/);
    expect(byId('snap-pg-clean').canaries.find((c) => c.name === 'pg orders fresh')).toMatchObject({ pass: true, value: '2026-11-20 02:00:00' });
    expect(byId('snap-mariadb-clean').canaries[0]).toMatchObject({ pass: true });
  });

  it('names the remedy for a database that needed crash recovery', () => {
    expect(byId('snap-pg-crash').hints.map((h) => h.remedy).join(' ')).toMatch(/pg_backup_start/);
    expect(byId('snap-mariadb-crash').hints.map((h) => h.remedy).join(' ')).toMatch(/mariabackup/);
  });

  it('never writes the source images', async () => {
    for (const [f, hash] of before) expect(await sha256(path.join(dbCatalog(), f)), f).toBe(hash);
  });

  it('leaves no server process, mount, loop device, scratch file or ledger behind', async () => {
    expect(processesUsing(scratch)).toEqual([]);
    const servers = execFileSync('bash', ['-c', `ps -eo args | grep -E '(postgres|mariadbd|mysqld) ' | grep -F '${scratch}' | grep -v grep || true`], { encoding: 'utf8' });
    expect(servers).toBe('');
    expect(await leftovers(scratch)).toEqual([]);
    expect(readdirSync(scratch)).toEqual([]);
    expect(listLedgers(stateDir)).toEqual([]);
  });

  it('checks databases of one snapshot concurrently with other snapshots without mixing them up', () => {
    const paths = outcome.report.snapshots.flatMap((s) => s.databases.map((d) => `${s.id}:${d.path}`));
    expect(new Set(paths).size).toBe(paths.length);
  });
});

