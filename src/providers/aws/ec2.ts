import {
  AttachVolumeCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DetachVolumeCommand,
  DeleteVolumeCommand,
  EC2Client,
  GetConsoleOutputCommand,
  GetConsoleScreenshotCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstanceStatus,
  paginateDescribeInstances,
  type Image,
  type Instance,
  type InstanceStatus,
  paginateDescribeSnapshots,
  paginateDescribeVolumes,
  type Filter,
  type Snapshot,
  type Tag,
  type Volume,
  type VolumeType,
} from '@aws-sdk/client-ec2';
import type { Credentials } from './central/credentials.js';
import type { AwsProviderConfig } from '../../config/types.js';
import { InfraError, SnapshotNotFoundError } from '../../errors.js';

/** Ec2Api lists only the EC2 calls snapdrill makes; iam/snapdrill-policy.json must grant each (a test checks). */
export interface Ec2Api {
  /** describeSnapshots pages through DescribeSnapshots and returns one flat array. */
  describeSnapshots(input: { snapshotIds?: string[]; filters?: Filter[] }): Promise<Snapshot[]>;
  /** createVolume restores a snapshot into a new volume, tagged in the create call itself. */
  createVolume(input: { snapshotId: string; availabilityZone: string; volumeType: VolumeType; iops?: number; throughput?: number; kmsKeyId?: string; tags: Tag[] }): Promise<string>;
  /** describeVolumes pages through DescribeVolumes (by ids or filters) and returns one flat array. */
  describeVolumes(input: { volumeIds?: string[]; filters?: Filter[] }): Promise<Volume[]>;
  deleteVolume(volumeId: string): Promise<void>;
  /** runInstance launches one helper, tagged (instance and its root volume) in the launch call itself. */
  runInstance(input: RunHelperInput): Promise<string>;
  /** describeInstanceStatus answers for every id, running or not (IncludeAllInstances), in one flat array. */
  describeInstanceStatus(instanceIds: string[]): Promise<InstanceStatus[]>;
  describeInstances(input: { instanceIds?: string[]; filters?: Filter[] }): Promise<Instance[]>;
  terminateInstances(instanceIds: string[]): Promise<void>;
  attachVolume(volumeId: string, instanceId: string, device: string): Promise<void>;
  /** getConsoleOutput returns the instance's serial console output (decoded), the latest when the hypervisor supports it; empty when there is none yet. */
  getConsoleOutput(instanceId: string): Promise<string>;
  /** describeImage reads one AMI; undefined when it no longer exists. */
  describeImage(imageId: string): Promise<Image | undefined>;
  /** deregisterImage removes an AMI snapdrill registered for a boot test (its snapshots are the user's and stay). */
  deregisterImage(imageId: string): Promise<void>;
  /** createTags retags resources snapdrill created (keep-on-failure moves their expiry). */
  createTags(resourceIds: string[], tags: Tag[]): Promise<void>;
  /** detachVolume detaches a volume; `force` when the run is being settled (a filesystem a killed check left mounted keeps a plain detach busy). */
  detachVolume(volumeId: string, instanceId: string, force?: boolean): Promise<void>;
  /**
   * registerImage registers an AMI from snapshots for a boot test (HVM; every volume DeleteOnTermination, so
   * terminating the instance removes them), tagged in the create call itself; returns the image id.
   */
  registerImage(input: RegisterBootImageInput): Promise<string>;
  /** getConsoleScreenshot returns a JPEG of the instance's screen, base64 (WakeUp: true); empty when there is none. */
  getConsoleScreenshot(instanceId: string): Promise<string>;
}

/** RegisterBootImageInput is the AMI a boot test registers from a root snapshot (and data snapshots). */
export interface RegisterBootImageInput {
  name: string;
  description?: string;
  rootDeviceName: string;
  /** Device name → snapshot, the root device among them; each becomes an EBS mapping with DeleteOnTermination true. */
  blockDevices: { deviceName: string; snapshotId: string }[];
  /** Default gp3. */
  volumeType?: VolumeType;
  architecture: 'x86_64' | 'arm64';
  /** Unset: the instance type's default. */
  bootMode?: 'legacy-bios' | 'uefi' | 'uefi-preferred';
  enaSupport: boolean;
  tags: Tag[];
}

/** RunHelperInput is what a helper instance is launched with. */
export interface RunHelperInput {
  imageId: string;
  instanceType: string;
  availabilityZone: string;
  subnetId?: string;
  securityGroupIds?: string[];
  instanceProfileName?: string;
  /** EC2 key pair for SSH (helper.shell: ssh). */
  keyName?: string;
  userData?: string;
  tags: Tag[];
}

/** createEc2Client builds the SDK client: adaptive retry, because nightly runs of hundreds of snapshots meet RequestLimitExceeded. */
export function createEc2Client(cfg: AwsProviderConfig, credentials?: Credentials): EC2Client {
  return new EC2Client({
    ...(cfg.profile ? { profile: cfg.profile } : {}),
    ...(credentials ? { credentials } : {}),
    region: cfg.region,
    retryMode: 'adaptive',
    maxAttempts: 10,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
  });
}

/** awsError turns SDK failures into typed harness errors with a remedy; snapshot ids that do not exist become SnapshotNotFoundError. */
export function awsError(e: unknown, where: string): Error {
  const err = e as { name?: string; message?: string };
  const name = err.name ?? '';
  const message = err.message ?? String(e);
  if (name === 'InvalidSnapshot.NotFound' || name === 'InvalidSnapshotID.Malformed') {
    const ids = [...message.matchAll(/snap-[0-9a-zA-Z]+/g)].map((m) => m[0]);
    return new SnapshotNotFoundError(ids.length ? ids : [message], where);
  }
  if (/KMS|kms/.test(name) || /KMS key|kms:/.test(message)) {
    return new InfraError('aws-kms', `the KMS key of an encrypted snapshot cannot be used: ${message}`, {
      remedy: 'grant the role kms:CreateGrant, kms:Decrypt, kms:DescribeKey and kms:GenerateDataKeyWithoutPlaintext on the key (and ReEncrypt* when restoring with another key)',
      cause: e,
    });
  }
  if (name === 'UnauthorizedOperation' || name === 'AccessDenied' || name === 'AccessDeniedException') {
    return new InfraError('aws-permission', `not allowed: ${message}`, { remedy: 'attach iam/snapdrill-policy.json (least privilege for what snapdrill calls) to the role snapdrill runs as', cause: e });
  }
  if (name === 'CredentialsProviderError' || name === 'ExpiredToken' || name === 'ExpiredTokenException' || name === 'AuthFailure') {
    return new InfraError('aws-credentials', `no valid AWS credentials: ${message}`, { remedy: 'configure credentials the standard way (AWS_PROFILE, aws sso login, environment, or an instance role)', cause: e });
  }
  return new InfraError('aws-error', `${name || 'AWS error'}: ${message}`, { transient: name === 'RequestLimitExceeded' || name === 'ThrottlingException', cause: e });
}

/** sdkEc2Api implements Ec2Api with the real SDK client. */
export function sdkEc2Api(client: EC2Client): Ec2Api {
  return {
    async describeSnapshots({ snapshotIds, filters }) {
      const out: Snapshot[] = [];
      const input = { OwnerIds: snapshotIds?.length ? undefined : ['self'], ...(snapshotIds?.length ? { SnapshotIds: snapshotIds } : {}), ...(filters?.length ? { Filters: filters } : {}) };
      for await (const page of paginateDescribeSnapshots({ client, pageSize: snapshotIds?.length ? undefined : 500 }, input)) out.push(...(page.Snapshots ?? []));
      return out;
    },
    async createVolume({ snapshotId, availabilityZone, volumeType, iops, throughput, kmsKeyId, tags }) {
      const r = await client.send(
        new CreateVolumeCommand({
          SnapshotId: snapshotId,
          AvailabilityZone: availabilityZone,
          VolumeType: volumeType,
          ...(iops ? { Iops: iops } : {}),
          ...(throughput ? { Throughput: throughput } : {}),
          ...(kmsKeyId ? { KmsKeyId: kmsKeyId, Encrypted: true } : {}),
          TagSpecifications: [{ ResourceType: 'volume', Tags: tags }],
        }),
      );
      return r.VolumeId!;
    },
    async describeVolumes({ volumeIds, filters }) {
      const out: Volume[] = [];
      const input = { ...(volumeIds?.length ? { VolumeIds: volumeIds } : {}), ...(filters?.length ? { Filters: filters } : {}) };
      for await (const page of paginateDescribeVolumes({ client, pageSize: volumeIds?.length ? undefined : 500 }, input)) out.push(...(page.Volumes ?? []));
      return out;
    },
    async deleteVolume(volumeId) {
      await client.send(new DeleteVolumeCommand({ VolumeId: volumeId }));
    },
    async runInstance(i) {
      const r = await client.send(
        new RunInstancesCommand({
          ImageId: i.imageId,
          InstanceType: i.instanceType as never,
          MinCount: 1,
          MaxCount: 1,
          ...(i.subnetId ? { SubnetId: i.subnetId } : { Placement: { AvailabilityZone: i.availabilityZone } }),
          ...(i.securityGroupIds?.length ? { SecurityGroupIds: i.securityGroupIds } : {}),
          ...(i.instanceProfileName ? { IamInstanceProfile: { Name: i.instanceProfileName } } : {}),
          ...(i.keyName ? { KeyName: i.keyName } : {}),
          ...(i.userData ? { UserData: Buffer.from(i.userData).toString('base64') } : {}),
          // IMDSv2 only: a restored disk's software must not read the helper's credentials with a plain GET.
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
          InstanceInitiatedShutdownBehavior: 'terminate',
          TagSpecifications: [
            { ResourceType: 'instance', Tags: i.tags },
            { ResourceType: 'volume', Tags: i.tags },
          ],
        }),
      );
      return r.Instances![0]!.InstanceId!;
    },
    async describeInstanceStatus(instanceIds) {
      const out: InstanceStatus[] = [];
      for await (const page of paginateDescribeInstanceStatus({ client }, { InstanceIds: instanceIds, IncludeAllInstances: true })) out.push(...(page.InstanceStatuses ?? []));
      return out;
    },
    async describeInstances({ instanceIds, filters }) {
      const out: Instance[] = [];
      const input = { ...(instanceIds?.length ? { InstanceIds: instanceIds } : {}), ...(filters?.length ? { Filters: filters } : {}) };
      for await (const page of paginateDescribeInstances({ client }, input)) for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      return out;
    },
    async getConsoleOutput(instanceId) {
      const r = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
      return r.Output ? Buffer.from(r.Output, 'base64').toString('utf8') : '';
    },
    async describeImage(imageId) {
      try {
        return (await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
      } catch (e) {
        if (/^InvalidAMIID\./.test((e as { name?: string }).name ?? '')) return undefined;
        throw e;
      }
    },
    async deregisterImage(imageId) {
      await client.send(new DeregisterImageCommand({ ImageId: imageId }));
    },
    async createTags(resourceIds, tags) {
      await client.send(new CreateTagsCommand({ Resources: resourceIds, Tags: tags }));
    },
    async attachVolume(volumeId, instanceId, device) {
      await client.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: device }));
    },
    async detachVolume(volumeId, instanceId, force) {
      await client.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, ...(force ? { Force: true } : {}) }));
    },
    async terminateInstances(instanceIds) {
      if (instanceIds.length) await client.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
    },
    async registerImage(i) {
      const r = await client.send(
        new RegisterImageCommand({
          Name: i.name,
          ...(i.description ? { Description: i.description } : {}),
          VirtualizationType: 'hvm',
          Architecture: i.architecture,
          RootDeviceName: i.rootDeviceName,
          ...(i.bootMode ? { BootMode: i.bootMode } : {}),
          EnaSupport: i.enaSupport,
          BlockDeviceMappings: i.blockDevices.map((d) => ({
            DeviceName: d.deviceName,
            Ebs: { SnapshotId: d.snapshotId, DeleteOnTermination: true, VolumeType: i.volumeType ?? 'gp3' },
          })),
          TagSpecifications: [{ ResourceType: 'image', Tags: i.tags }],
        }),
      );
      return r.ImageId!;
    },
    async getConsoleScreenshot(instanceId) {
      const r = await client.send(new GetConsoleScreenshotCommand({ InstanceId: instanceId, WakeUp: true }));
      return r.ImageData ?? '';
    },
  };
}
