import { DescribeInstancesCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { AwsProviderConfig } from '../../src/config/types.js';
import { NetworkNotQuarantinedError } from '../../src/errors.js';
import { bootTestAws } from '../../src/providers/aws/boot.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { bootNetworkMissing, helperNetworkMissing, requireQuarantine } from '../../src/providers/aws/quarantine.js';
import { executeRun } from '../../src/run/run.js';
import { tempDir } from '../helpers.js';
import { useEmulator } from './use-emulator.js';

/**
 * Quarantine (issue 9): helpers and boot tests run restored disks that may be hostile, so on AWS they are never
 * launched into the default subnet and security group unless the user opts in; both use IMDSv2 with hop limit 1.
 */
function writeCfg(text: string): string {
  const f = path.join(tempDir('q-cfg'), 'snapdrill.yaml');
  writeFileSync(f, text);
  return f;
}

describe('AWS quarantine', () => {
  const emu = useEmulator();
  /** aws is the provider section of a config naming moto, with `extra` fields. */
  const aws = (extra = ''): AwsProviderConfig => loadConfig(emu.configFile('', { providerExtra: extra, endpoint: emu.moto.endpoint })).provider as AwsProviderConfig;

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
    const { volumeId: vol } = await emu.snapshot({ sizeGiB: 1, tags: { drill: 'nightly' } });
    const cfg = loadConfig(emu.configFile(`snapshots: [{tags: {drill: nightly}}]\noutput: {dir: ${tempDir('q-out')}}\n`, { providerExtra: ', helper: {imageId: ami-00000000}' }));
    const factory = (c: typeof cfg, id: string) => new AwsProvider(c.provider as AwsProviderConfig, id, c.snapshots, { ec2: emu.ec2Api(), ssm: emu.ssmApi(), boot: c.boot });
    await expect(executeRun(cfg, { stateDir: tempDir('q-state'), events: {}, signal: new AbortController().signal, providerFactory: factory })).rejects.toBeInstanceOf(NetworkNotQuarantinedError);
    expect(emu.proxy.count(/RunInstances|CreateVolume|RegisterImage/)).toBe(0);
    const vols = (await emu.direct.send(new DescribeVolumesCommand({}))).Volumes ?? [];
    expect(vols.map((v) => v.VolumeId)).toEqual([vol]);
  });

  it('GIVEN a boot test without a network THEN it is refused before RegisterImage; in a named subnet it runs, IMDSv2 only with hop limit 1', async () => {
    const { volumeId: vol, snapshotId: snap } = await emu.snapshot();
    const p = new AwsProvider(aws(), 'run-q', [], { ec2: emu.ec2Api() });
    const bootOpts = loadConfig(writeCfg('provider: {type: local, catalog: /x}\nboot: {enabled: true, timeout: 30s}\n')).boot;
    const info = { id: snap, source: snap, sizeBytes: 8 << 30, tags: {} };
    await expect(p.bootTest({ snapshot: info, restored: { snapshot: info, handle: vol, scratch: '/tmp' }, data: [], dataRestored: [], options: bootOpts, mode: 'bios' }, { ledger: undefined as never, owner: snap, signal: new AbortController().signal, timeoutMs: 60_000 })).rejects.toThrow(
      /refusing to launch boot-test instances without an explicit network: boot.subnetId \(or provider.helper.subnetId\) and boot.securityGroupIds/,
    );
    expect(emu.proxy.count('RegisterImage')).toBe(0);
    // The instance a boot test runs is launched like a helper: IMDSv2 required, hop limit 1.
    const { subnetId, securityGroupId: sg } = await emu.network();
    const records: { kind: string; id: string }[] = [];
    await bootTestAws(emu.ec2Api(), { runId: 'run-q', ttlMs: 3_600_000, rootSnapshotId: snap, dataSnapshotIds: [], instanceType: 't3.small', availabilityZone: 'us-east-1a', subnetId, securityGroupIds: [sg], timeoutMs: 10_000, pollMs: 50 }, { onCreated: (r) => records.push(r) });
    const run = emu.proxy.calls.find((c) => c.action === 'RunInstances')!.params!;
    expect([run.get('MetadataOptions.HttpTokens'), run.get('MetadataOptions.HttpPutResponseHopLimit'), run.get('SubnetId'), run.get('SecurityGroupId.1')]).toEqual(['required', '1', subnetId, sg]);
    const api = sdkEc2Api(emu.direct);
    await api.terminateInstances(records.filter((r) => r.kind === 'aws-instance').map((r) => r.id));
    for (const r of records.filter((x) => x.kind === 'aws-image')) await api.deregisterImage(r.id);
    const live = ((await emu.direct.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === 'running');
    expect(live).toEqual([]);
  });
});
