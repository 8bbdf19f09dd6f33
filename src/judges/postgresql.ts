import type { Fact } from '../checks/runner.js';
import { applySkipped, noteAside, factValue, newDbFinding, type DatabaseFinding, type DbTarget } from './database.js';

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

/** judgePostgres turns the postgresql check's facts into a database verdict. */
export function judgePostgres(t: DbTarget, facts: Fact[]): DatabaseFinding {
  const f = newDbFinding(t);
  const ev = f.evidence;
  const files = factValue<{ version: string; postmasterPid: boolean; backupLabel: string | null; standbySignal: boolean }>(facts, 'files');
  if (files) {
    f.version = files.version;
    ev.push({ key: 'postgresql.postmaster_pid', value: files.postmasterPid, text: files.postmasterPid ? 'postmaster.pid present: the server was running' : 'no postmaster.pid' });
    ev.push({ key: 'postgresql.backup_label', value: files.backupLabel !== null, text: files.backupLabel ? `backup_label present (${files.backupLabel.split('\n')[0]})` : 'no backup_label' });
    if (files.backupLabel) f.excerpts.push({ title: 'backup_label', text: files.backupLabel });
  }
  if (applySkipped(f, facts)) return f;
  noteAside(f, facts);
  const cd = factValue<{ exitCode: number; output: string }>(facts, 'controldata');
  if (!cd) {
    f.summary = 'the postgresql check printed no pg_controldata result';
    return f;
  }
  f.excerpts.push({ title: 'pg_controldata', exitCode: cd.exitCode, text: cd.output });
  const control = parseControldata(cd.output);
  const state = control.get('Database cluster state') ?? '';
  const corrupt: string[] = [];
  const unknown: string[] = [];
  if (cd.exitCode !== 0 || /CRC checksum does not match/.test(cd.output)) {
    corrupt.push('pg_control is unreadable or fails its CRC check');
    ev.push({ key: 'postgresql.controldata_exit', value: cd.exitCode, text: 'pg_controldata could not read a valid pg_control' });
  }
  ev.push({ key: 'postgresql.cluster_state', value: state, text: `pg_controldata: Database cluster state: ${state}` });
  const redo = control.get("Latest checkpoint's REDO location");
  if (redo) ev.push({ key: 'postgresql.redo_lsn', value: redo, text: `latest checkpoint's REDO location ${redo} (checkpoint at ${control.get('Latest checkpoint location') ?? '?'})` });
  const cleanShutdown = state.startsWith('shut down');
  const backupMode = Boolean(files?.backupLabel);

  // Silent loss: WAL the chain cannot reach, or a segment of the wrong size in the redo range.
  const wal = factValue<{ segmentBytes: number | null; oddSizes: [string, number][] }>(facts, 'wal');
  const dump = factValue<{ end: string; endSegment?: string; message: string; validBeyondEnd: { segment: string; start: string; record: string } | null }>(facts, 'waldump');
  if (wal?.segmentBytes && redo) {
    const redoSeg = Math.floor(lsnToNumber(redo) / wal.segmentBytes);
    for (const [name, size] of wal.oddSizes) {
      const inRange = segmentNumber(name, wal.segmentBytes) >= redoSeg;
      ev.push({ key: 'postgresql.wal_segment_size', value: `${name}:${size}`, text: `WAL segment ${name} is ${size} bytes, not ${wal.segmentBytes}${inRange ? ' (inside the redo range: truncated or damaged)' : ' (before the redo start)'}` });
      if (inRange) corrupt.push(`WAL segment ${name} is truncated (${size} of ${wal.segmentBytes} bytes) inside the redo range`);
    }
  }
  if (dump) {
    const where = dump.end || (dump.endSegment ? `segment ${dump.endSegment}` : '');
    if (where) ev.push({ key: 'postgresql.wal_end', value: where, text: `the WAL chain from the REDO location ends at ${where}: ${dump.message.split('\n').pop()}` });
    if (dump.validBeyondEnd) {
      ev.push({
        key: 'postgresql.wal_beyond_end',
        value: dump.validBeyondEnd.segment,
        text: `valid WAL records exist after the break, in segment ${dump.validBeyondEnd.segment} (from ${dump.validBeyondEnd.start}): recovery stops at ${where} and silently discards them`,
      });
      f.excerpts.push({ title: `pg_waldump: first record in ${dump.validBeyondEnd.segment}`, text: dump.validBeyondEnd.record });
      corrupt.push(`silent data loss: WAL breaks at ${where} but later segments hold committed records`);
      f.hints.push({
        text: `WAL after ${where} is unreachable: the server starts and every check passes, but transactions committed after that point are missing from this restore`,
        remedy: 'do not rely on this snapshot for the latest data: restore an earlier one plus archived WAL (PITR), and take snapshots in backup mode (backup_label) or from a standby',
      });
    }
  }

  const start = factValue<{ ready: boolean; died: boolean; seconds: number; timeoutSeconds: number; keyLines: string; log: string }>(facts, 'startup');
  if (!start) {
    unknown.push('the server was not started');
  } else {
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
      unknown.push(`the server could not start on the helper (not a problem of the snapshot): ${ENVIRONMENT_FAILURE.exec(start.log)![0]}`);
      f.hints.push({ text: 'the helper could not run PostgreSQL on the copy', remedy: 'read the server log excerpt: check permissions on the scratch directory and that no other server holds the socket' });
    } else if (start.died && /WAL ends before end of online backup/.test(start.log)) {
      corrupt.push('backup-mode snapshot without the WAL written up to pg_backup_stop(): recovery cannot reach a consistent state');
      f.hints.push({
        text: 'the snapshot holds backup_label but not the WAL from the backup start to pg_backup_stop(), which recovery needs',
        remedy: 'archive WAL (archive_command / pg_receivewal) and restore it with the snapshot, or take the snapshot from a stopped standby',
      });
    } else if (start.died) {
      corrupt.push('the server did not start on the copy: recovery failed');
      ev.push({ key: 'postgresql.started', value: false, text: 'the server exited during startup/recovery on the copy' });
      f.hints.push({ text: 'a restore of this snapshot would not start PostgreSQL', remedy: 'read the server log excerpt; restore an earlier snapshot; never run pg_resetwal on production data without a copy' });
    } else {
      unknown.push(`recovery did not finish within ${start.timeoutSeconds}s`);
      f.hints.push({ text: 'crash recovery took longer than allowed', remedy: 'raise databases.startupTimeout' });
    }
  }
  const amcheck = factValue<{ exitCode: number; output: string }>(facts, 'amcheck');
  if (amcheck) {
    f.excerpts.push({ title: 'pg_amcheck --all --heapallindexed --install-missing', exitCode: amcheck.exitCode, text: amcheck.output || '(no output: no corruption)' });
    ev.push({ key: 'postgresql.amcheck_exit', value: amcheck.exitCode, text: `pg_amcheck exited ${amcheck.exitCode}${amcheck.exitCode === 0 ? ': no corruption' : amcheck.exitCode === 2 ? ': corruption found' : ': could not check'}` });
    if (amcheck.exitCode === 2) corrupt.push('pg_amcheck found corruption');
    else if (amcheck.exitCode !== 0) unknown.push(`pg_amcheck could not run (exit ${amcheck.exitCode})`);
  } else if (start?.ready) unknown.push('pg_amcheck printed no result');
  const sums = factValue<{ exitCode: number; output: string }>(facts, 'checksums');
  if (sums) {
    f.excerpts.push({ title: 'pg_checksums --check', exitCode: sums.exitCode, text: sums.output });
    ev.push({ key: 'postgresql.checksums_exit', value: sums.exitCode, text: `pg_checksums --check exited ${sums.exitCode}${sums.exitCode === 1 ? ': pages with bad checksums' : ''}` });
    if (sums.exitCode === 1) corrupt.push('pg_checksums found pages with bad checksums');
  }

  if (corrupt.length) {
    f.state = 'corrupt';
    f.summary = corrupt.join('; ');
    if (!f.hints.length) f.hints.push({ text: 'data damage that a restore would carry', remedy: 'restore an earlier snapshot; run pg_amcheck and pg_checksums on the source (or a fresh snapshot) and check the storage under it' });
  } else if (unknown.length) {
    f.state = 'unknown';
    f.summary = unknown.join('; ');
  } else if (backupMode) {
    f.state = 'backup-mode';
    f.summary = 'taken in backup mode (backup_label): recovered to a consistent state, integrity checks pass';
  } else if (cleanShutdown) {
    f.state = 'clean-shutdown';
    f.summary = `cleanly shut down (${state}); integrity checks pass`;
  } else {
    f.state = 'recovered';
    f.summary = `needed crash recovery (${state || 'state unknown'}); recovered, integrity checks pass`;
    f.hints.push(NOT_QUIESCED_PG);
  }
  return f;
}
