/**
 * The HTML report in a real browser: Debian's Chromium driven by playwright-core. CI installs both; when either is
 * missing these tests fail (they never skip). Every page is checked for console errors, uncaught exceptions, CSP
 * violations, dialogs (a hostile string that ran) and any request but the file itself. Screenshots, the PDFs and
 * the timings of the 1,000-snapshot report are kept under reports/test-artifacts/browser/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, measureRender } from '../../bench/report-render.js';
import { renderHtml } from '../../src/report/html.js';
import type { RunReport } from '../../src/report/types.js';
import { catalogOf, tempDir } from '../helpers.js';
import { syntheticReport } from '../report/sample.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const GOLDEN = path.join(ROOT, 'test/golden/report');
const ARTIFACTS = path.join(ROOT, 'reports/test-artifacts/browser');
const SCENARIOS = ['mixed-exit1', 'all-pass-exit0', 'harness-error-exit3', 'boot-fails-exit1', 'history-exit1'] as const;
/** A4 less the print stylesheet's 12 mm margins, in CSS pixels (96 per inch). */
const PRINT_AREA = { width: Math.floor(((210 - 24) / 25.4) * 96), height: Math.floor(((297 - 24) / 25.4) * 96) };

let launched: Promise<Browser> | undefined;

/** browser starts Chromium once; without it every test fails with the reason (a failed beforeAll would only skip them). */
function browser(): Promise<Browser> {
  launched ??= existsSync(CHROMIUM) ? launchChromium() : Promise.reject(new Error(`${CHROMIUM} is missing: apt-get install chromium (CI installs it)`));
  return launched;
}

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

afterAll(async () => (await launched?.catch(() => undefined))?.close());

/** Opened is a report page with everything it did that it must not do. */
interface Opened {
  page: Page;
  url: string;
  /** Console errors and warnings, uncaught exceptions, CSP violations and dialogs. */
  problems: string[];
  requests: string[];
}

/** keep writes a page under the artefacts and returns its file: URL. */
function keep(html: string, name: string): string {
  const file = path.join(ARTIFACTS, `${name}.html`);
  writeFileSync(file, html);
  return pathToFileURL(file).href;
}

/** preparePage opens a tab that records, from its first byte, every problem and request of the page at url. */
async function preparePage(url: string, options: BrowserContextOptions = {}): Promise<Opened> {
  const context = await (await browser()).newContext({ viewport: { width: 1300, height: 900 }, colorScheme: 'light', ...options });
  const page = await context.newPage();
  const opened: Opened = { page, url, problems: [], requests: [] };
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sample})`));
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') opened.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => opened.problems.push(`uncaught: ${e.message}`));
  page.on('dialog', async (d) => {
    opened.problems.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  page.on('request', (r) => opened.requests.push(r.url()));
  return opened;
}

/** openReport keeps html under the artefacts and opens it from file:// (with a URL fragment, if given). */
async function openReport(html: string, name: string, options: BrowserContextOptions = {}, hash = ''): Promise<Opened> {
  const url = keep(html, name);
  const opened = await preparePage(url, options);
  await opened.page.goto(url + hash, { waitUntil: 'load' });
  return opened;
}

/** closeClean asserts the page stayed clean (no problem, no request but the file) and closes it. */
async function closeClean(o: Opened): Promise<void> {
  expect(o.problems).toEqual([]);
  expect(o.requests.map((u) => u.replace(/#.*/, ''))).toEqual([o.url]);
  await o.page.context().close();
}

function golden(scenario: string): { html: string; report: RunReport } {
  return { html: readFileSync(path.join(GOLDEN, `${scenario}.html`), 'utf8'), report: JSON.parse(readFileSync(path.join(GOLDEN, `${scenario}.json`), 'utf8')) };
}

const shownIds = (page: Page) => page.$$eval('#snaps > tbody:not([hidden])', (bs) => bs.map((b) => (b as HTMLElement).dataset.id));
const countText = (page: Page) => page.textContent('#count');

/**
 * expectPrintable lays the page out for print on A4's printable width and checks what a printed report needs: no
 * interactive control, the auditor summary (controls listed) first and within one page, nothing wider than the paper.
 */
async function expectPrintable(page: Page): Promise<void> {
  await page.setViewportSize(PRINT_AREA);
  await page.emulateMedia({ media: 'print' });
  for (const control of ['.toolbar', '#theme', '#f-q', '#f-reset']) expect(await page.isVisible(control), control).toBe(false);
  expect(await page.isVisible('#audit')).toBe(true);
  expect(await page.isVisible('#audit >> text=NIST SP 800-53 Rev. 5 CP-9(1)')).toBe(true);
  const layout = await page.evaluate(() => {
    const box = (id: string) => document.getElementById(id)?.getBoundingClientRect();
    return { audit: box('audit')!.top, auditEnd: box('audit')!.bottom, changes: box('changes')?.top ?? Infinity, snapshots: box('snapshots')!.top, width: document.documentElement.scrollWidth };
  });
  expect(layout.audit).toBeLessThan(Math.min(layout.changes, layout.snapshots));
  expect(layout.auditEnd).toBeLessThanOrEqual(PRINT_AREA.height); // header and summary fit the first page
  expect(layout.width).toBeLessThanOrEqual(PRINT_AREA.width); // no table cut off at the paper's edge
}

/** expandEvery opens each row's details with a click and returns the number of detail rows shown. */
async function expandEvery(page: Page): Promise<number> {
  for (const row of await page.$$('#snaps tr.row')) await row.click();
  return page.locator('#snaps tr.detail:visible').count();
}

describe('HTML report in Chromium', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario} (golden): shows every snapshot, expands each, with no console error, CSP violation or request`, async () => {
      const { html, report } = golden(scenario);
      const o = await openReport(html, `golden-${scenario}`);
      const { page } = o;
      expect(await page.title()).toBe(`snapdrill report ${report.runId}`);
      expect(await page.locator('#snaps > tbody').count()).toBe(report.snapshots.length);
      expect(await countText(page)).toBe(`Showing ${report.snapshots.length} of ${report.snapshots.length} snapshots`);
      expect((await shownIds(page)).sort()).toEqual(report.snapshots.map((s) => s.id).sort());
      expect(await page.isVisible('#audit')).toBe(true);
      expect(await page.locator('#snaps tr.detail').count()).toBe(0);
      expect(await expandEvery(page)).toBe(report.snapshots.length);
      if (scenario === 'boot-fails-exit1') {
        expect(await page.isVisible('text=Likely cause: An /etc/fstab entry names a device this instance does not have')).toBe(true);
        expect(await page.textContent('pre.console')).toContain('<script>alert("console")</script>');
      }
      await page.screenshot({ path: path.join(ARTIFACTS, `golden-${scenario}.png`), fullPage: true });
      await closeClean(o);
    });
  }

  it('filters by verdict, policy, account and tag, searches by id or Name, and resets, by mouse and keyboard', async () => {
    const o = await openReport(golden('history-exit1').html, 'interactions-filter');
    const { page } = o;
    await page.selectOption('#f-verdict', 'corrupt');
    expect(await countText(page)).toBe('Showing 2 of 5 snapshots');
    expect(await shownIds(page)).toEqual(['snap-<b>bold</b>&"quoted"', 'snap-db-walgap']);
    await page.selectOption('#f-verdict', '');
    await page.selectOption('#f-policy', 'fail');
    expect(await shownIds(page)).toEqual(['snap-<b>bold</b>&"quoted"', 'snap-db-walgap', 'empty']);
    await page.selectOption('#f-account', '111111111111');
    expect(await shownIds(page)).toEqual(['snap-db-walgap']);
    await page.click('#f-reset');
    await page.fill('#f-tag', 'env=prod');
    expect((await shownIds(page)).sort()).toEqual(['snap-0123456789abcdef0', 'snap-api-crash']);
    await page.fill('#f-tag', 'ENV = Staging');
    expect(await shownIds(page)).toEqual(['snap-db-walgap']);
    await page.fill('#f-tag', 'nope=1');
    expect(await countText(page)).toBe('Showing 0 of 5 snapshots');
    expect(await page.isVisible('#none')).toBe(true);
    await page.fill('#f-tag', '');
    // Search by id and by Name tag, typed with the keyboard.
    await page.focus('#f-q');
    await page.keyboard.type('ORDERS');
    expect(await shownIds(page)).toEqual(['snap-db-walgap']);
    await page.fill('#f-q', 'snap-api');
    expect(await shownIds(page)).toEqual(['snap-api-crash']);
    await page.focus('#f-verdict');
    await page.keyboard.press('ArrowDown'); // a keyboard choice in a closed <select> changes it
    expect(await page.inputValue('#f-verdict')).toBe('corrupt');
    expect(await countText(page)).toBe('Showing 0 of 5 snapshots');
    await page.focus('#f-reset');
    await page.keyboard.press('Enter');
    expect(await countText(page)).toBe('Showing 5 of 5 snapshots');
    expect(await page.inputValue('#f-q')).toBe('');
    await closeClean(o);
  });

  it('sorts by any column from its heading button, by click, Enter and Space, with aria-sort, and keeps the view in the URL', async () => {
    const o = await openReport(golden('history-exit1').html, 'interactions-sort');
    const { page } = o;
    const sortOf = (key: string) => page.getAttribute(`th[data-key=${key}]`, 'aria-sort');
    await page.click('th[data-key=rto] button');
    expect(await sortOf('rto')).toBe('ascending');
    const rtos = () => page.$$eval('#snaps > tbody', (bs) => bs.map((b) => Number((b as HTMLElement).dataset.rto)));
    expect(await rtos()).toEqual([1000, 1000, 1000, 1000, 2400]);
    await page.click('th[data-key=rto] button');
    expect(await sortOf('rto')).toBe('descending');
    expect((await rtos())[0]).toBe(2400);
    await page.focus('th[data-key=id] button');
    await page.keyboard.press('Enter');
    expect(await sortOf('id')).toBe('ascending');
    expect(await sortOf('rto')).toBe('none');
    expect(await shownIds(page)).toEqual(['empty', 'snap-<b>bold</b>&"quoted"', 'snap-0123456789abcdef0', 'snap-api-crash', 'snap-db-walgap']);
    await page.keyboard.press(' ');
    expect(await sortOf('id')).toBe('descending');
    for (const key of ['lineage', 'where', 'sev', 'boot', 'policy', 'trend']) {
      await page.click(`th[data-key=${key}] button`);
      expect(await sortOf(key), key).toBe('ascending');
    }
    await page.click('th[data-key=trend] button');
    expect(await sortOf('trend')).toBe('descending');
    expect((await shownIds(page))[0]).toBe('snap-db-walgap'); // the flapping lineage, failed in 4 of 12 runs, is the least stable
    await page.selectOption('#f-policy', 'fail');
    await page.waitForFunction(() => location.hash.includes('policy=fail'));
    expect(await page.evaluate(() => location.hash)).toBe('#view?policy=fail&sort=trend&dir=desc');
    // A view in the URL is restored on load.
    const again = await openReport(golden('history-exit1').html, 'interactions-sort-url', {}, '#view?verdict=corrupt&sort=rto&dir=desc');
    expect(await countText(again.page)).toBe('Showing 2 of 5 snapshots');
    expect(await again.page.getAttribute('th[data-key=rto]', 'aria-sort')).toBe('descending');
    expect(await again.page.inputValue('#f-verdict')).toBe('corrupt');
    await closeClean(again);
    await closeClean(o);
  });

  it('expands a row by click, Enter or Space, moves between rows with the arrows, shows focus, and opens a row from a link', async () => {
    const o = await openReport(golden('history-exit1').html, 'interactions-expand');
    const { page } = o;
    const expanded = (i: number) => page.getAttribute(`#s-${i} tr.row`, 'aria-expanded');
    await page.click('#s-1 tr.row td:nth-child(2)');
    expect(await expanded(1)).toBe('true');
    expect(await page.isVisible('#s-1-d >> text=WAL after 0/3A0B2F8 is unreachable')).toBe(true);
    await page.click('#s-1-d summary >> text=Checks run');
    expect(await expanded(1)).toBe('true'); // a click inside the details does not fold the row
    await page.click('#s-1 tr.row');
    expect(await page.isVisible('#s-1-d')).toBe(false);
    // Keyboard only: Tab from the last heading lands on the first row.
    await page.focus('th[data-key=trend] button');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('tbody')?.id)).toBe('s-0');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    await page.keyboard.press('Enter');
    expect(await expanded(0)).toBe('true');
    expect(await page.isVisible('#s-0-d >> text=metadata damage')).toBe(true);
    await page.keyboard.press(' ');
    expect(await expanded(0)).toBe('false');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press(' ');
    expect(await expanded(1)).toBe('true');
    await page.screenshot({ path: path.join(ARTIFACTS, 'interactions-expand.png') });
    // A link from the changes opens its row, even when a filter hid it.
    await page.selectOption('#f-verdict', 'application-consistent');
    await page.click('#changes >> text=details >> nth=0');
    expect(await countText(page)).toBe('Showing 5 of 5 snapshots');
    expect(await expanded(1)).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.closest('tbody')?.id)).toBe('s-1');
    await page.click('#f-collapse');
    expect(await page.locator('#snaps tr.detail:visible').count()).toBe(0);
    await page.click('#f-expand');
    expect(await page.locator('#snaps tr.detail:visible').count()).toBe(5);
    await closeClean(o);
  });

  it('follows the system theme, toggles light and dark with a button, and prints light', async () => {
    const light = await openReport(golden('history-exit1').html, 'theme-light');
    const bg = (p: Page) => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await bg(light.page)).toBe('rgb(246, 248, 250)');
    await light.page.click('#theme');
    expect(await light.page.getAttribute('html', 'data-theme')).toBe('dark');
    expect(await light.page.getAttribute('#theme', 'aria-pressed')).toBe('true');
    expect(await bg(light.page)).toBe('rgb(13, 17, 23)');
    await light.page.screenshot({ path: path.join(ARTIFACTS, 'theme-toggled-dark.png'), fullPage: true });
    await light.page.emulateMedia({ media: 'print' });
    expect(await bg(light.page)).toBe('rgb(255, 255, 255)');
    await closeClean(light);
    const dark = await openReport(golden('history-exit1').html, 'theme-dark', { colorScheme: 'dark' });
    expect(await bg(dark.page)).toBe('rgb(13, 17, 23)');
    expect(await dark.page.textContent('#theme')).toBe('Light theme');
    await dark.page.click('#theme');
    expect(await bg(dark.page)).toBe('rgb(246, 248, 250)');
    await closeClean(dark);
  });

  it('prints a clean PDF: the auditor summary first on a page of its own, controls listed, no interactive control, no cut-off table', async () => {
    const o = await openReport(golden('history-exit1').html, 'print');
    const { page } = o;
    await page.click('#s-1 tr.row'); // an expanded row prints expanded
    await expectPrintable(page);
    expect(await page.isVisible('#s-1-d')).toBe(true);
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    writeFileSync(path.join(ARTIFACTS, 'history-exit1.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(30_000);
    expect(pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g)!.length).toBeGreaterThanOrEqual(3); // the summary's page, then the rest
    await closeClean(o);
  });

  it('1,000 snapshots with 90 runs of history: renders, filters, sorts, searches and expands (timings kept as artefacts)', async () => {
    const report = syntheticReport(1000, 90);
    const html = renderHtml(report);
    const o = await preparePage(keep(html, 'synthetic-1000'));
    const { page } = o;
    const timings = await measureRender(page, o.url);
    writeFileSync(path.join(ARTIFACTS, 'synthetic-1000-timings.json'), `${JSON.stringify({ ...timings, htmlBytes: html.length }, null, 2)}\n`);
    console.log(`synthetic 1,000 snapshots: ${JSON.stringify(timings)}`);
    // measureRender chose verdict: corrupt.
    const corrupt = report.snapshots.filter((s) => s.consistency === 'corrupt');
    expect(await countText(page)).toBe(`Showing ${corrupt.length} of 1,000 snapshots`);
    expect((await shownIds(page)).sort()).toEqual(corrupt.map((s) => s.id).sort());
    expect(await page.locator('#snaps > tbody').count()).toBe(1000);
    expect(await page.locator('#snaps tr.detail').count()).toBe(0); // no details in the DOM until asked for
    expect(timings.nodes).toBeLessThan(60_000);
    await page.click('#f-reset');
    await page.click('th[data-key=rto] button');
    await page.click('th[data-key=rto] button');
    const slowest = Math.max(...report.snapshots.map((s) => s.restoreToVerifiedMs));
    expect(await page.getAttribute('#snaps > tbody:first-of-type', 'data-rto')).toBe(String(slowest));
    const target = report.snapshots[777]!;
    await page.fill('#f-q', target.tags.Name!);
    expect(await shownIds(page)).toEqual([target.id]);
    await page.click(`#snaps > tbody:not([hidden]) tr.row`);
    expect(await page.isVisible(`#snaps tr.detail >> text=${target.summary}`)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'synthetic-1000.png') });
    await page.click('#f-reset');
    await expectPrintable(page);
    const pdf = await page.pdf({ format: 'A4' });
    writeFileSync(path.join(ARTIFACTS, 'synthetic-1000.pdf'), pdf);
    expect(pdf.length).toBeGreaterThan(200_000);
    await closeClean(o);
  });

  it('renders the report of a real run on the fixture catalog (snapdrill run --provider local)', async () => {
    const out = tempDir('browser-out');
    const catalog = catalogOf(['ext4-clean.img', 'ext4-crash.img', 'xfs-frozen.img', 'xfs-corrupt.img']);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'run', '--provider', 'local', '--catalog', catalog, '--json', '--scratch-dir', tempDir('browser-scratch'), '--state-dir', tempDir('browser-state'), '--out', out], {
      cwd: ROOT,
      env: { ...process.env, CI: '1' },
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(r.status, r.stderr).toBe(1); // xfs-corrupt fails the policy
    const { reportDir } = JSON.parse(r.stdout) as { reportDir: string };
    const report = JSON.parse(readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as RunReport;
    const o = await openReport(readFileSync(path.join(reportDir, 'index.html'), 'utf8'), 'real-run');
    const { page } = o;
    expect(await page.locator('#snaps > tbody').count()).toBe(4);
    const verdicts = await page.$$eval('#snaps > tbody', (bs) => Object.fromEntries(bs.map((b) => [(b as HTMLElement).dataset.id, (b as HTMLElement).dataset.verdict])));
    expect(verdicts).toEqual(Object.fromEntries(report.snapshots.map((s) => [s.id, s.consistency])));
    expect(verdicts['snap-xfs-corrupt']).toBe('corrupt');
    expect(await page.textContent('#audit')).toMatch(/Filesystem checks: ext4: journal replay on the copy, then a full read-only e2fsck \(2 runs\); XFS: log replay on the copy, then xfs_repair -n \(2 runs\)/);
    expect(await expandEvery(page)).toBe(4);
    await page.screenshot({ path: path.join(ARTIFACTS, 'real-run.png'), fullPage: true });
    await expectPrintable(page);
    const pdf = await page.pdf({ format: 'A4' });
    writeFileSync(path.join(ARTIFACTS, 'real-run.pdf'), pdf);
    expect(pdf.length).toBeGreaterThan(20_000);
    await closeClean(o);
  });
});
