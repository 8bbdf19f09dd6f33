import { describe, expect, it } from 'vitest';
import { InfraError } from '../../src/errors.js';
import { retryTransient } from '../../src/util/retry.js';

/** failing returns a step that throws the given errors in turn, then answers 'ok', counting its calls. */
function failing(...errors: Error[]) {
  const step = async () => {
    step.calls++;
    const e = errors.shift();
    if (e) throw e;
    return 'ok';
  };
  step.calls = 0;
  return step;
}

const transient = () => new InfraError('ssh-exec', 'channel dropped', { transient: true });
const permanent = () => new InfraError('check-missing', 'no such check');

describe('retryTransient', () => {
  it('GIVEN a step that fails once with a transient error THEN it is run once more and its answer returned', async () => {
    const step = failing(transient());
    const retried: unknown[] = [];
    await expect(retryTransient(step, { delayMs: 1, onRetry: (e) => retried.push(e) })).resolves.toBe('ok');
    expect(step.calls).toBe(2);
    expect(retried).toHaveLength(1);
  });

  it('GIVEN a permanent error THEN it is thrown at once, never retried', async () => {
    const step = failing(permanent());
    await expect(retryTransient(step, { delayMs: 1 })).rejects.toMatchObject({ code: 'check-missing' });
    expect(step.calls).toBe(1);
  });

  it('GIVEN a transient error twice THEN the second is thrown: one retry, not a loop', async () => {
    const step = failing(transient(), transient());
    await expect(retryTransient(step, { delayMs: 1 })).rejects.toMatchObject({ code: 'ssh-exec', transient: true });
    expect(step.calls).toBe(2);
  });

  it('GIVEN an aborted run THEN a transient error is not retried', async () => {
    const step = failing(transient());
    await expect(retryTransient(step, { delayMs: 1, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ssh-exec' });
    expect(step.calls).toBe(1);
  });
});
