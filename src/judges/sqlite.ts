import type { Fact } from '../checks/runner.js';
import { applySkipped, newDbFinding, type DatabaseFinding, type DbTarget } from './database.js';
import { factReader, type SqliteFacts } from './facts.js';

const SQLITE_MAGIC = '53514c69746520666f726d6174203300';
const JOURNAL_MAGIC = 'd9d505f920a163d7';

/** superJournal reads the super-journal a hot journal names; outside is true when it is not in the database's own directory (as the source machine saw it). */
function superJournal(t: DbTarget, facts: Fact[]): { name: string; outside: boolean } | undefined {
  const fact = factReader<SqliteFacts>(facts);
  const v = fact('superjournal');
  if (!v) return undefined;
  const raw = Buffer.from(v.nameB64, 'base64').toString('latin1');
  const dir = t.path.slice(0, t.path.lastIndexOf('/'));
  const sjDir = raw.slice(0, raw.lastIndexOf('/'));
  // The filesystem may have been mounted anywhere on the source machine: its directory must end with the database's.
  const inside = raw.startsWith('/') && !raw.split('/').includes('..') && (dir === '' ? sjDir.lastIndexOf('/') <= 0 : sjDir === dir || sjDir.endsWith(dir));
  const outside = !inside;
  return { name: v.name, outside };
}

/** judgeSqlite turns the sqlite check's facts into a database verdict. */
export function judgeSqlite(t: DbTarget, facts: Fact[]): DatabaseFinding {
  const f = newDbFinding(t);
  const fact = factReader<SqliteFacts>(facts);
  const ev = f.evidence;
  if (applySkipped(f, facts)) return f;
  const files = fact('files');
  if (!files) {
    f.summary = 'the sqlite check printed no file facts';
    return f;
  }
  const header = files.header;
  if (!header.startsWith(SQLITE_MAGIC)) {
    f.state = 'corrupt';
    f.summary = 'the file no longer starts with the SQLite header';
    return f;
  }
  const rawPage = parseInt(header.slice(32, 36), 16);
  const pageSize = rawPage === 1 ? 65536 : rawPage;
  const walMode = header.slice(36, 38) === '02';
  ev.push({ key: 'sqlite.journal_mode', value: walMode ? 'wal' : 'rollback', text: `header: page size ${pageSize}, ${walMode ? 'WAL mode' : 'rollback-journal mode'}` });
  let needsRecovery = false;
  if (files.journal) {
    const hot = files.journal.size > 0 && files.journal.head.startsWith(JOURNAL_MAGIC);
    const nRec = files.journal.head.length >= 24 ? parseInt(files.journal.head.slice(16, 24), 16) : 0;
    ev.push({
      key: 'sqlite.hot_journal',
      value: hot,
      text: hot ? `hot rollback journal (${files.journal.size} bytes, magic ${JOURNAL_MAGIC}, record count ${nRec === 0xffffffff ? 'unknown (-1)' : nRec}): a transaction was in flight; opening rolls it back` : `-journal present but not hot (${files.journal.size} bytes, zeroed header)`,
    });
    needsRecovery ||= hot;
  }
  const sj = superJournal(t, facts);
  if (sj) {
    ev.push({ key: 'sqlite.super_journal', value: sj.name, text: `the hot journal names a super-journal (a multi-database transaction was in flight): ${sj.name}` });
    if (sj.outside) {
      f.state = 'unknown';
      f.summary = `the hot journal names a super-journal outside the database's directory (${sj.name}): not followed, so the rollback could not be judged`;
      f.hints.push({
        text: 'SQLite opens, and on rollback deletes, the file a hot journal names as its super-journal: on a machine that restores this snapshot that can be any file',
        remedy: 'treat the disk as tampered with; restore it only on an isolated machine, and inspect the -journal file before opening the database',
      });
      return f;
    }
  }
  if (files.wal) {
    const magic = files.wal.head.slice(0, 8);
    const valid = magic === '377f0682' || magic === '377f0683';
    const frames = valid && files.wal.size > 32 ? Math.floor((files.wal.size - 32) / (pageSize + 24)) : 0;
    ev.push({
      key: 'sqlite.wal_frames',
      value: frames,
      text: frames > 0 ? `-wal holds ${frames} frame(s) not checkpointed into the database: committed data lives only in the -wal file` : `-wal present with no frames (${files.wal.size} bytes)`,
    });
    if (frames > 0) {
      needsRecovery = true;
      f.hints.push({
        text: 'committed transactions were only in the -wal file: a restore that loses the -wal (a copy of the .db alone) silently loses them',
        remedy: 'checkpoint before the snapshot (PRAGMA wal_checkpoint(TRUNCATE)) or back up with the sqlite3 .backup API / VACUUM INTO',
      });
    }
  }
  const integ = fact('integrity');
  if (!integ) {
    f.summary = 'the sqlite check printed no integrity_check result';
    return f;
  }
  f.excerpts.push({ title: 'PRAGMA integrity_check', exitCode: integ.exitCode, text: integ.output });
  const ok = integ.exitCode === 0 && integ.output.trim() === 'ok';
  ev.push({ key: 'sqlite.integrity', value: ok ? 'ok' : integ.output.split('\n')[0] ?? '', text: ok ? 'PRAGMA integrity_check: ok' : `PRAGMA integrity_check did not print exactly "ok" (the CLI exited ${integ.exitCode}): ${integ.output.split('\n').slice(0, 2).join(' / ')}` });
  if (!ok) {
    f.state = 'corrupt';
    f.summary = 'integrity_check reports corruption';
    f.hints.push({ text: 'the database is damaged in the snapshot', remedy: 'restore an earlier snapshot; on a copy, .recover in the sqlite3 CLI salvages what it can' });
  } else if (needsRecovery) {
    f.state = 'recovered';
    f.summary = 'was open with uncommitted or un-checkpointed changes; recovered on open, integrity ok';
    if (!f.hints.length) f.hints.push({ text: 'the application was writing when the snapshot was taken', remedy: 'quiesce the application or copy the database with the .backup API before the snapshot' });
  } else {
    f.state = 'clean-shutdown';
    f.summary = 'closed cleanly (no hot journal, no WAL frames); integrity ok';
  }
  return f;
}
