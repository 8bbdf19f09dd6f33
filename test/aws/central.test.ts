import { CreateAccountCommand, CreateOrganizationCommand, CreateOrganizationalUnitCommand, ListRootsCommand, MoveAccountCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoleSessions, sessionNameOf } from '../../src/providers/aws/central/credentials.js';
import { listFleetAccounts, sdkOrganizations } from '../../src/providers/aws/central/organizations.js';
import { startEmulator, type Emulator } from './emulator.js';
import { fakeCredentials } from './moto.js';

/**
 * What a fleet run does in the central account, against moto behind the fault proxy: list the Organization's accounts
 * (OU filters, nested OUs) and hold one role session per member account, refreshed before it ends.
 */
describe('central account: the Organization and the role sessions', () => {
  let emu: Emulator;
  const ids: Record<string, string> = {};
  let ouTeam = '';
  let ouNested = '';

  const saved = { ...process.env };
  beforeAll(async () => {
    // The central account's credentials come from the standard chain, as in a container: the fake ones here.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
    emu = await startEmulator();
    const org = new OrganizationsClient({ region: 'us-east-1', endpoint: emu.moto.endpoint, credentials: fakeCredentials });
    await org.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }));
    const root = (await org.send(new ListRootsCommand({}))).Roots![0]!.Id!;
    ouTeam = (await org.send(new CreateOrganizationalUnitCommand({ ParentId: root, Name: 'team' }))).OrganizationalUnit!.Id!;
    ouNested = (await org.send(new CreateOrganizationalUnitCommand({ ParentId: ouTeam, Name: 'nested' }))).OrganizationalUnit!.Id!;
    for (const [name, parent] of [['a', ouTeam], ['b', ouNested], ['c', root]] as const) {
      const id = (await org.send(new CreateAccountCommand({ AccountName: name, Email: `${name}@example.com` }))).CreateAccountStatus!.AccountId!;
      ids[name] = id;
      if (parent !== root) await org.send(new MoveAccountCommand({ AccountId: id, SourceParentId: root, DestinationParentId: parent }));
    }
  }, 120_000);
  afterAll(async () => {
    process.env = saved;
    await emu?.stop();
  });

  const sts = () => ({ region: 'us-east-1', endpoint: emu.endpoint });

  it('GIVEN no OU filter THEN every active account of the Organization, sorted, each with the role ARN in it', async () => {
    const members = await listFleetAccounts({ kind: 'organization', roleName: 'snapdrill', excludeOus: [], excludeAccounts: [] }, sts(), sdkOrganizations(sts()));
    expect(members.map((m) => m.id)).toEqual(expect.arrayContaining([ids.a, ids.b, ids.c]));
    expect(members.map((m) => m.id)).toEqual([...members.map((m) => m.id)].sort());
    expect(members.find((m) => m.id === ids.a)).toMatchObject({ roleArn: `arn:aws:iam::${ids.a}:role/snapdrill`, name: 'a' });
  });

  it('GIVEN includeOus THEN the accounts under them, nested OUs included; excludeOus and excludeAccounts take some away', async () => {
    const under = await listFleetAccounts({ kind: 'organization', roleName: 'snapdrill', includeOus: [ouTeam], excludeOus: [], excludeAccounts: [] }, sts(), sdkOrganizations(sts()));
    expect(under.map((m) => m.id).sort()).toEqual([ids.a, ids.b].sort());
    const lessNested = await listFleetAccounts({ kind: 'organization', roleName: 'snapdrill', includeOus: [ouTeam], excludeOus: [ouNested], excludeAccounts: [] }, sts(), sdkOrganizations(sts()));
    expect(lessNested.map((m) => m.id)).toEqual([ids.a]);
    const lessOne = await listFleetAccounts({ kind: 'organization', roleName: 'snapdrill', excludeOus: [], excludeAccounts: [ids.c!] }, sts(), sdkOrganizations(sts()));
    expect(lessOne.map((m) => m.id)).not.toContain(ids.c);
  });

  it('GIVEN an Organizations error THEN a harness error that says where to run from', async () => {
    const bad = sdkOrganizations({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    await expect(listFleetAccounts({ kind: 'organization', roleName: 'x', excludeOus: [], excludeAccounts: [] }, sts(), bad)).rejects.toMatchObject({ code: 'organization-unreadable', remedy: expect.stringMatching(/management account or a delegated administrator/) });
  });

  it('GIVEN one role used by many clients THEN one AssumeRole, named after the run; renewed 5 minutes before it ends; concurrent callers share one call', async () => {
    let now = Date.now();
    const sessions = new RoleSessions({ ...sts(), runId: '20261203T020000Z-abc123', durationSeconds: 900, now: () => now });
    const role = `arn:aws:iam::${ids.a}:role/snapdrill`;
    const seen = emu.proxy.calls.length;
    const [k1, k2] = await Promise.all([sessions.forRole(role)(), sessions.forRole(role)()]);
    expect(k1).toEqual(k2);
    expect(await sessions.forRole(role)()).toEqual(k1);
    expect(sessions.assumeRoleCalls).toBe(1);
    const calls = emu.proxy.calls.slice(seen).filter((c) => c.action === 'AssumeRole');
    expect(calls.map((c) => [c.params?.get('RoleSessionName'), c.params?.get('DurationSeconds')])).toEqual([[sessionNameOf('20261203T020000Z-abc123'), '900']]);
    now = k1!.expiration!.getTime() - 4 * 60_000;
    const k3 = await sessions.forRole(role)();
    expect(sessions.assumeRoleCalls).toBe(2);
    expect(k3.accessKeyId).not.toBe(k1!.accessKeyId);
    // Another role (another account) is another session.
    await sessions.forRole(`arn:aws:iam::${ids.b}:role/snapdrill`, 'ext-id')();
    expect(sessions.assumeRoleCalls).toBe(3);
    expect(emu.proxy.calls.slice(seen).filter((c) => c.action === 'AssumeRole').at(-1)!.params?.get('ExternalId')).toBe('ext-id');
  });

  it('GIVEN a role that cannot be assumed THEN the error names the role and account and how to set it up', async () => {
    const sessions = new RoleSessions({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', runId: 'r1', durationSeconds: 900 });
    await expect(sessions.forRole('arn:aws:iam::999999999999:role/snapdrill')()).rejects.toMatchObject({ code: 'assume-role-failed', message: expect.stringMatching(/account 999999999999/), remedy: expect.stringMatching(/member-account\.yaml/) });
  });

  it('names sessions within STS\'s limits', () => {
    expect(sessionNameOf('x'.repeat(100))).toHaveLength(64);
    expect(sessionNameOf('a b/c')).toBe('snapdrill-a-b-c');
  });
});
