import { terminalSafe } from '../util/sanitize.js';
import type { RunReport } from './types.js';

/** MAX_LINES bounds each list of the summary: a terminal is not the report. */
const MAX_LINES = 20;

/** capped lists at most MAX_LINES lines, then says how many more the report holds. */
function capped(lines: string[]): string[] {
  return lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES), `  … and ${lines.length - MAX_LINES} more (see the report)`] : lines;
}

/** table renders rows as aligned columns. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

/** TerminalExtras are what the summary says beyond the report: where it went and the evidence pack. */
export interface TerminalExtras {
  reportFile: string;
  evidence?: { manifest: string; files: number } | { error: string };
}

/**
 * renderTerminalSummary is the end of `snapdrill run` on a terminal: the verdict counts, every failure with its one-line
 * reason, what changed since the previous run, harness errors, alerts that failed, and where the report is. Everything
 * from a disk or a tool passes through terminalSafe.
 */
export function renderTerminalSummary(report: RunReport, extras: TerminalExtras): string {
  const s = report.summary;
  const c = s.byConsistency;
  const out: string[] = ['', `snapdrill run ${report.runId}: ${s.total} snapshot(s), ${s.failed} failed the policy${report.rpo?.length ? `, ${report.rpo.length} volume(s) over the RPO` : ''}; exit ${report.exitCode}`];
  out.push(...table([['verdict', 'snapshots'], ['application-consistent', String(c['application-consistent'])], ['crash-consistent', String(c['crash-consistent'])], ['corrupt', String(c.corrupt)], ['unknown', String(c.unknown)]]));
  const failures = report.snapshots.filter((r) => !r.policy.pass).map((r) => `  ✗ ${terminalSafe(r.id)} (${terminalSafe(r.lineage)}): ${terminalSafe(r.policy.reason)}`);
  const rpo = (report.rpo ?? []).map((v) => `  ✗ ${terminalSafe(v.reason)}`);
  if (failures.length || rpo.length) out.push('failures:', ...capped([...failures, ...rpo]));
  const h = report.history;
  if (h?.previousRunId) {
    const changes = h.changes.map((x) => `  ${x.kind}: ${terminalSafe(x.detail)}`);
    out.push(`since the previous run (${terminalSafe(h.previousRunId)}): ${changes.length ? '' : 'no change'}`.trimEnd(), ...capped(changes));
  } else if (h) out.push('history: first run recorded');
  for (const e of report.errors) out.push(`harness error (${e.code}): ${terminalSafe(e.message)}${e.remedy ? `\n  remedy: ${terminalSafe(e.remedy)}` : ''}`);
  for (const n of (report.notifications ?? []).filter((x) => !x.ok)) out.push(`${n.channel} ${terminalSafe(n.target)} failed: ${terminalSafe(n.error ?? 'unknown')}`);
  const ev = extras.evidence;
  if (ev) out.push('error' in ev ? `evidence pack NOT written: ${terminalSafe(ev.error)}` : `evidence pack: ${ev.files} files, signed manifest ${ev.manifest}`);
  out.push(`report: ${extras.reportFile}`, '');
  return out.join('\n');
}
