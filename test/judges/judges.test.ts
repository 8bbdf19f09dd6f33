import { describe, expect, it } from 'vitest';
import type { Fact } from '../../src/checks/runner.js';
import { judgeDiscovery } from '../../src/judges/discovery.js';
import { decodeE2fsckExit, judgeExt4, parseDumpe2fs } from '../../src/judges/ext4.js';
import { judgeSnapshot } from '../../src/judges/snapshot.js';
import type { FilesystemFinding } from '../../src/judges/types.js';
import { judgeXfs } from '../../src/judges/xfs.js';
import { captured, withFault } from './facts.js';

// Facts captured from the real checks on the real fixture images (scripts/capture-facts.ts).
const { load } = captured('facts');
const CHECKABLE = (t: string) => ['ext4', 'ext3', 'ext2', 'xfs'].includes(t);

/** judgeAll runs discovery and the filesystem judges on captured facts, as the orchestrator does. */
function judgeAll(facts: Fact[]): FilesystemFinding[] {
  const d = judgeDiscovery(
    facts.filter((f) => f.check === 'discover'),
    CHECKABLE,
  );
  const out = [...d.findings];
  for (const t of d.targets) {
    const mine = facts.filter((f) => f.check !== 'discover' && f.target === t.device);
    out.push(t.fstype === 'xfs' ? judgeXfs(t, mine) : judgeExt4(t, mine));
  }
  return out;
}

const evidence = (f: FilesystemFinding) => Object.fromEntries(f.evidence.map((e) => [e.key, e.value]));

describe('ext4 judge on captured output', () => {
  it('clean unmount: clean, with the needs_recovery flag absent as evidence', () => {
    const [f] = judgeAll(load('ext4-clean'));
    expect(f!.state).toBe('clean');
    expect(evidence(f!)).toMatchObject({ 'ext4.needs_recovery': false, 'ext4.fsck_exit': 0 });
    expect(f!.hints).toEqual([]);
  });

  it('frozen copy: clean (fsfreeze flushed the journal)', () => {
    expect(judgeAll(load('ext4-frozen'))[0]!.state).toBe('clean');
  });

  it('crash copy: replayed, journal start non-zero, hint names fsfreeze', () => {
    const [f] = judgeAll(load('ext4-crash'));
    expect(f!.state).toBe('replayed');
    expect(evidence(f!)['ext4.journal_start']).toBeGreaterThan(0);
    expect(f!.hints[0]!.remedy).toMatch(/fsfreeze/);
  });

  it('idle mounted copy: replayed (not quiesced) and says the journal was empty', () => {
    const [f] = judgeAll(load('ext4-idle'));
    expect(f!.state).toBe('replayed');
    expect(evidence(f!)['ext4.journal_start']).toBe(0);
    expect(f!.summary).toMatch(/journal was empty/);
  });

  it('damage after replay: corrupt, quoting the first problems e2fsck printed', () => {
    const [f] = judgeAll(load('ext4-corrupt'));
    expect(f!.state).toBe('corrupt');
    expect(f!.summary).toMatch(/after journal replay/);
    expect((evidence(f!)['ext4.fsck_problems'] as string[])[0]).toMatch(/has deleted\/unused inode/);
  });

  it('GIVEN a failed replay (exit 12) THEN corrupt, before fsck is even read', () => {
    const [f] = judgeAll(withFault(load('ext4-crash'), 'replay', (v) => ({ ...v, exitCode: 12 })));
    expect(f!.state).toBe('corrupt');
    expect(f!.summary).toBe('journal replay failed: errors left uncorrected + operational error');
  });

  it('GIVEN needs_recovery but no replay fact THEN unknown, never clean', () => {
    const [f] = judgeAll(withFault(load('ext4-crash'), 'replay', 'remove'));
    expect(f!.state).toBe('unknown');
  });

  it('GIVEN no fsck result THEN unknown: a check that printed nothing is never a pass', () => {
    expect(judgeAll(withFault(load('ext4-clean'), 'fsck', 'remove'))[0]!.state).toBe('unknown');
  });

  it('GIVEN e2fsck operational error (8) THEN unreadable', () => {
    expect(judgeAll(withFault(load('ext4-clean'), 'fsck', (v) => ({ ...v, exitCode: 8 })))[0]!.state).toBe('unreadable');
  });

  it('GIVEN dumpe2fs failed THEN unreadable with a backup-superblock remedy', () => {
    const [f] = judgeAll(withFault(load('ext4-clean'), 'superblock', () => ({ exitCode: 1, lines: 'dumpe2fs: Bad magic number in super-block' })));
    expect(f!.state).toBe('unreadable');
    expect(f!.hints[0]!.remedy).toMatch(/backup superblock/);
  });

  it('decodes the e2fsck exit bit mask', () => {
    expect(decodeE2fsckExit(0)).toBe('no errors');
    expect(decodeE2fsckExit(4)).toBe('errors left uncorrected');
    expect(decodeE2fsckExit(5)).toBe('errors corrected + errors left uncorrected');
    expect(decodeE2fsckExit(136)).toBe('operational error + shared-library error');
  });

  it('parses dumpe2fs lines, including a label of <none>', () => {
    const sb = parseDumpe2fs('Filesystem volume name:   <none>\nFilesystem features:      has_journal needs_recovery\nJournal start:            7\n');
    expect(sb).toEqual({ features: ['has_journal', 'needs_recovery'], journalStart: 7 });
  });
});

describe('XFS judge on captured output', () => {
  it('clean: CLEAN log, repair 0', () => {
    const [f] = judgeAll(load('xfs-clean'));
    expect(f!.state).toBe('clean');
    expect(evidence(f!)).toMatchObject({ 'xfs.log_state': 'CLEAN', 'xfs.repair_exit': 0 });
  });

  it('frozen: DIRTY log with only superblock records is frozen, not replayed', () => {
    const [f] = judgeAll(load('xfs-frozen'));
    expect(f!.state).toBe('frozen');
    expect(evidence(f!)['xfs.log_contents']).toMatch(/^\d+ BUF\/superblock$/);
  });

  it('crash: DIRTY log with inode and buffer items is replayed, with a freeze remedy', () => {
    const [f] = judgeAll(load('xfs-crash'));
    expect(f!.state).toBe('replayed');
    expect(evidence(f!)['xfs.log_contents']).toMatch(/INO/);
    expect(f!.hints[0]!.remedy).toMatch(/freeze/);
  });

  it('corrupt: repair exits 1 after replay; the log ALERT alone is not what convicted it', () => {
    const [f] = judgeAll(load('xfs-corrupt'));
    expect(f!.state).toBe('corrupt');
    const problems = evidence(f!)['xfs.repair_problems'] as string[];
    expect(problems.join('\n')).toMatch(/free inode/);
    expect(problems.join('\n')).not.toMatch(/ALERT/);
  });

  it('GIVEN the replay mount failed THEN corrupt: the restore would not mount', () => {
    const [f] = judgeAll(withFault(load('xfs-crash'), 'replay', (v) => ({ ...v, exitCode: 32, output: 'mount: Structure needs cleaning' })));
    expect(f!.state).toBe('corrupt');
    expect(f!.summary).toMatch(/does not mount/);
  });

  it('GIVEN no repair fact THEN unknown', () => {
    expect(judgeAll(withFault(load('xfs-clean'), 'repair', 'remove'))[0]!.state).toBe('unknown');
  });

  it('GIVEN xfs_logprint failed THEN unreadable', () => {
    expect(judgeAll(withFault(load('xfs-clean'), 'log', (v) => ({ ...v, exitCode: 1, summary: {} })))[0]!.state).toBe('unreadable');
  });
});

describe('discovery and snapshot verdicts on captured output', () => {
  it('finds both partitions of a GPT disk with their labels', () => {
    const d = judgeDiscovery(load('gpt-two'), CHECKABLE);
    expect(d.partitionTable).toBe('gpt');
    expect(d.targets.map((t) => [t.target, t.fstype, t.label])).toEqual([
      ['p1', 'ext4', 'root'],
      ['p2', 'xfs', 'data'],
    ]);
  });

  it('finds the partition of an MBR disk', () => {
    const d = judgeDiscovery(load('mbr-ext4'), CHECKABLE);
    expect(d.partitionTable).toBe('dos');
    expect(d.targets.map((t) => t.target)).toEqual(['p1']);
  });

  it('random bytes: unknown with a reason, never a crash', () => {
    const findings = judgeAll(load('random'));
    expect(findings).toHaveLength(1);
    expect(findings[0]!.state).toBe('unknown');
    expect(judgeSnapshot(findings).consistency).toBe('unknown');
    expect(judgeSnapshot(findings).summary).toMatch(/no filesystem or partition table recognised/);
  });

  it('GIVEN a filesystem type without a check THEN that volume is unknown; swap is ignored', () => {
    const facts = load('gpt-two').map((f) => {
      if (f.fact !== 'partition') return f;
      const v = structuredClone(f.value) as any;
      if (v.result.probe.PART_ENTRY_NUMBER === '2') v.result.probe.TYPE = 'btrfs';
      if (v.result.probe.PART_ENTRY_NUMBER === '1') v.result.probe.TYPE = 'swap';
      return { ...f, value: v };
    });
    const d = judgeDiscovery(facts, CHECKABLE);
    expect(d.targets).toEqual([]);
    expect(d.findings.map((f) => [f.target, f.state, f.summary])).toEqual([
      ['p1', 'not-checked', 'swap space holds no persistent data'],
      ['p2', 'unknown', 'no check for btrfs'],
    ]);
  });

  it('combines: one replayed volume makes the snapshot crash-consistent; one corrupt makes it corrupt', () => {
    const clean = judgeAll(load('ext4-clean'));
    const crash = judgeAll(load('xfs-crash'));
    const corrupt = judgeAll(load('ext4-corrupt'));
    expect(judgeSnapshot(clean).consistency).toBe('application-consistent');
    expect(judgeSnapshot([...clean, ...crash]).consistency).toBe('crash-consistent');
    expect(judgeSnapshot([...clean, ...crash, ...corrupt]).consistency).toBe('corrupt');
  });

  it('says when the AppConsistent tag and the disk disagree', () => {
    const v = judgeSnapshot(judgeAll(load('ext4-crash')), { AppConsistent: 'true' });
    expect(v.consistency).toBe('crash-consistent');
    expect(v.hints[0]!.text).toMatch(/tagged AppConsistent=true, but the disk shows crash-consistent/);
  });

  it('reads a failed DLM pre-script tag as evidence of a crash-consistent fallback', () => {
    const v = judgeSnapshot(judgeAll(load('ext4-crash')), { 'aws:dlm:pre-script': 'FAILED' });
    expect(v.hints.map((h) => h.text)).toContain('DLM pre-script status FAILED: DLM fell back to a crash-consistent snapshot');
  });
});
