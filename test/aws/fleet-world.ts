/**
 * A fleet in the emulator: several accounts (moto keeps each assumed role's account apart) in several regions, each
 * with its own snapshots and a default subnet and security group tagged snapdrill:quarantine=true (what
 * iam/member-account.yaml's quarantine VPC tags), plus the central bucket a workflow writes to. The fault proxy plays
 * every helper as world.ts does: each SSM command runs here with bash, on a loop device holding a copy of the fixture
 * the attached volume's snapshot stands for (found through CreateVolume's SnapshotId, whatever the account).
 *
 * Nothing here imports vitest: the bench can run it too.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateSnapshotCommand, CreateTagsCommand, CreateVolumeCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { TAG } from '../../src/providers/aws/tags.js';
import { AWS_ENV, startEmulator, type Emulator } from './emulator.js';
import { ssmJson } from './fault-proxy.js';
import { fakeCredentials } from './moto.js';

/** FleetWorldOptions shape the fleet: its accounts and regions, and the fixtures each account-region holds snapshots of. */
export interface FleetWorldOptions {
  accounts: string[];
  regions: string[];
  /** The fixture images of one account-region's snapshots (one snapshot each, tagged drill=nightly). */
  fixtures: (account: string, region: string) => string[];
  fixturePath: (name: string) => string;
  /** Leave these account-regions without the quarantine tags (their items refuse to launch helpers). */
  untagged?: { account: string; region: string }[];
}

/** FleetSnapshot is a snapshot the world made, with where it lives and the fixture it stands for. */
export interface FleetSnapshot {
  id: string;
  account: string;
  region: string;
  fixture: string;
}

/** FleetWorld is the emulator with a fleet in it. */
export interface FleetWorld extends Emulator {
  snapshots: FleetSnapshot[];
  /** The central bucket (the workflow's): s3://BUCKET/. */
  bucket: string;
  /** ROLE is the role name in every member account (moto does not check that it exists). */
  roleName: string;
  /** ec2Of is an EC2 client straight to moto in one account and region: never faulted, never counted. */
  ec2Of(account: string, region: string): Promise<EC2Client>;
  /** fleetConfig writes a fleet config (accounts listed, regions, findNetwork); extra YAML is appended. */
  fleetConfig(extra?: string): string;
  /** liveResourcesOf lists snapdrill-tagged volumes not deleted and instances not terminated in every account-region. */
  liveResourcesOf(): Promise<string[]>;
  /** env is the environment of a snapdrill child process against this world (fake central credentials, S3 at the proxy). */
  env: NodeJS.ProcessEnv;
}

/** ROLE_NAME is the member role every account's items assume. */
const ROLE_NAME = 'snapdrill';

/** startFleetWorld starts moto and the proxy, and fills the accounts and regions. */
export async function startFleetWorld(opts: FleetWorldOptions): Promise<FleetWorld> {
  const emulator = await startEmulator();
  const { proxy, moto, tempDir } = emulator;
  const sts = new STSClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: fakeCredentials });
  const creds = new Map<string, { accessKeyId: string; secretAccessKey: string; sessionToken: string }>();
  const ec2Of = async (account: string, region: string): Promise<EC2Client> => {
    if (!creds.has(account)) {
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${ROLE_NAME}`, RoleSessionName: 'fleet-world' }))).Credentials!;
      creds.set(account, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    }
    return new EC2Client({ region, endpoint: moto.endpoint, credentials: creds.get(account)! });
  };
  const snapshots: FleetSnapshot[] = [];
  for (const account of opts.accounts) {
    for (const region of opts.regions) {
      const ec2 = await ec2Of(account, region);
      for (const fixture of opts.fixtures(account, region)) {
        const volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${region}a`, Size: 1 }))).VolumeId!;
        const id = (await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }))).SnapshotId!;
        await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'drill', Value: 'nightly' }] }));
        snapshots.push({ id, account, region, fixture });
      }
      if (opts.untagged?.some((u) => u.account === account && u.region === region)) continue;
      const subnet = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: [`${region}a`] }] }))).Subnets![0]!;
      const sg = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }, { Name: 'vpc-id', Values: [subnet.VpcId!] }] }))).SecurityGroups![0]!;
      await ec2.send(new CreateTagsCommand({ Resources: [subnet.SubnetId!, sg.GroupId!], Tags: [{ Key: 'snapdrill:quarantine', Value: 'true' }] }));
    }
  }
  const bucket = 'snapdrill-fleet';
  await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true, credentials: fakeCredentials }).send(new CreateBucketCommand({ Bucket: bucket }));
  playHelpers(emulator, snapshots, opts.fixturePath);
  const world: FleetWorld = {
    ...emulator,
    snapshots,
    bucket,
    roleName: ROLE_NAME,
    ec2Of,
    env: { ...AWS_ENV, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: proxy.endpoint },
    fleetConfig(extra = '') {
      const file = path.join(tempDir('fleet-cfg'), 'fleet.yaml');
      writeFileSync(
        file,
        [
          `provider: {type: aws, region: us-east-1, endpoint: "${proxy.endpoint}", helper: {findNetwork: true}}`,
          `accounts: [${opts.accounts.map((id) => `{id: "${id}", roleArn: "arn:aws:iam::${id}:role/${ROLE_NAME}"}`).join(', ')}]`,
          `regions: [${opts.regions.join(', ')}]`,
          'snapshots: [{tags: {drill: nightly}}]',
          `output: {dir: ${tempDir('fleet-out')}}`,
          'databases: {enabled: false}',
          extra,
        ].join('\n'),
      );
      return file;
    },
    async liveResourcesOf() {
      const out: string[] = [];
      for (const account of opts.accounts) {
        for (const region of opts.regions) {
          const ec2 = await ec2Of(account, region);
          const byRun = [{ Name: 'tag-key', Values: [TAG.runId] }];
          const vols = (await ec2.send(new DescribeVolumesCommand({ Filters: byRun }))).Volumes ?? [];
          const inst = ((await ec2.send(new DescribeInstancesCommand({ Filters: byRun }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
          out.push(...vols.filter((v) => v.State !== 'deleted').map((v) => `${account}/${region} ${v.VolumeId} ${v.State}`));
          out.push(...inst.filter((i) => !['shutting-down', 'terminated'].includes(i.State?.Name ?? '')).map((i) => `${account}/${region} ${i.InstanceId} ${i.State?.Name}`));
        }
      }
      return out;
    },
    async stop() {
      cleanup();
      await emulator.stop();
    },
  };
  return world;
}

let cleanup = () => {};

/** playHelpers scripts the proxy to play every helper of every account (SSM commands run here, on loop devices). */
function playHelpers(emulator: Emulator, snapshots: FleetSnapshot[], fixturePath: (name: string) => string): void {
  const { proxy, tempDir } = emulator;
  const fixtureOf = new Map(snapshots.map((s) => [s.id, s.fixture]));
  const volumeSource = new Map<string, string>();
  const loops: string[] = [];
  const results = new Map<string, { out: string; code: number }>();
  let n = 0;
  cleanup = () => {
    for (const d of loops.splice(0)) execFileSync('bash', ['-c', `partx -d ${d} 2>/dev/null; losetup -d ${d} 2>/dev/null || true`]);
  };
  const runHere = (command: string): { out: string; code: number } => {
    const script = Buffer.from(/echo '([^']+)'/.exec(command)![1]!, 'base64').toString('utf8');
    const find = /find_volume_device '(vol-[0-9a-f]+)'/.exec(script);
    if (find) {
      const fixture = fixtureOf.get(volumeSource.get(find[1]!) ?? '');
      if (!fixture) return { out: '', code: 1 };
      const copy = path.join(tempDir('fleet-helper'), 'disk.img');
      execFileSync('cp', ['--reflink=auto', '--sparse=always', fixturePath(fixture), copy]);
      const dev = execFileSync('losetup', ['--find', '--show', copy], { encoding: 'utf8' }).trim();
      loops.push(dev);
      execFileSync('bash', ['-c', `partx -a ${dev} 2>/dev/null || true`]);
      return { out: `${dev}\n`, code: 0 };
    }
    try {
      return { out: execFileSync('bash', ['-c', command], { encoding: 'utf8', timeout: 120_000 }), code: 0 };
    } catch (e) {
      const err = e as { status: number; stdout: string };
      return { out: err.stdout ?? '', code: err.status ?? 1 };
    }
  };
  proxy.addRule({
    action: 'CreateVolume',
    transform: (body, req) => {
      const id = /<volumeId>(vol-[0-9a-f]+)<\/volumeId>/.exec(body)?.[1];
      if (id) volumeSource.set(id, req.params.get('SnapshotId')!);
      return body;
    },
  });
  proxy.addRule(
    ssmJson('SendCommand', (req) => {
      const id = `cmd-${++n}`;
      const body = req.json as { Parameters: { commands: string[] } };
      results.set(id, runHere(body.Parameters.commands[0]!));
      return { Command: { CommandId: id } };
    }),
  );
  proxy.addRule(
    ssmJson('GetCommandInvocation', (req) => {
      const r = results.get((req.json as { CommandId: string }).CommandId)!;
      return { Status: r.code === 0 ? 'Success' : 'Failed', ResponseCode: r.code, StandardOutputContent: r.out, StandardErrorContent: '' };
    }),
  );
  proxy.addRule(
    ssmJson('DescribeInstanceInformation', (req) => ({
      InstanceInformationList: (req.json as { Filters: { Values: string[] }[] }).Filters[0]!.Values.map((InstanceId) => ({ InstanceId, PingStatus: 'Online' })),
    })),
  );
}
