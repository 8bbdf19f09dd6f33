/**
 * The emulated AWS account the tests share (DESIGN.md §6): moto with the fault proxy in front of it, clients for
 * both sides, and the few lookups and resources nearly every AWS test makes. Layers: moto.ts (the server),
 * fault-proxy.ts (the faults), this file (the two together), world.ts (plus a scripted helper, for whole runs).
 *
 * Tests take it through useEmulator (use-emulator.ts), which starts it before the tests and stops it after them.
 * Nothing here imports vitest: the bench runs world.ts, and so this file, outside the test runner.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  type CreateVolumeCommandInput,
  type EC2Client,
  type EC2ClientConfig,
  type Volume,
} from '@aws-sdk/client-ec2';
import type { SSMClient, SSMClientConfig } from '@aws-sdk/client-ssm';
import { sdkEc2Api, type Ec2Api } from '../../src/providers/aws/ec2.js';
import { sdkSsmApi, type SsmApi } from '../../src/providers/aws/ssm-shell.js';
import { TAG } from '../../src/providers/aws/tags.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { ec2For, fakeCredentials, ssmFor, startMoto, TEST_REGION, type MotoServer } from './moto.js';

/** The zone of every volume and instance the tests make (moto's default VPC has a subnet there). */
export const TEST_ZONE = 'us-east-1a';

/** AWS_ENV is the environment of a snapdrill child process: the fake credentials through the standard chain, never the metadata service. */
export const AWS_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** awsProviderYaml is the provider line of a snapdrill config for the account at `endpoint`; `extra` adds fields (`, allowDefaultNetwork: true`). */
export function awsProviderYaml(endpoint: string, extra = ''): string {
  return `provider: {type: aws, region: ${TEST_REGION}, availabilityZone: ${TEST_ZONE}, endpoint: "${endpoint}"${extra}}\n`;
}

export interface EmulatorOptions {
  /** Seed of the fault proxy's probability rules (default 1): the same requests in the same order meet the same faults. */
  seed?: number;
}

/** What snapshot() makes: a volume (new unless named) and a snapshot of it. */
export interface SnapshotSpec {
  /** Snapshot this volume instead of a new one. */
  volumeId?: string;
  /** Size of the new volume, GiB (default 8). */
  sizeGiB?: number;
  /** More of the new volume's CreateVolume input (Encrypted, KmsKeyId, ...). */
  volume?: Partial<CreateVolumeCommandInput>;
  description?: string;
  /** Tags of the snapshot, set by CreateTags (none: no call). */
  tags?: Record<string, string>;
}

export interface Emulator {
  readonly moto: MotoServer;
  readonly proxy: FaultProxy;
  /** The fault proxy's endpoint: where the code under test sends its calls. */
  readonly endpoint: string;
  /** An EC2 client straight to moto, to set up and inspect the account: never faulted, never counted. */
  readonly direct: EC2Client;
  /** ec2 returns a new EC2 client through the proxy; `extra` overrides anything (maxAttempts, retryMode, ...). */
  ec2(extra?: Partial<EC2ClientConfig>): EC2Client;
  /** ssm returns a new SSM client through the proxy; `extra` overrides anything. */
  ssm(extra?: Partial<SSMClientConfig>): SSMClient;
  /** ec2Api is snapdrill's EC2 interface over ec2(extra). */
  ec2Api(extra?: Partial<EC2ClientConfig>): Ec2Api;
  /** ssmApi is snapdrill's SSM interface over ssm(extra). */
  ssmApi(extra?: Partial<SSMClientConfig>): SsmApi;
  /** snapshot makes a snapshot in moto (of a new volume unless one is named), with tags. */
  snapshot(spec?: SnapshotSpec): Promise<{ volumeId: string; snapshotId: string }>;
  /** snapshots makes n untagged snapshots, each of its own new volume of sizeGiB (default 8); returns their ids. */
  snapshots(n: number, sizeGiB?: number): Promise<string[]>;
  /** anyImageId is the first image moto lists. */
  anyImageId(): Promise<string>;
  /** network is a quarantine to name in configs: moto's default VPC, its subnet in TEST_ZONE and its default security group. */
  network(): Promise<{ subnetId: string; securityGroupId: string }>;
  /** taggedVolumes lists the volumes carrying snapdrill's run tag, straight from moto. */
  taggedVolumes(): Promise<Volume[]>;
  /** liveResources lists snapdrill-tagged volumes not deleted and instances not terminated, straight from moto. */
  liveResources(): Promise<string[]>;
  /** tempDir makes a directory that stop() removes. */
  tempDir(prefix: string): string;
  /**
   * configFile writes a snapdrill config: the provider line for the proxy (or `endpoint`; a config a child process
   * is run on with spawnSync must name moto, since the proxy lives in this process), then `yaml`.
   */
  configFile(yaml?: string, opts?: { providerExtra?: string; endpoint?: string }): string;
  /** reset clears moto's resources and the proxy's rules and calls (between tests). */
  reset(): Promise<void>;
  /** stop stops the proxy and moto and removes the temporary directories. Idempotent. */
  stop(): Promise<void>;
}

/** startEmulator starts moto and the fault proxy in front of it. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.endpoint, opts.seed === undefined ? {} : { seed: opts.seed });
  const direct = ec2For(moto.endpoint);
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const d = mkdtempSync(path.join(os.tmpdir(), `snapdrill-${prefix}-`));
    dirs.push(d);
    return d;
  };
  const byRunTag = [{ Name: 'tag-key', Values: [TAG.runId] }];
  const emulator: Emulator = {
    moto,
    proxy,
    endpoint: proxy.endpoint,
    direct,
    ec2: (extra = {}) => ec2For(proxy.endpoint, extra),
    ssm: (extra = {}) => ssmFor(proxy.endpoint, extra),
    ec2Api: (extra = {}) => sdkEc2Api(ec2For(proxy.endpoint, extra)),
    ssmApi: (extra = {}) => sdkSsmApi(ssmFor(proxy.endpoint, extra)),
    async snapshot(spec = {}) {
      const volumeId = spec.volumeId ?? (await direct.send(new CreateVolumeCommand({ AvailabilityZone: TEST_ZONE, Size: spec.sizeGiB ?? 8, ...spec.volume }))).VolumeId!;
      const snapshotId = (await direct.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: spec.description }))).SnapshotId!;
      const tags = Object.entries(spec.tags ?? {});
      if (tags.length) await direct.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: tags.map(([Key, Value]) => ({ Key, Value })) }));
      return { volumeId, snapshotId };
    },
    async snapshots(n, sizeGiB = 8) {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await emulator.snapshot({ sizeGiB })).snapshotId);
      return out;
    },
    async anyImageId() {
      return (await direct.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    },
    async network() {
      const subnetId = (await direct.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: [TEST_ZONE] }] }))).Subnets![0]!.SubnetId!;
      const securityGroupId = (await direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }] }))).SecurityGroups![0]!.GroupId!;
      return { subnetId, securityGroupId };
    },
    async taggedVolumes() {
      return (await direct.send(new DescribeVolumesCommand({ Filters: byRunTag }))).Volumes ?? [];
    },
    async liveResources() {
      const vols = await emulator.taggedVolumes();
      const inst = ((await direct.send(new DescribeInstancesCommand({ Filters: byRunTag }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
      return [
        ...vols.filter((v) => v.State !== 'deleted').map((v) => `${v.VolumeId} ${v.State}`),
        ...inst.filter((i) => !['shutting-down', 'terminated'].includes(i.State?.Name ?? '')).map((i) => `${i.InstanceId} ${i.State?.Name}`),
      ];
    },
    tempDir,
    configFile(yaml = '', { providerExtra = '', endpoint = proxy.endpoint } = {}) {
      const file = path.join(tempDir('aws-cfg'), 'snapdrill.yaml');
      writeFileSync(file, awsProviderYaml(endpoint, providerExtra) + yaml);
      return file;
    },
    async reset() {
      await moto.reset();
      proxy.reset();
    },
    async stop() {
      await proxy.stop();
      await moto.stop();
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
  return emulator;
}
