import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeImagesCommand, DescribeInstancesCommand, TerminateInstancesCommand, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { InfraError } from '../../src/errors.js';
import { bootTestAws, type AwsBootSpec } from '../../src/providers/aws/boot.js';
import { sdkEc2Api, type Ec2Api } from '../../src/providers/aws/ec2.js';
import { TAG } from '../../src/providers/aws/tags.js';
import { consoleOutput, consoleScreenshot, ec2Error, instanceStatusChecks, JPEG_BASE64, throttle } from './fault-proxy.js';
import { useEmulator } from './use-emulator.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** A real EC2 system log of a boot that drops to emergency mode (fstab names a device that is not there). */
const FSTAB_TRANSCRIPT = readFileSync(path.join(ROOT, 'test/golden/console/published/fstab-missing-device-2.txt'), 'utf8');
const ENA_MESSAGE = "Enhanced networking with the Elastic Network Adapter (ENA) is required for the 'm6i.large' instance type. Ensure that you are using an AMI that is enabled for ENA.";

const emu = useEmulator();

type Record_ = { kind: 'aws-image' | 'aws-instance'; id: string };

const spec = (root: string, extra: Partial<AwsBootSpec> = {}): AwsBootSpec => ({
  runId: 'run-boot',
  ttlMs: 3_600_000,
  rootSnapshotId: root,
  dataSnapshotIds: [],
  instanceType: 'm6i.large',
  availabilityZone: 'us-east-1a',
  timeoutMs: 10_000,
  pollMs: 50,
  ...extra,
});

/** boot runs bootTestAws through the fault proxy and returns the outcome with what it recorded, in order. */
async function boot(s: AwsBootSpec, client: Partial<EC2ClientConfig> = {}, wrap: (api: Ec2Api) => Ec2Api = (a) => a, signal?: AbortSignal) {
  const records: Record_[] = [];
  const api = wrap(emu.ec2Api(client));
  const outcome = await bootTestAws(api, s, { onCreated: (r) => records.push(r) }, signal);
  return { outcome, records };
}

/** release does what the caller's ledger does with the records: terminate the instance, deregister the image (straight to moto). */
async function release(records: Record_[]): Promise<void> {
  const api = sdkEc2Api(emu.direct);
  await api.terminateInstances(records.filter((r) => r.kind === 'aws-instance').map((r) => r.id));
  for (const r of records.filter((x) => x.kind === 'aws-image')) await api.deregisterImage(r.id);
}

/** expectClean asserts moto holds no live snapdrill instance, no snapdrill volume and no registered image. */
async function expectClean(): Promise<void> {
  const inst = await emu.direct.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: [TAG.runId] }] }));
  const live = (inst.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => !['shutting-down', 'terminated'].includes(i.State?.Name ?? ''));
  expect(live.map((i) => i.InstanceId)).toEqual([]);
  expect((await emu.taggedVolumes()).map((v) => v.VolumeId)).toEqual([]);
  const images = await emu.direct.send(new DescribeImagesCommand({ Owners: ['self'] }));
  expect((images.Images ?? []).map((i) => i.ImageId)).toEqual([]);
}

/** tagsOf reads TagSpecification.N of a query-protocol request into { resourceType: { key: value } }. */
function tagSpecs(params: URLSearchParams): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (let n = 1; params.has(`TagSpecification.${n}.ResourceType`); n++) {
    const tags: Record<string, string> = {};
    for (let t = 1; params.has(`TagSpecification.${n}.Tag.${t}.Key`); t++) tags[params.get(`TagSpecification.${n}.Tag.${t}.Key`)!] = params.get(`TagSpecification.${n}.Tag.${t}.Value`)!;
    out[params.get(`TagSpecification.${n}.ResourceType`)!] = tags;
  }
  return out;
}

const paramsOf = (action: string) => {
  const calls = emu.proxy.calls.filter((c) => c.action === action);
  expect(calls).toHaveLength(1);
  return calls[0]!.params!;
};

describe('AWS boot test of a restored snapshot, against moto behind the fault proxy', () => {
  it('registers an image from the snapshots, boots it, waits for both checks, collects console and screenshot; release leaves nothing', async () => {
    const [root, d1, d2] = await emu.snapshots(3);
    emu.proxy.addRule(consoleScreenshot(JPEG_BASE64));
    const { outcome, records } = await boot(spec(root!, { dataSnapshotIds: [d1!, d2!], bootMode: 'uefi' }));

    expect(outcome).toMatchObject({ result: 'boots', mode: 'ec2', platform: 'm6i.large', screenshotJpegBase64: JPEG_BASE64 });
    expect(outcome.reason).toBeUndefined();
    expect(outcome.launchError).toBeUndefined();
    expect(outcome.console).toContain('Linux version 2.6.16-xenU'); // moto's canned console output, decoded
    expect(outcome.milestones.map((m) => m.name)).toEqual(['launched', 'running', 'status-checks']);
    const at = outcome.milestones.map((m) => m.atMs);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(at[2]!);

    // The image first (before the launch could fail), then the instance.
    expect(records.map((r) => r.kind)).toEqual(['aws-image', 'aws-instance']);

    // moto ignores RegisterImage's mapping and tags: check what went over the wire.
    const reg = paramsOf('RegisterImage');
    expect(Object.fromEntries([...reg.entries()].filter(([k]) => k.startsWith('BlockDeviceMapping')))).toEqual({
      'BlockDeviceMapping.1.DeviceName': '/dev/xvda',
      'BlockDeviceMapping.1.Ebs.SnapshotId': root,
      'BlockDeviceMapping.1.Ebs.DeleteOnTermination': 'true',
      'BlockDeviceMapping.1.Ebs.VolumeType': 'gp3',
      'BlockDeviceMapping.2.DeviceName': '/dev/sdf',
      'BlockDeviceMapping.2.Ebs.SnapshotId': d1,
      'BlockDeviceMapping.2.Ebs.DeleteOnTermination': 'true',
      'BlockDeviceMapping.2.Ebs.VolumeType': 'gp3',
      'BlockDeviceMapping.3.DeviceName': '/dev/sdg',
      'BlockDeviceMapping.3.Ebs.SnapshotId': d2,
      'BlockDeviceMapping.3.Ebs.DeleteOnTermination': 'true',
      'BlockDeviceMapping.3.Ebs.VolumeType': 'gp3',
    });
    expect(reg.get('RootDeviceName')).toBe('/dev/xvda');
    expect(reg.get('EnaSupport')).toBe('true');
    expect(reg.get('BootMode')).toBe('uefi');
    expect(reg.get('Architecture')).toBe('x86_64');
    expect(reg.get('VirtualizationType')).toBe('hvm');
    expect(reg.get('Name')).toBe(`snapdrill-run-boot-${root}`);
    const imageTags = tagSpecs(reg).image!;
    expect(imageTags[TAG.runId]).toBe('run-boot');
    expect(imageTags[TAG.sourceSnapshot]).toBe(root);
    expect(Date.parse(imageTags[TAG.expiresAt]!)).toBeGreaterThan(Date.now());

    const run = paramsOf('RunInstances');
    expect(run.get('ImageId')).toBe(records[0]!.id);
    expect(run.get('InstanceType')).toBe('m6i.large');
    expect(run.get('Placement.AvailabilityZone')).toBe('us-east-1a');
    expect(run.get('MinCount')).toBe('1');
    expect(run.get('MaxCount')).toBe('1');
    expect(run.get('MetadataOptions.HttpTokens')).toBe('required');
    expect(run.get('InstanceInitiatedShutdownBehavior')).toBe('terminate');
    expect(run.has('KeyName')).toBe(false);
    expect([...run.keys()].some((k) => k.startsWith('IamInstanceProfile'))).toBe(false);
    const runTags = tagSpecs(run);
    expect(Object.keys(runTags).sort()).toEqual(['instance', 'volume']);
    for (const t of Object.values(runTags)) expect(t).toEqual(imageTags);
    expect(emu.proxy.count('CreateTags')).toBe(0);

    expect(paramsOf('GetConsoleOutput').get('Latest')).toBe('true');
    expect(paramsOf('GetConsoleScreenshot').get('WakeUp')).toBe('true');
    expect(paramsOf('DescribeInstanceStatus').get('IncludeAllInstances')).toBe('true');
    // Nothing was removed inside the boot test: that is the caller's ledger's job.
    expect(emu.proxy.count(/^(TerminateInstances|DeregisterImage)$/)).toBe(0);

    const inst = await emu.direct.send(new DescribeInstancesCommand({ InstanceIds: [records[1]!.id] }));
    expect(inst.Reservations![0]!.Instances![0]!.State?.Name).toBe('running');
    await release(records);
    await expectClean();
  });

  it('GIVEN an impaired instance status check THEN fails-to-boot naming it, with the console transcript and the screenshot', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(instanceStatusChecks({ instance: 'impaired' }), consoleOutput(FSTAB_TRANSCRIPT), consoleScreenshot(JPEG_BASE64));
    const { outcome, records } = await boot(spec(root!));

    expect(outcome.result).toBe('fails-to-boot');
    expect(outcome.reason).toBe('instance status check impaired');
    expect(outcome.console).toBe(FSTAB_TRANSCRIPT);
    expect(outcome.console).toContain('Welcome to emergency mode!');
    const jpeg = Buffer.from(outcome.screenshotJpegBase64!, 'base64');
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(jpeg.subarray(-2).toString('hex')).toBe('ffd9');
    expect(outcome.milestones.map((m) => m.name)).toEqual(['launched', 'running']);
    expect(records.map((r) => r.kind)).toEqual(['aws-image', 'aws-instance']);
    await release(records);
    await expectClean();
  });

  it('GIVEN an impaired system status check THEN fails-to-boot naming the system check', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(instanceStatusChecks({ system: 'impaired', instance: 'initializing' }), consoleScreenshot(JPEG_BASE64));
    const { outcome, records } = await boot(spec(root!));
    expect(outcome).toMatchObject({ result: 'fails-to-boot', reason: 'system status check impaired' });
    await release(records);
    await expectClean();
  });

  it('GIVEN RunInstances refuses the image for lack of ENA THEN fails-to-boot with the launch error, and the image is recorded for release', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(ec2Error('RunInstances', 'InvalidParameterCombination', ENA_MESSAGE));
    const { outcome, records } = await boot(spec(root!, { enaSupport: false }));

    expect(outcome).toMatchObject({ result: 'fails-to-boot', mode: 'ec2', platform: 'm6i.large', console: '', milestones: [] });
    expect(outcome.launchError).toEqual({ code: 'InvalidParameterCombination', message: ENA_MESSAGE });
    expect(outcome.reason).toBe(`RunInstances refused: InvalidParameterCombination: ${ENA_MESSAGE}`);
    expect(paramsOf('RegisterImage').get('EnaSupport')).toBe('false');
    expect(records.map((r) => r.kind)).toEqual(['aws-image']);
    // No instance: nothing to ask for a console.
    expect(emu.proxy.count(/^(DescribeInstanceStatus|GetConsoleOutput|GetConsoleScreenshot)$/)).toBe(0);
    await release(records);
    await expectClean();
  });

  it('GIVEN RegisterImage refuses the boot mode THEN fails-to-boot with the launch error and nothing was created', async () => {
    const [root] = await emu.snapshots(1);
    const msg = "The boot mode 'uefi' is not supported for architecture 'arm64' with this root device.";
    emu.proxy.addRule(ec2Error('RegisterImage', 'InvalidParameterValue', msg));
    const { outcome, records } = await boot(spec(root!, { architecture: 'arm64', bootMode: 'uefi', instanceType: 'm7g.large' }));
    expect(outcome).toMatchObject({ result: 'fails-to-boot', platform: 'm7g.large', launchError: { code: 'InvalidParameterValue', message: msg } });
    expect(records).toEqual([]);
    expect(emu.proxy.count('RunInstances')).toBe(0);
    await expectClean();
  });

  it('GIVEN the status checks never get ok THEN fails-to-boot at the timeout, console still collected, a screenshot failure noted not thrown', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(
      instanceStatusChecks({ system: 'initializing', instance: 'initializing' }),
      ec2Error('GetConsoleScreenshot', 'UnsupportedOperation', 'This instance type does not support console screenshots.'),
    );
    const started = Date.now();
    const { outcome, records } = await boot(spec(root!, { timeoutMs: 1_000, pollMs: 100 }));

    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(outcome.result).toBe('fails-to-boot');
    expect(outcome.reason).toBe(
      'status checks not ok after 1s: system initializing, instance initializing; console screenshot unavailable (UnsupportedOperation: This instance type does not support console screenshots.)',
    );
    expect(outcome.console).toContain('Linux version 2.6.16-xenU');
    expect(outcome.screenshotJpegBase64).toBeUndefined();
    expect(outcome.milestones.map((m) => m.name)).toEqual(['launched', 'running']);
    // Polled about every pollMs, not in a tight loop.
    expect(emu.proxy.count('DescribeInstanceStatus')).toBeGreaterThanOrEqual(5);
    expect(emu.proxy.count('DescribeInstanceStatus')).toBeLessThanOrEqual(12);
    await release(records);
    await expectClean();
  });

  it('GIVEN the instance terminates during boot THEN fails-to-boot with its state reason, console still collected', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(consoleScreenshot(JPEG_BASE64));
    // The guest powers off right after launch (InstanceInitiatedShutdownBehavior terminate): moto terminates it.
    const dies = (api: Ec2Api): Ec2Api => ({
      ...api,
      async runInstance(i) {
        const id = await api.runInstance(i);
        await emu.direct.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        return id;
      },
    });
    const { outcome, records } = await boot(spec(root!), {}, dies);
    expect(outcome.result).toBe('fails-to-boot');
    expect(outcome.reason).toBe('instance terminated: Client.UserInitiatedShutdown: User initiated shutdown');
    expect(outcome.console).toContain('Linux version');
    expect(outcome.milestones.map((m) => m.name)).toEqual(['launched']);
    await release(records);
    await expectClean();
  });

  it('GIVEN RunInstances is not permitted THEN an aws-permission InfraError is thrown, the image recorded for release', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(ec2Error('RunInstances', 'UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: abc', 403));
    const records: Record_[] = [];
    const err = await bootTestAws(emu.ec2Api(), spec(root!), { onCreated: (r) => records.push(r) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ code: 'aws-permission', transient: false });
    expect((err as Error).message).toMatch(/^not allowed: You are not authorized/);
    expect(records.map((r) => r.kind)).toEqual(['aws-image']);
    await release(records);
    await expectClean();
  });

  it('GIVEN RegisterImage stays throttled past the retries THEN a transient InfraError is thrown, nothing created', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(throttle('RegisterImage'));
    const records: Record_[] = [];
    const err = await bootTestAws(emu.ec2Api({ maxAttempts: 2 }), spec(root!), { onCreated: (r) => records.push(r) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ code: 'aws-error', transient: true });
    expect((err as Error).message).toMatch(/^RequestLimitExceeded/);
    expect(emu.proxy.count('RegisterImage')).toBe(2); // the SDK retried, then gave up
    expect(records).toEqual([]);
    await expectClean();
  });

  it('GIVEN DescribeInstanceStatus is not permitted THEN the InfraError is thrown (not a fails-to-boot), both resources recorded', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(ec2Error('DescribeInstanceStatus', 'UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    const records: Record_[] = [];
    const err = await bootTestAws(emu.ec2Api(), spec(root!), { onCreated: (r) => records.push(r) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'aws-permission' });
    expect(records.map((r) => r.kind)).toEqual(['aws-image', 'aws-instance']);
    await release(records);
    await expectClean();
  });

  it('GIVEN the run is interrupted during the wait THEN the outcome is error (interrupted) at once, resources recorded', async () => {
    const [root] = await emu.snapshots(1);
    emu.proxy.addRule(instanceStatusChecks({ system: 'initializing', instance: 'initializing' }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const { outcome, records } = await boot(spec(root!, { timeoutMs: 60_000, pollMs: 100 }), {}, (a) => a, ac.signal);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(outcome.result).toBe('error');
    expect(outcome.reason).toMatch(/^interrupted while waiting for the status checks of i-/);
    expect(records.map((r) => r.kind)).toEqual(['aws-image', 'aws-instance']);
    await release(records);
    await expectClean();
  });
});
