import { createHash } from 'node:crypto';
import type { RpoViolation } from '../../judges/history.js';
import type { RunReport } from '../types.js';
import { formatDuration } from '../../util/duration.js';
import { renderChanges } from './changes.js';
import { esc, plural, triageOrder } from './common.js';
import { SCRIPT } from './script.js';
import { STYLE } from './style.js';
import { renderAuditSummary } from './summary.js';
import { renderSnapshotTable } from './table.js';

/** cspHash is the CSP source that allows exactly one inline script or style: the base64 sha256 of its text. */
export function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * CSP allows nothing but the page's own inline script and style sheet (by hash) and data: images (boot
 * screenshots): no request leaves the file, and markup that slipped through escaping could not run.
 */
export const CSP = `default-src 'none'; script-src ${cspHash(SCRIPT)}; style-src ${cspHash(STYLE)}; img-src data:; base-uri 'none'; form-action 'none'`;

function runStatus(report: RunReport): string {
  if (report.interrupted) return 'interrupted';
  return report.exitCode === 0 ? 'all snapshots met the policy' : report.exitCode === 1 ? 'some snapshots failed the policy' : 'the harness could not complete';
}

function renderHeader(report: RunReport): string {
  return `<header class="top"><div>
<h1>snapdrill restore verification</h1>
<div class="meta"><span>run <code>${esc(report.runId)}</code></span><span>${esc(report.startedAt)}</span><span>took ${esc(formatDuration(report.durationMs))}</span><span>${esc(report.provider.type)}: <code>${esc(report.provider.source)}</code></span><span>host ${esc(report.host)}</span><span>concurrency ${esc(report.concurrency)}</span></div>
<div class="meta"><span>policy: minimum <b>${esc(report.policy.minimum)}</b>${report.policy.allowUnknown ? ', unknown allowed' : ''}${report.policy.rules ? `, ${esc(report.policy.rules)} rule(s)` : ''}${report.policy.rtoMs !== undefined ? `, RTO ${esc(formatDuration(report.policy.rtoMs))}` : ''}${report.policy.rpoMs !== undefined ? `, RPO ${esc(formatDuration(report.policy.rpoMs))}` : ''}</span><span>result: <b class="${report.exitCode === 0 ? 'pass' : 'fail'}">${esc(runStatus(report))}</b> (exit ${esc(report.exitCode)})</span></div>
</div><button type="button" id="theme" class="noprint" aria-pressed="false">Dark theme</button></header>`;
}

function renderOverview(report: RunReport): string {
  const c = report.summary.byConsistency;
  const rpo = report.rpo?.length ?? 0;
  return `<section id="overview" class="block">
<div class="cards">
<div class="card"><b>${report.summary.total}</b>snapshots</div>
<div class="card ok"><b>${c['application-consistent']}</b>application-consistent</div>
<div class="card warn"><b>${c['crash-consistent']}</b>crash-consistent</div>
<div class="card bad"><b>${c.corrupt}</b>corrupt</div>
<div class="card unk"><b>${c.unknown}</b>unknown</div>
<div class="card ${report.summary.failed ? 'bad' : 'ok'}"><b>${report.summary.failed}</b>failed policy</div>
${report.rpo ? `<div class="card ${rpo ? 'bad' : 'ok'}"><b>${rpo}</b>RPO violations</div>` : ''}
</div>
${report.errors.map((e) => `<div class="err"><b>harness error (${esc(e.code)}) in ${esc(e.stage)}:</b> ${esc(e.message)}${e.remedy ? `<br>Remedy: ${esc(e.remedy)}` : ''}</div>`).join('')}
</section>`;
}

/** RPO_ROWS_SHOWN keeps a long list of RPO violations from pushing the snapshot table down: the rest fold away. */
const RPO_ROWS_SHOWN = 20;

function rpoRow(v: RpoViolation): string {
  const age = v.ageMs === undefined ? 'no snapshot' : formatDuration(v.ageMs);
  return `<tr><td><code>${esc(v.volumeId)}</code></td><td>${esc(v.account ?? '')}<div class="meta">${esc(v.region ?? '')}</div></td><td>${v.lastSnapshotId ? `<code>${esc(v.lastSnapshotId)}</code><div class="meta">${esc(v.lastSnapshotTime ?? '')}</div>` : '<span class="meta">none</span>'}</td><td class="fail">${esc(age)}</td><td>${esc(formatDuration(v.budgetMs))}</td><td>${esc(v.reason)}</td></tr>`;
}

/** renderRpo lists the volumes without a recent enough snapshot: failures that have no snapshot row. */
function renderRpo(report: RunReport): string {
  const rpo = report.rpo ?? [];
  if (!rpo.length) return '';
  const table = (vs: RpoViolation[]) =>
    `<table><thead><tr><th>volume</th><th>account / region</th><th>newest snapshot</th><th>age</th><th>budget</th><th>reason</th></tr></thead><tbody>\n${vs.map(rpoRow).join('\n')}\n</tbody></table>`;
  const rest = rpo.slice(RPO_ROWS_SHOWN);
  return `<section id="rpo" class="block"><h2>RPO violations <span class="badge bad">${rpo.length}</span></h2>
<p class="meta">Volumes the selection covers with no completed snapshot newer than the RPO: each fails the run.</p>
${table(rpo.slice(0, RPO_ROWS_SHOWN))}${rest.length ? `<details><summary>${plural(rest.length, 'more volume')}</summary>${table(rest)}</details>` : ''}</section>`;
}

function renderNotifications(report: RunReport): string {
  const ns = report.notifications;
  if (!ns?.length) return '';
  const failed = ns.filter((n) => !n.ok).length;
  return `<section id="notifications" class="notify"><h3>Notifications: ${ns.length - failed} sent${failed ? `, <span class="fail">${failed} failed</span>` : ''}</h3><ul>${ns
    .map((n) => `<li class="${n.ok ? 'sent' : 'failed'}">${esc(n.channel)} <code>${esc(n.target)}</code>: ${n.ok ? 'sent' : `failed: ${esc(n.error ?? 'no reason given')}`}</li>`)
    .join('')}</ul><p>Alerts never change the exit code.</p></section>`;
}

const HOW_TO_READ = `<section id="legend" class="block"><h2>How to read this</h2>
<p class="meta"><b>application-consistent</b>: every filesystem was cleanly unmounted or frozen; a restore needs no recovery. <b>crash-consistent</b>: something needed journal replay (what a power cut leaves) and passed after it; add quiesce pre-scripts. <b>corrupt</b>: a check found damage a restore would carry. <b>unknown</b>: nothing could be recognised or a check could not run; the reasons say why. Databases: <b>clean-shutdown</b> and <b>backup-mode</b> keep a snapshot application-consistent; <b>recovered</b> (crash recovery succeeded, integrity checks pass) makes it crash-consistent. <b>Restore to verified</b> is the measured RTO: from the start of the restore to the end of the last check. Trend: a dot per run coloured by verdict (a red tick under a run that failed the policy) and the restore-to-verified time as a line. Tool output is shown as printed.</p></section>`;

/** renderHtml renders a self-contained report page: one inline script and style sheet allowed by hash, no external request, every value escaped. */
export function renderHtml(report: RunReport): string {
  const ordered = triageOrder(report.snapshots);
  const rows = new Map(ordered.map((s, i) => [s.id, i]));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>snapdrill report ${esc(report.runId)}</title><style>${STYLE}</style></head>
<body><main>
${renderHeader(report)}
${renderAuditSummary(report, ordered)}
${renderChanges(report.history, rows)}
${renderOverview(report)}
${renderRpo(report)}
${renderSnapshotTable(report, ordered)}
${HOW_TO_READ}
<footer>${renderNotifications(report)}snapdrill ${esc(report.tool.version)} &middot; report schema v${report.schemaVersion} &middot; ${plural(report.summary.total, 'snapshot')} &middot; machine-readable: report.json, junit.xml</footer>
</main><script>${SCRIPT}</script></body></html>
`;
}
