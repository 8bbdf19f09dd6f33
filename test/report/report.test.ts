import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import { renderJsonReport } from '../../src/report/json.js';
import { renderJunit } from '../../src/report/junit.js';
import { SnapdrillError } from '../../src/errors.js';
import type { RunReport } from '../../src/report/types.js';
import { sampleReport, syntheticReport } from './sample.js';

const GOLDEN = path.resolve(import.meta.dirname, '../golden/report');
const SCENARIOS = ['mixed-exit1', 'all-pass-exit0', 'harness-error-exit3', 'boot-fails-exit1', 'history-exit1'] as const;

/** golden compares text with test/golden/report/NAME; UPDATE_GOLDEN=1 rewrites it after an intended change. */
function golden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) {
    if (!process.env.UPDATE_GOLDEN && process.env.CI) throw new Error(`golden file ${name} missing: run UPDATE_GOLDEN=1 npm test and commit it`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
  }
  expect(text).toBe(readFileSync(file, 'utf8'));
}

const DETAILS_BLOCK = /<script type="text\/html" id="snap-details">([^]*?)<\/script>/;
const DETAIL_ROW = '<tr class="detail" role="row" id="';

/** detailsOf cuts out the per-snapshot details the page carries as text (parsed by the page on first expand), in row order. */
function detailsOf(html: string): string[] {
  return DETAILS_BLOCK.exec(html)![1]!.split(DETAIL_ROW).slice(1).map((d) => `${DETAIL_ROW}${d.trim()}`);
}

/** markupOf is everything the browser parses as markup: the page without its details block, plus every snapshot's details. */
function markupOf(html: string): string {
  return [html.replace(DETAILS_BLOCK, ''), ...detailsOf(html)].join('\n');
}

/** section cuts one <section id=ID> out of the page. */
function section(html: string, id: string): string {
  const at = html.indexOf(`<section id="${id}"`);
  return at < 0 ? '' : html.slice(at, html.indexOf('</section>', at) + '</section>'.length);
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

describe('reports', () => {
  for (const scenario of SCENARIOS) {
    it(`renders ${scenario} identically to its golden files`, () => {
      const r = sampleReport(scenario);
      golden(`${scenario}.html`, renderHtml(r));
      golden(`${scenario}.junit.xml`, renderJunit(r));
      golden(`${scenario}.json`, renderJsonReport(r));
    });
  }

  it('escapes every value from a disk, tool, provider or webhook: no markup survives, no script but its own, no external asset', () => {
    for (const scenario of ['mixed-exit1', 'history-exit1'] as const) {
      const html = renderHtml(sampleReport(scenario));
      const markup = markupOf(html);
      expect(markup.match(/<script/gi)).toHaveLength(1);
      expect(html.match(/<script/gi)).toHaveLength(2); // the page's script and the details data block
      expect(markup).not.toMatch(/<img/i);
      expect(markup).not.toMatch(/<b>bold/);
      expect(markup).not.toMatch(/<[a-z][^>]*\son[a-z]+\s*=/i);
      expect(markup).not.toMatch(/\sstyle=/i);
      expect(markup).toContain('&lt;script&gt;alert(&quot;tag&quot;)&lt;/script&gt;');
      expect(markup).toContain('&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;');
      expect(markup).not.toMatch(/(src|href|action)=["']?(https?:)?\/\//i);
      expect(markup).not.toMatch(/<(link|iframe|object|embed|base|form)\b/i);
    }
    const history = markupOf(renderHtml(sampleReport('history-exit1')));
    expect(history).toContain('vol-&lt;script&gt;alert(&quot;lineage&quot;)&lt;/script&gt;');
    expect(history).toContain('502 &lt;b&gt;Bad Gateway&lt;/b&gt;');
    expect(history).toContain('ids: snap-&lt;i&gt;not-markup&lt;/i&gt;');
    expect(history).toContain('<code>vol-0none&lt;b&gt;</code>');
  });

  it('keeps the details block closed and unambiguous, whatever the tools printed', () => {
    const r = sampleReport('mixed-exit1');
    r.snapshots[0]!.filesystems[0]!.excerpts[0]!.text = `x </script><script>alert(1)</script> <!-- <script> ${DETAIL_ROW}s-9-d">`;
    const html = renderHtml(r);
    const block = DETAILS_BLOCK.exec(html)![1]!;
    expect(block).not.toMatch(/<\/script|<!--/i);
    expect(block.split(DETAIL_ROW)).toHaveLength(5); // one per snapshot: the hostile copy of the delimiter is escaped
    expect(detailsOf(html).join('')).toContain('x &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &lt;!-- &lt;script&gt; &lt;tr class=&quot;detail&quot;');
    expect(detailsOf(html).map((d) => /id="(s-\d+)-d"/.exec(d)![1])).toEqual(['s-0', 's-1', 's-2', 's-3']);
  });

  it('allows its inline script and style sheet only by their sha256 hashes, and nothing else', () => {
    for (const scenario of SCENARIOS) {
      const html = renderHtml(sampleReport(scenario));
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!;
      const script = /<script>([^]*?)<\/script>/.exec(html)![1]!;
      const style = /<style>([^]*?)<\/style>/.exec(html)![1]!;
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v.join(' ')]));
      expect(directives.get('default-src')).toBe("'none'");
      expect(directives.get('script-src')).toBe(sha256(script));
      expect(directives.get('style-src')).toBe(sha256(style));
      expect(directives.get('img-src')).toBe('data:');
      expect(csp).not.toMatch(/unsafe-|https?:|\*/);
      expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<style>'));
      expect(script).not.toMatch(/[^\x20-\x7e\n]/); // ASCII without carriage returns: the bytes hashed are the bytes parsed
    }
  });

  it('shows summary counts, one row per snapshot, timings and expandable evidence', () => {
    const html = renderHtml(sampleReport('mixed-exit1'));
    expect(html).toMatch(/<b>4<\/b>snapshots/);
    expect(html).toMatch(/<b>2<\/b>corrupt/);
    expect(html.match(/<tbody id="s-\d+"/g)).toHaveLength(4);
    expect(html).toContain('Showing 4 of 4 snapshots');
    const details = detailsOf(html);
    expect(details).toHaveLength(4);
    expect(details[0]).toContain('<details><summary>Timings');
    expect(details[0]).toContain('Remedy: restore from an earlier snapshot');
    // Failures first, the worst verdict first: the corrupt hostile snapshot leads, the clean one comes last.
    expect([...html.matchAll(/data-id="([^"]*)"/g)].map((m) => m[1])).toEqual(['snap-&lt;b&gt;bold&lt;/b&gt;&amp;&quot;quoted&quot;', 'snap-db-walgap', 'empty', 'snap-0123456789abcdef0']);
  });

  it('shows each database with its state and evidence, and canaries with their values, escaped', () => {
    const html = renderHtml(sampleReport('mixed-exit1'));
    const db = detailsOf(html)[1]!;
    expect(db).toContain('postgresql <code>/var/lib/postgresql/15/main</code> <span class="badge bad">corrupt</span>');
    expect(db).toContain('valid WAL records exist after the break');
    expect(html).toContain('<span class="badge bad">canary failed</span>');
    expect(db).toContain('orders &lt;fresh&gt;');
    expect(db).toContain('newest data is 4d01h older than the snapshot (RPO 26h00m)');
    expect(db).toContain('redo done at 0/3A0B2F8 &lt;not markup&gt;');
  });

  it('gives filters and sort the data they need on each row, and sortable headings as buttons with aria-sort', () => {
    const html = renderHtml(sampleReport('history-exit1'));
    const row = /<tbody id="s-1"[^>]*>/.exec(html)![0];
    expect(row).toContain('data-verdict="corrupt"');
    expect(row).toContain('data-policy="0"');
    expect(row).toContain('data-account="111111111111"');
    expect(row).toContain('data-rto="2400"');
    expect(row).toContain('data-tags="{&quot;Name&quot;:&quot;orders db&quot;,&quot;env&quot;:&quot;staging&quot;}"');
    const heads = [...html.matchAll(/<th role="columnheader" scope="col" aria-sort="none" data-key="(\w+)" data-type="\w+"><button type="button" class="sort">([^<]+)<\/button><\/th>/g)].map((m) => m[2]);
    expect(heads).toEqual(['snapshot', 'lineage', 'account / region', 'verdict', 'boot', 'policy', 'restore to verified', 'trend']);
    expect(html).toMatch(/<tr class="row failed" role="row" tabindex="0" aria-expanded="false" aria-controls="s-0-d">/);
    expect(html).toContain('<option value="222222222222">222222222222</option>');
    // Without accounts or history, those columns and the account filter are left out.
    const plain = renderHtml(sampleReport('mixed-exit1'));
    expect(plain).not.toContain('account / region');
    expect(plain).not.toContain('id="f-account"');
    expect(plain).not.toContain('>trend<');
  });

  it('writes an auditor summary: scope, period, method from the checks that ran, results, exceptions with remedies, controls as evidence', () => {
    const audit = section(renderHtml(sampleReport('history-exit1')), 'audit');
    expect(audit).toContain('<li>snapshots tagged Backup=daily in accounts 111111111111 and 222222222222</li>');
    expect(audit).toContain('run <code>20261124T030000Z-abcdef</code> on helper-1');
    expect(audit).toContain('run 2026-11-24T03:00:00.000Z to 2026-11-24T03:00:05.000Z (5.0s); snapshots taken from 2026-11-24T02:00:00.000Z (oldest) to 2026-11-24T02:00:00.000Z (newest)');
    expect(audit).toContain('Restore: 4 of 5 snapshots restored into a copy-on-write scratch copy');
    expect(audit).toContain('Filesystem checks: ext4: journal replay on the copy, then a full read-only e2fsck (4 runs).');
    expect(audit).toContain('Data canaries (queries on the restored data): 0 of 1 passed.');
    expect(audit).toContain('Verdicts: 2 corrupt, 1 unknown, 1 crash-consistent, 1 application-consistent.');
    expect(audit).toMatch(/Policy \(minimum crash-consistent\): <b class="fail">2 passed, 3 failed<\/b>/);
    expect(audit).toMatch(/RPO \(a snapshot newer than 26h00m\): <b class="fail">2 volumes in violation<\/b>/);
    expect(audit).toMatch(/RTO budget 1\.5s: <b class="fail">4 of 5 restored and verified within it<\/b>; slowest 2\.4s/);
    expect(audit).toContain('orders db: corrupt. <i>Remedy:</i> restore an earlier snapshot plus archived WAL (PITR)');
    expect(audit).toContain('consistency could not be determined (set policy.allowUnknown to accept). <i>Remedy:</i> check how it was exported');
    expect(audit).toContain('RPO: <code>vol-0old</code> (111111111111 eu-west-1): newest snapshot is 3d02h old (RPO 26h00m)');
    for (const control of ['SOC 2 (Trust Services Criteria) A1.2', 'SOC 2 (Trust Services Criteria) A1.3', 'ISO/IEC 27001:2022 Annex A 8.13', 'ISO/IEC 27001:2022 Annex A 5.30', 'NIST SP 800-53 Rev. 5 CP-4', 'NIST SP 800-53 Rev. 5 CP-9(1)', 'DORA (EU 2022/2554) Art. 12', 'HIPAA Security Rule §164.308(a)(7)(ii)(D)']) {
      expect(audit).toContain(`<b>${control}</b>`);
    }
    expect(audit).toContain('This drill provides evidence toward the following controls');
    expect(audit).not.toMatch(/\b(compliant|certifies|certified|guarantees)\b/i);
    const boot = section(renderHtml(sampleReport('boot-fails-exit1')), 'audit');
    expect(boot).toContain('Boot tests: 2 restored disks booted (bios on qemu tcg): 1 reached a login or status checks, 1 did not.');
    expect(section(renderHtml(sampleReport('all-pass-exit0')), 'audit')).toContain('<p>None: every snapshot met the policy.</p>');
  });

  it('opens with what changed since the previous run, grouped worst first, with flapping lineages called out', () => {
    const html = renderHtml(sampleReport('history-exit1'));
    const changes = section(html, 'changes');
    expect(html.indexOf('<section id="changes"')).toBeLessThan(html.indexOf('<section id="snapshots"'));
    expect([...changes.matchAll(/<h3>([^<]+) <span class="n">(\d+)<\/span><\/h3>/g)].map((m) => `${m[1]}: ${m[2]}`)).toEqual([
      'New failures: 1',
      'New unknowns: 1',
      'Verdict changes: 1',
      'RPO: 2',
      'RTO regressions (over 25% slower): 1',
      'Recoveries: 1',
      'Lineages added or no longer verified: 2',
      'Flapping lineages: 1',
    ]);
    expect(changes).toContain('Compared with the previous run <code>20261123T030000Z-fedcba</code> (2026-11-23T03:00:00.000Z); 11 earlier runs in the history.');
    expect(changes).toContain('<li>vol-db: passed → failed: corrupt (snap-db-walgap) <a href="#s-1">details</a></li>');
    expect(changes).toContain('<code>vol-db</code>: 7 flips over 12 runs <svg class="spark flap"');
  });

  it('says "first run recorded" on the first run, nothing without a history, and "no change" when nothing changed', () => {
    const base = sampleReport('all-pass-exit0');
    const first: RunReport = { ...base, history: { runs: 0, changes: [], trends: [] } };
    expect(section(renderHtml(first), 'changes')).toContain('First run recorded in the history');
    expect(renderHtml(base)).not.toContain('id="changes"');
    const quiet: RunReport = { ...base, history: { runs: 3, previousRunId: 'run-2', changes: [], trends: [] } };
    expect(section(renderHtml(quiet), 'changes')).toContain('<p>No change since the previous run <code>run-2</code>.</p>');
  });

  it('draws a sparkline per lineage: a dot per run by verdict, the restore time as a line, and a title in words', () => {
    const html = renderHtml(sampleReport('history-exit1'));
    const row = /<tbody id="s-1"[^]*?<\/tbody>/.exec(html)![0];
    const svg = /<svg class="spark flap"[^]*?<\/svg>/.exec(row)![0];
    expect(svg).toContain('role="img"');
    expect(svg).toContain('<title>vol-db: 12 runs, oldest first; 4 corrupt, 8 application-consistent; policy failed in 4 runs; restore-to-verified 1.8s then 2.4s (range 1.8s to 2.4s); flapping: 7 policy flips</title>');
    expect(svg.match(/<polyline points="([^"]+)"/)![1]!.split(' ')).toHaveLength(12);
    expect(svg).toContain('<path class="bad"');
    expect(svg).toContain('<path class="ok"');
    // Ninety runs show as the last thirty, and the title says so.
    const big = syntheticReport(3, 90);
    const spark = /<svg class="spark[^]*?<\/svg>/.exec(renderHtml(big))![0];
    expect(spark).toMatch(/<title>[^:]+: last 30 of 90 runs, oldest first/);
    expect(spark.match(/<polyline points="([^"]+)"/)![1]!.split(' ')).toHaveLength(30);
  });

  it('lists RPO violations as failures of their own, and the notifications sent or failed', () => {
    const html = renderHtml(sampleReport('history-exit1'));
    const rpo = section(html, 'rpo');
    expect(rpo.match(/<tr><td><code>/g)).toHaveLength(2);
    expect(rpo).toContain('<td class="fail">3d02h</td>');
    expect(rpo).toContain('<td class="fail">no snapshot</td>');
    expect(html).toContain('<b>2</b>RPO violations');
    const notes = section(html, 'notifications');
    expect(notes).toContain('Notifications: 1 sent, <span class="fail">1 failed</span>');
    expect(notes).toContain('<li class="failed">webhook <code>https://hooks.example/drill?&lt;x&gt;</code>: failed: 502 &lt;b&gt;Bad Gateway&lt;/b&gt;</li>');
  });

  it('builds the same synthetic fleet report every time, valid against the report schema', () => {
    const a = syntheticReport(200, 90);
    expect(JSON.stringify(a)).toBe(JSON.stringify(syntheticReport(200, 90)));
    expect(() => renderJsonReport(a)).not.toThrow();
    expect(a.snapshots).toHaveLength(200);
    expect(a.history!.trends.every((t) => t.points.length === 90)).toBe(true);
    expect(a.history!.trends.some((t) => t.flapping)).toBe(true);
    expect(new Set(a.history!.changes.map((c) => c.kind)).size).toBeGreaterThanOrEqual(3);
    expect(new Set(a.snapshots.map((s) => s.consistency)).size).toBe(4);
  });

  it('writes well-formed JUnit with a failure per policy failure and an error per harness failure', () => {
    for (const scenario of SCENARIOS) {
      const xml = renderJunit(sampleReport(scenario));
      expect(XMLValidator.validate(xml), scenario).toBe(true);
    }
    const mixed = new XMLParser({ ignoreAttributes: false }).parse(renderJunit(sampleReport('mixed-exit1')));
    const suite = mixed.testsuites.testsuite;
    expect(suite['@_tests']).toBe('4');
    expect(suite['@_failures']).toBe('3');
    expect(suite['@_errors']).toBe('0');
    const infra = new XMLParser({ ignoreAttributes: false }).parse(renderJunit(sampleReport('harness-error-exit3')));
    expect(infra.testsuites.testsuite['@_errors']).toBe('1');
  });

  it('refuses to write a JSON report that breaks its schema', () => {
    const bad = { ...sampleReport('all-pass-exit0'), exitCode: 7 } as never;
    expect(() => renderJsonReport(bad)).toThrow(SnapdrillError);
    expect(() => renderJsonReport(bad)).toThrow(/\/exitCode: must be one of 0, 1, 2, 3/);
  });
});
