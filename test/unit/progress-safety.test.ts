import { describe, expect, it } from 'vitest';
import { LineProgress } from '../../src/progress/progress.js';
import type { SnapshotResult } from '../../src/report/types.js';

/** Progress lines carry paths and summaries from the disk: none of their controls may reach the terminal. */
describe('progress on a terminal', () => {
  it('prints phase names and verdict summaries from a hostile disk without a control character', () => {
    const written: string[] = [];
    const out = { write: (s: string) => written.push(s), isTTY: false } as unknown as NodeJS.WriteStream;
    const p = new LineProgress(out);
    p.phaseStart('snap-1', 'check sqlite /srv/\x1b]52;c;cm0gLXJmIH4K\x07a\x1b[2J.db');
    p.phaseEnd('snap-1', 'check sqlite /srv/\u009b2Jb\u202e.db', true, 10);
    p.snapshotDone({ id: 'snap-1', consistency: 'unknown', boot: 'not-tested', policy: { pass: false, reason: 'x' }, summary: 'could not decide: sqlite /srv/\x1b[31mx\u0085y: corrupt\r\nFAKE OK' } as unknown as SnapshotResult);
    p.message('note: \x1bc reset');
    const text = written.join('');
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    expect(text).toContain('check sqlite /srv/a.db ...');
    expect(text).toContain('xy: corrupt FAKE OK');
    expect(text.split('\n').filter(Boolean)).toHaveLength(4);
  });
});
