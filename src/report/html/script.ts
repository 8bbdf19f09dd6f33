import { DETAIL_ROW } from './common.js';

/**
 * SCRIPT is the page's only script, allowed by its sha256 hash in the Content-Security-Policy. It reads each
 * snapshot's data-* attributes once, then filters by toggling `hidden` and sorts by moving the row groups: it
 * never builds HTML from strings. A row's details are cut from the details block and parsed on its first
 * expand. It must stay plain ASCII with no carriage returns: the hash the page declares is of what the browser parses.
 */
export const SCRIPT = `(() => {
'use strict';
const doc = document;
const $ = (id) => doc.getElementById(id);
const root = doc.documentElement;

const theme = $('theme');
if (theme) {
  const current = () => root.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const show = () => { const dark = current() === 'dark'; theme.setAttribute('aria-pressed', String(dark)); theme.textContent = dark ? 'Light theme' : 'Dark theme'; };
  theme.addEventListener('click', () => { root.dataset.theme = current() === 'dark' ? 'light' : 'dark'; show(); });
  show();
}

const table = $('snaps');
if (!table) { performance.mark('snapdrill-ready'); return; }
const rows = Array.from(table.tBodies, (el, i) => {
  const d = el.dataset;
  let tags = {};
  try { tags = JSON.parse(d.tags || '{}'); } catch (e) { tags = {}; }
  const lower = {};
  for (const k of Object.keys(tags)) lower[k.toLowerCase()] = String(tags[k]).toLowerCase();
  return { el, i, tags: lower, hay: (d.id + '\\n' + d.name).toLowerCase(), d };
});
const heads = Array.from(table.tHead.rows[0].cells);
const total = rows.length;
const controls = { q: $('f-q'), verdict: $('f-verdict'), policy: $('f-policy'), account: $('f-account'), tag: $('f-tag') };
const count = $('count');
const none = $('none');
let sort = { key: '', dir: 'ascending' };

// Not toLocaleString: its first call loads locale data, which costs more than the filter itself.
function thousands(n) { return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ','); }

function tagTest(text) {
  const t = text.trim().toLowerCase();
  if (!t) return null;
  const at = t.indexOf('=');
  const key = (at < 0 ? t : t.slice(0, at)).trim();
  const value = at < 0 ? null : t.slice(at + 1).trim();
  return (r) => Object.prototype.hasOwnProperty.call(r.tags, key) && (value === null || r.tags[key] === value);
}

function state() {
  const s = {};
  for (const k of Object.keys(controls)) if (controls[k] && controls[k].value) s[k] = controls[k].value;
  if (sort.key) { s.sort = sort.key; s.dir = sort.dir === 'descending' ? 'desc' : 'asc'; }
  return s;
}

// The URL keeps the view, written a moment after the last change: replaceState is a round trip to the browser.
let saving = 0;
function save() {
  clearTimeout(saving);
  saving = setTimeout(saveNow, 250);
}

function saveNow() {
  const s = new URLSearchParams(state()).toString();
  const hash = s ? '#view?' + s : '';
  if (location.hash === hash || (!hash && !location.hash.startsWith('#view?'))) return;
  try { history.replaceState(null, '', hash || location.pathname + location.search); } catch (e) { /* file: URLs may refuse; the view still works */ }
}

function apply() {
  const q = controls.q.value.trim().toLowerCase();
  const verdict = controls.verdict.value;
  const policy = controls.policy.value === '' ? '' : controls.policy.value === 'pass' ? '1' : '0';
  const account = controls.account ? controls.account.value : '';
  const tag = tagTest(controls.tag.value);
  let shown = 0;
  for (const r of rows) {
    const ok = (!q || r.hay.includes(q)) && (!verdict || r.d.verdict === verdict) && (!policy || r.d.policy === policy) && (!account || r.d.account === account) && (!tag || tag(r));
    if (r.el.hidden === ok) r.el.hidden = !ok;
    if (ok) shown++;
  }
  count.textContent = 'Showing ' + thousands(shown) + ' of ' + thousands(total) + ' snapshots';
  none.hidden = shown > 0;
  save();
}

function compare(key, type) {
  if (type === 'num') return (a, b) => Number(a.d[key]) - Number(b.d[key]) || a.i - b.i;
  const coll = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  return (a, b) => coll.compare(a.d[key] || '', b.d[key] || '') || a.i - b.i;
}

function sortBy(key, dir) {
  const th = heads.find((h) => h.dataset.key === key);
  if (!th) { sort = { key: '', dir: 'ascending' }; }
  else sort = { key, dir };
  let order = rows.slice();
  if (th) {
    const cmp = compare(key, th.dataset.type);
    order.sort(dir === 'descending' ? (a, b) => cmp(b, a) : cmp);
  } else order.sort((a, b) => a.i - b.i);
  const frag = doc.createDocumentFragment();
  for (const r of order) frag.appendChild(r.el);
  table.appendChild(frag);
  for (const h of heads) h.setAttribute('aria-sort', h === th ? dir : 'none');
  save();
}

for (const th of heads) {
  th.querySelector('button').addEventListener('click', () => {
    sortBy(th.dataset.key, sort.key === th.dataset.key && sort.dir === 'ascending' ? 'descending' : 'ascending');
  });
}

// The details block holds each row's details in row order, each starting with DETAIL_ROW (table.ts).
const DETAIL_ROW = ${JSON.stringify(DETAIL_ROW)};
let details = null;
function toggle(el, open) {
  const tr = el.rows[0];
  const want = open === undefined ? tr.getAttribute('aria-expanded') !== 'true' : open;
  let detail = el.querySelector('tr.detail');
  if (want && !detail) {
    details = details || $('snap-details').textContent.split(DETAIL_ROW);
    const tpl = doc.createElement('template');
    tpl.innerHTML = DETAIL_ROW + details[Number(el.id.slice(2)) + 1];
    el.appendChild(tpl.content);
    detail = el.querySelector('tr.detail');
  }
  if (detail) detail.hidden = !want;
  tr.setAttribute('aria-expanded', String(want));
}

function visibleRows() { return rows.filter((r) => !r.el.hidden).map((r) => r.el); }

table.addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr.row');
  if (!tr || ev.target.closest('a,button,input,select,summary,textarea')) return;
  toggle(tr.parentElement);
});
table.addEventListener('keydown', (ev) => {
  const tr = ev.target;
  if (!(tr instanceof HTMLTableRowElement) || !tr.classList.contains('row')) return;
  if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(tr.parentElement); return; }
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    const vis = Array.from(table.tBodies).filter((b) => !b.hidden);
    const next = vis[vis.indexOf(tr.parentElement) + (ev.key === 'ArrowDown' ? 1 : -1)];
    if (next) { ev.preventDefault(); next.rows[0].focus(); }
  }
});

for (const k of Object.keys(controls)) {
  const c = controls[k];
  if (c) c.addEventListener(c.tagName === 'SELECT' ? 'change' : 'input', apply);
}
$('f-reset').addEventListener('click', () => {
  for (const k of Object.keys(controls)) if (controls[k]) controls[k].value = '';
  sortBy('', 'ascending');
  apply();
});
$('f-expand').addEventListener('click', () => { for (const el of visibleRows().slice(0, 200)) toggle(el, true); });
$('f-collapse').addEventListener('click', () => { for (const r of rows) if (r.el.rows[0].getAttribute('aria-expanded') === 'true') toggle(r.el, false); });

function reveal(id) {
  const el = $(id);
  if (!el || el.tagName !== 'TBODY') return;
  if (el.hidden) { for (const k of Object.keys(controls)) if (controls[k]) controls[k].value = ''; apply(); }
  toggle(el, true);
  el.rows[0].focus();
  el.scrollIntoView({ block: 'start' });
}

function restore() {
  const h = location.hash;
  if (h.startsWith('#view?')) {
    const p = new URLSearchParams(h.slice(6));
    for (const k of Object.keys(controls)) if (controls[k] && p.has(k)) controls[k].value = p.get(k);
    if (p.get('sort')) sortBy(p.get('sort'), p.get('dir') === 'desc' ? 'descending' : 'ascending');
    apply();
  } else if (/^#s-[0-9]+$/.test(h)) reveal(h.slice(1));
}
doc.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href^="#s-"]');
  if (a) { ev.preventDefault(); reveal(a.getAttribute('href').slice(1)); }
});
addEventListener('hashchange', restore);
restore();
performance.mark('snapdrill-ready');
})();
`;
