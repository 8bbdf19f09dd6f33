import type { Consistency } from '../config/types.js';
import type { DatabaseFinding } from './database.js';
import type { FilesystemFinding, Hint } from './types.js';

/** SnapshotVerdict is the consistency of a whole snapshot, with the reasons behind it. */
export interface SnapshotVerdict {
  consistency: Consistency;
  summary: string;
  reasons: string[];
  hints: Hint[];
}

function label(f: FilesystemFinding): string {
  return `${f.target}${f.fstype ? ` (${f.fstype}${f.label ? ` "${f.label}"` : ''})` : ''}`;
}

function dbLabel(d: DatabaseFinding): string {
  return `${d.engine} ${d.path} on ${d.filesystem}`;
}

/**
 * judgeSnapshot combines filesystem and database findings (DESIGN.md section 4): anything corrupt → corrupt;
 * anything undecided → unknown; any replay or crash recovery → crash-consistent; else application-consistent.
 */
export function judgeSnapshot(findings: FilesystemFinding[], tags: Record<string, string> = {}, databases: DatabaseFinding[] = []): SnapshotVerdict {
  const fsVerdict = judgeFilesystems(findings);
  const dbs = (...states: DatabaseFinding['state'][]) => databases.filter((d) => states.includes(d.state));
  let v = fsVerdict;
  if (v.consistency !== 'corrupt' && dbs('corrupt').length) {
    const bad = dbs('corrupt');
    v = { consistency: 'corrupt', summary: `corrupt: ${bad.map((d) => `${dbLabel(d)}: ${d.summary}`).join('; ')}`, reasons: [...bad.map((d) => `${dbLabel(d)}: ${d.summary}`), ...v.reasons], hints: v.hints };
  } else if ((v.consistency === 'application-consistent' || v.consistency === 'crash-consistent') && dbs('unknown', 'skipped').length) {
    const u = dbs('unknown', 'skipped');
    v = { consistency: 'unknown', summary: `could not decide: ${u.map((d) => `${dbLabel(d)}: ${d.summary}`).join('; ')}`, reasons: [...u.map((d) => `${dbLabel(d)}: ${d.summary}`), ...v.reasons], hints: v.hints };
  } else if (v.consistency === 'application-consistent' && dbs('recovered').length) {
    const r = dbs('recovered');
    v = {
      consistency: 'crash-consistent',
      summary: `crash-consistent: the filesystems were quiesced but ${r.map(dbLabel).join(', ')} needed crash recovery (and passed after it)`,
      reasons: [...r.map((d) => `${dbLabel(d)}: ${d.summary}`), ...v.reasons],
      hints: v.hints,
    };
  } else if (v.consistency === 'application-consistent' || v.consistency === 'crash-consistent') {
    v.reasons.push(...dbs('clean-shutdown', 'backup-mode', 'recovered', 'not-checked').map((d) => `${dbLabel(d)}: ${d.summary}`));
  }
  const hints = v.hints;
  // Tags written by VSS / AWS Backup / DLM are evidence too; say when they and the disk disagree.
  addTagHints(v, tags);
  for (const h of [...findings.flatMap((f) => f.hints), ...databases.flatMap((d) => d.hints)]) if (!hints.some((x) => x.text === h.text)) hints.push(h);
  return v;
}

function judgeFilesystems(findings: FilesystemFinding[]): SnapshotVerdict {
  const by = (...states: FilesystemFinding['state'][]) => findings.filter((f) => states.includes(f.state));
  const checked = findings.filter((f) => f.state !== 'not-checked');
  const hints: Hint[] = [];
  let v: SnapshotVerdict;
  if (by('corrupt').length) {
    const bad = by('corrupt');
    v = { consistency: 'corrupt', summary: `corrupt: ${bad.map((f) => `${label(f)}: ${f.summary}`).join('; ')}`, reasons: bad.map((f) => `${label(f)}: ${f.summary}`), hints };
  } else if (checked.length === 0) {
    v = {
      consistency: 'unknown',
      summary: findings.length ? 'nothing checkable: only partitions without a check' : 'no filesystem found',
      reasons: findings.length ? findings.map((f) => `${label(f)}: ${f.summary}`) : ['discovery found no filesystem'],
      hints,
    };
  } else if (by('unknown', 'unreadable').length) {
    const u = by('unknown', 'unreadable');
    v = { consistency: 'unknown', summary: `could not decide: ${u.map((f) => `${label(f)}: ${f.summary}`).join('; ')}`, reasons: u.map((f) => `${label(f)}: ${f.summary}`), hints };
  } else if (by('replayed').length) {
    const r = by('replayed');
    v = {
      consistency: 'crash-consistent',
      summary: `crash-consistent: ${r.map(label).join(', ')} needed recovery and passed after it`,
      reasons: [...r.map((f) => `${label(f)}: ${f.summary}`), ...by('clean', 'frozen').map((f) => `${label(f)}: ${f.summary}`)],
      hints,
    };
  } else {
    const ok = by('clean', 'frozen');
    v = { consistency: 'application-consistent', summary: `application-consistent: ${ok.map((f) => `${label(f)} ${f.state}`).join(', ')}`, reasons: ok.map((f) => `${label(f)}: ${f.summary}`), hints };
  }
  return v;
}

function addTagHints(v: SnapshotVerdict, tags: Record<string, string>): void {
  const hints = v.hints;
  const tagged = tags.AppConsistent?.toLowerCase();
  if (tagged === 'true' && (v.consistency === 'crash-consistent' || v.consistency === 'corrupt')) {
    hints.push({
      text: `tagged AppConsistent=true, but the disk shows ${v.consistency}: the quiesce step (VSS or pre-script) did not cover every volume`,
      remedy: 'check the pre-script / VSS logs for the time of this snapshot and that every volume of the instance is frozen',
    });
  } else if (tagged === 'false' && v.consistency === 'application-consistent') {
    v.reasons.push('tagged AppConsistent=false, yet every filesystem was found quiesced (it may have been idle or unmounted)');
  }
  const pre = tags['aws:dlm:pre-script'];
  if (pre && pre.toUpperCase() !== 'SUCCESS') {
    hints.push({
      text: `DLM pre-script status ${pre}: DLM fell back to a crash-consistent snapshot`,
      remedy: 'fix the pre-script (see the SSM Run Command history of the source instance) or make DLM fail instead of falling back',
    });
  }
}
