import { describe, expect, it } from 'vitest';
import { chooseBootRoot, matchesBoot, type BootCandidate } from '../../src/judges/boot.js';

/** root and data are known-good members of a set: a verified root volume and a verified data volume. */
const root = (over: Partial<BootCandidate> = {}): BootCandidate => ({ id: 'snap-root', tags: { role: 'web' }, roots: 1, verified: true, ...over });
const data = (over: Partial<BootCandidate> = {}): BootCandidate => ({ id: 'snap-data', tags: {}, roots: 0, verified: true, ...over });

describe('chooseBootRoot', () => {
  it('boots the volume with a root filesystem, with the others as its data disks', () => {
    expect(chooseBootRoot([data(), root()], undefined)).toEqual({ root: 'snap-root', notes: { 'snap-data': 'booted as a data volume of snap-root' } });
  });

  it('boots the first of several roots', () => {
    expect(chooseBootRoot([root(), root({ id: 'snap-root2' })], undefined).root).toBe('snap-root');
  });

  it('does not boot a snapshot that could not be verified, and says so', () => {
    expect(chooseBootRoot([root({ verified: false }), data()], undefined)).toEqual({
      root: undefined,
      notes: { 'snap-root': 'not boot-tested: the snapshot could not be verified', 'snap-data': 'not boot-tested: boot.match excludes it' },
    });
  });

  it('says when boot.match excludes the root', () => {
    const choice = chooseBootRoot([root()], { tags: { role: 'db' } });
    expect(choice).toEqual({ root: undefined, notes: { 'snap-root': 'not boot-tested: boot.match excludes it' } });
  });

  it('says when no volume holds a root filesystem', () => {
    expect(chooseBootRoot([data()], undefined).notes).toEqual({ 'snap-data': 'not boot-tested: no root filesystem found (no /etc/fstab with an init)' });
  });
});

describe('matchesBoot', () => {
  it('selects every snapshot without boot.match, else by id and tags', () => {
    expect(matchesBoot(root(), undefined)).toBe(true);
    expect(matchesBoot(root(), { ids: ['snap-root'], tags: { role: 'web' } })).toBe(true);
    expect(matchesBoot(root(), { ids: ['other'] })).toBe(false);
    expect(matchesBoot(root(), { ids: [], tags: { role: 'db' } })).toBe(false);
  });
});
