import type { Change, ChangeKind, HistoryView } from '../../judges/history.js';
import { esc, plural, rowAnchor } from './common.js';
import { sparkline } from './sparkline.js';

/** ChangeGroup is one box of "what changed": the kinds it gathers and how loud it is. */
interface ChangeGroup {
  title: string;
  kinds: ChangeKind[];
  tone: 'bad' | 'warn' | 'unk' | 'ok' | 'muted';
}

/** CHANGE_GROUPS are the boxes in the order a reader should see them: what got worse first. */
const CHANGE_GROUPS: ChangeGroup[] = [
  { title: 'New failures', kinds: ['new-failure'], tone: 'bad' },
  { title: 'New unknowns', kinds: ['new-unknown'], tone: 'unk' },
  { title: 'Verdict changes', kinds: ['verdict-change'], tone: 'warn' },
  { title: 'RPO', kinds: ['rpo-violation', 'rpo-recovered'], tone: 'bad' },
  { title: 'RTO regressions (over 25% slower)', kinds: ['rto-regression'], tone: 'warn' },
  { title: 'Recoveries', kinds: ['recovery'], tone: 'ok' },
  { title: 'Lineages added or no longer verified', kinds: ['new-lineage', 'missing-lineage'], tone: 'muted' },
];

/** SHOWN_PER_GROUP is how many changes a box lists before folding the rest away. */
const SHOWN_PER_GROUP = 20;

const KIND_LABEL: Partial<Record<ChangeKind, string>> = {
  'rpo-violation': 'violation',
  'rpo-recovered': 'recovered',
  'new-lineage': 'new',
  'missing-lineage': 'missing',
};

function changeItem(c: Change, rows: Map<string, number>): string {
  const row = c.snapshotId === undefined ? undefined : rows.get(c.snapshotId);
  const label = KIND_LABEL[c.kind];
  return `<li>${label ? `<span class="badge muted">${esc(label)}</span> ` : ''}${esc(c.detail)}${row === undefined ? '' : ` <a href="#${rowAnchor(row)}">details</a>`}</li>`;
}

function renderGroup(g: ChangeGroup, changes: Change[], rows: Map<string, number>): string {
  const mine = changes.filter((c) => g.kinds.includes(c.kind));
  if (!mine.length) return '';
  const rest = mine.slice(SHOWN_PER_GROUP);
  return `<div class="chg ${g.tone}"><h3>${esc(g.title)} <span class="n">${mine.length}</span></h3><ul>${mine
    .slice(0, SHOWN_PER_GROUP)
    .map((c) => changeItem(c, rows))
    .join('')}</ul>${rest.length ? `<details><summary>${plural(rest.length, 'more change')}</summary><ul>${rest.map((c) => changeItem(c, rows)).join('')}</ul></details>` : ''}</div>`;
}

function renderFlapping(h: HistoryView): string {
  const flapping = h.trends.filter((t) => t.flapping);
  if (!flapping.length) return '';
  return `<div class="chg warn"><h3>Flapping lineages <span class="n">${flapping.length}</span></h3><p class="meta">Passed and failed the policy in turn (at least 3 flips over the runs kept): a result that does not hold from one run to the next.</p><ul>${flapping
    .map((t) => `<li><code>${esc(t.lineage)}</code>: ${plural(t.flips, 'flip')} over ${plural(t.points.length, 'run')} ${sparkline(t)}</li>`)
    .join('')}</ul></div>`;
}

/** renderChanges is "what changed since the previous run", grouped, with flapping lineages called out; nothing without history, one line on the first run. */
export function renderChanges(h: HistoryView | undefined, rows: Map<string, number>): string {
  if (!h) return '';
  if (h.runs === 0 || !h.previousRunId) {
    return `<section id="changes" class="block changes"><p class="meta">First run recorded in the history: changes since the previous run are shown from the next run on.</p></section>`;
  }
  const groups = CHANGE_GROUPS.map((g) => renderGroup(g, h.changes, rows)).join('');
  const flapping = renderFlapping(h);
  const since = `the previous run <code>${esc(h.previousRunId)}</code>${h.previousStartedAt ? ` (${esc(h.previousStartedAt)})` : ''}`;
  return `<section id="changes" class="block changes"><h2>What changed since the previous run</h2>
<p class="meta">Compared with ${since}; ${plural(h.runs, 'earlier run')} in the history.</p>
${groups || flapping ? `<div class="chgs">${groups}${flapping}</div>` : `<p>No change since ${since}.</p>`}
</section>`;
}
