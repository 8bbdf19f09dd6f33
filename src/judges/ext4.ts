import type { Fact } from '../checks/runner.js';
import type { FsTarget } from './discovery.js';
import { newFsFinding } from './filesystem.js';
import { factReader, type Ext4Facts } from './facts.js';
import { asToolRun, type Evidence, type FilesystemFinding, type Hint } from './types.js';

/** E2FSCK_BITS are e2fsck's exit-code bits (e2fsck(8)). */
const E2FSCK_BITS: [number, string][] = [
  [1, 'errors corrected'],
  [2, 'errors corrected, reboot needed'],
  [4, 'errors left uncorrected'],
  [8, 'operational error'],
  [16, 'usage or syntax error'],
  [32, 'cancelled by user'],
  [128, 'shared-library error'],
];

/** decodeE2fsckExit spells out an e2fsck exit code's bit mask. */
export function decodeE2fsckExit(code: number): string {
  if (code === 0) return 'no errors';
  const parts = E2FSCK_BITS.filter(([bit]) => (code & bit) !== 0).map(([, s]) => s);
  return parts.length ? parts.join(' + ') : `unexpected exit ${code}`;
}

/** Ext4Superblock is what the judge reads from dumpe2fs -h. */
export interface Ext4Superblock {
  features: string[];
  state?: string;
  journalStart?: number;
  uuid?: string;
  label?: string;
  lastMount?: string;
  lastWrite?: string;
}

/** parseDumpe2fs reads the `Key: value` lines of `dumpe2fs -h`. */
export function parseDumpe2fs(text: string): Ext4Superblock {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z][A-Za-z /#]*?):\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!.trim());
  }
  const sb: Ext4Superblock = { features: (fields.get('Filesystem features') ?? '').split(/\s+/).filter(Boolean) };
  const set = <K extends keyof Ext4Superblock>(k: K, v: Ext4Superblock[K] | undefined) => {
    if (v !== undefined && v !== '') sb[k] = v;
  };
  set('state', fields.get('Filesystem state'));
  const js = fields.get('Journal start');
  if (js !== undefined && /^\d+$/.test(js)) sb.journalStart = Number(js);
  set('uuid', fields.get('Filesystem UUID'));
  const label = fields.get('Filesystem volume name');
  if (label && label !== '<none>') sb.label = label;
  set('lastMount', fields.get('Last mount time'));
  set('lastWrite', fields.get('Last write time'));
  return sb;
}

const NOT_QUIESCED: Hint = {
  text: 'not quiesced at snapshot time: the filesystem was mounted and not frozen, so the snapshot is crash-consistent at best',
  remedy: 'freeze the filesystem around the snapshot (fsfreeze -f / -u in a pre/post script, or AWS Backup / DLM pre- and post-scripts)',
};

/** judgeExt4 turns the ext4 check's facts into a filesystem verdict. */
export function judgeExt4(t: FsTarget, facts: Fact[]): FilesystemFinding {
  const f = newFsFinding(t);
  const ev = (e: Evidence) => f.evidence.push(e);
  const sbFact = factReader<Ext4Facts>(facts)('superblock');
  if (!sbFact || typeof sbFact.exitCode !== 'number') {
    f.summary = 'the ext4 check printed no superblock';
    return f;
  }
  if (sbFact.exitCode !== 0) {
    f.state = 'unreadable';
    f.summary = `dumpe2fs could not read the superblock (exit ${sbFact.exitCode})`;
    ev({ key: 'ext4.dumpe2fs-exit', value: sbFact.exitCode, text: f.summary });
    f.excerpts.push({ title: 'dumpe2fs -h', exitCode: sbFact.exitCode, text: sbFact.lines });
    f.hints.push({ text: 'the superblock is damaged or this is not really ext4', remedy: 'try a backup superblock on a copy: e2fsck -b 32768 -fn' });
    return f;
  }
  const sb = parseDumpe2fs(sbFact.lines);
  f.excerpts.push({ title: 'dumpe2fs -h (selected lines)', command: `dumpe2fs -h ${t.device}`, exitCode: 0, text: sbFact.lines });
  const needsRecovery = sb.features.includes('needs_recovery');
  const hasJournal = sb.features.includes('has_journal');
  ev({
    key: 'ext4.needs_recovery',
    value: needsRecovery,
    text: needsRecovery
      ? 'superblock feature needs_recovery is set: the filesystem was mounted (and not frozen) when the snapshot was taken'
      : hasJournal
        ? 'no needs_recovery flag: cleanly unmounted, or frozen (fsfreeze flushes the journal and clears the flag)'
        : 'no journal (ext2-style): no recovery flag to read',
  });
  if (sb.journalStart !== undefined) {
    ev({
      key: 'ext4.journal_start',
      value: sb.journalStart,
      text:
        sb.journalStart === 0
          ? 'Journal start: 0 (the journal holds nothing to replay)'
          : `Journal start: ${sb.journalStart} (the journal holds transactions not yet written to their final place)`,
    });
  }
  if (sb.state) ev({ key: 'ext4.state', value: sb.state, text: `Filesystem state: ${sb.state} (shown for every ext4 snapshot; it does not tell clean from crashed)` });

  const replay = asToolRun(facts.find((x) => x.fact === 'replay')?.value);
  if (needsRecovery) {
    if (!replay) {
      f.summary = 'needs journal recovery, but the check printed no replay result';
      return f;
    }
    f.excerpts.push({ title: 'journal replay', command: replay.command ?? 'e2fsck -y -E journal_only', exitCode: replay.exitCode, text: replay.output });
    ev({ key: 'ext4.replay_exit', value: replay.exitCode, text: `journal replay (e2fsck -E journal_only) exited ${replay.exitCode}: ${decodeE2fsckExit(replay.exitCode)}` });
    if ((replay.exitCode & ~3) !== 0) {
      f.state = 'corrupt';
      f.summary = `journal replay failed: ${decodeE2fsckExit(replay.exitCode)}`;
      f.hints.push({ text: 'the journal could not be replayed: a restore of this snapshot may not mount', remedy: 'restore an earlier snapshot; inspect a copy with e2fsck -fy to see what repair would lose' });
      return f;
    }
  }
  const fsck = asToolRun(facts.find((x) => x.fact === 'fsck')?.value);
  if (!fsck) {
    f.summary = 'the ext4 check printed no fsck result';
    return f;
  }
  f.excerpts.push({ title: 'e2fsck -fn', command: fsck.command ?? 'e2fsck -fn', exitCode: fsck.exitCode, text: fsck.output });
  ev({ key: 'ext4.fsck_exit', value: fsck.exitCode, text: `e2fsck -fn${needsRecovery ? ' after replay' : ''} exited ${fsck.exitCode}: ${decodeE2fsckExit(fsck.exitCode)}` });
  if (fsck.exitCode === 0) {
    if (needsRecovery) {
      f.state = 'replayed';
      if (sb.journalStart === 0) {
        f.summary = 'mounted and not frozen at snapshot time; the journal was empty (idle), clean after recovery';
      } else {
        f.summary = 'needed journal replay; clean after replay';
      }
      f.hints.push(NOT_QUIESCED);
    } else {
      f.state = 'clean';
      f.summary = 'clean: no journal recovery needed (cleanly unmounted or frozen), e2fsck found no errors';
    }
    return f;
  }
  if ((fsck.exitCode & 4) !== 0) {
    f.state = 'corrupt';
    const problems = fsck.output
      .split('\n')
      .filter((l) => /^(Inode|Entry|Block|Directory|Free|Inode bitmap|Block bitmap|Unattached|Pass \d.*: .*error|Illegal|Deleted|Missing)/i.test(l.trim()) && !/^Pass \d/.test(l.trim()))
      .slice(0, 5);
    f.summary = `e2fsck found errors${needsRecovery ? ' after journal replay' : ''}: ${decodeE2fsckExit(fsck.exitCode)}`;
    if (problems.length) ev({ key: 'ext4.fsck_problems', value: problems, text: `first problems reported: ${problems.join(' / ')}` });
    f.hints.push({
      text: 'metadata damage that a restore would carry: files may be missing or unreadable after e2fsck repairs it',
      remedy: 'restore from an earlier snapshot; check the source filesystem (e2fsck -fn during a maintenance window, or on a fresh snapshot) and the storage under it',
    });
    if (needsRecovery) f.hints.push(NOT_QUIESCED);
    return f;
  }
  f.state = (fsck.exitCode & 8) !== 0 ? 'unreadable' : 'unknown';
  f.summary = `e2fsck could not check the filesystem: ${decodeE2fsckExit(fsck.exitCode)}`;
  f.hints.push({ text: 'e2fsck did not complete', remedy: 'read the e2fsck excerpt; re-run on a copy by hand (e2fsck -fn DEVICE)' });
  return f;
}
