import { describe, expect, it } from 'vitest';
import type { Policy } from '../../src/config/types.js';
import { evaluatePolicy } from '../../src/judges/policy.js';

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
