// The HTML report at fleet size (issue 11): a synthetic run of 1,000 snapshots with 90 runs of history.
//   node --import tsx bench/report-render.ts [snapshots] [runs]
// Prints a Markdown table: renderHtml time, peak RSS and HTML size in Node; time to first render and to apply a
// filter in Chromium (/usr/bin/chromium, via playwright-core). Targets: < 3 s, < 300 MB, < 1 s, < 100 ms.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderHtml } from '../src/report/html.js';
import { syntheticReport } from '../test/report/sample.js';

/** CHROMIUM is Debian's chromium, which CI installs; playwright-core brings no browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';

/** launchChromium starts headless Chromium; as root it needs --no-sandbox (CI runs as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}

/** RenderTimings are what a reader waits for: the page painted, its script ready, a filter applied. */
export interface RenderTimings {
  /** From the navigation's start to the first contentful paint. */
  firstPaintMs: number;
  /** From the navigation's start to the end of the page script (the 'snapdrill-ready' mark): the table is usable. */
  readyMs: number;
  /** From the navigation's start to the end of the load event. */
  loadMs: number;
  /** Wall time of page.goto(..., load) as the test sees it. */
  gotoMs: number;
  /** Choosing a verdict in the filter until the new layout is computed. */
  filterMs: number;
  /** The same until the next frame could be painted. */
  filterFrameMs: number;
  /** DOM nodes after load: details stay out of the DOM until a row is expanded. */
  nodes: number;
}

/** measureRender opens a report in a page and times the first render and one filter (verdict: corrupt). */
export async function measureRender(page: Page, url: string): Promise<RenderTimings> {
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  const gotoMs = Date.now() - t0;
  const load = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { firstPaintMs: fcp?.startTime ?? Number.NaN, readyMs: performance.getEntriesByName('snapdrill-ready')[0]?.startTime ?? Number.NaN, loadMs: nav.loadEventEnd, nodes: document.getElementsByTagName('*').length };
  });
  const filter = await page.evaluate(
    () =>
      new Promise<{ filterMs: number; filterFrameMs: number }>((resolve) => {
        const select = document.getElementById('f-verdict') as HTMLSelectElement;
        const start = performance.now();
        select.value = 'corrupt';
        select.dispatchEvent(new Event('change'));
        document.body.getBoundingClientRect();
        const laidOut = performance.now();
        requestAnimationFrame(() => setTimeout(() => resolve({ filterMs: laidOut - start, filterFrameMs: performance.now() - start })));
      }),
  );
  return { ...load, ...filter, gotoMs };
}

function row(name: string, value: string, target: string): string {
  return `| ${name} | ${value} | ${target} |`;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000);
  const runs = Number(process.argv[3] ?? 90);
  const rssBefore = process.memoryUsage().rss;
  const report = syntheticReport(n, runs);
  const rssReport = process.resourceUsage().maxRSS * 1024;
  const t = performance.now();
  const html = renderHtml(report);
  const renderMs = performance.now() - t;
  const peak = process.resourceUsage().maxRSS * 1024;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snapdrill-bench-report-'));
  const file = path.join(dir, 'index.html');
  writeFileSync(file, html);
  const browser = await launchChromium();
  const samples: RenderTimings[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      samples.push(await measureRender(page, pathToFileURL(file).href));
      await page.close();
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (k: keyof RenderTimings) => [...samples.map((s) => s[k])].sort((a, b) => a - b)[1]!;
  const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  const ms = (v: number) => `${Math.round(v)} ms`;
  console.log(`Report render, ${n} snapshots, ${runs} runs of history (median of 3 page loads; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs)\n`);
  console.log(['| measure | value | target |', '|---|---|---|',
    row('renderHtml', ms(renderMs), '< 3 s'),
    row('peak RSS (Node: synthetic report + render)', `${mb(peak)} (${mb(rssBefore)} at start, ${mb(rssReport)} with the report built)`, '< 300 MB'),
    row('HTML size', `${(html.length / 1048576).toFixed(1)} MiB`, ''),
    row('Chromium: first contentful paint', ms(med('firstPaintMs')), '< 1 s'),
    row('Chromium: script ready (table usable)', ms(med('readyMs')), ''),
    row('Chromium: load event end', ms(med('loadMs')), ''),
    row('Chromium: apply a filter (to layout)', ms(med('filterMs')), '< 100 ms'),
    row('Chromium: apply a filter (to next frame)', ms(med('filterFrameMs')), ''),
    row('DOM nodes after load', String(med('nodes')), ''),
  ].join('\n'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
