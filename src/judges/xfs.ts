import type { Fact } from '../checks/runner.js';
import type { FsTarget } from './discovery.js';
import { newFsFinding } from './filesystem.js';
import { factReader, type XfsFacts, type XfsLogSummary } from './facts.js';
import { asToolRun, type Evidence, type FilesystemFinding } from './types.js';

/** XfsLogSummary is the xfs check's digest of `xfs_logprint -t` (judges/facts.ts). */
export type { XfsLogSummary };

/** metadataItems counts log items other than superblock buffers: the ones replay would apply to metadata. */
export function metadataItems(s: XfsLogSummary): number {
  return Object.entries(s.items)
    .filter(([k]) => k !== 'BUF/superblock')
    .reduce((n, [, c]) => n + c, 0);
}

function describeItems(items: Record<string, number>): string {
  const e = Object.entries(items).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, c]) => `${c} ${k}`).join(', ') : 'no items';
}

/** judgeXfs turns the xfs check's facts into a filesystem verdict. */
export function judgeXfs(t: FsTarget, facts: Fact[]): FilesystemFinding {
  const f = newFsFinding({ ...t, fstype: 'xfs' });
  const ev = (e: Evidence) => f.evidence.push(e);
  const log = factReader<XfsFacts>(facts)('log');
  if (!log || typeof log.exitCode !== 'number') {
    f.summary = 'the xfs check printed no log state';
    return f;
  }
  f.excerpts.push({ title: 'xfs_logprint -t (head)', command: `xfs_logprint -t ${t.device}`, exitCode: log.exitCode, text: log.output });
  if (log.exitCode !== 0 || !log.summary?.state) {
    f.state = 'unreadable';
    f.summary = `xfs_logprint could not read the log (exit ${log.exitCode})`;
    ev({ key: 'xfs.logprint_exit', value: log.exitCode, text: f.summary });
    f.hints.push({ text: 'the log or superblock is damaged', remedy: 'inspect a copy with xfs_repair -n, then xfs_repair -L only as a last resort (it discards the log)' });
    return f;
  }
  const s = log.summary;
  const dirty = s.state === 'DIRTY';
  const meta = metadataItems(s);
  ev({ key: 'xfs.log_state', value: s.state, text: `xfs_logprint: log tail ${s.tail} head ${s.head} state <${s.state}>` });
  let kind: 'clean' | 'superblock-only' | 'metadata' = 'clean';
  if (dirty) {
    kind = meta === 0 ? 'superblock-only' : 'metadata';
    ev({
      key: 'xfs.log_contents',
      value: describeItems(s.items),
      text:
        kind === 'superblock-only'
          ? `the log holds only superblock records (${s.transactions} transaction(s), ${describeItems(s.items)}): written by fsfreeze, or by the log cover of an idle filesystem; no metadata needs replay`
          : `the log holds real metadata transactions (${s.transactions} transaction(s): ${describeItems(s.items)}): the filesystem was mounted and changing when the snapshot was taken`,
    });
  }
  const replay = asToolRun(facts.find((x) => x.fact === 'replay')?.value);
  if (dirty) {
    if (!replay) {
      f.summary = 'dirty log, but the check printed no replay result';
      return f;
    }
    f.excerpts.push({ title: 'log replay (mount rw, nouuid; umount)', command: replay.command ?? 'mount; umount', exitCode: replay.exitCode, text: replay.output || '(no output)' });
    ev({ key: 'xfs.replay_exit', value: replay.exitCode, text: replay.exitCode === 0 ? 'log replayed by mounting the scratch copy (nouuid) and unmounting it' : `mounting the scratch copy to replay the log failed (exit ${replay.exitCode})` });
    if (replay.exitCode !== 0) {
      f.state = 'corrupt';
      f.summary = 'log recovery failed: the filesystem does not mount';
      f.hints.push({ text: 'a restore of this snapshot would not mount', remedy: 'restore an earlier snapshot; on a copy, xfs_repair -L discards the log at the cost of the changes in it' });
      return f;
    }
  }
  const repair = asToolRun(facts.find((x) => x.fact === 'repair')?.value);
  if (!repair) {
    f.summary = 'the xfs check printed no xfs_repair result';
    return f;
  }
  f.excerpts.push({ title: 'xfs_repair -n', command: repair.command ?? 'xfs_repair -n', exitCode: repair.exitCode, text: repair.output });
  ev({ key: 'xfs.repair_exit', value: repair.exitCode, text: `xfs_repair -n${dirty ? ' after replay' : ''} exited ${repair.exitCode}${repair.exitCode === 0 ? ': no corruption' : repair.exitCode === 1 ? ': corruption found' : ''}` });
  if (repair.exitCode === 0) {
    if (kind === 'clean') {
      f.state = 'clean';
      f.summary = 'clean: log empty (cleanly unmounted), xfs_repair found no corruption';
    } else if (kind === 'superblock-only') {
      f.state = 'frozen';
      f.summary = 'frozen or idle: the log held only superblock records, xfs_repair found no corruption';
    } else {
      f.state = 'replayed';
      f.summary = 'needed log replay (metadata transactions); clean after replay';
      f.hints.push({
        text: 'not quiesced at snapshot time: XFS was mounted and changing, so the snapshot is crash-consistent at best',
        remedy: 'freeze the filesystem around the snapshot (xfs_freeze / fsfreeze -f and -u in pre/post scripts, or AWS Backup / DLM pre- and post-scripts)',
      });
    }
    return f;
  }
  if (repair.exitCode === 1) {
    f.state = 'corrupt';
    const problems = repair.output
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^(Phase \d|- |No modify flag set|Note - |XFS_REPAIR Summary|ALERT)/.test(l) && !/^\w+ \d+ \w+ \d+:\d+/.test(l))
      .slice(0, 5);
    f.summary = `xfs_repair -n found corruption${dirty ? ' after log replay' : ''}`;
    if (problems.length) ev({ key: 'xfs.repair_problems', value: problems, text: `first problems reported: ${problems.join(' / ')}` });
    f.hints.push({
      text: 'metadata damage that a restore would carry',
      remedy: 'restore from an earlier snapshot; check the source (xfs_repair -n on a fresh snapshot) and the storage under it',
    });
    return f;
  }
  f.state = 'unknown';
  f.summary = `xfs_repair -n could not complete (exit ${repair.exitCode})`;
  f.hints.push({ text: 'xfs_repair did not complete', remedy: 'read the excerpt; re-run xfs_repair -n on a copy by hand' });
  return f;
}
