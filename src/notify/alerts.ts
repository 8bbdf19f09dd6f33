/**
 * The alert event model: what a finished run has to say to people (policy failures, harness errors,
 * recoveries), as pure data. Senders (sns.ts, eventbridge.ts, webhook.ts) only format and deliver it.
 */
import type { Consistency } from '../config/types.js';
import type { RunReport } from '../report/types.js';
import { terminalSafe } from '../util/sanitize.js';

/** AlertKind is the closed set of events a run can raise. */
export type AlertKind = 'policy-failure' | 'harness-error' | 'recovery';

/** ALERT_KINDS lists every AlertKind, in the order alerts are raised (the default of NotifyOptions.on). */
export const ALERT_KINDS: readonly AlertKind[] = ['policy-failure', 'harness-error', 'recovery'];

/** DETAIL_TYPES is the EventBridge `detail-type` of each kind: rules match on it, so it never changes. */
export const DETAIL_TYPES: Readonly<Record<AlertKind, string>> = {
  'policy-failure': 'snapdrill Policy Failure',
  'harness-error': 'snapdrill Harness Error',
  recovery: 'snapdrill Recovery',
};

/** AlertItem is one thing an alert is about: a snapshot, a volume without a recent snapshot, or a run-level error (nulls). */
export interface AlertItem {
  snapshotId: string | null;
  lineage: string | null;
  consistency: Consistency | null;
  /** One line: the policy's reason, the RPO violation, the error (stage: code: message) or the change. */
  reason: string;
}

/** Alert is one event of a run, ready to send: a one-line title, a short text body, and every item. */
export interface Alert {
  kind: AlertKind;
  title: string;
  /** Plain text: the run, then at most BODY_ITEMS items and "…and N more". */
  body: string;
  items: AlertItem[];
  /** Where the run's report was written, when the caller knows it. */
  reportPath?: string;
}

/** AlertDetail is the structured form of an alert (schemas/event.schema.json): EventBridge's `detail`, the webhook's `snapdrill`. */
export interface AlertDetail {
  runId: string;
  kind: AlertKind;
  title: string;
  exitCode: number;
  finishedAt: string;
  reportPath?: string;
  /** At most DETAIL_ITEMS items (an EventBridge event is limited to 256 KiB); counts.items says how many there were. */
  items: AlertItem[];
  counts: { items: number; omitted: number; snapshots: number; passed: number; failed: number; rpoViolations: number; harnessErrors: number };
}

/** BODY_ITEMS is how many items a text body lists before "…and N more": enough to act on, short enough for a pager. */
export const BODY_ITEMS = 20;
/** DETAIL_ITEMS caps the items of a structured detail, keeping an event far below EventBridge's 256 KiB. */
export const DETAIL_ITEMS = 100;
/** REASON_CHARS caps one item's reason: reasons quote tools and disks, which can be long. */
const REASON_CHARS = 300;

/** alertsFor lists the alerts a finished run raises, in ALERT_KINDS order; none when all is well and nothing recovered. */
export function alertsFor(report: RunReport, opts: { reportPath?: string } = {}): Alert[] {
  const raised: [AlertKind, AlertItem[]][] = [
    ['policy-failure', policyFailureItems(report)],
    ['harness-error', harnessErrorItems(report)],
    ['recovery', recoveryItems(report)],
  ];
  return raised
    .filter(([, items]) => items.length > 0)
    .map(([kind, items]) => ({
      kind,
      title: titleOf(kind, report, items),
      body: bodyOf(report, items, opts.reportPath),
      items,
      ...(opts.reportPath ? { reportPath: opts.reportPath } : {}),
    }));
}

/** titleOf is an alert's one line: what happened and how often (the SNS subject, the chat header). */
function titleOf(kind: AlertKind, report: RunReport, items: AlertItem[]): string {
  if (kind === 'recovery') return `snapdrill: ${plural(items.length, 'lineage')} recovered`;
  if (kind === 'harness-error') return `snapdrill: harness error, exit code ${report.exitCode} (${plural(items.length, 'error')})`;
  const failed = report.snapshots.filter((s) => !s.policy.pass).length;
  const rpo = report.rpo?.length ?? 0;
  const parts = [failed ? `${failed} of ${plural(report.snapshots.length, 'snapshot')} fail the policy` : '', rpo ? plural(rpo, 'RPO violation') : ''];
  return `snapdrill: ${parts.filter(Boolean).join(', ')}`;
}

/** policyFailureItems are the snapshots that fail the policy (whatever the cause), then the RPO violations. */
function policyFailureItems(report: RunReport): AlertItem[] {
  const snapshots = report.snapshots
    .filter((s) => !s.policy.pass)
    .map((s) => item(s.id, s.lineage, s.consistency, s.policy.reason));
  const rpo = (report.rpo ?? []).map((v) => item(v.lastSnapshotId ?? null, v.volumeId, null, v.reason));
  return [...snapshots, ...rpo];
}

/** harnessErrorItems are the run's errors and the snapshots' errors; a run that exited 3 or more without one still gets an item. */
function harnessErrorItems(report: RunReport): AlertItem[] {
  const items = [
    ...report.errors.map((e) => item(null, null, null, `${e.stage}: ${e.code}: ${e.message}`)),
    ...report.snapshots.filter((s) => s.error).map((s) => item(s.id, s.lineage, s.consistency, `${s.error!.stage}: ${s.error!.code}: ${s.error!.message}`)),
  ];
  if (items.length === 0 && report.exitCode >= 3) {
    items.push(item(null, null, null, report.interrupted ? `run interrupted (exit code ${report.exitCode})` : `run exited with code ${report.exitCode}`));
  }
  return items;
}

/** recoveryItems are the history's recoveries: a lineage that failed last run and passes now, or an RPO violation that ended. */
function recoveryItems(report: RunReport): AlertItem[] {
  return (report.history?.changes ?? [])
    .filter((c) => c.kind === 'recovery' || c.kind === 'rpo-recovered')
    .map((c) => item(c.snapshotId ?? null, c.lineage, report.snapshots.find((s) => s.id === c.snapshotId)?.consistency ?? null, c.detail));
}

/** item makes an AlertItem whose reason is one safe line (disks and tools put control characters in reasons). */
function item(snapshotId: string | null, lineage: string | null, consistency: Consistency | null, reason: string): AlertItem {
  return { snapshotId, lineage, consistency, reason: clip(terminalSafe(reason), REASON_CHARS) };
}

/** bodyOf is the text body: which run, then one line per item up to BODY_ITEMS. */
function bodyOf(report: RunReport, items: AlertItem[], reportPath: string | undefined): string {
  const lines = [`run ${report.runId} on ${report.host} (${report.provider.type}), exit code ${report.exitCode}`];
  if (reportPath) lines.push(`report: ${reportPath}`);
  for (const i of items.slice(0, BODY_ITEMS)) lines.push(`- ${itemLine(i)}`);
  if (items.length > BODY_ITEMS) lines.push(`…and ${items.length - BODY_ITEMS} more`);
  return lines.map((l) => terminalSafe(l)).join('\n');
}

/** itemLine is one item for humans: "snap-1 (vol-1, corrupt): reason", "vol-2: reason" (no snapshot), "run: reason". */
function itemLine(i: AlertItem): string {
  const about = [i.snapshotId && i.lineage !== i.snapshotId ? i.lineage : '', i.consistency ?? ''].filter(Boolean).join(', ');
  return `${i.snapshotId ?? i.lineage ?? 'run'}${about ? ` (${about})` : ''}: ${i.reason}`;
}

/** alertDetail is the structured detail of an alert (schemas/event.schema.json). */
export function alertDetail(alert: Alert, report: RunReport): AlertDetail {
  return {
    runId: report.runId,
    kind: alert.kind,
    title: alert.title,
    exitCode: report.exitCode,
    finishedAt: report.finishedAt,
    ...(alert.reportPath ? { reportPath: alert.reportPath } : {}),
    items: alert.items.slice(0, DETAIL_ITEMS),
    counts: {
      items: alert.items.length,
      omitted: Math.max(0, alert.items.length - DETAIL_ITEMS),
      snapshots: report.summary.total,
      passed: report.summary.passed,
      failed: report.summary.failed,
      rpoViolations: report.rpo?.length ?? 0,
      harnessErrors: harnessErrorCount(report),
    },
  };
}

/** harnessErrorCount counts the run's errors and the snapshots that ended in one. */
export function harnessErrorCount(report: RunReport): number {
  return report.errors.filter((e) => !e.tolerated).length + report.snapshots.filter((s) => s.error).length;
}

/** plural writes "1 snapshot" / "3 snapshots". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** clip shortens text to at most `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
