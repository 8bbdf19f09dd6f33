import { describe, expect, it } from 'vitest';
import { InfraError, SnapshotUnusableError } from '../../src/errors.js';
import { caughtError, distinctErrors, harnessError, teardownFailed } from '../../src/run/harness-errors.js';

describe('harness-error records', () => {
  it('harnessError is infrastructure unless told, with a remedy only when there is one', () => {
    expect(harnessError({ code: 'boot-error', message: 'm', stage: 'boot' })).toStrictEqual({ code: 'boot-error', message: 'm', stage: 'boot', source: 'infrastructure' });
    expect(harnessError({ code: 'c', message: 'm', stage: 's', source: 'user', remedy: 'r' })).toStrictEqual({ code: 'c', message: 'm', stage: 's', source: 'user', remedy: 'r' });
  });

  it('caughtError takes a typed error\'s code and remedy, and its source only when kept', () => {
    const e = new SnapshotUnusableError('image-empty', 'the image is empty', 'pick another snapshot');
    expect(caughtError(e, 'restore', 'internal', { keepSource: true })).toStrictEqual({ code: 'image-empty', message: 'the image is empty', stage: 'restore', source: 'user', remedy: 'pick another snapshot' });
    expect(caughtError(e, 'boot', 'boot-error', { describe: (m) => `boot test of s: ${m}` })).toStrictEqual({ code: 'image-empty', message: 'boot test of s: the image is empty', stage: 'boot', source: 'infrastructure', remedy: 'pick another snapshot' });
  });

  it('caughtError gives an untyped error the fallback code, as the harness\'s problem', () => {
    expect(caughtError(new Error('boom'), 'attach', 'internal', { keepSource: true })).toStrictEqual({ code: 'internal', message: 'boom', stage: 'attach', source: 'infrastructure' });
  });

  it('teardownFailed points at snapdrill gc', () => {
    expect(teardownFailed(new InfraError('x', 'volume busy'), 'set:a')).toStrictEqual({ code: 'teardown-failed', message: 'teardown of set:a: volume busy (recorded for snapdrill gc)', stage: 'teardown', source: 'infrastructure', remedy: 'run snapdrill gc', subject: 'set:a' });
    expect(teardownFailed('gone').message).toBe('gone (recorded for snapdrill gc)');
  });
});

describe('distinctErrors', () => {
  const e = (code: string, message: string, subject?: string) => harnessError({ code, message, stage: 'restore', ...(subject ? { subject } : {}) });
  it('reports an interruption once, however many snapshots met it', () => {
    expect(distinctErrors([e('interrupted', 'a'), e('interrupted', 'b')])).toEqual([e('interrupted', 'a')]);
  });
  it('reports one record per code and subject, in order, whatever the messages say', () => {
    const found = distinctErrors([e('no-helper', 'x', 'snap-1'), e('no-helper', 'x', 'snap-1'), e('no-helper', 'y', 'snap-2'), e('other', 'x', 'snap-1'), e('no-helper', 'reworded', 'snap-1')]);
    expect(found).toEqual([e('no-helper', 'x', 'snap-1'), e('no-helper', 'y', 'snap-2'), e('other', 'x', 'snap-1')]);
  });
  it('GIVEN the same message about two snapshots THEN both are kept: the key is the subject, not the text', () => {
    expect(distinctErrors([e('boot-error', 'qemu missing', 'snap-1'), e('boot-error', 'qemu missing', 'snap-2')])).toHaveLength(2);
  });
});
