import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import { renderJsonReport } from '../../src/report/json.js';
import { renderJunit } from '../../src/report/junit.js';
import { SnapdrillError } from '../../src/errors.js';
import { sampleReport } from './sample.js';

const GOLDEN = path.resolve(import.meta.dirname, '../golden/report');
const SCENARIOS = ['mixed-exit1', 'all-pass-exit0', 'harness-error-exit3', 'boot-fails-exit1'] as const;

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

describe('reports', () => {
  for (const scenario of SCENARIOS) {
    it(`renders ${scenario} identically to its golden files`, () => {
      const r = sampleReport(scenario);
      golden(`${scenario}.html`, renderHtml(r));
      golden(`${scenario}.junit.xml`, renderJunit(r));
      golden(`${scenario}.json`, renderJsonReport(r));
    });
  }

  it('escapes every value from a disk or tool in HTML: no markup survives, no script, no external asset', () => {
    const html = renderHtml(sampleReport('mixed-exit1'));
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<b>bold/);
    expect(html).toContain('&lt;script&gt;alert(&quot;tag&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link /i);
  });

  it('shows summary counts, one row per snapshot, timings and expandable evidence', () => {
    const html = renderHtml(sampleReport('mixed-exit1'));
    expect(html).toMatch(/<b>4<\/b>snapshots/);
    expect(html).toMatch(/<b>2<\/b>corrupt/);
    expect((html.match(/<tr><td><a href="#snap-/g) ?? []).length).toBe(4);
    expect(html).toContain('<details><summary>Timings');
    expect(html).toContain('Remedy: restore from an earlier snapshot');
  });

  it('shows each database with its state and evidence, and canaries with their values, escaped', () => {
    const html = renderHtml(sampleReport('mixed-exit1'));
    expect(html).toContain('postgresql <code>/var/lib/postgresql/15/main</code> <span class="badge bad">corrupt</span>');
    expect(html).toContain('valid WAL records exist after the break');
    expect(html).toContain('<span class="badge bad">canary failed</span>');
    expect(html).toContain('orders &lt;fresh&gt;');
    expect(html).toContain('newest data is 4d01h older than the snapshot (RPO 26h00m)');
    expect(html).toContain('redo done at 0/3A0B2F8 &lt;not markup&gt;');
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
