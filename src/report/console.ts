import type { Diagnosis, LintResult } from '../boot/types.js';
import { cleanLine } from '../diagnose/engine.js';

/** escHtml escapes text for HTML element content and attribute values. */
function escHtml(s: unknown): string {
  return String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** CONSOLE_CSS styles a console transcript and a diagnosis; shared by the run report and `snapdrill diagnose --html`. */
export const CONSOLE_CSS = `
.console{background:#111;color:#ddd;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;padding:8px;border-radius:4px;max-height:480px;overflow:auto;white-space:pre-wrap;word-break:break-all}
.console .ln{color:#777;user-select:none;display:inline-block;min-width:4.5em}
.console mark{background:#7a2020;color:#fff;display:block}
.cause{border-left:4px solid #b42318;background:#fef3f2;padding:6px 10px;margin:6px 0;border-radius:4px}
.cause.other{border-color:#b54708;background:#fffaeb}
.cause code{white-space:pre-wrap}
.lint{border-left:4px solid #b54708;background:#fffaeb;padding:6px 10px;margin:6px 0;border-radius:4px}
.lint.error{border-color:#b42318;background:#fef3f2}
img.shot{max-width:100%;border:1px solid #ccc;border-radius:4px}
`;

/**
 * renderConsole shows a transcript escaped, with line numbers, the lines the diagnosis matched highlighted and
 * anchored (id prefix-Lnnn), keeping at most `maxLines` lines: the end, plus every matched line.
 */
export function renderConsole(text: string, diagnosis: Diagnosis | undefined, prefix: string, maxLines = 400): string {
  const lines = text.split('\n').map(cleanLine);
  const marked = new Set((diagnosis?.causes ?? []).flatMap((c) => c.matches.map((m) => m.line)));
  const keep = new Set<number>();
  for (let i = Math.max(0, lines.length - maxLines); i < lines.length; i++) keep.add(i + 1);
  for (const m of marked) for (let k = m - 3; k <= m + 3; k++) if (k >= 1 && k <= lines.length) keep.add(k);
  const out: string[] = [];
  let last = 0;
  for (const n of [...keep].sort((a, b) => a - b)) {
    if (n > last + 1) out.push(`<span class="ln"></span>… ${n - last - 1} line(s) not shown …\n`);
    const body = `<span class="ln">${n}</span>${escHtml(lines[n - 1])}`;
    out.push(marked.has(n) ? `<mark id="${escHtml(prefix)}-L${n}">${body}</mark>` : `${body}\n`);
    last = n;
  }
  return `<pre class="console">${out.join('')}</pre>`;
}

/** renderDiagnosis shows the likely cause, then the others, each with its matched lines linked into the transcript. */
export function renderDiagnosis(d: Diagnosis | undefined, prefix: string): string {
  if (!d) return '';
  if (!d.causes.length) return `<p><b>No known failure signature</b> in ${d.lines} console line(s): the catalog has nothing to say, and snapdrill does not guess.</p>`;
  return d.causes
    .map(
      (c, i) => `<div class="cause${i ? ' other' : ''}"><b>${i === 0 ? 'Likely cause' : 'Also matched'}: ${escHtml(c.title)}</b> <code>${escHtml(c.id)}</code><br>${escHtml(c.explanation)}<br><b>Fix:</b> ${escHtml(c.remedy)}<br>${c.matches
        .map((m) => `<a href="#${escHtml(prefix)}-L${m.line}">line ${m.line}</a>: <code>${escHtml(m.text)}</code>`)
        .join('<br>')}</div>`,
    )
    .join('\n');
}

/** renderLint shows the pre-boot lint findings of a root filesystem. */
export function renderLint(l: LintResult | undefined): string {
  if (!l) return '';
  if (l.status !== 'linted') return `<p class="meta">Pre-boot lint of ${escHtml(l.target)}: not run (${escHtml(l.reason ?? 'no reason given')}).</p>`;
  if (!l.findings.length) return `<p>Pre-boot lint of ${escHtml(l.target)}: nothing found.</p>`;
  return l.findings
    .map((f) => `<div class="lint ${f.severity === 'error' ? 'error' : ''}"><b>${escHtml(f.severity)}: ${escHtml(f.message)}</b> <code>${escHtml(f.id)}</code><br>Remedy: ${escHtml(f.remedy)}${f.evidence.length ? `<br><code>${f.evidence.map(escHtml).join('<br>')}</code>` : ''}</div>`)
    .join('\n');
}

/** renderDiagnosePage is the self-contained page `snapdrill diagnose --html` writes. */
export function renderDiagnosePage(title: string, text: string, d: Diagnosis, screenshotJpegBase64?: string, lint: LintResult[] = []): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escHtml(title)}</title><style>body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px;color:#1d2939}${CONSOLE_CSS}</style></head>
<body><h1>${escHtml(title)}</h1>
${text.trim() ? renderDiagnosis(d, 'c') : ''}
${lint.map(renderLint).join('\n')}
${screenshotJpegBase64 ? `<h2>Screenshot</h2><img class="shot" alt="console screenshot" src="data:image/jpeg;base64,${escHtml(screenshotJpegBase64)}">` : ''}
${text.trim() ? `<h2>Console (${d.lines} lines)</h2>\n${renderConsole(text, d, 'c')}` : ''}
</body></html>
`;
}
