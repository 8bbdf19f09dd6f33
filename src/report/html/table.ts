import type { LineageTrend } from '../../judges/history.js';
import type { RunReport, SnapshotResult } from '../types.js';
import { formatDuration } from '../../util/duration.js';
import { CONSISTENCY_CLASS, DETAIL_ROW, SEVERITY, VERDICTS, count, esc, rowAnchor, snapshotName } from './common.js';
import { bootedAt, renderSnapshotDetails } from './details.js';
import { sparkline } from './sparkline.js';

/** Column is one column of the snapshot table: its sort key (read by the client script from the row's data-* attributes) and its cell. */
interface Column {
  key: string;
  label: string;
  /** How the client compares: as text, or as a number. */
  type: 'text' | 'num';
  cell: (s: SnapshotResult) => string;
}

const BOOT_RANK: Record<SnapshotResult['boot'], number> = { 'fails-to-boot': 0, 'not-tested': 1, boots: 2 };

/** bootCell is the table's boot column: the result, and the likely cause or the time to boot. */
function bootCell(s: SnapshotResult): string {
  if (s.boot === 'fails-to-boot') {
    const cause = s.bootTest?.diagnosis?.causes[0];
    return `<span class="badge bad">fails to boot</span>${cause ? `<div class="meta"><code>${esc(cause.id)}</code></div>` : ''}`;
  }
  if (s.boot === 'boots') {
    const at = bootedAt(s);
    return `<span class="badge ok">boots</span>${at ? `<div class="meta">${esc(formatDuration(at.atMs))}</div>` : ''}`;
  }
  const lintErrors = (s.lint ?? []).flatMap((l) => l.findings.filter((f) => f.severity === 'error'));
  return `<span class="meta">${esc(s.boot)}</span>${lintErrors.length ? `<div class="meta"><span class="badge warn">lint: ${lintErrors.length} error(s)</span></div>` : ''}`;
}

function verdictCell(s: SnapshotResult): string {
  return `<span class="badge ${CONSISTENCY_CLASS[s.consistency]}">${esc(s.consistency)}</span>${s.canaries.some((c) => !c.pass) ? ' <span class="badge bad">canary failed</span>' : ''}${s.error ? `<div class="meta">${esc(s.error.stage)}: <code>${esc(s.error.code)}</code></div>` : ''}`;
}

/** columns are the table's columns for this report: account/region only when a snapshot has one, the trend only with history. */
function columns(report: RunReport, trends: Map<string, LineageTrend>): Column[] {
  const rto = report.policy.rtoMs;
  const cols: (Column | false)[] = [
    { key: 'id', label: 'snapshot', type: 'text', cell: (s) => `<code class="id">${esc(s.id)}</code><div class="meta">${esc(snapshotName(s))}</div>` },
    { key: 'lineage', label: 'lineage', type: 'text', cell: (s) => `<code>${esc(s.lineage)}</code>` },
    report.snapshots.some((s) => s.account || s.region) && { key: 'where', label: 'account / region', type: 'text', cell: (s) => `${esc(s.account ?? '')}<div class="meta">${esc(s.region ?? '')}</div>` },
    { key: 'sev', label: 'verdict', type: 'num', cell: verdictCell },
    { key: 'boot', label: 'boot', type: 'num', cell: bootCell },
    { key: 'policy', label: 'policy', type: 'num', cell: (s) => `<span class="${s.policy.pass ? 'pass' : 'fail'}">${s.policy.pass ? 'pass' : 'fail'}</span>` },
    {
      key: 'rto',
      label: 'restore to verified',
      type: 'num',
      cell: (s) => `${esc(formatDuration(s.restoreToVerifiedMs))}${rto !== undefined && s.restoreToVerifiedMs > rto ? ` <span class="badge bad" title="RTO budget ${esc(formatDuration(rto))}">over RTO</span>` : ''}`,
    },
    trends.size > 0 && { key: 'trend', label: 'trend', type: 'num', cell: (s) => sparkline(trends.get(s.lineage)) },
  ];
  return cols.filter((c): c is Column => Boolean(c));
}

/** trendScore ranks a lineage by instability, for sorting: runs that failed the policy over the points kept, then policy flips. */
function trendScore(t: LineageTrend | undefined): number {
  return t ? t.points.filter((p) => !p.policyPass).length * 1000 + t.flips : -1;
}

/** rowData are the attributes the client script filters and sorts by: it never parses cells. */
function rowData(s: SnapshotResult, t: LineageTrend | undefined): string {
  const attrs: [string, string | number][] = [
    ['id', s.id],
    ['name', s.tags.Name ?? ''],
    ['lineage', s.lineage],
    ['where', [s.account, s.region].filter(Boolean).join(' ')],
    ['account', s.account ?? ''],
    ['verdict', s.consistency],
    ['sev', SEVERITY[s.consistency]],
    ['boot', BOOT_RANK[s.boot]],
    ['policy', s.policy.pass ? 1 : 0],
    ['rto', s.restoreToVerifiedMs],
    ['trend', trendScore(t)],
    ['tags', JSON.stringify(s.tags)],
  ];
  return attrs.map(([k, v]) => ` data-${k}="${esc(v)}"`).join('');
}

/**
 * detailsBlock carries every snapshot's details as markup, verbatim and in row order, inside one non-executable
 * <script type="text/html">: the client cuts out and parses a row's details when it is first expanded, so 1,000
 * snapshots do not put 1,000 detail trees in the DOM. Every value in the markup is escaped, so only our own tags
 * hold a "<"; closing "</script" and "<!--" anyway keeps the block from ending early or changing how it is read.
 */
function detailsBlock(details: string[]): string {
  return `<script type="text/html" id="snap-details">\n${details.join('\n').replace(/<(\/script|!--)/gi, '&lt;$1')}\n</script>`;
}

/** renderDetailRow is the row a snapshot expands into (its markup travels in the details block until then). */
function renderDetailRow(s: SnapshotResult, i: number, cols: Column[]): string {
  return `${DETAIL_ROW}${rowAnchor(i)}-d"><td role="cell" colspan="${cols.length}"><div class="snapdetail">${renderSnapshotDetails(s, i)}</div></td></tr>`;
}

/**
 * renderRow is one snapshot: a focusable row that expands into its details; the row group carries the data the
 * client filters and sorts by.
 */
function renderRow(s: SnapshotResult, i: number, cols: Column[], trends: Map<string, LineageTrend>): string {
  const anchor = rowAnchor(i);
  return `<tbody id="${anchor}" role="rowgroup"${rowData(s, trends.get(s.lineage))}><tr class="row${s.policy.pass ? '' : ' failed'}" role="row" tabindex="0" aria-expanded="false" aria-controls="${anchor}-d">${cols.map((c) => `<td role="cell">${c.cell(s)}</td>`).join('')}</tr></tbody>`;
}

function option(value: string, label: string): string {
  return `<option value="${esc(value)}">${esc(label)}</option>`;
}

/** renderToolbar is the filters, search and counts above the table; print hides it. */
function renderToolbar(report: RunReport): string {
  const accounts = [...new Set(report.snapshots.flatMap((s) => (s.account ? [s.account] : [])))].sort();
  const total = report.snapshots.length;
  return `<div class="toolbar noprint" role="search">
<label>Search <input type="search" id="f-q" placeholder="id or Name" autocomplete="off"></label>
<label>Verdict <select id="f-verdict">${option('', 'all')}${VERDICTS.map((v) => option(v, v)).join('')}</select></label>
<label>Policy <select id="f-policy">${option('', 'all')}${option('fail', 'fail')}${option('pass', 'pass')}</select></label>
${accounts.length ? `<label>Account <select id="f-account">${option('', 'all')}${accounts.map((a) => option(a, a)).join('')}</select></label>` : ''}
<label>Tag <input type="text" id="f-tag" placeholder="key=value" autocomplete="off"></label>
<button type="button" id="f-reset">Reset</button>
<button type="button" id="f-expand" title="Expand the rows shown (at most 200)">Expand shown</button>
<button type="button" id="f-collapse">Collapse all</button>
</div>
<p class="count" id="count" aria-live="polite">Showing ${count(total)} of ${count(total)} snapshots</p>`;
}

/** renderSnapshotTable is the filterable, sortable table of every snapshot, failures first; rows expand into their details. */
export function renderSnapshotTable(report: RunReport, ordered: SnapshotResult[]): string {
  const trends = new Map((report.history?.trends ?? []).map((t) => [t.lineage, t]));
  const cols = columns(report, trends);
  const head = cols
    .map((c) => `<th role="columnheader" scope="col" aria-sort="none" data-key="${c.key}" data-type="${c.type}"><button type="button" class="sort">${esc(c.label)}</button></th>`)
    .join('');
  // The table is laid out as a grid (rows skip rendering off screen), so it states its roles for assistive technology.
  const layout = ['snaps', cols.some((c) => c.key === 'where') ? 'where' : '', cols.some((c) => c.key === 'trend') ? 'trend' : ''].filter(Boolean).join(' ');
  return `<section id="snapshots" class="block">
<h2>Snapshots</h2>
<p class="meta noprint">Failures first. Click or press Enter on a column heading to sort; on a row to expand its details.</p>
<noscript><p class="err">Sorting, filtering and each snapshot's details need JavaScript, which this page runs only from its own inline script; report.json beside it holds everything.</p></noscript>
${renderToolbar(report)}
<table id="snaps" class="${layout}" role="table" aria-label="Snapshots"><thead role="rowgroup"><tr role="row">${head}</tr></thead>
${ordered.map((s, i) => renderRow(s, i, cols, trends)).join('\n')}
</table>
<p class="meta empty" id="none" hidden>No snapshot matches the filters.</p>
${detailsBlock(ordered.map((s, i) => renderDetailRow(s, i, cols)))}
</section>`;
}
