import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { InfraError } from '../../../errors.js';

/** Credentials are what an SDK client of one account is given: a provider it calls when it needs (fresh) keys. */
export type Credentials = AwsCredentialIdentityProvider;

/** StsOptions say how STS is reached: the home region, an endpoint (provider.endpoint: emulators, VPC endpoints), a profile. */
export interface StsOptions {
  region: string;
  endpoint?: string | undefined;
  profile?: string | undefined;
}

/** REFRESH_BEFORE_MS: credentials are renewed this long before they expire, so no call is made with keys about to lapse. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/** sessionNameOf is the RoleSessionName of a run's sessions: "snapdrill-" and the run id, cut to STS's 64 characters of [\w+=,.@-]. */
export function sessionNameOf(runId: string): string {
  return `snapdrill-${runId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/** createStsClient builds the STS client of the caller (the central account): standard retries, few attempts. */
function createStsClient(opts: StsOptions): STSClient {
  return new STSClient({
    region: opts.region,
    retryMode: 'standard',
    maxAttempts: 4,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
}

interface Session {
  keys?: AwsCredentialIdentity;
  pending?: Promise<AwsCredentialIdentity>;
}

/**
 * RoleSessions assumes one role per member account and shares its credentials between every client of that account
 * (EC2, SSM and S3, in every region): one AssumeRole per account per run, plus one per refresh. Concurrent callers
 * wait on the same request. The session is named after the run (CloudTrail shows which run did what) and lasts
 * durationSeconds, within STS's bounds.
 */
export class RoleSessions {
  /** AssumeRole calls made, for the bench and the tests (target: at most 2 per account per run, plus refreshes). */
  assumeRoleCalls = 0;
  private readonly sts: STSClient;
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly opts: StsOptions & { runId: string; durationSeconds: number; now?: () => number },
  ) {
    this.sts = createStsClient(opts);
  }

  /** forRole is the credential provider of one role (and external id); the same role always gets the same session. */
  forRole(roleArn: string, externalId?: string): Credentials {
    const key = `${roleArn}\u0000${externalId ?? ''}`;
    return () => this.current(key, roleArn, externalId);
  }

  private async current(key: string, roleArn: string, externalId: string | undefined): Promise<AwsCredentialIdentity> {
    let s = this.sessions.get(key);
    if (!s) this.sessions.set(key, (s = {}));
    const now = (this.opts.now ?? Date.now)();
    if (s.keys && (!s.keys.expiration || s.keys.expiration.getTime() - REFRESH_BEFORE_MS > now)) return s.keys;
    s.pending ??= this.assume(roleArn, externalId).finally(() => {
      s.pending = undefined;
    });
    s.keys = await s.pending;
    return s.keys;
  }

  private async assume(roleArn: string, externalId: string | undefined): Promise<AwsCredentialIdentity> {
    this.assumeRoleCalls++;
    try {
      const r = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: sessionNameOf(this.opts.runId),
          DurationSeconds: this.opts.durationSeconds,
          ...(externalId ? { ExternalId: externalId } : {}),
        }),
      );
      const c = r.Credentials!;
      return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken!, ...(c.Expiration ? { expiration: new Date(c.Expiration) } : {}) };
    } catch (e) {
      const err = e as { name?: string; message?: string };
      throw new InfraError('assume-role-failed', `cannot assume ${roleArn} (account ${accountOfRole(roleArn)}): ${err.name ?? 'Error'}: ${err.message ?? String(e)}`, {
        remedy: 'deploy iam/member-account.yaml in that account (its trust policy names the account snapdrill runs from, and the external id if the config gives one), or correct accounts[].roleArn / organization.roleName',
      });
    }
  }
}

/** accountOfRole is the account id in a role ARN. */
export function accountOfRole(roleArn: string): string {
  return /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1] ?? roleArn;
}

/** callerAccount is the account the default credentials belong to (a regions-only fleet runs there, without AssumeRole). */
export async function callerAccount(opts: StsOptions): Promise<string> {
  try {
    return (await createStsClient(opts).send(new GetCallerIdentityCommand({}))).Account!;
  } catch (e) {
    throw new InfraError('credentials-missing', `cannot tell which account the credentials belong to (sts:GetCallerIdentity): ${(e as Error).message}`, {
      remedy: 'give credentials through the standard chain (AWS_PROFILE, environment, instance or task role), or set provider.profile',
    });
  }
}
