import type { RunReport, SnapshotResult } from '../types.js';
import { formatDuration } from '../../util/duration.js';
import { VERDICTS, count, esc, firstRemedy, plural, rowAnchor, snapshotName } from './common.js';

/** CHECK_METHODS says in an auditor's words what each check does; a check not listed is named by its id. */
const CHECK_METHODS: Record<string, { group: 'fs' | 'db' | 'discover' | 'boot'; text: string }> = {
  ext4: { group: 'fs', text: 'ext4: journal replay on the copy, then a full read-only e2fsck' },
  xfs: { group: 'fs', text: 'XFS: log replay on the copy, then xfs_repair -n' },
  postgresql: { group: 'db', text: 'PostgreSQL: crash recovery on the copy, then pg_amcheck, pg_checksums and WAL chain checks' },
  mariadb: { group: 'db', text: 'MariaDB/MySQL: InnoDB crash recovery on the copy, then mariadb-check and innochecksum' },
  sqlite: { group: 'db', text: 'SQLite: hot journal / WAL recovery, then PRAGMA integrity_check' },
  discover: { group: 'discover', text: 'partition tables and filesystems identified' },
  dbfind: { group: 'discover', text: 'database data directories and files located' },
  bootlint: { group: 'boot', text: 'pre-boot lint of each root filesystem (fstab, bootloader, initramfs)' },
};

/** CONTROLS are the controls a restore drill gives evidence toward; the wording claims evidence, never compliance. */
const CONTROLS: [string, string][] = [
  ['SOC 2 (Trust Services Criteria) A1.2', 'backup processes and recovery infrastructure are in place and operate'],
  ['SOC 2 (Trust Services Criteria) A1.3', 'recovery plan procedures are tested'],
  ['ISO/IEC 27001:2022 Annex A 8.13', 'information backup: backup copies are tested'],
  ['ISO/IEC 27001:2022 Annex A 5.30', 'ICT readiness for business continuity'],
  ['NIST SP 800-53 Rev. 5 CP-4', 'contingency plan testing'],
  ['NIST SP 800-53 Rev. 5 CP-9(1)', 'system backup: testing for reliability and integrity'],
  ['DORA (EU 2022/2554) Art. 12', 'backup policies and restoration procedures: backup testing'],
  ['HIPAA Security Rule §164.308(a)(7)(ii)(D)', 'contingency plan testing and revision procedures'],
];

/** EXCEPTIONS_SHOWN keeps the summary on one printed page: the rest are in the table (filter: policy fail). */
const EXCEPTIONS_SHOWN = 10;

function ranChecks(snaps: SnapshotResult[]): Map<string, number> {
  const ran = new Map<string, number>();
  for (const s of snaps) for (const c of s.checks) if (c.status === 'ran') ran.set(c.check, (ran.get(c.check) ?? 0) + 1);
  return ran;
}

/** methodList derives "what was verified and how" from the checks that actually ran, the canaries and the boot tests. */
function methodList(report: RunReport): string[] {
  const snaps = report.snapshots;
  const restored = snaps.filter((s) => s.phases.some((p) => p.kind === 'restore' && p.status === 'ok')).length;
  const into = report.provider.type === 'aws' ? 'a new EBS volume' : 'a copy-on-write scratch copy';
  const ran = ranChecks(snaps);
  const byGroup = (g: string) => [...ran].filter(([id]) => (CHECK_METHODS[id]?.group ?? 'other') === g).map(([id, n]) => `${esc(CHECK_METHODS[id]?.text ?? id)} (${plural(n, 'run')})`);
  const boots = snaps.filter((s) => s.bootTest);
  const canaries = snaps.flatMap((s) => s.canaries);
  const items = [
    `Restore: ${count(restored)} of ${plural(snaps.length, 'snapshot')} restored into ${into} and attached to the helper; the source snapshot is never written.`,
    byGroup('discover').length ? `Discovery: ${byGroup('discover').join('; ')}.` : '',
    byGroup('fs').length ? `Filesystem checks: ${byGroup('fs').join('; ')}.` : 'Filesystem checks: none ran.',
    byGroup('db').length ? `Database crash recovery and integrity checks, on the restored copy: ${byGroup('db').join('; ')}.` : '',
    canaries.length ? `Data canaries (queries on the restored data): ${canaries.filter((c) => c.pass).length} of ${canaries.length} passed.` : '',
    byGroup('other').length ? `Other checks: ${byGroup('other').join('; ')}.` : '',
    byGroup('boot').length ? `Boot readiness: ${byGroup('boot').join('; ')}.` : '',
    boots.length
      ? `Boot tests: ${plural(boots.length, 'restored disk')} booted (${esc([...new Set(boots.map((s) => `${s.bootTest!.mode} on ${s.bootTest!.platform}`))].join(', '))}): ${boots.filter((s) => s.boot === 'boots').length} reached a login or status checks, ${boots.filter((s) => s.boot === 'fails-to-boot').length} did not.`
      : '',
  ];
  return items.filter(Boolean);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
}

/** resultList is the outcome: verdict counts, the policy, RPO and RTO against their budgets, harness errors. */
function resultList(report: RunReport): string[] {
  const snaps = report.snapshots;
  const c = report.summary.byConsistency;
  const rto = report.policy.rtoMs;
  const times = snaps.map((s) => s.restoreToVerifiedMs);
  const slowest = [...snaps].sort((a, b) => b.restoreToVerifiedMs - a.restoreToVerifiedMs)[0];
  const rpo = report.rpo ?? [];
  const rpoBudget = report.policy.rpoMs;
  return [
    `Verdicts: ${VERDICTS.map((v) => `${count(c[v])} ${v}`).join(', ')}.`,
    `Policy (minimum ${esc(report.policy.minimum)}${report.policy.allowUnknown ? ', unknown allowed' : ''}${report.policy.rules ? `, ${plural(report.policy.rules, 'rule')}` : ''}): <b class="${report.summary.failed ? 'fail' : 'pass'}">${count(report.summary.passed)} passed, ${count(report.summary.failed)} failed</b>.`,
    rpoBudget !== undefined || rpo.length
      ? `RPO${rpoBudget !== undefined ? ` (a snapshot newer than ${esc(formatDuration(rpoBudget))})` : ''}: <b class="${rpo.length ? 'fail' : 'pass'}">${rpo.length ? `${plural(rpo.length, 'volume')} in violation` : 'met by every volume selected'}</b>.`
      : 'RPO: not checked (no policy.rpo).',
    rto !== undefined
      ? `RTO budget ${esc(formatDuration(rto))}: <b class="${times.some((t) => t > rto) ? 'fail' : 'pass'}">${count(times.filter((t) => t <= rto).length)} of ${count(snaps.length)} restored and verified within it</b>${slowest ? `; slowest ${esc(formatDuration(slowest.restoreToVerifiedMs))}` : ''}.`
      : `RTO: no budget set; restore to verified took ${esc(formatDuration(median(times)))} (median), ${esc(formatDuration(Math.max(0, ...times)))} at most.`,
    report.errors.length ? `<b class="fail">${plural(report.errors.length, 'harness error')}</b>: the run could not verify everything it was asked to.` : '',
    report.interrupted ? '<b class="fail">The run was interrupted</b>: the results are incomplete.' : '',
  ].filter(Boolean);
}

/** exceptionList names each failure with its reason and first remedy: failed snapshots, then RPO violations. */
function exceptionList(report: RunReport, ordered: SnapshotResult[]): string {
  const failed = ordered.map((s, i) => [s, i] as const).filter(([s]) => !s.policy.pass);
  const rpo = report.rpo ?? [];
  if (!failed.length && !rpo.length) return '<p>None: every snapshot met the policy.</p>';
  const snapItems = failed.slice(0, EXCEPTIONS_SHOWN).map(([s, i]) => {
    const remedy = firstRemedy(s);
    return `<li><a href="#${rowAnchor(i)}"><code>${esc(s.id)}</code></a> ${esc(snapshotName(s))}: ${esc(s.policy.reason)}${remedy ? `. <i>Remedy:</i> ${esc(remedy)}` : ''}</li>`;
  });
  const rpoItems = rpo
    .slice(0, Math.max(3, EXCEPTIONS_SHOWN - snapItems.length))
    .map((v) => `<li>RPO: <code>${esc(v.volumeId)}</code>${v.account ? ` (${esc(v.account)}${v.region ? ` ${esc(v.region)}` : ''})` : ''}: ${esc(v.reason)}. <i>Remedy:</i> check the snapshot schedule (DLM / AWS Backup plan) for this volume.</li>`);
  const more = failed.length + rpo.length - snapItems.length - rpoItems.length;
  return `<ul class="exc">${snapItems.join('')}${rpoItems.join('')}</ul>${more > 0 ? `<p class="meta">and ${plural(more, 'more exception')}: see the snapshot table (policy: fail) and the RPO section.</p>` : ''}`;
}

function period(report: RunReport): string {
  const taken = report.snapshots.flatMap((s) => (s.startTime ? [s.startTime] : [])).sort();
  return `run ${esc(report.startedAt)} to ${esc(report.finishedAt)} (${esc(formatDuration(report.durationMs))})${taken.length ? `; snapshots taken from ${esc(taken[0])} (oldest) to ${esc(taken.at(-1))} (newest)` : ''}`;
}

/** renderAuditSummary is the auditor's one-page summary: scope, period, method, results, exceptions and the controls a drill evidences. */
export function renderAuditSummary(report: RunReport, ordered: SnapshotResult[]): string {
  const scope = report.scope?.length ? report.scope : [`every snapshot in ${report.provider.source}`];
  return `<section id="audit" class="block audit" aria-labelledby="audit-h">
<h2 id="audit-h">Restore test summary for audit</h2>
<dl class="facts">
<dt>Scope</dt><dd><ul>${scope.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>provider ${esc(report.provider.type)} (<code>${esc(report.provider.source)}</code>); run <code>${esc(report.runId)}</code> on ${esc(report.host)}</dd>
<dt>Period</dt><dd>${period(report)}</dd>
<dt>What was verified, and how</dt><dd><ul>${methodList(report).map((m) => `<li>${m}</li>`).join('')}</ul></dd>
<dt>Results</dt><dd><ul>${resultList(report).map((m) => `<li>${m}</li>`).join('')}</ul></dd>
<dt>Exceptions and remedies</dt><dd>${exceptionList(report, ordered)}</dd>
<dt>Controls</dt><dd><p>This drill provides evidence toward the following controls. It is one input to an assessment, not a claim of compliance: scope, frequency and follow-up of exceptions are for the control owner to show.</p><ul class="controls">${CONTROLS.map(([id, what]) => `<li><b>${esc(id)}</b>: ${esc(what)}</li>`).join('')}</ul></dd>
</dl>
<p class="meta">Produced by snapdrill ${esc(report.tool.version)} (report schema v${report.schemaVersion}); the same results are in report.json and junit.xml beside this page.</p>
</section>`;
}
