import type { Fact } from '../checks/runner.js';
import { applySkipped, noteAside, newDbFinding, type DatabaseFinding, type DbTarget } from './database.js';
import { factReader, type FactReader, type PostgresqlFacts } from './facts.js';

/** parseControldata reads `pg_controldata` "Key: value" lines. */
export function parseControldata(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** segmentNumber converts a WAL file name into its segment number for a segment size. */
export function segmentNumber(name: string, segBytes: number): number {
  return parseInt(name.slice(8, 16), 16) * (0x100000000 / segBytes) + parseInt(name.slice(16, 24), 16);
}

/** lsnToNumber parses "X/Y". */
export function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 0x100000000 + parseInt(lo!, 16);
}

/** ENVIRONMENT_FAILURE matches startup failures caused by the helper, not by the data. */
const ENVIRONMENT_FAILURE = /Permission denied|could not create lock file|could not bind|could not create any Unix-domain sockets|could not access directory|out of memory|could not load library/;

const NOT_QUIESCED_PG = {
  text: 'PostgreSQL was running and not in backup mode when the snapshot was taken: the restore depends on crash recovery',
  remedy: 'snapshot from a pre-script that calls pg_backup_start and writes the backup_label returned by pg_backup_stop into the snapshot, or snapshot a standby, or stop PostgreSQL first',
};

/** Verdicts collects what each part of the evidence says against the snapshot: corruption, or why it cannot tell. */
interface Verdicts {
  corrupt: string[];
  unknown: string[];
}

type PgFacts = FactReader<PostgresqlFacts>;

/** judgePostgres turns the postgresql check's facts into a database verdict. */
export function judgePostgres(t: DbTarget, facts: Fact[]): DatabaseFinding {
  const f = newDbFinding(t);
  const fact = factReader<PostgresqlFacts>(facts);
  const files = fact('files');
  if (files) noteFiles(f, files);
  if (applySkipped(f, facts)) return f;
  noteAside(f, facts);
  const cd = fact('controldata');
  if (!cd) {
    f.summary = 'the postgresql check printed no pg_controldata result';
    return f;
  }
  const v: Verdicts = { corrupt: [], unknown: [] };
  const control = noteControldata(f, cd, v);
  const state = control.get('Database cluster state') ?? '';
  noteWal(f, fact, control.get("Latest checkpoint's REDO location"), v);
  const start = fact('startup');
  if (start) noteStartup(f, start, v);
  else v.unknown.push('the server was not started');
  noteIntegrity(f, fact, Boolean(start?.ready), v);
  settle(f, v, { backupMode: Boolean(files?.backupLabel), state });
  return f;
}

/** noteFiles records the data directory's own files: postmaster.pid and backup_label. */
function noteFiles(f: DatabaseFinding, files: PostgresqlFacts['files']): void {
  f.version = files.version;
  f.evidence.push({ key: 'postgresql.postmaster_pid', value: files.postmasterPid, text: files.postmasterPid ? 'postmaster.pid present: the server was running' : 'no postmaster.pid' });
  f.evidence.push({ key: 'postgresql.backup_label', value: files.backupLabel !== null, text: files.backupLabel ? `backup_label present (${files.backupLabel.split('\n')[0]})` : 'no backup_label' });
  if (files.backupLabel) f.excerpts.push({ title: 'backup_label', text: files.backupLabel });
}

/** noteControldata records pg_control: the cluster state and the checkpoint's REDO location; an unreadable pg_control is corruption. */
function noteControldata(f: DatabaseFinding, cd: PostgresqlFacts['controldata'], v: Verdicts): Map<string, string> {
  f.excerpts.push({ title: 'pg_controldata', exitCode: cd.exitCode, text: cd.output });
  const control = parseControldata(cd.output);
  const state = control.get('Database cluster state') ?? '';
  if (cd.exitCode !== 0 || /CRC checksum does not match/.test(cd.output)) {
    v.corrupt.push('pg_control is unreadable or fails its CRC check');
    f.evidence.push({ key: 'postgresql.controldata_exit', value: cd.exitCode, text: 'pg_controldata could not read a valid pg_control' });
  }
  f.evidence.push({ key: 'postgresql.cluster_state', value: state, text: `pg_controldata: Database cluster state: ${state}` });
  const redo = control.get("Latest checkpoint's REDO location");
  if (redo) f.evidence.push({ key: 'postgresql.redo_lsn', value: redo, text: `latest checkpoint's REDO location ${redo} (checkpoint at ${control.get('Latest checkpoint location') ?? '?'})` });
  return control;
}

/** noteWal looks for silent loss: WAL the chain cannot reach, or a segment of the wrong size in the redo range. */
function noteWal(f: DatabaseFinding, fact: PgFacts, redo: string | undefined, v: Verdicts): void {
  const wal = fact('wal');
  if (wal?.segmentBytes && redo) {
    const redoSeg = Math.floor(lsnToNumber(redo) / wal.segmentBytes);
    for (const [name, size] of wal.oddSizes) {
      const inRange = segmentNumber(name, wal.segmentBytes) >= redoSeg;
      f.evidence.push({ key: 'postgresql.wal_segment_size', value: `${name}:${size}`, text: `WAL segment ${name} is ${size} bytes, not ${wal.segmentBytes}${inRange ? ' (inside the redo range: truncated or damaged)' : ' (before the redo start)'}` });
      if (inRange) v.corrupt.push(`WAL segment ${name} is truncated (${size} of ${wal.segmentBytes} bytes) inside the redo range`);
    }
  }
  const dump = fact('waldump');
  if (!dump) return;
  const where = dump.end || (dump.endSegment ? `segment ${dump.endSegment}` : '');
  if (where) f.evidence.push({ key: 'postgresql.wal_end', value: where, text: `the WAL chain from the REDO location ends at ${where}: ${dump.message.split('\n').pop()}` });
  const beyond = dump.validBeyondEnd;
  if (!beyond) return;
  f.evidence.push({
    key: 'postgresql.wal_beyond_end',
    value: beyond.segment,
    text: `valid WAL records exist after the break, in segment ${beyond.segment} (from ${beyond.start}): recovery stops at ${where} and silently discards them`,
  });
  f.excerpts.push({ title: `pg_waldump: first record in ${beyond.segment}`, text: beyond.record });
  v.corrupt.push(`silent data loss: WAL breaks at ${where} but later segments hold committed records`);
  f.hints.push({
    text: `WAL after ${where} is unreachable: the server starts and every check passes, but transactions committed after that point are missing from this restore`,
    remedy: 'do not rely on this snapshot for the latest data: restore an earlier one plus archived WAL (PITR), and take snapshots in backup mode (backup_label) or from a standby',
  });
}

/** noteStartup reads what starting the server on the copy did: recovery, where redo stopped, and why it died if it did. */
function noteStartup(f: DatabaseFinding, start: PostgresqlFacts['startup'], v: Verdicts): void {
  const ev = f.evidence;
  f.excerpts.push({ title: 'server log on the copy (key lines)', text: start.keyLines || start.log });
  const redoDone = /redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(start.keyLines)?.[1];
  if (/was not properly shut down|automatic recovery in progress/.test(start.keyLines)) ev.push({ key: 'postgresql.crash_recovery', value: true, text: 'startup on the copy: database system was not properly shut down; automatic recovery in progress' });
  if (/starting backup recovery|backup_label/.test(start.keyLines)) ev.push({ key: 'postgresql.backup_recovery', value: true, text: 'startup on the copy used backup_label (backup recovery)' });
  if (redoDone) ev.push({ key: 'postgresql.redo_done', value: redoDone, text: `recovery replayed WAL up to ${redoDone}` });
  const stopLine = /(could not read from log segment[^\n]*|incorrect resource manager data checksum[^\n]*|invalid record length[^\n]*|unexpected pageaddr[^\n]*)/.exec(start.keyLines)?.[1];
  if (stopLine) ev.push({ key: 'postgresql.redo_stop', value: stopLine, text: `recovery stopped at: ${stopLine}` });
  if (start.ready) {
    ev.push({ key: 'postgresql.started', value: true, text: `the server started on the copy in ${start.seconds.toFixed(1)}s` });
  } else if (start.died && ENVIRONMENT_FAILURE.test(start.log)) {
    v.unknown.push(`the server could not start on the helper (not a problem of the snapshot): ${ENVIRONMENT_FAILURE.exec(start.log)![0]}`);
    f.hints.push({ text: 'the helper could not run PostgreSQL on the copy', remedy: 'read the server log excerpt: check permissions on the scratch directory and that no other server holds the socket' });
  } else if (start.died && /WAL ends before end of online backup/.test(start.log)) {
    v.corrupt.push('backup-mode snapshot without the WAL written up to pg_backup_stop(): recovery cannot reach a consistent state');
    f.hints.push({
      text: 'the snapshot holds backup_label but not the WAL from the backup start to pg_backup_stop(), which recovery needs',
      remedy: 'archive WAL (archive_command / pg_receivewal) and restore it with the snapshot, or take the snapshot from a stopped standby',
    });
  } else if (start.died) {
    v.corrupt.push('the server did not start on the copy: recovery failed');
    ev.push({ key: 'postgresql.started', value: false, text: 'the server exited during startup/recovery on the copy' });
    f.hints.push({ text: 'a restore of this snapshot would not start PostgreSQL', remedy: 'read the server log excerpt; restore an earlier snapshot; never run pg_resetwal on production data without a copy' });
  } else {
    v.unknown.push(`recovery did not finish within ${start.timeoutSeconds}s`);
    f.hints.push({ text: 'crash recovery took longer than allowed', remedy: 'raise databases.startupTimeout' });
  }
}

/** noteIntegrity reads pg_amcheck (needed once the server started) and pg_checksums. */
function noteIntegrity(f: DatabaseFinding, fact: PgFacts, started: boolean, v: Verdicts): void {
  const amcheck = fact('amcheck');
  if (amcheck) {
    f.excerpts.push({ title: 'pg_amcheck --all --heapallindexed --install-missing', exitCode: amcheck.exitCode, text: amcheck.output || '(no output: no corruption)' });
    f.evidence.push({ key: 'postgresql.amcheck_exit', value: amcheck.exitCode, text: `pg_amcheck exited ${amcheck.exitCode}${amcheck.exitCode === 0 ? ': no corruption' : amcheck.exitCode === 2 ? ': corruption found' : ': could not check'}` });
    if (amcheck.exitCode === 2) v.corrupt.push('pg_amcheck found corruption');
    else if (amcheck.exitCode !== 0) v.unknown.push(`pg_amcheck could not run (exit ${amcheck.exitCode})`);
  } else if (started) v.unknown.push('pg_amcheck printed no result');
  const sums = fact('checksums');
  if (!sums) return;
  f.excerpts.push({ title: 'pg_checksums --check', exitCode: sums.exitCode, text: sums.output });
  f.evidence.push({ key: 'postgresql.checksums_exit', value: sums.exitCode, text: `pg_checksums --check exited ${sums.exitCode}${sums.exitCode === 1 ? ': pages with bad checksums' : ''}` });
  if (sums.exitCode === 1) v.corrupt.push('pg_checksums found pages with bad checksums');
}

/** settle sets the finding's state: corrupt before unknown before backup mode, clean shutdown, then crash recovery. */
function settle(f: DatabaseFinding, v: Verdicts, how: { backupMode: boolean; state: string }): void {
  if (v.corrupt.length) {
    f.state = 'corrupt';
    f.summary = v.corrupt.join('; ');
    if (!f.hints.length) f.hints.push({ text: 'data damage that a restore would carry', remedy: 'restore an earlier snapshot; run pg_amcheck and pg_checksums on the source (or a fresh snapshot) and check the storage under it' });
  } else if (v.unknown.length) {
    f.state = 'unknown';
    f.summary = v.unknown.join('; ');
  } else if (how.backupMode) {
    f.state = 'backup-mode';
    f.summary = 'taken in backup mode (backup_label): recovered to a consistent state, integrity checks pass';
  } else if (how.state.startsWith('shut down')) {
    f.state = 'clean-shutdown';
    f.summary = `cleanly shut down (${how.state}); integrity checks pass`;
  } else {
    f.state = 'recovered';
    f.summary = `needed crash recovery (${how.state || 'state unknown'}); recovered, integrity checks pass`;
    f.hints.push(NOT_QUIESCED_PG);
  }
}
