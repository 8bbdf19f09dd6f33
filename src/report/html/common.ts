import type { Consistency } from '../../config/types.js';
import type { SnapshotResult } from '../types.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** esc escapes text for HTML content and attribute values; every value from a disk or a tool goes through it. */
export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** CONSISTENCY_CLASS is the colour class of each verdict, in badges, cards and sparkline dots. */
export const CONSISTENCY_CLASS: Record<Consistency, string> = {
  'application-consistent': 'ok',
  'crash-consistent': 'warn',
  corrupt: 'bad',
  unknown: 'unk',
};

/** SEVERITY orders verdicts worst first: the table's default order and its verdict sort use it. */
export const SEVERITY: Record<Consistency, number> = { corrupt: 0, unknown: 1, 'crash-consistent': 2, 'application-consistent': 3 };

/** VERDICTS lists the verdicts worst first, for counts and the verdict filter. */
export const VERDICTS: Consistency[] = ['corrupt', 'unknown', 'crash-consistent', 'application-consistent'];

/** bytes renders a size for humans (KiB, MiB, ...); undefined renders as nothing. */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** triageOrder puts what needs attention first: policy failures, then by severity, then by id. */
export function triageOrder(snaps: SnapshotResult[]): SnapshotResult[] {
  return [...snaps].sort((a, b) => Number(a.policy.pass) - Number(b.policy.pass) || SEVERITY[a.consistency] - SEVERITY[b.consistency] || a.id.localeCompare(b.id));
}

/** snapshotName is the snapshot's Name tag, else its image's file name. */
export function snapshotName(s: SnapshotResult): string {
  return s.tags.Name ?? s.source.split('/').pop() ?? '';
}

/** DETAIL_ROW starts every detail row in the details block, and nothing else there can: data never carries a raw "<". */
export const DETAIL_ROW = '<tr class="detail" role="row" id="';

/** rowAnchor is the id of a snapshot's row in the table (its index in triage order): links from the summary and the changes point at it. */
export function rowAnchor(i: number): string {
  return `s-${i}`;
}

/** firstRemedy is what to do about a snapshot that failed: the harness error's remedy, else its first hint's, else the boot diagnosis's. */
export function firstRemedy(s: SnapshotResult): string | undefined {
  const lint = s.lint?.flatMap((l) => l.findings).find((f) => f.severity === 'error');
  return s.error?.remedy ?? s.hints[0]?.remedy ?? s.bootTest?.diagnosis?.causes[0]?.remedy ?? lint?.remedy ?? s.canaries.find((c) => !c.pass)?.detail;
}

const NUMBER = new Intl.NumberFormat('en-US');

/** count writes a number with thousands separators, the same on every machine: 1,000. */
export function count(n: number): string {
  return NUMBER.format(n);
}

/** plural writes "1 snapshot" / "3 snapshots". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${NUMBER.format(n)} ${n === 1 ? word : many}`;
}
