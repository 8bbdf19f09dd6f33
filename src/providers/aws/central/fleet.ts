import type { AwsProviderConfig, Config, FleetRunConfig } from '../../../config/types.js';
import { ConfigError } from '../../../errors.js';
import type { CloudRecord, ReleaseOptions } from '../../../ledger/resources.js';
import type { FleetAccess, FleetMember, Provider } from '../../../provider.js';
import { AwsProvider, type AwsDeps } from '../aws.js';
import { createEc2Client } from '../ec2.js';
import { findQuarantineNetwork } from '../network.js';
import { RoleSessions, type Credentials } from './credentials.js';
import { listFleetAccounts, roleArnOf, type OrganizationsReader } from './organizations.js';

/** FleetDeps let tests count and replace what a fleet reaches: Organizations, and the provider's own dependencies. */
export interface FleetDeps {
  organizations?: OrganizationsReader;
  /** Extra dependencies of every item's provider (tests: poll intervals, the helper image). */
  provider?: Omit<AwsDeps, 'credentials' | 'account'>;
}

/**
 * AwsFleet reaches the accounts and regions of a fleet config: who the members are (the list, the Organization, or the
 * caller), one role session per member shared by all its clients, and a provider per account and region.
 */
export class AwsFleet implements FleetAccess {
  readonly sessions: RoleSessions;
  private members?: Promise<FleetMember[]>;

  constructor(
    readonly config: FleetRunConfig,
    readonly runId: string,
    private readonly deps: FleetDeps = {},
  ) {
    const p = config.provider;
    this.sessions = new RoleSessions({ region: p.region, endpoint: p.endpoint, profile: p.profile, runId, durationSeconds: Math.round(config.fleet.sessionDurationMs / 1000) });
  }

  private get sts() {
    const p = this.config.provider;
    return { region: p.region, endpoint: p.endpoint, profile: p.profile };
  }

  /** listMembers lists the fleet's accounts once (Organizations is read once per process). */
  listMembers(): Promise<FleetMember[]> {
    this.members ??= listFleetAccounts(this.config.fleet.accounts, this.sts, this.deps.organizations);
    return this.members;
  }

  /**
   * member is one account of the fleet, for an item: from the list (it must be on it), or the Organization's role
   * name in that account (the item list came from the Organization; it is not listed again per item).
   */
  async member(account: string): Promise<FleetMember> {
    const src = this.config.fleet.accounts;
    if (src.kind === 'organization') return { id: account, roleArn: roleArnOf(account, src.roleName, this.config.provider.region), ...(src.externalId ? { externalId: src.externalId } : {}) };
    const found = (await this.listMembers()).find((m) => m.id === account);
    if (!found) throw new ConfigError('--item', `account ${account} is not one of the config's accounts`, 'take the item from "snapdrill plan --items" of the same config');
    return found;
  }

  /** regionOf checks that an item's region is one of the config's. */
  regionOf(region: string): string {
    if (!this.config.fleet.regions.includes(region)) throw new ConfigError('--item', `region ${region} is not one of the config's regions (${this.config.fleet.regions.join(', ')})`);
    return region;
  }

  /** credentialsOf is a member's role session; the caller's own credentials when it has no role (a regions-only fleet). */
  credentialsOf(member: FleetMember): Credentials | undefined {
    return member.roleArn ? this.sessions.forRole(member.roleArn, member.externalId) : undefined;
  }

  /**
   * providerConfig is the provider section for one account and region: that region, and the helpers' network and zone
   * found by tag (helper.findNetwork), else the configured zone when it is in that region, else the region's zone a.
   */
  async providerConfig(member: FleetMember, region: string): Promise<AwsProviderConfig> {
    const p = this.config.provider;
    const base: AwsProviderConfig = { ...p, region, availabilityZone: p.availabilityZone?.startsWith(region) ? p.availabilityZone : `${region}a`, helper: { ...p.helper } };
    if (!p.helper.findNetwork) return base;
    const net = await findQuarantineNetwork(createEc2Client(base, this.credentialsOf(member)), `account ${member.id} ${region}`);
    return { ...base, availabilityZone: net.availabilityZone, helper: { ...base.helper, subnetId: net.subnetId, securityGroupIds: net.securityGroupIds } };
  }

  /** provider builds the AWS provider of one account and region (its clients on the member's role session). */
  provider(member: FleetMember, cfg: AwsProviderConfig, workId: string, extra: Omit<AwsDeps, 'credentials' | 'account'> = {}): AwsProvider {
    const credentials = this.credentialsOf(member);
    return new AwsProvider(cfg, workId, this.config.snapshots, { boot: this.config.boot, ...this.deps.provider, ...extra, ...(credentials ? { credentials } : {}), account: member.id });
  }

  /** assumeRoleCalls counts the role sessions opened. */
  assumeRoleCalls(): number {
    return this.sessions.assumeRoleCalls;
  }

  /** providerFactory is executeRun's factory for one item: every provider it builds is that account and region's. */
  providerFactory(member: FleetMember, cfg: AwsProviderConfig): (config: Config, workId: string) => Provider {
    return (_config, workId) => this.provider(member, cfg, workId);
  }

  /**
   * releaser releases a ledger's cloud record through the provider of its account and region (gc -c FLEET): records
   * without an account belong to the caller's own account.
   */
  releaser(extra: Omit<AwsDeps, 'credentials' | 'account'> = {}): (record: CloudRecord, opts: ReleaseOptions) => Promise<void> {
    const providers = new Map<string, Promise<AwsProvider>>();
    return async (record, opts) => {
      const key = `${record.account ?? ''}/${record.region}`;
      if (!providers.has(key)) {
        providers.set(key, (async () => {
          const member = record.account ? await this.member(record.account) : { id: '' };
          const p = this.config.provider;
          return this.provider(member, { ...p, region: record.region, availabilityZone: `${record.region}a` }, 'gc', extra);
        })());
      }
      await (await providers.get(key)!).releaseCloud(record, opts);
    };
  }
}
