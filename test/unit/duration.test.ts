import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/util/duration.js';

describe('parseDuration', () => {
  it('reads every unit', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration(2)).toBe(2000);
  });
  it('rejects spellings it does not know, saying how to write one', () => {
    expect(() => parseDuration('5 minutes')).toThrow(/use a number with ms, s, m, h or d/);
    expect(() => parseDuration('-1s')).toThrow(RangeError);
  });
  it('formats for humans', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(245_000)).toBe('4m05s');
    expect(formatDuration(26 * 3_600_000)).toBe('26h00m');
    expect(formatDuration(97 * 3_600_000)).toBe('4d01h');
  });
});
