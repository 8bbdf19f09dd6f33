import type { RunReport } from './types.js';

/** xmlEscape escapes text and attribute values, dropping characters XML 1.0 cannot carry. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** renderJunit writes one testcase per snapshot: a policy failure is a <failure>, a snapshot that could not be verified an <error>. */
export function renderJunit(report: RunReport): string {
  const cases = report.snapshots.map((s) => {
    const time = (s.phases.reduce((n, p) => n + p.durationMs, 0) / 1000).toFixed(3);
    const body: string[] = [];
    const cause = s.bootTest?.diagnosis?.causes[0];
    const bootLines = s.boot === 'fails-to-boot' ? [`fails to boot: ${s.bootTest?.reason ?? ''}`, ...(cause ? [`likely cause: ${cause.title} [${cause.id}]`, `  fix: ${cause.remedy}`, ...cause.matches.slice(0, 3).map((m) => `  console line ${m.line}: ${m.text}`)] : [])] : [];
    const lintLines = (s.lint ?? []).flatMap((l) => l.findings.filter((f) => f.severity !== 'info').map((f) => `lint ${f.severity}: ${f.message}\n  remedy: ${f.remedy}`));
    const detail = [s.summary, ...s.reasons.map((r) => `- ${r}`), ...s.hints.map((h) => `hint: ${h.text}\n  remedy: ${h.remedy}`), ...bootLines, ...lintLines].join('\n');
    if (!s.policy.pass) {
      if (s.error && s.error.source === 'infrastructure') {
        body.push(`      <error message="${xmlEscape(s.error.message)}" type="${xmlEscape(s.error.code)}">${xmlEscape(detail)}</error>`);
      } else {
        body.push(`      <failure message="${xmlEscape(`${s.consistency}: ${s.policy.reason}`)}" type="${xmlEscape(s.consistency)}">${xmlEscape(detail)}</failure>`);
      }
    }
    body.push(`      <system-out>${xmlEscape(`${s.consistency}; boot: ${s.boot}\n${detail}`)}</system-out>`);
    return `    <testcase classname="snapdrill.${xmlEscape(report.provider.type)}" name="${xmlEscape(s.id)}" file="${xmlEscape(s.source)}" time="${time}">\n${body.join('\n')}\n    </testcase>`;
  });
  const failures = report.snapshots.filter((s) => !s.policy.pass && !(s.error && s.error.source === 'infrastructure')).length;
  const errors = report.snapshots.filter((s) => !s.policy.pass && s.error && s.error.source === 'infrastructure').length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="snapdrill" tests="${report.snapshots.length}" failures="${failures}" errors="${errors}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="snapdrill run ${xmlEscape(report.runId)}" tests="${report.snapshots.length}" failures="${failures}" errors="${errors}" skipped="0" timestamp="${xmlEscape(report.startedAt)}" time="${(report.durationMs / 1000).toFixed(3)}" hostname="${xmlEscape(report.host)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
