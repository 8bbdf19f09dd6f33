import type { LineageTrend, TrendPoint } from '../../judges/history.js';
import { formatDuration } from '../../util/duration.js';
import { CONSISTENCY_CLASS, VERDICTS, esc, plural } from './common.js';

/** SPARK_POINTS is how many of the latest runs a sparkline shows: more would not be legible at this size. */
export const SPARK_POINTS = 30;

/** STEP is the distance between two runs; each run's dot is a 3-pixel square, so the markup stays short for 1,000 rows. */
const STEP = 4;
const HEIGHT = 24;

/** dotPath draws every dot of one colour as one path, so a sparkline is a handful of elements, not one per run. */
function dotPath(xs: number[]): string {
  return xs.map((x) => `M${x} 17h3v3h-3z`).join('');
}

/** rtoLine is the restore-to-verified time as a polyline over the top of the sparkline, scaled between its minimum and maximum. */
function rtoLine(points: TrendPoint[]): string {
  const ms = points.map((p) => p.restoreToVerifiedMs);
  const [lo, hi] = [Math.min(...ms), Math.max(...ms)];
  const y = (v: number) => (hi > lo ? Math.round(13 - ((v - lo) / (hi - lo)) * 12) : 7);
  return points.map((p, i) => `${2 + i * STEP},${y(p.restoreToVerifiedMs)}`).join(' ');
}

/** sparklineTitle says in words what the picture shows, for screen readers and the tooltip. */
function sparklineTitle(t: LineageTrend, shown: TrendPoint[]): string {
  const counts = VERDICTS.map((v) => [v, shown.filter((p) => p.consistency === v).length] as const).filter(([, n]) => n);
  const failed = shown.filter((p) => !p.policyPass).length;
  const ms = shown.map((p) => p.restoreToVerifiedMs);
  const first = shown[0]!;
  const last = shown.at(-1)!;
  return [
    `${t.lineage}: ${shown.length < t.points.length ? `last ${shown.length} of ${t.points.length} runs` : plural(shown.length, 'run')}, oldest first`,
    counts.map(([v, n]) => `${n} ${v}`).join(', '),
    `policy failed in ${plural(failed, 'run')}`,
    `restore-to-verified ${formatDuration(first.restoreToVerifiedMs)} then ${formatDuration(last.restoreToVerifiedMs)} (range ${formatDuration(Math.min(...ms))} to ${formatDuration(Math.max(...ms))})`,
    t.flapping ? `flapping: ${t.flips} policy flips` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/** sparkline draws a lineage's verdicts (a coloured dot per run) and its restore-to-verified time (a line) over the latest runs, with a title for screen readers. */
export function sparkline(t: LineageTrend | undefined): string {
  const shown = t?.points.slice(-SPARK_POINTS) ?? [];
  if (!t || !shown.length) return '<span class="meta">no history</span>';
  const width = 4 + (shown.length - 1) * STEP;
  const paths = VERDICTS.map((v) => {
    const xs = shown.flatMap((p, i) => (p.consistency === v ? [1 + i * STEP] : []));
    return xs.length ? `<path class="${CONSISTENCY_CLASS[v]}" d="${dotPath(xs)}"/>` : '';
  });
  const fails = shown.flatMap((p, i) => (p.policyPass ? [] : [1 + i * STEP]));
  const failMarks = fails.length ? `<path class="fx" d="${fails.map((x) => `M${x} 22h3`).join('')}"/>` : '';
  return `<svg class="spark${t.flapping ? ' flap' : ''}" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" role="img"><title>${esc(sparklineTitle(t, shown))}</title><polyline points="${rtoLine(shown)}"/>${paths.join('')}${failMarks}</svg>`;
}
