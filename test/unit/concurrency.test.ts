import { describe, expect, it } from 'vitest';
import { mapLimit, Semaphore } from '../../src/util/concurrency.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 1));

describe('mapLimit', () => {
  it('keeps result order and never has more than `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n, i) => {
      most = Math.max(most, ++inFlight);
      for (let k = 0; k < n; k++) await tick();
      inFlight--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3']);
    expect(most).toBe(2);
  });
  it('returns an empty list for no items', async () => {
    expect(await mapLimit([], 3, async () => 1)).toEqual([]);
  });
});

describe('Semaphore', () => {
  it('runs at most n at once and frees a slot when a run throws', async () => {
    const s = new Semaphore(1);
    const order: string[] = [];
    const failing = s.run(async () => {
      order.push('a');
      await tick();
      throw new Error('boom');
    });
    const next = s.run(async () => {
      order.push('b');
      return 2;
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe(2);
    expect(order).toEqual(['a', 'b']);
  });
});
