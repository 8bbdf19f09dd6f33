/**
 * Adaptive polling (DESIGN.md §6, issue #12): ask soon, then back off to a cap, within a deadline; and coalesce many
 * waiters of one Describe call into one request per tick.
 *
 * Most cloud state changes take seconds: a fixed 5 s poll wastes up to 5 s per wait, a fixed short one wastes calls.
 * A backoff starts short (250 ms), grows ×1.5 per poll and stops growing at the cap (the old fixed interval).
 */
import { sleep } from './sleep.js';

/** BackoffOptions shape a backoff: the first delay, the growth factor and the cap (ms). */
export interface BackoffOptions {
  /** First delay; default 250 ms (never more than the cap). */
  firstMs?: number;
  /** Growth per poll; default 1.5. */
  factor?: number;
  /** Largest delay. */
  capMs: number;
}

/** FIRST_POLL_MS is the default first delay of a backoff. */
export const FIRST_POLL_MS = 250;

/** backoff returns a function giving the successive delays: firstMs, ×factor each call, never above capMs. */
export function backoff(o: BackoffOptions): () => number {
  const cap = Math.max(1, o.capMs);
  let next = Math.min(cap, Math.max(1, o.firstMs ?? FIRST_POLL_MS));
  const factor = o.factor ?? 1.5;
  return () => {
    const d = next;
    next = Math.min(cap, Math.round(next * factor));
    return d;
  };
}

/** BatchSource is a Describe call over many ids at once; ids it does not return count as gone (undefined). */
export type BatchSource<V> = (ids: string[]) => Promise<Map<string, V>>;

interface Waiting<V> {
  id: string;
  dueAt: number;
  resolve: (v: V | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * BatchPoller coalesces waiters: each asks `get(id, afterMs)` for the state of one resource no sooner than afterMs
 * from now; when the earliest waiter is due, one call of the source answers it and every other waiter due within
 * `slackMs` (so N waiters polling on their own backoffs cost about one call per tick, not N).
 */
export class BatchPoller<V> {
  private readonly waiting: Waiting<V>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Calls made to the source (for tests and the bench). */
  calls = 0;

  constructor(
    private readonly source: BatchSource<V>,
    private readonly opts: { slackMs?: number; maxIds?: number } = {},
  ) {}

  /** get resolves with the resource's state as of a tick at least afterMs from now (undefined: the source did not return it). */
  get(id: string, afterMs: number, signal?: AbortSignal): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      const w: Waiting<V> = { id, dueAt: Date.now() + Math.max(0, afterMs), resolve, reject };
      this.waiting.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve(undefined);
        },
        { once: true },
      );
      this.schedule();
    });
  }

  private schedule(): void {
    if (!this.waiting.length) return;
    const at = Math.min(...this.waiting.map((w) => w.dueAt));
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, at - Date.now()));
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Infinity;
    const horizon = Date.now() + (this.opts.slackMs ?? 200);
    const due = this.waiting.filter((w) => w.dueAt <= horizon);
    for (const w of due) this.waiting.splice(this.waiting.indexOf(w), 1);
    const ids = [...new Set(due.map((w) => w.id))];
    const max = this.opts.maxIds ?? 200;
    for (let i = 0; i < ids.length; i += max) {
      const chunk = new Set(ids.slice(i, i + max));
      const mine = due.filter((w) => chunk.has(w.id));
      try {
        this.calls++;
        const got = await this.source([...chunk]);
        for (const w of mine) w.resolve(got.get(w.id));
      } catch (e) {
        for (const w of mine) w.reject(e);
      }
    }
    this.schedule();
  }
}

/** PollOptions bound pollUntil: the backoff, the deadline and the abort signal. */
export interface PollOptions extends BackoffOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * pollUntil calls probe on a backoff until it returns a value (not undefined), the deadline passes or the signal
 * aborts; the first probe runs at once. Returns the value, or undefined with the time waited.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, o: PollOptions): Promise<{ value: T | undefined; waitedMs: number }> {
  const t0 = Date.now();
  const delay = backoff(o);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return { value, waitedMs: Date.now() - t0 };
    if (o.signal?.aborted || Date.now() - t0 >= o.timeoutMs) return { value: undefined, waitedMs: Date.now() - t0 };
    await sleep(Math.min(delay(), Math.max(0, o.timeoutMs - (Date.now() - t0))), o.signal);
  }
}
