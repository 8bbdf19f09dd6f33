import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { collectAwsGarbage } from '../../src/providers/aws/gc.js';
import { launchHelpers, waitHelpersReady, type HelperSpec } from '../../src/providers/aws/helpers.js';
import { TAG } from '../../src/providers/aws/tags.js';
import { ssmJson } from './fault-proxy.js';
import { useEmulator } from './use-emulator.js';

let spec: HelperSpec;

const online = (ids: () => string[]) => ssmJson('DescribeInstanceInformation', () => ({ InstanceInformationList: ids().map((InstanceId) => ({ InstanceId, PingStatus: 'Online' })) }));

describe('AWS helper instances, against moto behind the fault proxy', () => {
  const emu = useEmulator();
  beforeEach(async () => {
    spec = { imageId: await emu.anyImageId(), instanceType: 't3.medium', availabilityZone: 'us-east-1a' };
  });

  it('launches helpers tagged in the launch call, IMDSv2 only, and records each as it is created', async () => {
    const seen: string[] = [];
    const ids = await launchHelpers(emu.ec2Api(), 2, spec, { runId: 'run-h', ttlMs: 3_600_000, onLaunched: (id) => seen.push(id) });
    expect(seen).toEqual(ids);
    const r = await emu.direct.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    const instances = r.Reservations!.flatMap((x) => x.Instances!);
    for (const i of instances) {
      expect(Object.fromEntries(i.Tags!.map((t) => [t.Key, t.Value]))[TAG.runId]).toBe('run-h');
      expect(i.MetadataOptions?.HttpTokens).toBe('required');
    }
    expect(emu.proxy.count('CreateTags')).toBe(0);
  });

  it('waits for running, both status checks and the SSM agent, asking once per tick for all helpers', async () => {
    const ids = await launchHelpers(sdkEc2Api(emu.direct), 3, spec, { runId: 'run-h', ttlMs: 3_600_000 });
    // moto reports checks ok at once: the proxy makes them "initializing" for two polls.
    emu.proxy.addRule({ action: 'DescribeInstanceStatus', times: 2, transform: (b: string) => b.replace(/<status>ok<\/status>/g, '<status>initializing</status>') });
    emu.proxy.addRule(online(() => ids));
    const ready = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 10_000, pollMs: 50, reason: 'helpers ready' });
    expect(ready.every((h) => h.ready)).toBe(true);
    expect(emu.proxy.count('DescribeInstanceStatus')).toBe(3);
    expect(emu.proxy.count('DescribeInstanceInformation')).toBe(1);
  });

  it('GIVEN an impaired instance status check THEN that helper is not ready, saying which check', async () => {
    const ids = await launchHelpers(sdkEc2Api(emu.direct), 1, spec, { runId: 'run-h', ttlMs: 3_600_000 });
    emu.proxy.addRule({ action: 'DescribeInstanceStatus', transform: (b: string) => b.replace(/(<instanceStatus>.*?<\/details><status>)ok(<\/status>)/, '$1impaired$2') });
    emu.proxy.addRule(online(() => ids));
    const [h] = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 300, pollMs: 50, reason: 'helpers ready' });
    expect(h).toMatchObject({ ready: false });
    expect(h!.reason).toMatch(/^instance status check impaired after 0s \(helpers ready\)$/);
  });

  it('GIVEN the SSM agent of a helper with an instance profile never comes online THEN not ready at the deadline, naming the agent (no profile: see ssm-offline.test.ts)', async () => {
    const ids = await launchHelpers(sdkEc2Api(emu.direct), 1, spec, { runId: 'run-h', ttlMs: 3_600_000 });
    emu.proxy.addRule({ action: 'DescribeInstances', transform: (b: string) => b.replace(/<instanceState>/g, '<iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/snapdrill-helper</arn><id>AIPAEXAMPLE</id></iamInstanceProfile><instanceState>') });
    emu.proxy.addRule(online(() => []));
    const [h] = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 200, pollMs: 50, reason: 'helpers ready' });
    expect(h!.reason).toMatch(/^SSM agent not online/);
  });

  it('GIVEN a killed run WHEN gc runs after expiry THEN its helpers are terminated, other instances kept', async () => {
    const api = sdkEc2Api(emu.direct);
    const mine = await launchHelpers(api, 2, spec, { runId: 'run-k', ttlMs: 60_000 });
    const theirs = (await api.runInstance({ ...spec, tags: [{ Key: 'Name', Value: 'production web' }] }));
    const later = new Date(Date.now() + 120_000);
    expect((await collectAwsGarbage(api, { dryRun: false })).filter((l) => l.kind === 'instance').map((l) => l.action)).toEqual(['kept-not-expired', 'kept-not-expired']);
    const done = await collectAwsGarbage(api, { dryRun: false, now: later });
    expect(done.filter((l) => l.kind === 'instance').map((l) => [l.id, l.action]).sort()).toEqual(mine.map((id) => [id, 'removed']).sort());
    const states = Object.fromEntries((await api.describeInstances({ instanceIds: [...mine, theirs] })).map((i) => [i.InstanceId, i.State?.Name]));
    expect(states[theirs]).toBe('running');
    for (const id of mine) expect(['shutting-down', 'terminated']).toContain(states[id]);
  });
});
