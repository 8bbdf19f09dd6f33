import type { NotificationOutcome } from '../report/types.js';
import { terminalSafe } from '../util/sanitize.js';
import { clip } from './alerts.js';

/** Channel is where a notification goes. */
export type Channel = NotificationOutcome['channel'];

/** ERROR_CHARS caps an outcome's error: it lands in the report and the log, and quotes remote services. */
const ERROR_CHARS = 500;

/** outcomeOf is a channel's outcome: ok when nothing failed, else the failures joined on one line. */
export function outcomeOf(channel: Channel, target: string, failures: string[] = []): NotificationOutcome {
  return failures.length === 0 ? { channel, target, ok: true } : { channel, target, ok: false, error: clip(terminalSafe(failures.join('; ')), ERROR_CHARS) };
}

/**
 * errorText is one line for a thrown error: an AWS SDK error's name is its error code ("NotFound"), so
 * "NotFound: Topic does not exist"; a fetch error's cause ("connect ECONNREFUSED 127.0.0.1:9") is appended.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
  return `${name}${err.message}${cause}`;
}
