import { errorMessage, isSnapdrillError } from '../errors.js';
import type { HarnessErrorInfo } from '../report/types.js';

/** HarnessErrorSpec is one harness problem: what it is (code), in words, where it happened, whose it is, and what to do. */
export interface HarnessErrorSpec {
  code: string;
  message: string;
  stage: string;
  /** Default infrastructure: only a snapshot that cannot be restored is the user's. */
  source?: HarnessErrorInfo['source'];
  remedy?: string;
  /** What it is about: the snapshot id, set or resource owner (the de-duplication key with the code). */
  subject?: string;
}

/** harnessError is the one place a harness-error record (report.errors, SnapshotResult.error) is built. */
export function harnessError(spec: HarnessErrorSpec): HarnessErrorInfo {
  return {
    code: spec.code,
    message: spec.message,
    stage: spec.stage,
    source: spec.source ?? 'infrastructure',
    ...(spec.remedy ? { remedy: spec.remedy } : {}),
    ...(spec.subject ? { subject: spec.subject } : {}),
  };
}

/** CaughtErrorOptions word a caught error: a prefix for its message, and whether its own source (user or infrastructure) is kept. */
export interface CaughtErrorOptions {
  describe?: (message: string) => string;
  /** True for the stage error that ends a snapshot: a SnapdrillError's source says whether the snapshot or the harness is at fault. */
  keepSource?: boolean;
  /** What it is about (HarnessErrorSpec.subject). */
  subject?: string;
}

/** caughtError records a caught error: a SnapdrillError's code and remedy (and its source, when kept), else `fallbackCode`. */
export function caughtError(e: unknown, stage: string, fallbackCode: string, opts: CaughtErrorOptions = {}): HarnessErrorInfo {
  const known = isSnapdrillError(e) ? e : undefined;
  const message = errorMessage(e);
  return harnessError({
    code: known?.code ?? fallbackCode,
    message: opts.describe ? opts.describe(message) : message,
    stage,
    source: opts.keepSource && known ? known.source : 'infrastructure',
    ...(known?.remedy ? { remedy: known.remedy } : {}),
    ...(opts.subject ? { subject: opts.subject } : {}),
  });
}

/** teardownFailed records a teardown that failed: what it left is in the ledger, for snapdrill gc. */
export function teardownFailed(e: unknown, what?: string): HarnessErrorInfo {
  return harnessError({ code: 'teardown-failed', message: `${what ? `teardown of ${what}: ` : ''}${errorMessage(e)} (recorded for snapdrill gc)`, stage: 'teardown', remedy: 'run snapdrill gc', subject: what ?? 'run' });
}

/** RUN_WIDE are problems of the whole run, reported once however many snapshots met them. */
const RUN_WIDE = new Set(['interrupted']);

/**
 * distinctErrors keeps one record per distinct problem, by code and never by message text: one per code for run-wide
 * problems, one per code and subject otherwise (the first one met: the members of a set meet their set's problem once each).
 */
export function distinctErrors(errors: HarnessErrorInfo[]): HarnessErrorInfo[] {
  const key = (e: HarnessErrorInfo) => (RUN_WIDE.has(e.code) ? e.code : `${e.code}\n${e.subject ?? ''}`);
  const seen = new Set<string>();
  return errors.filter((e) => !seen.has(key(e)) && Boolean(seen.add(key(e))));
}
