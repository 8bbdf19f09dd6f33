/** Exit codes of the snapdrill CLI; documented in every command's --help. */
export const ExitCode = {
  /** Every selected snapshot met the policy. */
  Ok: 0,
  /** At least one snapshot did not meet the policy, or a covered volume has no snapshot within policy.rpo. */
  PolicyFailed: 1,
  /** Usage or configuration error: nothing was created. */
  Usage: 2,
  /** The harness could not complete (infrastructure error or interrupted); leftovers are removed or recorded for `gc`. */
  Infrastructure: 3,
} as const;

/** ErrorSource says who has to act: the user (fix input) or the operator of the helper (fix the environment). */
export type ErrorSource = 'user' | 'infrastructure';

/** SnapdrillError is a harness problem (never a finding about a snapshot): it has a stable code and a remedy. */
export class SnapdrillError extends Error {
  readonly code: string;
  readonly source: ErrorSource;
  readonly remedy: string | undefined;
  /**
   * transient: the same call may succeed if made again soon (a throttle, a dropped channel, a wait that ran out).
   * retryTransient (util/retry.ts) acts on it with one retry, only around steps that are safe to repeat.
   */
  readonly transient: boolean;

  constructor(code: string, message: string, opts: { source: ErrorSource; remedy?: string; transient?: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.source = opts.source;
    this.remedy = opts.remedy;
    this.transient = opts.transient ?? false;
  }

  /** exitCode maps the error to the CLI's documented exit code. */
  get exitCode(): number {
    return this.source === 'user' ? ExitCode.Usage : ExitCode.Infrastructure;
  }
}

/** ConfigError is an invalid configuration file or flag; `path` is the JSON path of the offending field. */
export class ConfigError extends SnapdrillError {
  readonly path: string;
  constructor(path: string, message: string, remedy?: string) {
    super('config-invalid', path ? `${path}: ${message}` : message, { source: 'user', ...(remedy ? { remedy } : {}) });
    this.path = path;
  }
}

/** SnapshotNotFoundError names a requested snapshot id that the provider does not have. */
export class SnapshotNotFoundError extends SnapdrillError {
  readonly snapshotIds: string[];
  constructor(ids: string[], where: string) {
    super('snapshot-not-found', `snapshot${ids.length > 1 ? 's' : ''} not found in ${where}: ${ids.join(', ')}`, {
      source: 'user',
      remedy: 'check the ids; "snapdrill plan" lists what the provider finds for a selection',
    });
    this.snapshotIds = ids;
  }
}

/** InfraError is a failure of the machine or tools the harness runs on, not of a snapshot. */
export class InfraError extends SnapdrillError {
  constructor(code: string, message: string, opts: { remedy?: string; transient?: boolean; cause?: unknown } = {}) {
    super(code, message, { source: 'infrastructure', ...opts });
  }
}

/** SnapshotUnusableError means one snapshot could not be restored or attached; it becomes an *unknown* result, not a harness failure. */
export class SnapshotUnusableError extends SnapdrillError {
  constructor(code: string, message: string, remedy?: string) {
    super(code, message, { source: 'user', ...(remedy ? { remedy } : {}) });
  }
}

/**
 * NetworkNotQuarantinedError refuses to launch helpers or boot-test instances on AWS without an explicit subnet and
 * security groups: a restored disk may be hostile, and the default subnet and security group usually reach the
 * internet and production. Raised before anything is created; `missing` names the configuration fields.
 */
export class NetworkNotQuarantinedError extends SnapdrillError {
  readonly missing: string[];
  constructor(what: string, missing: string[], where: string) {
    super('network-not-quarantined', `refusing to launch ${what} without an explicit network: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set, so ${what} would land in the default subnet and security group of ${where}`, {
      source: 'user',
      remedy: `set ${missing.join(' and ')} to a quarantine subnet (no route to the internet or production; VPC endpoints for SSM, EC2 and S3) and security groups that allow no inbound traffic (SSH helpers: port 22 from snapdrill only), or set provider.allowDefaultNetwork: true to accept the default network`,
    });
    this.missing = missing;
  }
}

/** InterruptedError marks work abandoned because the run received SIGINT or SIGTERM. */
export class InterruptedError extends SnapdrillError {
  constructor(signal: string) {
    super('interrupted', `interrupted by ${signal}`, { source: 'infrastructure' });
  }
}

/** isSnapdrillError is the type guard used instead of matching message text. */
export function isSnapdrillError(e: unknown): e is SnapdrillError {
  return e instanceof SnapdrillError;
}

/** errorMessage renders any thrown value as one line. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
