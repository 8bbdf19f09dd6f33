import type { Consistency } from '../config/types.js';
import type { CanaryResult, DatabaseFinding } from '../judges/database.js';
import type { FilesystemFinding } from '../judges/types.js';
import type { PhaseKind, RunReport, SnapshotResult } from './types.js';
import { formatDuration } from '../util/duration.js';
import { CONSOLE_CSS, renderConsole, renderDiagnosis, renderLint } from './console.js';

/** esc escapes text for HTML content and attribute values; every value from a disk or a tool goes through it. */
export function esc(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const CONSISTENCY_CLASS: Record<Consistency, string> = {
  'application-consistent': 'ok',
  'crash-consistent': 'warn',
  corrupt: 'bad',
  unknown: 'unk',
};

const FS_STATE_CLASS: Record<FilesystemFinding['state'], string> = {
  clean: 'ok',
  frozen: 'ok',
  replayed: 'warn',
  corrupt: 'bad',
  unreadable: 'unk',
  unknown: 'unk',
  'not-checked': 'muted',
};

const DB_STATE_CLASS: Record<DatabaseFinding['state'], string> = {
  'clean-shutdown': 'ok',
  'backup-mode': 'ok',
  recovered: 'warn',
  corrupt: 'bad',
  skipped: 'unk',
  unknown: 'unk',
  'not-checked': 'muted',
};

function dbChip(d: DatabaseFinding): string {
  return `<span class="badge ${DB_STATE_CLASS[d.state]}" title="${esc(`${d.path}: ${d.summary}`)}">${esc(d.engine)} ${esc(d.path.split('/').pop())}: ${esc(d.state)}</span>`;
}

function renderExcerpts(xs: FilesystemFinding['excerpts']): string {
  return xs
    .map(
      (x) =>
        `<details><summary>${esc(x.title)}${x.exitCode !== undefined ? ` (exit ${esc(x.exitCode)})` : ''}</summary>${x.command ? `<div class="meta"><code>$ ${esc(x.command)}</code></div>` : ''}<pre>${esc(x.text || '(no output)')}</pre></details>`,
    )
    .join('');
}

function renderDatabase(d: DatabaseFinding): string {
  return `<h3>${esc(d.engine)} <code>${esc(d.path)}</code> <span class="badge ${DB_STATE_CLASS[d.state]}">${esc(d.state)}</span></h3>
<div class="meta">on ${esc(d.filesystem)}${d.version ? ` &middot; version ${esc(d.version)}` : ''}</div>
<p>${esc(d.summary)}</p>
${d.evidence.length ? `<ul class="ev">${d.evidence.map((e) => `<li>${esc(e.text)} <code>${esc(e.key)}</code></li>`).join('')}</ul>` : ''}
${renderExcerpts(d.excerpts)}`;
}

function renderCanaries(cs: CanaryResult[]): string {
  if (!cs.length) return '';
  return `<h3>Canaries</h3><table><tr><th>canary</th><th>database</th><th>expected</th><th>value</th><th>result</th></tr>
${cs.map((c) => `<tr><td>${esc(c.name)}<div class="meta"><code>${esc(c.query)}</code></div></td><td>${esc(c.engine)} <code>${esc(c.path ?? 'not found')}</code></td><td>${esc(c.expectation)}</td><td><code>${esc(c.value ?? '')}</code></td><td class="${c.pass ? 'pass' : 'fail'}">${c.pass ? 'pass' : 'fail'}: ${esc(c.detail)}</td></tr>`).join('')}
</table>`;
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const CSS = `
:root{--ok:#17803d;--ok-bg:#e6f4ea;--warn:#9a6700;--warn-bg:#fff4d6;--bad:#b42318;--bad-bg:#fde8e7;--unk:#555;--unk-bg:#eceff1;--line:#d8dee4;--fg:#1f2328;--muted:#656d76}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:var(--muted)}.meta span{margin-right:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:150px}
.card b{display:block;font-size:24px}.card.ok b{color:var(--ok)}.card.warn b{color:var(--warn)}.card.bad b{color:var(--bad)}.card.unk b{color:var(--unk)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}th{background:#f0f3f6;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;white-space:nowrap}
.badge.ok{color:var(--ok);background:var(--ok-bg)}.badge.warn{color:var(--warn);background:var(--warn-bg)}.badge.bad{color:var(--bad);background:var(--bad-bg)}.badge.unk{color:var(--unk);background:var(--unk-bg)}.badge.muted{color:var(--muted);background:#f3f3f3}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}
section.snap{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:14px 0}
section.snap h2{margin:0 0 6px;font-size:17px}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#0d1117;color:#e6edf3;padding:10px;border-radius:6px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.hint{border-left:4px solid var(--warn);background:var(--warn-bg);padding:6px 10px;margin:6px 0;border-radius:4px}.hint b{display:block}
.err{border-left:4px solid var(--bad);background:var(--bad-bg);padding:6px 10px;margin:6px 0;border-radius:4px}
ul.ev{margin:4px 0 8px 0;padding-left:20px}ul.ev code{color:var(--muted)}
.bar{display:flex;height:10px;border-radius:3px;overflow:hidden;min-width:120px;background:#eee}.bar i{display:block;height:100%}
.p0{background:#4e79a7}.p1{background:#f28e2b}.p2{background:#59a14f}.p3{background:#e15759}.p4{background:#76b7b2}.p5{background:#edc948}.p6{background:#b07aa1}.p7{background:#9c755f}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}
footer{color:var(--muted);margin:30px 0 10px;font-size:12px}
@media print{details{display:block}details>*{display:block}pre{max-height:none}}
`;

/** PHASE_COLORS give each kind of phase one colour in every bar, whatever phases a snapshot went through. */
const PHASE_COLORS: Record<PhaseKind, string> = {
  restore: 'p0',
  attach: 'p1',
  discover: 'p4',
  check: 'p2',
  lint: 'p5',
  boot: 'p3',
  teardown: 'p6',
  keep: 'p7',
};

/** PHASE_LEGEND are the kinds the legend names (keeping volumes for forensics is rare, and shown as other). */
const PHASE_LEGEND: PhaseKind[] = ['restore', 'attach', 'discover', 'check', 'lint', 'boot', 'teardown'];

const SEVERITY: Record<Consistency, number> = { corrupt: 0, unknown: 1, 'crash-consistent': 2, 'application-consistent': 3 };

/** triageOrder puts what needs attention first: policy failures, then by severity, then by id. */
function triageOrder(snaps: SnapshotResult[]): SnapshotResult[] {
  return [...snaps].sort((a, b) => Number(a.policy.pass) - Number(b.policy.pass) || SEVERITY[a.consistency] - SEVERITY[b.consistency] || a.id.localeCompare(b.id));
}

function phaseBar(s: SnapshotResult): string {
  const total = s.phases.reduce((n, p) => n + p.durationMs, 0) || 1;
  return `<div class="bar" title="${esc(s.phases.map((p) => `${p.phase}: ${formatDuration(p.durationMs)}`).join(', '))}">${s.phases
    .map((p) => `<i class="${PHASE_COLORS[p.kind]}" style="width:${((p.durationMs / total) * 100).toFixed(2)}%"></i>`)
    .join('')}</div>`;
}

function fsChip(f: FilesystemFinding): string {
  return `<span class="badge ${FS_STATE_CLASS[f.state]}" title="${esc(f.summary)}">${esc(f.target)}${f.fstype ? ` ${esc(f.fstype)}` : ''}: ${esc(f.state)}</span>`;
}

// Hints are shown once, at the top of the snapshot (which gathers every filesystem's hints).
function renderFilesystem(f: FilesystemFinding): string {
  const ident = [f.fstype, f.label ? `label "${f.label}"` : '', f.uuid ? `UUID ${f.uuid}` : '', bytes(f.sizeBytes)].filter(Boolean).join(', ');
  return `<h3>${esc(f.target)} <span class="badge ${FS_STATE_CLASS[f.state]}">${esc(f.state)}</span></h3>
<div class="meta">${esc(ident)}${f.device ? ` &middot; seen at <code>${esc(f.device)}</code> during this run` : ''}</div>
<p>${esc(f.summary)}</p>
${f.evidence.length ? `<ul class="ev">${f.evidence.map((e) => `<li>${esc(e.text)} <code>${esc(e.key)}</code></li>`).join('')}</ul>` : ''}
${renderExcerpts(f.excerpts)}`;
}

/** bootCell is the summary table's boot column: the result, and the likely cause or the time to boot. */
function bootCell(s: SnapshotResult): string {
  const b = s.bootTest;
  if (s.boot === 'fails-to-boot') {
    const cause = b?.diagnosis?.causes[0];
    return `<span class="badge bad">fails to boot</span>${cause ? `<div class="meta"><code>${esc(cause.id)}</code></div>` : ''}`;
  }
  if (s.boot === 'boots') {
    const at = b?.milestones.find((m) => m.name === 'login' || m.name === 'ssh' || m.name === 'status-checks');
    return `<span class="badge ok">boots</span>${at ? `<div class="meta">${esc(formatDuration(at.atMs))}</div>` : ''}`;
  }
  const lintErrors = (s.lint ?? []).flatMap((l) => l.findings.filter((f) => f.severity === 'error'));
  return `${esc(s.boot)}${lintErrors.length ? `<div class="meta"><span class="badge warn">lint: ${lintErrors.length} error(s)</span></div>` : ''}`;
}

/** renderBoot shows the pre-boot lint, the boot test (time to each milestone), the diagnosis and the console with its matched lines highlighted. */
function renderBoot(s: SnapshotResult, i: number): string {
  if (!s.lint && !s.bootTest && !s.bootNote) return '';
  const b = s.bootTest;
  const prefix = `snap-${i}-console`;
  const booted = b?.milestones.find((m) => m.name === 'login' || m.name === 'ssh' || m.name === 'status-checks');
  const parts: string[] = [`<h3>Boot <span class="badge ${s.boot === 'boots' ? 'ok' : s.boot === 'fails-to-boot' ? 'bad' : 'muted'}">${esc(s.boot)}</span></h3>`];
  if (s.bootNote) parts.push(`<p class="meta">${esc(s.bootNote)}</p>`);
  for (const l of s.lint ?? []) parts.push(renderLint(l));
  if (b) {
    parts.push(
      `<div class="meta"><span>mode: <code>${esc(b.mode)}</code></span><span>${esc(b.platform)}</span><span>${booted ? `booted (${esc(booted.name)}) after ${esc(formatDuration(booted.atMs))}` : `ran ${esc(formatDuration(b.durationMs))}`}</span></div>`,
      b.milestones.length ? `<div class="meta">${b.milestones.map((m) => `<span>${esc(m.name)} ${esc(formatDuration(m.atMs))}</span>`).join('')}</div>` : '',
      b.reason ? `<p>${esc(b.reason)}</p>` : '',
      b.launchError ? `<div class="err"><b>Launch refused (${esc(b.launchError.code)})</b> ${esc(b.launchError.message)}</div>` : '',
      renderDiagnosis(b.diagnosis, prefix),
      b.screenshotJpegBase64 ? `<details><summary>Screenshot</summary><img class="shot" alt="console screenshot of ${esc(s.id)}" src="data:image/jpeg;base64,${esc(b.screenshotJpegBase64)}"></details>` : '',
      `<details${b.result !== 'boots' ? ' open' : ''}><summary>Console (${b.console.split('\n').length} lines)</summary>${renderConsole(b.console, b.diagnosis, prefix)}</details>`,
    );
  }
  return `\n${parts.filter(Boolean).join('\n')}`;
}

function renderSnapshot(s: SnapshotResult, i: number): string {
  const meta = [
    ['source', s.source],
    ['volume', s.volumeId],
    ['taken', s.startTime],
    ['size', bytes(s.sizeBytes)],
    ['restored bytes', bytes(s.allocatedBytes)],
    ['partition table', s.partitionTable],
  ].filter(([, v]) => v);
  const tags = Object.entries(s.tags);
  const total = s.phases.reduce((n, p) => n + p.durationMs, 0);
  return `<section class="snap" id="snap-${i}">
<h2>${esc(s.id)} <span class="badge ${CONSISTENCY_CLASS[s.consistency]}">${esc(s.consistency)}</span> <span class="badge muted">boot: ${esc(s.boot)}</span> <span class="${s.policy.pass ? 'pass' : 'fail'}">${s.policy.pass ? 'PASS' : 'FAIL'}</span></h2>
<div class="meta">${meta.map(([k, v]) => `<span>${esc(k)}: <code>${esc(v)}</code></span>`).join('')}</div>
${tags.length ? `<div class="meta">tags: ${tags.map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join(' ')}</div>` : ''}
<p><b>${esc(s.summary)}</b><br><span class="meta">policy: ${esc(s.policy.reason)}</span></p>
${s.set ? `<div class="${s.set.consistency === 'application-consistent' || s.set.consistency === 'crash-consistent' ? 'hint' : 'err'}"><b>Multi-volume set <code>${esc(s.set.key)}</code>: <span class="badge ${CONSISTENCY_CLASS[s.set.consistency]}">${esc(s.set.consistency)}</span></b>${esc(s.set.summary)}. Verified together with ${s.set.members.filter((m) => m !== s.id).map((m) => `<code>${esc(m)}</code>`).join(', ')}, every volume attached at once.</div>` : ''}${s.kept ? `<div class="hint"><b>Kept for forensics until ${esc(s.kept.until)}</b>${s.kept.resources.map((r) => `<code>${esc(r)}</code>`).join(', ')} (detached, tagged <code>snapdrill:kept</code>; <code>snapdrill gc</code> deletes ${s.kept.resources.length > 1 ? 'them' : 'it'} after that).</div>` : ''}${s.error ? `<div class="err"><b>${esc(s.error.stage)} failed (${esc(s.error.code)}):</b> ${esc(s.error.message)}${s.error.remedy ? `<br>Remedy: ${esc(s.error.remedy)}` : ''}</div>` : ''}
${s.hints.filter((h) => h.text !== s.error?.message).map((h) => `<div class="hint"><b>${esc(h.text)}</b>Remedy: ${esc(h.remedy)}</div>`).join('')}
${s.filesystems.map(renderFilesystem).join('\n')}
${s.databases.map(renderDatabase).join('\n')}
${renderCanaries(s.canaries)}${renderBoot(s, i)}
<details><summary>Timings: ${esc(formatDuration(total))} in ${s.phases.length} phases</summary>
<table><tr><th>phase</th><th>started</th><th>duration</th><th>status</th></tr>
${s.phases.map((p) => `<tr><td><span class="legend"><i class="${PHASE_COLORS[p.kind]}"></i></span>${esc(p.phase)}</td><td>${esc(p.startedAt)}</td><td>${esc(formatDuration(p.durationMs))}</td><td>${esc(p.status)}${p.detail ? `: ${esc(p.detail)}` : ''}</td></tr>`).join('')}
</table></details>
<details><summary>Checks run (${s.checks.length})</summary>
<table><tr><th>check</th><th>target</th><th>status</th><th>exit</th><th>time</th><th>notes</th></tr>
${s.checks.map((c) => `<tr><td>${esc(c.check)}</td><td><code>${esc(c.target)}</code></td><td>${esc(c.status)}</td><td>${esc(c.exitCode)}</td><td>${esc(formatDuration(c.durationMs))}</td><td>${esc([c.reason, c.remedy ? `remedy: ${c.remedy}` : '', c.protocolErrors.length ? `${c.protocolErrors.length} unparseable output line(s): ${c.protocolErrors.slice(0, 3).join(' | ')}` : ''].filter(Boolean).join('; '))}</td></tr>`).join('')}
</table></details>
</section>`;
}

/** renderHtml renders a self-contained report page: no scripts, no external assets, every value escaped. */
export function renderHtml(report: RunReport): string {
  const c = report.summary.byConsistency;
  const ordered = triageOrder(report.snapshots);
  const status = report.interrupted ? 'interrupted' : report.exitCode === 0 ? 'all snapshots met the policy' : report.exitCode === 1 ? 'some snapshots failed the policy' : 'the harness could not complete';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>snapdrill report ${esc(report.runId)}</title><style>${CSS}${CONSOLE_CSS}</style></head>
<body><main>
<h1>snapdrill restore verification</h1>
<div class="meta"><span>run <code>${esc(report.runId)}</code></span><span>${esc(report.startedAt)}</span><span>took ${esc(formatDuration(report.durationMs))}</span><span>${esc(report.provider.type)}: <code>${esc(report.provider.source)}</code></span><span>host ${esc(report.host)}</span><span>concurrency ${esc(report.concurrency)}</span></div>
<div class="meta"><span>policy: minimum <b>${esc(report.policy.minimum)}</b>${report.policy.allowUnknown ? ', unknown allowed' : ''}${report.policy.rules ? `, ${esc(report.policy.rules)} rule(s)` : ''}</span><span>result: <b class="${report.exitCode === 0 ? 'pass' : 'fail'}">${esc(status)}</b> (exit ${esc(report.exitCode)})</span></div>
<div class="cards">
<div class="card"><b>${report.summary.total}</b>snapshots</div>
<div class="card ok"><b>${c['application-consistent']}</b>application-consistent</div>
<div class="card warn"><b>${c['crash-consistent']}</b>crash-consistent</div>
<div class="card bad"><b>${c.corrupt}</b>corrupt</div>
<div class="card unk"><b>${c.unknown}</b>unknown</div>
<div class="card ${report.summary.failed ? 'bad' : 'ok'}"><b>${report.summary.failed}</b>failed policy</div>
</div>
${report.errors.map((e) => `<div class="err"><b>harness error (${esc(e.code)}) in ${esc(e.stage)}:</b> ${esc(e.message)}${e.remedy ? `<br>Remedy: ${esc(e.remedy)}` : ''}</div>`).join('')}
<h2>Snapshots</h2>
<p class="meta">Failures first. Bars: <span class="legend">${PHASE_LEGEND.map((k) => `<i class="${PHASE_COLORS[k]}"></i>${esc(k)}`).join('')}</span></p>
<table><tr><th>snapshot</th><th>consistency</th><th>boot</th><th>policy</th><th>filesystems</th><th>databases</th><th>time</th><th>where the time went</th></tr>
${ordered
  .map(
    (s, i) =>
      `<tr><td><a href="#snap-${i}">${esc(s.id)}</a><div class="meta" title="${esc(s.source)}"><code>${esc(s.source.split('/').pop())}</code></div></td><td><span class="badge ${CONSISTENCY_CLASS[s.consistency]}">${esc(s.consistency)}</span></td><td>${bootCell(s)}</td><td class="${s.policy.pass ? 'pass' : 'fail'}">${s.policy.pass ? 'pass' : 'fail'}</td><td>${s.filesystems.map(fsChip).join(' ') || '<span class="meta">none</span>'}</td><td>${s.databases.map(dbChip).join(' ') || '<span class="meta">none</span>'}${s.canaries.some((c) => !c.pass) ? ' <span class="badge bad">canary failed</span>' : ''}</td><td>${esc(formatDuration(s.phases.reduce((n, p) => n + p.durationMs, 0)))}</td><td>${phaseBar(s)}</td></tr>`,
  )
  .join('\n')}
</table>
<h2>How to read this</h2>
<p class="meta"><b>application-consistent</b>: every filesystem was cleanly unmounted or frozen; a restore needs no recovery. <b>crash-consistent</b>: something needed journal replay (what a power cut leaves) and passed after it; add quiesce pre-scripts. <b>corrupt</b>: a check found damage a restore would carry. <b>unknown</b>: nothing could be recognised or a check could not run; the reasons say why. Databases: <b>clean-shutdown</b> and <b>backup-mode</b> keep a snapshot application-consistent; <b>recovered</b> (crash recovery succeeded, integrity checks pass) makes it crash-consistent. Tool output below is shown as printed.</p>
${ordered.map(renderSnapshot).join('\n')}
<footer>snapdrill ${esc(report.tool.version)} &middot; report schema v${report.schemaVersion} &middot; machine-readable: report.json, junit.xml</footer>
</main></body></html>
`;
}
