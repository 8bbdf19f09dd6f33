import { readFileSync } from 'node:fs';
import type { Diagnosis, LintResult } from '../boot/types.js';
import { ConfigError } from '../errors.js';
import { terminalSafe } from '../util/sanitize.js';
import { diagnose } from './engine.js';

/** DiagnoseInput is a console transcript from wherever it came, with what else is known about the machine. */
export interface DiagnoseInput {
  /** What the transcript is: a file name, "stdin", or an instance id. */
  source: string;
  text: string;
  screenshotJpegBase64?: string;
  lint?: LintResult[];
}

/** DiagnoseOutput is what `snapdrill diagnose --json` prints. */
export interface DiagnoseOutput {
  source: string;
  lines: number;
  /** The likely cause first; empty when the transcript matches nothing in the catalog. */
  causes: Diagnosis['causes'];
  lint?: LintResult[];
  screenshot: boolean;
}

/** readTranscript reads --console FILE ("-" for stdin), refusing an empty one by name. Invalid UTF-8 becomes U+FFFD. */
export function readTranscript(file: string): DiagnoseInput {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new ConfigError('--console', `cannot read ${file === '-' ? 'standard input' : file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!text.trim()) throw new ConfigError('--console', `${file === '-' ? 'standard input' : file} is empty: paste the console output (EC2 console: Actions → Monitor and troubleshoot → Get system log)`);
  return { source: file === '-' ? 'stdin' : file, text };
}

/** diagnoseInput runs the catalog over a transcript. */
export function diagnoseInput(input: DiagnoseInput): DiagnoseOutput & { diagnosis: Diagnosis } {
  const diagnosis = diagnose(input.text);
  return { source: input.source, lines: diagnosis.lines, causes: diagnosis.causes, ...(input.lint ? { lint: input.lint } : {}), screenshot: Boolean(input.screenshotJpegBase64), diagnosis };
}

/** formatDiagnosis renders the diagnosis for a terminal: the likely cause and its fix first, with the lines that show it. */
export function formatDiagnosis(out: DiagnoseOutput, text: string): string {
  const lines: string[] = [];
  if (!text.trim()) {
    // Only the lint (--snapshot without a console).
  } else if (!out.causes.length) {
    const tail = text.split('\n').filter((l) => l.trim()).slice(-5);
    lines.push(`No known failure signature in ${out.lines} line(s) of console output from ${out.source}.`);
    lines.push('snapdrill does not guess. The last lines were:');
    for (const l of tail) lines.push(`  | ${terminalSafe(l).trim()}`);
    lines.push('If the instance fails its status checks anyway, look at the screenshot (EC2 GetConsoleScreenshot) and lint the root volume: snapdrill diagnose --snapshot ID -c CONFIG.');
  }
  out.causes.forEach((c, i) => {
    lines.push(i === 0 ? `Likely cause: ${c.title} [${c.id}]` : `Also matched: ${c.title} [${c.id}]`);
    if (i === 0) {
      lines.push(`  Why: ${c.explanation}`);
      lines.push(`  Fix: ${c.remedy}`);
    }
    for (const m of c.matches.slice(0, i === 0 ? 6 : 2)) lines.push(`  line ${m.line}: ${m.text}`);
  });
  for (const l of out.lint ?? []) {
    if (lines.length) lines.push('');
    if (l.status !== 'linted') lines.push(`Pre-boot lint of ${l.target}: not run (${l.reason ?? 'no reason'})`);
    else if (!l.findings.length) lines.push(`Pre-boot lint of ${l.target}: nothing found`);
    else for (const f of l.findings) lines.push(`Lint ${f.severity} on ${l.target}: ${f.message} [${f.id}]\n  Fix: ${f.remedy}`);
  }
  // The transcript, the matched lines and the lint messages come from a disk or a console: nothing in them may
  // reach the terminal as a control (each line made safe, and then the whole text once more).
  return `${terminalSafe(lines.map((l) => l.split('\n').map((x) => terminalSafe(x)).join('\n')).join('\n'), { multiline: true })}\n`;
}
