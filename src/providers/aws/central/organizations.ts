import {
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  OrganizationsClient,
  type Account,
} from '@aws-sdk/client-organizations';
import type { AccountSource, FleetAccount } from '../../../config/types.js';
import { InfraError } from '../../../errors.js';
import type { FleetMember } from '../../../provider.js';
import { callerAccount, type StsOptions } from './credentials.js';


/** OrganizationsReader is the part of Organizations a fleet reads: accounts and OUs under a parent, or every account. */
export interface OrganizationsReader {
  listAccounts(): Promise<Account[]>;
  listAccountsForParent(parentId: string): Promise<Account[]>;
  listChildOus(parentId: string): Promise<string[]>;
}

/** sdkOrganizations reads Organizations through the SDK, every page (Organizations is a global service, reached in the home region). */
export function sdkOrganizations(opts: StsOptions): OrganizationsReader {
  const client = new OrganizationsClient({
    region: opts.region,
    retryMode: 'adaptive',
    maxAttempts: 8,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
  const pages = async <T>(call: (token: string | undefined) => Promise<{ items: T[]; next: string | undefined }>): Promise<T[]> => {
    const out: T[] = [];
    let token: string | undefined;
    do {
      const r = await call(token);
      out.push(...r.items);
      token = r.next;
    } while (token);
    return out;
  };
  return {
    listAccounts: () => pages(async (NextToken) => {
      const r = await client.send(new ListAccountsCommand({ NextToken }));
      return { items: r.Accounts ?? [], next: r.NextToken };
    }),
    listAccountsForParent: (ParentId) => pages(async (NextToken) => {
      const r = await client.send(new ListAccountsForParentCommand({ ParentId, NextToken }));
      return { items: r.Accounts ?? [], next: r.NextToken };
    }),
    listChildOus: (ParentId) => pages(async (NextToken) => {
      const r = await client.send(new ListOrganizationalUnitsForParentCommand({ ParentId, NextToken }));
      return { items: (r.OrganizationalUnits ?? []).map((o) => o.Id!), next: r.NextToken };
    }),
  };
}

/** accountsUnder lists the accounts under OUs or roots, nested OUs included. */
async function accountsUnder(org: OrganizationsReader, parents: string[]): Promise<Account[]> {
  const out: Account[] = [];
  const queue = [...parents];
  const seen = new Set<string>();
  while (queue.length) {
    const parent = queue.shift()!;
    if (seen.has(parent)) continue;
    seen.add(parent);
    out.push(...(await org.listAccountsForParent(parent)));
    queue.push(...(await org.listChildOus(parent)));
  }
  return out;
}

/** roleArnOf is the ARN of a role name in an account (the partition of the caller's region). */
export function roleArnOf(account: string, roleName: string, region: string): string {
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.includes('-gov-') ? 'aws-us-gov' : 'aws';
  return `arn:${partition}:iam::${account}:role/${roleName.replace(/^\/+/, '')}`;
}

/**
 * listFleetAccounts resolves a config's account source: the list as given; the Organization's ACTIVE accounts
 * (under includeOus, minus excludeOus, then the account filters), sorted by id; or the caller's own account.
 * Organizations errors (not the management or a delegated administrator account) say so.
 */
export async function listFleetAccounts(source: AccountSource, sts: StsOptions, org: OrganizationsReader = sdkOrganizations(sts)): Promise<FleetMember[]> {
  if (source.kind === 'list') return source.accounts.map((a: FleetAccount) => ({ ...a }));
  if (source.kind === 'self') return [{ id: await callerAccount(sts) }];
  let listed: Account[];
  let excluded: Set<string>;
  try {
    listed = source.includeOus ? await accountsUnder(org, source.includeOus) : await org.listAccounts();
    excluded = new Set((await accountsUnder(org, source.excludeOus)).map((a) => a.Id!));
  } catch (e) {
    const err = e as { name?: string; message?: string };
    throw new InfraError('organization-unreadable', `cannot list the Organization's accounts: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`, {
      remedy: 'run from the management account or a delegated administrator account, with organizations:ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent (the fleet stack\'s task role has them); or list the accounts in the config (accounts:)',
    });
  }
  const include = source.includeAccounts ? new Set(source.includeAccounts) : undefined;
  const byId = new Map<string, FleetMember>();
  for (const a of listed) {
    const id = a.Id!;
    if ((a.Status ?? a.State) && (a.Status ?? a.State) !== 'ACTIVE') continue;
    if (excluded.has(id) || source.excludeAccounts.includes(id) || (include && !include.has(id))) continue;
    byId.set(id, { id, roleArn: roleArnOf(id, source.roleName, sts.region), ...(source.externalId ? { externalId: source.externalId } : {}), ...(a.Name ? { name: a.Name } : {}) });
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}
