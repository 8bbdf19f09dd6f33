/** DURATION_PATTERN is the accepted spelling of a duration in config files: an integer with a unit (ms, s, m, h, d). */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** parseDuration turns "90s", "5m", "1h" or a number of seconds into milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`invalid duration ${value}`);
    return value * 1000;
  }
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new RangeError(`invalid duration "${value}": use a number with ms, s, m, h or d, e.g. 90s, 5m or 26h`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** formatDuration renders milliseconds for humans: 850ms, 12.3s, 4m05s, 26h00m, 4d01h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return `${m}m${String(s).padStart(2, '0')}s`;
  }
  if (ms < 48 * 3_600_000) {
    const h = Math.floor(ms / 3_600_000);
    return `${h}h${String(Math.round((ms % 3_600_000) / 60_000)).padStart(2, '0')}m`;
  }
  const d = Math.floor(ms / 86_400_000);
  return `${d}d${String(Math.round((ms % 86_400_000) / 3_600_000)).padStart(2, '0')}h`;
}
