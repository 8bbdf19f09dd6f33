import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateSnapshotCommand, CreateTagsCommand, CreateVolumeCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SnapshotNotFoundError, isSnapdrillError } from '../../src/errors.js';
import { makePlan } from '../../src/plan.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { createEc2Client, sdkEc2Api } from '../../src/providers/aws/ec2.js';
import type { AwsProviderConfig, Config } from '../../src/config/types.js';
import { listAwsSnapshots, originOf } from '../../src/providers/aws/snapshots.js';
import { selectSnapshots } from '../../src/select.js';
import { tempDir } from '../helpers.js';
import { startFaultProxy, throttle } from './fault-proxy.js';
import { ec2For, fakeCredentials, startMoto, type MotoServer } from './moto.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let moto: MotoServer;
let ec2: EC2Client;

/** snapshotOf creates a volume and snapshots it in moto, with tags, returning the snapshot id. */
async function snapshotOf(volumeId: string | undefined, sizeGiB: number, tags: Record<string, string>, description = ''): Promise<{ volumeId: string; snapshotId: string }> {
  const vol = volumeId ?? (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: sizeGiB }))).VolumeId!;
  const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol, Description: description }));
  if (Object.keys(tags).length) await ec2.send(new CreateTagsCommand({ Resources: [snap.SnapshotId!], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
  return { volumeId: vol, snapshotId: snap.SnapshotId! };
}

const awsConfig = (extra = '', providerExtra = '') => {
  const file = path.join(tempDir('aws-cfg'), 'snapdrill.yaml');
  writeFileSync(file, `provider: {type: aws, region: us-east-1, availabilityZone: us-east-1a, endpoint: "${moto.endpoint}"${providerExtra}}\n${extra}`);
  return file;
};

describe('AWS snapshot selection and plan, against moto', () => {
  beforeAll(async () => {
    moto = await startMoto();
    ec2 = ec2For(moto.endpoint);
  }, 60_000);
  afterAll(async () => moto?.stop());
  beforeEach(async () => moto.reset());

  it('GIVEN tagged snapshots of two volumes WHEN selecting by tag, latest per volume THEN the newest of each volume', async () => {
    const a1 = await snapshotOf(undefined, 8, { env: 'prod' });
    // moto stamps StartTime to the second: let the second snapshot be visibly newer.
    await new Promise((r) => setTimeout(r, 1100));
    const a2 = await snapshotOf(a1.volumeId, 8, { env: 'prod' });
    await snapshotOf(a1.volumeId, 8, { env: 'dev' });
    const b1 = await snapshotOf(undefined, 20, { env: 'prod', AppConsistent: 'true' });
    const selectors = [{ tags: { env: 'prod' }, latestPerVolume: 1 }];
    const listed = await listAwsSnapshots(sdkEc2Api(ec2), 'us-east-1', selectors);
    const chosen = selectSnapshots(listed, selectors, 'region us-east-1');
    expect(chosen.map((s) => s.id).sort()).toEqual([a2.snapshotId, b1.snapshotId].sort());
    const b = chosen.find((s) => s.id === b1.snapshotId)!;
    expect(b).toMatchObject({ source: `aws:us-east-1:${b1.snapshotId}`, volumeId: b1.volumeId, sizeBytes: 20 * 2 ** 30, tags: { env: 'prod', AppConsistent: 'true' } });
  });

  it('GIVEN an id that does not exist THEN the error names it (exit 2), before anything is created', async () => {
    const a = await snapshotOf(undefined, 8, {});
    const err = await listAwsSnapshots(sdkEc2Api(ec2), 'us-east-1', [{ ids: [a.snapshotId, 'snap-0123456789abcdef0'] }]).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotNotFoundError);
    expect((err as SnapshotNotFoundError).snapshotIds).toContain('snap-0123456789abcdef0');
    expect(isSnapdrillError(err) && err.exitCode).toBe(2);
  });

  it('recognises AWS Backup and DLM snapshots, and groups the volumes of one instance taken together into a set', async () => {
    const arn = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0abc1234def567890';
    const root = await snapshotOf(undefined, 8, { 'aws:backup:source-resource': arn });
    const data = await snapshotOf(undefined, 50, { 'aws:backup:source-resource': arn });
    const dlm = await snapshotOf(undefined, 8, { 'aws:dlm:lifecycle-policy-id': 'policy-0123', 'aws:dlm:pre-script': 'FAILED' });
    const listed = await listAwsSnapshots(sdkEc2Api(ec2), 'us-east-1', []);
    const by = (id: string) => listed.find((s) => s.id === id)!;
    expect(originOf(by(root.snapshotId).tags)).toBe('aws-backup');
    expect(originOf(by(dlm.snapshotId).tags)).toBe('dlm');
    expect(by(root.snapshotId).set).toMatch(/^i-0abc1234def567890@/);
    expect(by(data.snapshotId).set?.startsWith('i-0abc1234def567890@')).toBe(true);
    expect(by(dlm.snapshotId).set).toBeUndefined();
  });

  it('plans volumes, helpers and an estimated cost without creating anything', async () => {
    const planOf = (config: Config) => makePlan(config, new AwsProvider(config.provider as AwsProviderConfig, 'plan', config.snapshots, { ec2: sdkEc2Api(ec2) }));
    await snapshotOf(undefined, 100, { env: 'prod' });
    await snapshotOf(undefined, 300, { env: 'prod' });
    const plan = await planOf(loadConfig(awsConfig('snapshots: [{tags: {env: prod}}]\n')));
    expect(plan.snapshots).toHaveLength(2);
    expect(plan.creates).toEqual([
      expect.objectContaining({ kind: 'volume', count: 2, bytes: 400 * 2 ** 30 }),
      expect.objectContaining({ kind: 'helper-instance', count: 1 }),
    ]);
    // 400 GiB gp3 for 1 h at $0.08/GB-month, plus one m6i.large hour at $0.096.
    expect(plan.estimate.usd).toBe(Math.round(((400 * 0.08) / 730 + 0.096) * 100) / 100);
    const { Volumes } = await ec2.send(new (await import('@aws-sdk/client-ec2')).DescribeVolumesCommand({}));
    expect(Volumes).toHaveLength(2); // only the two source volumes: plan created nothing
    // With boot tests: images and instances at most one per snapshot, priced for the whole boot timeout.
    const boot = await planOf(loadConfig(awsConfig('snapshots: [{tags: {env: prod}}]\nboot: {enabled: true, timeout: 10m, instanceType: t3.medium}\n')));
    expect(boot.creates.map((c) => [c.kind, c.count])).toEqual([['volume', 2], ['helper-instance', 1], ['boot-image', 2], ['boot-instance', 2]]);
    const bootHours = 10 / 60;
    expect(boot.estimate.usd).toBe(Math.round(((400 * 0.08) / 730 + 0.096 + 2 * 0.0416 * bootHours + (400 * 0.08 * bootHours) / 730) * 100) / 100);
  });

  it('snapdrill plan --json works end to end with the standard credential chain', async () => {
    const s = await snapshotOf(undefined, 8, { team: 'db' });
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'plan', '-c', awsConfig('snapshots: [{tags: {team: "*"}}]\n'), '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).snapshots.map((x: { id: string }) => x.id)).toEqual([s.snapshotId]);
  });

  it('GIVEN EC2 throttles half of the DescribeSnapshots calls THEN selection still succeeds through adaptive retry', async () => {
    const s = await snapshotOf(undefined, 8, { tier: 'gold' });
    const proxy = await startFaultProxy(moto.endpoint, { seed: 7 });
    try {
      proxy.addRule(throttle('DescribeSnapshots', { probability: 0.5, times: 6 }));
      process.env.AWS_ACCESS_KEY_ID = fakeCredentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = fakeCredentials.secretAccessKey;
      const cfg = loadConfig(awsConfig()).provider;
      const api = sdkEc2Api(createEc2Client({ ...(cfg as AwsProviderConfig), endpoint: proxy.endpoint }));
      for (let i = 0; i < 4; i++) {
        const got = await listAwsSnapshots(api, 'us-east-1', [{ tags: { tier: 'gold' } }]);
        expect(got.map((x) => x.id)).toEqual([s.snapshotId]);
      }
      expect(proxy.calls.filter((c) => c.outcome === 'injected').length, JSON.stringify(proxy.calls)).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });

  it('resolves the helper image from the public Amazon Linux 2023 parameter when none is configured', async () => {
    const { AwsProvider, AL2023_PARAMETER } = await import('../../src/providers/aws/aws.js');
    const { sdkSsmApi } = await import('../../src/providers/aws/ssm-shell.js');
    const { ssmFor } = await import('./moto.js');
    const cfg = loadConfig(awsConfig('', ', allowDefaultNetwork: true')).provider as AwsProviderConfig;
    const p = new AwsProvider(cfg, 'run-x', [], { ec2: sdkEc2Api(ec2), ssm: sdkSsmApi(ssmFor(moto.endpoint)) });
    await p.preflight();
    const ami = await sdkSsmApi(ssmFor(moto.endpoint)).getParameter(AL2023_PARAMETER);
    expect(ami).toMatch(/^ami-/);
    expect((p as unknown as { imageId: string }).imageId).toBe(ami);
  });
});
