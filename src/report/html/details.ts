import type { CanaryResult, DatabaseFinding } from '../../judges/database.js';
import type { FilesystemFinding } from '../../judges/types.js';
import type { PhaseKind, SnapshotResult } from '../types.js';
import { formatDuration } from '../../util/duration.js';
import { renderConsole, renderDiagnosis, renderLint } from '../console.js';
import { CONSISTENCY_CLASS, bytes, esc } from './common.js';

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

/** phaseLegend names the colour of each phase kind, for the timings of every snapshot. */
export function phaseLegend(): string {
  return `<span class="legend">${PHASE_LEGEND.map((k) => `<i class="${PHASE_COLORS[k]}"></i>${esc(k)}`).join('')}</span>`;
}

/** phaseBar shows where a snapshot's time went as an SVG bar: widths are attributes, so the page needs no inline style. */
function phaseBar(s: SnapshotResult): string {
  const total = s.phases.reduce((n, p) => n + p.durationMs, 0) || 1;
  let x = 0;
  const rects = s.phases.map((p) => {
    const w = (p.durationMs / total) * 100;
    const r = `<rect class="${PHASE_COLORS[p.kind]}" x="${x.toFixed(2)}" width="${w.toFixed(2)}" height="10"/>`;
    x += w;
    return r;
  });
  return `<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="10" role="img"><title>${esc(s.phases.map((p) => `${p.phase}: ${formatDuration(p.durationMs)}`).join(', '))}</title>${rects.join('')}</svg>`;
}

function renderExcerpts(xs: FilesystemFinding['excerpts']): string {
  return xs
    .map(
      (x) =>
        `<details><summary>${esc(x.title)}${x.exitCode !== undefined ? ` (exit ${esc(x.exitCode)})` : ''}</summary>${x.command ? `<div class="meta"><code>$ ${esc(x.command)}</code></div>` : ''}<pre>${esc(x.text || '(no output)')}</pre></details>`,
    )
    .join('');
}

function renderEvidence(ev: FilesystemFinding['evidence']): string {
  return ev.length ? `<ul class="ev">${ev.map((e) => `<li>${esc(e.text)} <code>${esc(e.key)}</code></li>`).join('')}</ul>` : '';
}

// Hints are shown once, at the top of the snapshot (which gathers every filesystem's hints).
function renderFilesystem(f: FilesystemFinding): string {
  const ident = [f.fstype, f.label ? `label "${f.label}"` : '', f.uuid ? `UUID ${f.uuid}` : '', bytes(f.sizeBytes)].filter(Boolean).join(', ');
  return `<h3>${esc(f.target)} <span class="badge ${FS_STATE_CLASS[f.state]}">${esc(f.state)}</span></h3>
<div class="meta">${esc(ident)}${f.device ? ` &middot; seen at <code>${esc(f.device)}</code> during this run` : ''}</div>
<p>${esc(f.summary)}</p>
${renderEvidence(f.evidence)}
${renderExcerpts(f.excerpts)}`;
}

function renderDatabase(d: DatabaseFinding): string {
  return `<h3>${esc(d.engine)} <code>${esc(d.path)}</code> <span class="badge ${DB_STATE_CLASS[d.state]}">${esc(d.state)}</span></h3>
<div class="meta">on ${esc(d.filesystem)}${d.version ? ` &middot; version ${esc(d.version)}` : ''}</div>
<p>${esc(d.summary)}</p>
${renderEvidence(d.evidence)}
${renderExcerpts(d.excerpts)}`;
}

function renderCanaries(cs: CanaryResult[]): string {
  if (!cs.length) return '';
  return `<h3>Canaries</h3><table><tr><th>canary</th><th>database</th><th>expected</th><th>value</th><th>result</th></tr>
${cs.map((c) => `<tr><td>${esc(c.name)}<div class="meta"><code>${esc(c.query)}</code></div></td><td>${esc(c.engine)} <code>${esc(c.path ?? 'not found')}</code></td><td>${esc(c.expectation)}</td><td><code>${esc(c.value ?? '')}</code></td><td class="${c.pass ? 'pass' : 'fail'}">${c.pass ? 'pass' : 'fail'}: ${esc(c.detail)}</td></tr>`).join('')}
</table>`;
}

/** bootedAt is the milestone that counts as booted: a login prompt, SSH, or EC2 status checks. */
export function bootedAt(s: SnapshotResult): { name: string; atMs: number } | undefined {
  return s.bootTest?.milestones.find((m) => m.name === 'login' || m.name === 'ssh' || m.name === 'status-checks');
}

/** renderBoot shows the pre-boot lint, the boot test (time to each milestone), the diagnosis and the console with its matched lines highlighted. */
function renderBoot(s: SnapshotResult, i: number): string {
  if (!s.lint && !s.bootTest && !s.bootNote) return '';
  const b = s.bootTest;
  const prefix = `snap-${i}-console`;
  const booted = bootedAt(s);
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

/** renderNotices shows the multi-volume set, volumes kept for forensics, the harness error and the hints with their remedies. */
function renderNotices(s: SnapshotResult): string {
  const setOk = s.set && (s.set.consistency === 'application-consistent' || s.set.consistency === 'crash-consistent');
  return [
    s.set
      ? `<div class="${setOk ? 'hint' : 'err'}"><b>Multi-volume set <code>${esc(s.set.key)}</code>: <span class="badge ${CONSISTENCY_CLASS[s.set.consistency]}">${esc(s.set.consistency)}</span></b>${esc(s.set.summary)}. Verified together with ${s.set.members
          .filter((m) => m !== s.id)
          .map((m) => `<code>${esc(m)}</code>`)
          .join(', ')}, every volume attached at once.</div>`
      : '',
    s.kept
      ? `<div class="hint"><b>Kept for forensics until ${esc(s.kept.until)}</b>${s.kept.resources.map((r) => `<code>${esc(r)}</code>`).join(', ')} (detached, tagged <code>snapdrill:kept</code>; <code>snapdrill gc</code> deletes ${s.kept.resources.length > 1 ? 'them' : 'it'} after that).</div>`
      : '',
    s.error ? `<div class="err"><b>${esc(s.error.stage)} failed (${esc(s.error.code)}):</b> ${esc(s.error.message)}${s.error.remedy ? `<br>Remedy: ${esc(s.error.remedy)}` : ''}</div>` : '',
    ...s.hints.filter((h) => h.text !== s.error?.message).map((h) => `<div class="hint"><b>${esc(h.text)}</b>Remedy: ${esc(h.remedy)}</div>`),
  ]
    .filter(Boolean)
    .join('\n');
}

function renderTimings(s: SnapshotResult): string {
  const total = s.phases.reduce((n, p) => n + p.durationMs, 0);
  return `<details><summary>Timings: ${esc(formatDuration(total))} in ${s.phases.length} phases</summary>
${phaseBar(s)}<p class="meta">${phaseLegend()}</p>
<table><tr><th>phase</th><th>started</th><th>duration</th><th>status</th></tr>
${s.phases.map((p) => `<tr><td><span class="legend"><i class="${PHASE_COLORS[p.kind]}"></i></span>${esc(p.phase)}</td><td>${esc(p.startedAt)}</td><td>${esc(formatDuration(p.durationMs))}</td><td>${esc(p.status)}${p.detail ? `: ${esc(p.detail)}` : ''}</td></tr>`).join('')}
</table></details>`;
}

function renderChecks(s: SnapshotResult): string {
  const notes = (c: SnapshotResult['checks'][number]) =>
    [c.reason, c.remedy ? `remedy: ${c.remedy}` : '', c.protocolErrors.length ? `${c.protocolErrors.length} unparseable output line(s): ${c.protocolErrors.slice(0, 3).join(' | ')}` : ''].filter(Boolean).join('; ');
  return `<details><summary>Checks run (${s.checks.length})</summary>
<table><tr><th>check</th><th>target</th><th>status</th><th>exit</th><th>time</th><th>notes</th></tr>
${s.checks.map((c) => `<tr><td>${esc(c.check)}</td><td><code>${esc(c.target)}</code></td><td>${esc(c.status)}</td><td>${esc(c.exitCode)}</td><td>${esc(formatDuration(c.durationMs))}</td><td>${esc(notes(c))}</td></tr>`).join('')}
</table></details>`;
}

/** renderSnapshotDetails is everything about one snapshot below its table row: findings, hints, checks, phases, databases, lint and boot. */
export function renderSnapshotDetails(s: SnapshotResult, i: number): string {
  const meta = [
    ['source', s.source],
    ['volume', s.volumeId],
    ['lineage', s.lineage],
    ['taken', s.startTime],
    ['size', bytes(s.sizeBytes)],
    ['restored bytes', bytes(s.allocatedBytes)],
    ['partition table', s.partitionTable],
    ['restore to verified', formatDuration(s.restoreToVerifiedMs)],
  ].filter(([, v]) => v);
  const tags = Object.entries(s.tags);
  return `<div class="meta">${meta.map(([k, v]) => `<span>${esc(k)}: <code>${esc(v)}</code></span>`).join('')}</div>
${tags.length ? `<div class="meta">tags: ${tags.map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join(' ')}</div>` : ''}
<p><b>${esc(s.summary)}</b><br><span class="meta">policy: ${esc(s.policy.reason)}</span></p>
${renderNotices(s)}
${s.filesystems.map(renderFilesystem).join('\n')}
${s.databases.map(renderDatabase).join('\n')}
${renderCanaries(s.canaries)}${renderBoot(s, i)}
${renderTimings(s)}
${renderChecks(s)}`;
}
