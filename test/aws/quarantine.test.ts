import { CreateSnapshotCommand, CreateTagsCommand, CreateVolumeCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVolumesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { AwsProviderConfig } from '../../src/config/types.js';
import { NetworkNotQuarantinedError } from '../../src/errors.js';
import { bootTestAws } from '../../src/providers/aws/boot.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { bootNetworkMissing, helperNetworkMissing, requireQuarantine } from '../../src/providers/aws/quarantine.js';
import { sdkSsmApi } from '../../src/providers/aws/ssm-shell.js';
import { executeRun } from '../../src/run/run.js';
import { tempDir } from '../helpers.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { ec2For, ssmFor, startMoto, type MotoServer } from './moto.js';

/**
 * Quarantine (issue 9): helpers and boot tests run restored disks that may be hostile, so on AWS they are never
 * launched into the default subnet and security group unless the user opts in; both use IMDSv2 with hop limit 1.
 */
let moto: MotoServer;
let proxy: FaultProxy;
let direct: EC2Client;

const aws = (extra = ''): AwsProviderConfig => loadConfig(writeCfg(`provider: {type: aws, region: us-east-1, availabilityZone: us-east-1a, endpoint: "${moto.endpoint}"${extra}}\n`)).provider as AwsProviderConfig;
function writeCfg(text: string): string {
  const f = path.join(tempDir('q-cfg'), 'snapdrill.yaml');
  writeFileSync(f, text);
  return f;
}

describe('AWS quarantine', () => {
  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
    direct = ec2For(moto.endpoint);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    proxy.reset();
  });

  it('names the missing network fields, for helpers and for boot tests (which fall back to the helper network)', () => {
    expect(helperNetworkMissing(aws())).toEqual(['provider.helper.subnetId', 'provider.helper.securityGroupIds']);
    expect(helperNetworkMissing(aws(', helper: {subnetId: subnet-0abc}'))).toEqual(['provider.helper.securityGroupIds']);
    expect(helperNetworkMissing(aws(', helper: {subnetId: subnet-0abc, securityGroupIds: [sg-0abc]}'))).toEqual([]);
    expect(bootNetworkMissing(aws(', helper: {subnetId: subnet-0abc, securityGroupIds: [sg-0abc]}'), {})).toEqual([]);
    expect(bootNetworkMissing(aws(), { subnetId: 'subnet-0b' })).toEqual(['boot.securityGroupIds (or provider.helper.securityGroupIds)']);
    const e = (() => {
      try {
        requireQuarantine(aws());
      } catch (x) {
        return x;
      }
    })() as NetworkNotQuarantinedError;
    expect(e).toBeInstanceOf(NetworkNotQuarantinedError);
    expect(e).toMatchObject({ code: 'network-not-quarantined', source: 'user', exitCode: 2, missing: ['provider.helper.subnetId', 'provider.helper.securityGroupIds'] });
    expect(e.message).toMatch(/refusing to launch helper instances without an explicit network: provider.helper.subnetId and provider.helper.securityGroupIds are not set/);
    expect(e.remedy).toMatch(/provider.allowDefaultNetwork: true/);
    expect(() => requireQuarantine(aws(', allowDefaultNetwork: true'), { enabled: true })).not.toThrow();
  });

  it('GIVEN no subnet and security groups WHEN a run starts THEN it is refused before anything is created', async () => {
    const vol = (await direct.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
    const snap = (await direct.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
    await direct.send(new CreateTagsCommand({ Resources: [snap], Tags: [{ Key: 'drill', Value: 'nightly' }] }));
    const cfg = loadConfig(writeCfg(`provider: {type: aws, region: us-east-1, availabilityZone: us-east-1a, endpoint: "${proxy.endpoint}", helper: {imageId: ami-00000000}}\nsnapshots: [{tags: {drill: nightly}}]\noutput: {dir: ${tempDir('q-out')}}\n`));
    const factory = (c: typeof cfg, id: string) => new AwsProvider(c.provider as AwsProviderConfig, id, c.snapshots, { ec2: sdkEc2Api(ec2For(proxy.endpoint)), ssm: sdkSsmApi(ssmFor(proxy.endpoint)), boot: c.boot });
    await expect(executeRun(cfg, { stateDir: tempDir('q-state'), events: {}, signal: new AbortController().signal, providerFactory: factory })).rejects.toBeInstanceOf(NetworkNotQuarantinedError);
    expect(proxy.count(/RunInstances|CreateVolume|RegisterImage/)).toBe(0);
    const vols = (await direct.send(new DescribeVolumesCommand({}))).Volumes ?? [];
    expect(vols.map((v) => v.VolumeId)).toEqual([vol]);
  });

  it('GIVEN a boot test without a network THEN it is refused before RegisterImage; in a named subnet it runs, IMDSv2 only with hop limit 1', async () => {
    const vol = (await direct.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 8 }))).VolumeId!;
    const snap = (await direct.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
    const p = new AwsProvider(aws(), 'run-q', [], { ec2: sdkEc2Api(ec2For(proxy.endpoint)) });
    const bootOpts = loadConfig(writeCfg('provider: {type: local, catalog: /x}\nboot: {enabled: true, timeout: 30s}\n')).boot;
    const info = { id: snap, source: snap, sizeBytes: 8 << 30, tags: {} };
    await expect(p.bootTest({ snapshot: info, restored: { snapshot: info, handle: vol, scratch: '/tmp' }, data: [], dataRestored: [], options: bootOpts, mode: 'bios' }, { ledger: undefined as never, owner: snap, signal: new AbortController().signal, timeoutMs: 60_000 })).rejects.toThrow(
      /refusing to launch boot-test instances without an explicit network: boot.subnetId \(or provider.helper.subnetId\) and boot.securityGroupIds/,
    );
    expect(proxy.count('RegisterImage')).toBe(0);
    // The instance a boot test runs is launched like a helper: IMDSv2 required, hop limit 1.
    const subnetId = (await direct.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: ['us-east-1a'] }] }))).Subnets![0]!.SubnetId!;
    const sg = (await direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }] }))).SecurityGroups![0]!.GroupId!;
    const records: { kind: string; id: string }[] = [];
    await bootTestAws(sdkEc2Api(ec2For(proxy.endpoint)), { runId: 'run-q', ttlMs: 3_600_000, rootSnapshotId: snap, dataSnapshotIds: [], instanceType: 't3.small', availabilityZone: 'us-east-1a', subnetId, securityGroupIds: [sg], timeoutMs: 10_000, pollMs: 50 }, { onCreated: (r) => records.push(r) });
    const run = proxy.calls.find((c) => c.action === 'RunInstances')!.params!;
    expect([run.get('MetadataOptions.HttpTokens'), run.get('MetadataOptions.HttpPutResponseHopLimit'), run.get('SubnetId'), run.get('SecurityGroupId.1')]).toEqual(['required', '1', subnetId, sg]);
    const api = sdkEc2Api(direct);
    await api.terminateInstances(records.filter((r) => r.kind === 'aws-instance').map((r) => r.id));
    for (const r of records.filter((x) => x.kind === 'aws-image')) await api.deregisterImage(r.id);
    const live = ((await direct.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === 'running');
    expect(live).toEqual([]);
  });
});
