// Proves the AWS test infrastructure (moto + fault proxy) works for real: no mocks, a real moto server.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  DescribeImagesCommand,
  DescribeVolumesCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { ec2For, fakeCredentials, ssmFor } from './moto.js';
import { delay, ec2Error, ssmJson, ssmSequence, startFaultProxy, throttle } from './fault-proxy.js';
import { useEmulator } from './use-emulator.js';

const emu = useEmulator({ seed: 42 });
const clients: Array<EC2Client | SSMClient> = [];

/** Clients made through these helpers are destroyed after each test (fresh adaptive-retry state per test). */
function ec2(endpoint: string, extra: Parameters<typeof ec2For>[1] = {}): EC2Client {
  const c = ec2For(endpoint, extra);
  clients.push(c);
  return c;
}
function ssm(endpoint: string, extra: Parameters<typeof ssmFor>[1] = {}): SSMClient {
  const c = ssmFor(endpoint, extra);
  clients.push(c);
  return c;
}

/** Captures the error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

const RUN_TAG = 'snapdrill:run-id';

async function launchInstance(client: EC2Client): Promise<string> {
  const images = await client.send(new DescribeImagesCommand({ Owners: ['amazon'], MaxResults: 5 }));
  const imageId = images.Images?.[0]?.ImageId;
  expect(imageId).toBeTruthy();
  const run = await client.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', Placement: { AvailabilityZone: 'us-east-1a' } }),
  );
  return run.Instances![0]!.InstanceId!;
}

afterAll(async () => {
  // Before useEmulator's own afterAll: stop it here (stop is idempotent) to see that the moto process is really gone.
  const pid = emu.moto.pid;
  await emu.stop();
  expect(() => process.kill(pid, 0)).toThrow();
});

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

describe('moto', () => {
  it('creates a tagged volume, finds it by tag filter, and reset() clears it', async () => {
    expect(emu.moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.AWS_EC2_METADATA_DISABLED).toBe('true');
    expect(fakeCredentials.accessKeyId).toBe('AKIAFAKEFAKEFAKE');
    const client = ec2(emu.moto.endpoint);
    const created = await client.send(
      new CreateVolumeCommand({
        AvailabilityZone: 'us-east-1a',
        Size: 1,
        TagSpecifications: [
          {
            ResourceType: 'volume',
            Tags: [
              { Key: RUN_TAG, Value: 'run-a' },
              { Key: 'snapdrill:expires-at', Value: '2030-01-01T00:00:00Z' },
            ],
          },
        ],
      }),
    );
    expect(created.VolumeId).toMatch(/^vol-/);
    // A decoy that must not match the filter.
    await client.send(
      new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: RUN_TAG, Value: 'other' }] }] }),
    );

    const found = await client.send(new DescribeVolumesCommand({ Filters: [{ Name: `tag:${RUN_TAG}`, Values: ['run-a'] }] }));
    expect(found.Volumes?.map((v) => v.VolumeId)).toEqual([created.VolumeId]);
    const tags = Object.fromEntries((found.Volumes![0]!.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toEqual({ [RUN_TAG]: 'run-a', 'snapdrill:expires-at': '2030-01-01T00:00:00Z' });

    await emu.moto.reset();
    const after = await client.send(new DescribeVolumesCommand({}));
    expect(after.Volumes ?? []).toEqual([]);
  });
});

describe('fault proxy', () => {
  it('forwards to moto and counts DescribeVolumes calls', async () => {
    const client = ec2(emu.proxy.endpoint);
    await client.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 2 }));
    for (let i = 0; i < 3; i++) {
      const res = await client.send(new DescribeVolumesCommand({}));
      expect(res.Volumes).toHaveLength(1);
    }
    expect(emu.proxy.count('DescribeVolumes')).toBe(3);
    expect(emu.proxy.count('CreateVolume')).toBe(1);
    expect(emu.proxy.calls.map((c) => c.action)).toEqual(['CreateVolume', 'DescribeVolumes', 'DescribeVolumes', 'DescribeVolumes']);
    expect(emu.proxy.calls.every((c) => c.outcome === 'forwarded' && c.status === 200 && typeof c.at === 'number')).toBe(true);
  });

  it('throttles twice: adaptive retry (maxAttempts 5) succeeds after 3 calls; maxAttempts 1 fails with RequestLimitExceeded', async () => {
    emu.proxy.addRule(throttle('DescribeVolumes', { times: 2 }));
    const patient = ec2(emu.proxy.endpoint, { retryMode: 'adaptive', maxAttempts: 5 });
    const res = await patient.send(new DescribeVolumesCommand({}));
    expect(res.Volumes).toEqual([]);
    expect(emu.proxy.count('DescribeVolumes')).toBe(3);
    expect(emu.proxy.calls.map((c) => c.status)).toEqual([503, 503, 200]);
    expect(res.$metadata.attempts).toBe(3);
    expect(emu.proxy.rules).toHaveLength(0); // the rule expired

    emu.proxy.addRule(throttle('DescribeVolumes', { times: 1 }));
    const impatient = ec2(emu.proxy.endpoint, { maxAttempts: 1 });
    const err = await rejection(impatient.send(new DescribeVolumesCommand({})));
    expect(err.name).toBe('RequestLimitExceeded');
    expect(err.message).toBe('Request limit exceeded.');
    expect(err.$metadata?.httpStatusCode).toBe(503);
    expect(emu.proxy.count('DescribeVolumes')).toBe(4);
  });

  it('throttles SSM with ThrottlingException', async () => {
    emu.proxy.addRule(throttle(/^(SendCommand|ListCommands)$/, { times: 1 }));
    const err = await rejection(ssm(emu.proxy.endpoint, { maxAttempts: 1 }).send(new SendCommandCommand({ InstanceIds: ['i-0123456789abcdef0'], DocumentName: 'AWS-RunShellScript' })));
    expect(err.name).toBe('ThrottlingException');
    expect(err.message).toBe('Rate exceeded');
    expect(err.$metadata?.httpStatusCode).toBe(400);
  });

  it('surfaces a scripted EC2 error (VolumeInUse) by name, without moto seeing the call', async () => {
    const client = ec2(emu.proxy.endpoint, { maxAttempts: 1 });
    const instanceId = await launchInstance(client);
    const vol = await client.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    emu.proxy.addRule(ec2Error('AttachVolume', 'VolumeInUse', `vol ${vol.VolumeId} is already attached to an instance`));
    const err = await rejection(client.send(new AttachVolumeCommand({ VolumeId: vol.VolumeId, InstanceId: instanceId, Device: '/dev/sdf' })));
    expect(err.name).toBe('VolumeInUse');
    expect(err.message).toContain('already attached');
    expect(err.$metadata?.httpStatusCode).toBe(400);
    expect(emu.proxy.calls.at(-1)).toMatchObject({ action: 'AttachVolume', outcome: 'injected', status: 400 });
    // moto never received the attach: the volume is still available.
    const d = await client.send(new DescribeVolumesCommand({ VolumeIds: [vol.VolumeId!] }));
    expect(d.Volumes?.[0]?.State).toBe('available');
  });

  it('passes SendCommand through to moto and scripts GetCommandInvocation and DescribeInstanceInformation', async () => {
    const instanceId = await launchInstance(ec2(emu.moto.endpoint));
    const client = ssm(emu.proxy.endpoint, { maxAttempts: 1 });
    const sent = await client.send(
      new SendCommandCommand({ InstanceIds: [instanceId], DocumentName: 'AWS-RunShellScript', Parameters: { commands: ['echo hello'] } }),
    );
    const commandId = sent.Command?.CommandId;
    expect(commandId).toMatch(/^[0-9a-f-]{36}$/);
    expect(emu.proxy.calls.at(-1)).toMatchObject({ action: 'SendCommand', outcome: 'forwarded', status: 200 });

    emu.proxy.addRule(
      ...ssmSequence('GetCommandInvocation', [
        (req) => ({ CommandId: (req.json as { CommandId: string }).CommandId, InstanceId: instanceId, Status: 'InProgress', StatusDetails: 'InProgress' }),
        (req) => ({
          CommandId: (req.json as { CommandId: string }).CommandId,
          InstanceId: instanceId,
          Status: 'Success',
          StatusDetails: 'Success',
          ResponseCode: 0,
          StandardOutputContent: 'hello\n',
          StandardErrorContent: '',
        }),
      ]),
    );
    const first = await client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    expect(first.Status).toBe('InProgress');
    expect(first.CommandId).toBe(commandId);
    const second = await client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    expect(second.Status).toBe('Success');
    expect(second.StandardOutputContent?.trim()).toBe('hello');
    expect(emu.proxy.count('GetCommandInvocation')).toBe(2);

    emu.proxy.addRule(
      ssmJson('DescribeInstanceInformation', {
        InstanceInformationList: [{ InstanceId: instanceId, PingStatus: 'Online', PlatformType: 'Linux', AgentVersion: '3.3.0.0' }],
      }),
    );
    const info = await client.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
    expect(info.InstanceInformationList).toEqual([{ InstanceId: instanceId, PingStatus: 'Online', PlatformType: 'Linux', AgentVersion: '3.3.0.0' }]);
  });

  it('delays requests by at least delayMs', async () => {
    const client = ec2(emu.proxy.endpoint);
    await client.send(new DescribeVolumesCommand({})); // warm the connection
    emu.proxy.addRule(delay('DescribeVolumes', 400, { times: 1 }));
    const t0 = performance.now();
    await client.send(new DescribeVolumesCommand({}));
    const slow = performance.now() - t0;
    expect(slow).toBeGreaterThanOrEqual(400);
    const t1 = performance.now();
    await client.send(new DescribeVolumesCommand({}));
    expect(performance.now() - t1).toBeLessThan(400);
  });

  it('applies probability rules deterministically for a given seed, and transforms moto answers', async () => {
    const pattern = async (seed: number) => {
      const p = await startFaultProxy(emu.moto.endpoint, { seed });
      try {
        p.addRule(throttle('DescribeVolumes', { probability: 0.5 }));
        const c = ec2(p.endpoint, { maxAttempts: 1 });
        const out: boolean[] = [];
        for (let i = 0; i < 12; i++) out.push(await c.send(new DescribeVolumesCommand({})).then(() => true, () => false));
        return out;
      } finally {
        await p.stop();
      }
    };
    const a = await pattern(7);
    expect(await pattern(7)).toEqual(a);
    expect(a).toContain(true);
    expect(a).toContain(false);

    const client = ec2(emu.proxy.endpoint);
    const vol = await client.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    emu.proxy.addRule({ action: 'DescribeVolumes', transform: (xml) => xml.replace(/<status>available<\/status>/g, '<status>error</status>') });
    const d = await client.send(new DescribeVolumesCommand({ VolumeIds: [vol.VolumeId!] }));
    expect(d.Volumes?.[0]?.State).toBe('error');
  });
});
