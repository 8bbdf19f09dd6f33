import { describe, expect, it } from 'vitest';
import type { Policy } from '../../src/config/types.js';
import { bootResult, evaluatePolicy } from '../../src/judges/policy.js';

const policy: Policy = {
  minimum: 'crash-consistent',
  allowUnknown: false,
  rules: [{ match: { tags: { role: 'db' } }, minimum: 'application-consistent' }],
};
const plain = { id: 's', tags: {} };
const db = { id: 'd', tags: { role: 'db' } };

describe('evaluatePolicy', () => {
  it('passes crash-consistent under the default minimum', () => {
    expect(evaluatePolicy(plain, 'crash-consistent', policy)).toMatchObject({ pass: true, minimum: 'crash-consistent' });
  });
  it('applies the first matching rule: databases must be application-consistent', () => {
    const r = evaluatePolicy(db, 'crash-consistent', policy);
    expect(r).toMatchObject({ pass: false, minimum: 'application-consistent' });
    expect(r.reason).toBe('crash-consistent is below application-consistent required by policy rule 1');
    expect(evaluatePolicy(db, 'application-consistent', policy).pass).toBe(true);
  });
  it('always fails corrupt', () => {
    expect(evaluatePolicy(plain, 'corrupt', { ...policy, allowUnknown: true }).pass).toBe(false);
  });
  it('fails unknown unless allowed', () => {
    expect(evaluatePolicy(plain, 'unknown', policy).pass).toBe(false);
    expect(evaluatePolicy(plain, 'unknown', { ...policy, allowUnknown: true }).pass).toBe(true);
  });
});

describe('evaluatePolicy with a boot test', () => {
  const cause = { id: 'fstab-missing-device', title: 'a device in fstab is missing', explanation: '', remedy: '', score: 1, matches: [] };
  const fails = { result: 'fails-to-boot' as const, reason: 'no login prompt', diagnosis: { causes: [cause], lines: 3 } };
  it('fails a snapshot that fails to boot when booting is required, naming the first diagnosed cause', () => {
    expect(evaluatePolicy(plain, 'crash-consistent', policy, [], { required: true, outcome: fails })).toEqual({
      pass: false,
      minimum: 'crash-consistent',
      reason: 'fails to boot (a device in fstab is missing [fstab-missing-device]); crash-consistent meets crash-consistent (policy.minimum)',
    });
  });
  it('names the reason when there is no diagnosis', () => {
    const r = evaluatePolicy(plain, 'corrupt', policy, [], { required: true, outcome: { result: 'fails-to-boot', reason: 'no login prompt' } });
    expect(r).toMatchObject({ pass: false, reason: 'fails to boot (no login prompt); corrupt' });
    expect(evaluatePolicy(plain, 'crash-consistent', policy, [], { required: true, outcome: { result: 'fails-to-boot' } }).reason).toMatch(/^fails to boot \(no diagnosis\); /);
  });
  it('leaves the verdict alone when booting is not required, or the machine boots, or the test could not run', () => {
    const base = evaluatePolicy(plain, 'crash-consistent', policy);
    expect(evaluatePolicy(plain, 'crash-consistent', policy, [], { required: false, outcome: fails })).toEqual(base);
    expect(evaluatePolicy(plain, 'crash-consistent', policy, [], { required: true, outcome: { result: 'boots' } })).toEqual(base);
    expect(evaluatePolicy(plain, 'crash-consistent', policy, [], { required: true, outcome: { result: 'error', reason: 'qemu missing' } })).toEqual(base);
    expect(evaluatePolicy(plain, 'crash-consistent', policy, [], { required: true })).toEqual(base);
  });
});

describe('bootResult', () => {
  it('is boots or fails-to-boot as the test says, and not-tested when it did not run or could not', () => {
    expect(bootResult({ result: 'boots' })).toBe('boots');
    expect(bootResult({ result: 'fails-to-boot' })).toBe('fails-to-boot');
    expect(bootResult({ result: 'error' })).toBe('not-tested');
    expect(bootResult(undefined)).toBe('not-tested');
  });
});
