import { isSnapdrillError } from '../errors.js';
import { sleep } from './sleep.js';

/** RETRY_DELAY_MS is the pause before the one retry: long enough for a throttle or a dropped channel to clear, short beside any stage's timeout. */
export const RETRY_DELAY_MS = 2_000;

/**
 * retryTransient runs an idempotent infrastructure step and, when it throws a SnapdrillError marked `transient`, runs it
 * once more after a short pause. Only for steps that can be repeated without harm (reading back output, library
 * commands such as fs_unmount or find_volume_device): a check itself is never re-run, because it may have changed the
 * scratch copy or still be running on the helper. A permanent error, a second failure or an aborted run is thrown as is.
 */
export async function retryTransient<T>(step: () => Promise<T>, opts: { signal?: AbortSignal; delayMs?: number; onRetry?: (e: unknown) => void } = {}): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (!isSnapdrillError(e) || !e.transient || opts.signal?.aborted) throw e;
    opts.onRetry?.(e);
    await sleep(opts.delayMs ?? RETRY_DELAY_MS, opts.signal);
    if (opts.signal?.aborted) throw e;
    return step();
  }
}
