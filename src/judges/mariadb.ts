import type { Fact } from '../checks/runner.js';
import { applySkipped, noteAside, newDbFinding, type DatabaseFinding, type DbTarget } from './database.js';
import { factReader, type MariadbFacts } from './facts.js';

/** RedoCheckpoint is the newer of the two checkpoint blocks of a 10.8+ ib_logfile0. */
export interface RedoCheckpoint {
  checkpointLsn: bigint;
  endLsn: bigint;
}

/** parseRedoBlocks reads checkpoint_lsn and end_lsn (big-endian u64 each) from the two blocks and keeps the newer. */
export function parseRedoBlocks(block1: string, block2: string): RedoCheckpoint | undefined {
  const parse = (hex: string) => (hex.length >= 32 ? { checkpointLsn: BigInt(`0x${hex.slice(0, 16)}`), endLsn: BigInt(`0x${hex.slice(16, 32)}`) } : undefined);
  const a = parse(block1);
  const b = parse(block2);
  if (!a && !b) return undefined;
  if (!a) return b;
  if (!b) return a;
  return a.checkpointLsn >= b.checkpointLsn ? a : b;
}

/** TableStatus is one table's result from mariadb-check. */
export interface TableStatus {
  table: string;
  status: string;
  messages: string[];
}

/** parseTableCheck reads mariadb-check / mysqlcheck output: "db.table  OK" or a table line followed by "type : message" lines. */
export function parseTableCheck(text: string): TableStatus[] {
  const out: TableStatus[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    const msg = /^(\w+)\s*:\s*(.*)$/.exec(line);
    if (msg && out.length) {
      const cur = out[out.length - 1]!;
      const type = msg[1]!.toLowerCase();
      if (type === 'status') cur.status = msg[2]!.trim();
      else {
        cur.messages.push(`${type}: ${msg[2]}`);
        if (type === 'error') cur.status = msg[2]!.trim() || 'error';
      }
      continue;
    }
    const t = /^(\S+\.\S+)\s*(.*)$/.exec(line);
    if (t) out.push({ table: t[1]!, status: t[2]!.trim(), messages: [] });
  }
  return out;
}

/** ENVIRONMENT_FAILURE matches startup failures caused by the helper, not by the data. */
// (Not "Unknown/unsupported storage engine: InnoDB": that follows a failed recovery too.)
const ENVIRONMENT_FAILURE = /Permission denied|Errcode: 13|Can't create\/write to file|Bind on unix socket|Out of memory/;

const NOT_QUIESCED_MY = {
  text: 'MariaDB was running when the snapshot was taken: the restore depends on InnoDB crash recovery (FLUSH TABLES WITH READ LOCK does not make InnoDB clean on disk)',
  remedy: 'snapshot a mariabackup --prepare\'d copy, or a replica stopped for the snapshot, or stop the server first',
};

/** judgeMariadb turns the mariadb check's facts into a database verdict. */
export function judgeMariadb(t: DbTarget, facts: Fact[]): DatabaseFinding {
  const f = newDbFinding(t);
  const fact = factReader<MariadbFacts>(facts);
  const ev = f.evidence;
  const files = fact('files');
  if (files?.datadirVersion) f.version = files.datadirVersion;
  if (files) ev.push({ key: 'mariadb.versions', value: `${files.datadirVersion || '?'} / ${files.serverVersion || '?'}`, text: `datadir written by ${files.datadirVersion || 'an unknown version'}; helper server: ${files.serverVersion || 'none'}` });
  const redo = fact('redo');
  let crashedOffline: boolean | undefined;
  if (redo) {
    if (redo.magic === '50687973') {
      const cp = parseRedoBlocks(redo.block1, redo.block2);
      if (cp) {
        crashedOffline = cp.checkpointLsn < cp.endLsn;
        ev.push({
          key: 'mariadb.redo_checkpoint',
          value: `${cp.checkpointLsn}/${cp.endLsn}`,
          text: crashedOffline
            ? `ib_logfile0: checkpoint_lsn ${cp.checkpointLsn} < end_lsn ${cp.endLsn}: redo to apply, the server was not shut down cleanly`
            : `ib_logfile0: checkpoint_lsn ${cp.checkpointLsn} == end_lsn ${cp.endLsn}: clean shutdown`,
        });
      }
    } else {
      ev.push({ key: 'mariadb.redo_format', value: redo.creator || redo.magic, text: `redo log in a pre-10.8 format (${redo.creator || redo.magic}): clean/crash decided from the startup log` });
    }
  }
  const tables = fact('tables');
  if (tables?.open.length) {
    crashedOffline = true;
    ev.push({ key: 'mariadb.open_tables', value: tables.open.map((t) => t[0]), text: `${tables.open.length} MyISAM/Aria table(s) left open (not closed by a clean shutdown): ${tables.open.map((t) => `${t[0]} (Status: ${t[1]})`).slice(0, 5).join(', ')}` });
  }
  if (applySkipped(f, facts)) return f;
  noteAside(f, facts);
  const corrupt: string[] = [];
  const unknown: string[] = [];
  const start = fact('startup');
  let recoveredOnStart = false;
  if (!start) unknown.push('the server was not started');
  else {
    f.excerpts.push({ title: 'error log on the copy (key lines)', text: start.keyLines || start.log });
    recoveredOnStart = /Starting crash recovery|not shut ?down normally/.test(start.keyLines);
    if (recoveredOnStart) ev.push({ key: 'mariadb.crash_recovery', value: true, text: `startup on the copy: ${/(InnoDB: Starting crash recovery[^\n]*)/.exec(start.keyLines)?.[1] ?? 'crash recovery'}` });
    if (/only scanned up to|Aborting/.test(start.keyLines)) ev.push({ key: 'mariadb.redo_damage', value: true, text: 'recovery aborted: the redo log is damaged inside the recovery range' });
    if (start.ready) ev.push({ key: 'mariadb.started', value: true, text: `the server started on the copy in ${start.seconds.toFixed(1)}s` });
    else if (start.died && ENVIRONMENT_FAILURE.test(start.log)) {
      unknown.push(`the server could not start on the helper (not a problem of the snapshot): ${ENVIRONMENT_FAILURE.exec(start.log)![0]}`);
      f.hints.push({ text: 'the helper could not run MariaDB on the copy', remedy: 'read the error log excerpt: check permissions on the scratch directory and the server version' });
    } else if (start.died) {
      corrupt.push('the server did not start on the copy: crash recovery failed');
      f.hints.push({ text: 'a restore of this snapshot would not start MariaDB', remedy: 'read the error log excerpt; restore an earlier snapshot; innodb_force_recovery on a copy only to salvage data' });
    } else unknown.push(`recovery did not finish within ${start.timeoutSeconds}s`);
  }
  const tc = fact('tablecheck');
  if (tc) {
    f.excerpts.push({ title: 'mariadb-check --all-databases --check', exitCode: tc.exitCode, text: tc.output });
    const tables = parseTableCheck(tc.output);
    const bad = tables.filter((x) => x.status.toUpperCase() !== 'OK' && !(x.status === '' && x.messages.every((m) => m.startsWith('note'))));
    ev.push({ key: 'mariadb.tables_checked', value: tables.length, text: `mariadb-check checked ${tables.length} table(s)${bad.length ? `, ${bad.length} not OK` : ', all OK'} (its exit code ${tc.exitCode} alone would not tell)` });
    if (bad.length) {
      corrupt.push(`CHECK TABLE reports ${bad.map((b) => `${b.table}: ${b.status || b.messages.join(', ')}`).slice(0, 3).join('; ')}`);
      ev.push({ key: 'mariadb.tables_bad', value: bad.map((b) => b.table), text: `tables not OK: ${bad.map((b) => `${b.table} (${[b.status, ...b.messages].filter(Boolean).join('; ')})`).join(', ')}` });
    }
    if (!tc.serverAliveAfter) corrupt.push('the server crashed while checking tables');
    else if (tc.exitCode !== 0 && !bad.length) unknown.push(`mariadb-check failed (exit ${tc.exitCode})`);
  } else if (start?.ready) unknown.push('mariadb-check printed no result');
  const inno = fact('innochecksum');
  if (inno) {
    ev.push({ key: 'mariadb.innochecksum_failures', value: inno.failures.map((x) => x[0]), text: `innochecksum: ${inno.checked} tablespace check(s), ${inno.failures.length} with bad pages${inno.failures.length ? `: ${inno.failures.map((x) => x[0]).join(', ')}` : ''}` });
    if (inno.failures.length) {
      corrupt.push(`innochecksum found bad pages in ${inno.failures.map((x) => x[0]).join(', ')}`);
      f.excerpts.push({ title: 'innochecksum failures', text: inno.failures.map((x) => `${x[0]} (exit ${x[1]}): ${x[2]}`).join('\n') });
    }
  }
  // checkpoint_lsn == end_lsn is necessary but not sufficient: a crash before the first checkpoint after a
  // restart still shows the clean-shutdown values, and only the startup log tells (measured on 10.11).
  const crashed = Boolean(crashedOffline) || recoveredOnStart;
  if (corrupt.length) {
    f.state = 'corrupt';
    f.summary = corrupt.join('; ');
    if (!f.hints.length) f.hints.push({ text: 'data damage that a restore would carry', remedy: 'restore an earlier snapshot; run CHECK TABLE / innochecksum on the source (or a fresh snapshot) and check the storage under it' });
  } else if (unknown.length) {
    f.state = 'unknown';
    f.summary = unknown.join('; ');
  } else if (crashed) {
    f.state = 'recovered';
    f.summary = 'needed InnoDB crash recovery; recovered, every table checks OK';
    f.hints.push(NOT_QUIESCED_MY);
  } else {
    f.state = 'clean-shutdown';
    f.summary = 'cleanly shut down; every table checks OK';
  }
  return f;
}
