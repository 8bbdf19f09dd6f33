import { describe, expect, it } from 'vitest';
import { isLintable, isMountable, newFsFinding } from '../../src/judges/filesystem.js';
import type { FsState } from '../../src/judges/types.js';

describe('newFsFinding', () => {
  it('repeats the identity discovery found and starts the verdict unknown and empty', () => {
    expect(newFsFinding({ target: 'p1', device: '/dev/loop0p1', sizeBytes: 1024, fstype: 'ext4', uuid: 'u', label: 'root' })).toStrictEqual({
      target: 'p1',
      device: '/dev/loop0p1',
      sizeBytes: 1024,
      fstype: 'ext4',
      uuid: 'u',
      label: 'root',
      state: 'unknown',
      summary: '',
      evidence: [],
      hints: [],
      excerpts: [],
    });
  });

  it('leaves out what discovery did not find, and takes the verdict given', () => {
    const f = newFsFinding({ target: 'disk', device: '' }, { state: 'not-checked', summary: 'swap', evidence: [{ key: 'discover.fstype', value: 'swap', text: 'blkid: TYPE=swap' }] });
    expect(f).toStrictEqual({ target: 'disk', device: '', state: 'not-checked', summary: 'swap', evidence: [{ key: 'discover.fstype', value: 'swap', text: 'blkid: TYPE=swap' }], hints: [], excerpts: [] });
  });

  it('gives every finding its own lists', () => {
    const a = newFsFinding({ target: 'a', device: 'x' });
    a.evidence.push({ key: 'k', value: 1, text: 't' });
    expect(newFsFinding({ target: 'b', device: 'y' }).evidence).toEqual([]);
  });
});

describe('isMountable and isLintable', () => {
  const states: FsState[] = ['clean', 'frozen', 'replayed', 'corrupt', 'unreadable', 'unknown', 'not-checked'];
  it('mount only filesystems whose check passed to look for databases', () => {
    expect(states.filter(isMountable)).toEqual(['clean', 'frozen', 'replayed']);
    expect(isMountable(undefined)).toBe(false);
  });
  it('lint those and corrupt ones too (read-only, no replay: a corrupt root may still boot)', () => {
    expect(states.filter(isLintable)).toEqual(['clean', 'frozen', 'replayed', 'corrupt']);
    expect(isLintable(undefined)).toBe(false);
  });
});
