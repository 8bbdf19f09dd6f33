import { describe, expect, it } from 'vitest';
import { judgeSet, SET_SKEW_MS, type SetMember } from '../../src/judges/set.js';

/** member is a known-good member: application-consistent, taken at the set's start time, one filesystem with its own UUID. */
const member = (id: string, over: Partial<SetMember> = {}): SetMember => ({
  id,
  startTime: '2026-12-01T10:00:00.000Z',
  consistency: 'application-consistent',
  filesystems: [{ target: 'disk', uuid: `uuid-${id}` }],
  ...over,
});

describe('judgeSet', () => {
  it('GIVEN consistent members taken together WHEN judged THEN the set is application-consistent, with no notes', () => {
    const set = judgeSet('db', [member('snap-a'), member('snap-b', { startTime: '2026-12-01T10:00:30.000Z' })]);
    expect(set).toEqual({ key: 'db', members: ['snap-a', 'snap-b'], consistency: 'application-consistent', summary: 'set db (2 volumes) is application-consistent', skewMs: 30_000, notes: [] });
  });

  it('is as consistent as its least consistent member, and names it', () => {
    const set = judgeSet('db', [member('snap-a'), member('snap-b', { consistency: 'crash-consistent' }), member('snap-c')]);
    expect(set.consistency).toBe('crash-consistent');
    expect(set.summary).toBe('set db (3 volumes) is crash-consistent: because of snap-b');
    expect(judgeSet('db', [member('snap-a', { consistency: 'unknown' }), member('snap-b', { consistency: 'corrupt' })]).consistency).toBe('corrupt');
  });

  it('does not name members when all of them are the worst', () => {
    expect(judgeSet('db', [member('a', { consistency: 'unknown' }), member('b', { consistency: 'unknown' })]).summary).toBe('set db (2 volumes) is unknown');
  });

  it('makes a set whose members are more than SET_SKEW_MS apart unknown: not one point in time', () => {
    const late = new Date(Date.parse('2026-12-01T10:00:00.000Z') + SET_SKEW_MS + 1000).toISOString();
    const set = judgeSet('db', [member('snap-a'), member('snap-b', { startTime: late })]);
    expect(set.consistency).toBe('unknown');
    expect(set.skewMs).toBe(SET_SKEW_MS + 1000);
    expect(set.notes).toEqual(['members were taken 61 s apart, so the set is not one point in time']);
    expect(set.summary).toBe('set db (2 volumes) is unknown; members were taken 61 s apart, so the set is not one point in time');
  });

  it('keeps a corrupt set corrupt however far apart its members are', () => {
    const set = judgeSet('db', [member('snap-a', { consistency: 'corrupt' }), member('snap-b', { startTime: '2026-12-02T10:00:00.000Z' })]);
    expect(set.consistency).toBe('corrupt');
    expect(set.summary).toContain('because of snap-a');
  });

  it('accepts exactly SET_SKEW_MS of skew', () => {
    const edge = new Date(Date.parse('2026-12-01T10:00:00.000Z') + SET_SKEW_MS).toISOString();
    expect(judgeSet('db', [member('a'), member('b', { startTime: edge })]).consistency).toBe('application-consistent');
  });

  it('measures no skew when fewer than two start times are known', () => {
    const { startTime: _, ...noTime } = member('snap-b');
    const set = judgeSet('db', [member('snap-a'), noTime]);
    expect(set).not.toHaveProperty('skewMs');
    expect(set.consistency).toBe('application-consistent');
  });

  it('notes a filesystem UUID carried by two members (they cannot be mounted together), without changing the consistency', () => {
    const set = judgeSet('db', [member('snap-a', { filesystems: [{ target: 'p1', uuid: 'same' }, { target: 'p2' }] }), member('snap-b', { filesystems: [{ target: 'disk', uuid: 'same' }] })]);
    expect(set.notes).toEqual(['filesystem UUID same appears on snap-a:p1 and snap-b:disk']);
    expect(set.consistency).toBe('application-consistent');
    expect(set.summary).toBe('set db (2 volumes) is application-consistent; filesystem UUID same appears on snap-a:p1 and snap-b:disk');
  });
});
