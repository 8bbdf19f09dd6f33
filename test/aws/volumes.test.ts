import { CreateVolumeCommand, DescribeSnapshotsCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { toSnapshotInfo } from '../../src/providers/aws/snapshots.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { InfraError, SnapshotNotFoundError } from '../../src/errors.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { collectAwsGarbage } from '../../src/providers/aws/gc.js';
import { TAG } from '../../src/providers/aws/tags.js';
import { restoreVolumes, type RestoreOptions } from '../../src/providers/aws/volumes.js';
import { ec2ErrorResponse, throttle } from './fault-proxy.js';
import { AWS_ENV, useEmulator } from './use-emulator.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

const opts = (extra: Partial<RestoreOptions> = {}): RestoreOptions => ({
  runId: 'run-test',
  availabilityZone: 'us-east-1a',
  volumeType: 'gp3',
  ttlMs: 3_600_000,
  wait: { timeoutMs: 20_000, pollMs: 50, reason: 'restored volume available' },
  ...extra,
});

describe('AWS restore and gc, against moto behind the fault proxy', () => {
  const emu = useEmulator({ seed: 42 });

  it('creates one volume per snapshot, tagged in the create call, and records each as soon as it exists', async () => {
    const snaps = await emu.snapshots(3);
    const recorded: string[] = [];
    const out = await restoreVolumes(emu.ec2Api(), snaps.map((snapshotId) => ({ snapshotId })), opts({ onCreated: (_s, v) => recorded.push(v) }));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(recorded.sort()).toEqual(out.map((o) => o.volumeId!).sort());
    const vols = await emu.taggedVolumes();
    expect(vols).toHaveLength(3);
    for (const v of vols) {
      const tags = Object.fromEntries((v.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags[TAG.runId]).toBe('run-test');
      expect(Date.parse(tags[TAG.expiresAt]!)).toBeGreaterThan(Date.now());
      expect(snaps).toContain(tags[TAG.sourceSnapshot]);
      expect(v.VolumeType).toBe('gp3');
    }
    // Tags travel in CreateVolume itself: no separate CreateTags call, so nothing exists untagged.
    expect(emu.proxy.calls.filter((c) => c.action === 'CreateTags')).toEqual([]);
  });

  it('waits with one DescribeVolumes per tick for all volumes in flight, however many there are', async () => {
    const snaps = await emu.snapshots(6);
    // The emulator makes volumes available at once: the proxy reports them "creating" for two polls.
    emu.proxy.addRule({ action: 'DescribeVolumes', times: 2, transform: (body: string) => body.replace(/<status>available<\/status>/g, '<status>creating</status>') });
    const t0 = performance.now();
    const out = await restoreVolumes(emu.ec2Api(), snaps.map((snapshotId) => ({ snapshotId })), opts({ wait: { timeoutMs: 20_000, pollMs: 200, reason: 'available' } }));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(emu.proxy.count('DescribeVolumes')).toBe(3);
    expect(emu.proxy.count('CreateVolume')).toBe(6);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
  });

  it('GIVEN volumes that never become available THEN each fails with a timeout naming it, and gc can still find them', async () => {
    const snaps = await emu.snapshots(2);
    emu.proxy.addRule({ action: 'DescribeVolumes', transform: (body: string) => body.replace(/<status>available<\/status>/g, '<status>creating</status>') });
    const out = await restoreVolumes(emu.ec2Api(), snaps.map((snapshotId) => ({ snapshotId })), opts({ wait: { timeoutMs: 300, pollMs: 50, reason: 'restored volume available' } }));
    expect(out.map((o) => o.ok)).toEqual([false, false]);
    for (const o of out) expect(!o.ok && o.error.message).toMatch(new RegExp(`volume ${o.volumeId} from ${o.snapshotId} not available after 0s \\(restored volume available\\)`));
    expect(await emu.taggedVolumes()).toHaveLength(2);
  });

  it('GIVEN 20% of CreateVolume and DescribeVolumes calls throttled THEN every restore still succeeds', async () => {
    const snaps = await emu.snapshots(8);
    emu.proxy.addRule(throttle(/^(CreateVolume|DescribeVolumes)$/, { probability: 0.2 }));
    const out = await restoreVolumes(emu.ec2Api({ retryMode: 'adaptive', maxAttempts: 10 }), snaps.map((snapshotId) => ({ snapshotId })), opts());
    expect(out.every((o) => o.ok)).toBe(true);
    expect(emu.proxy.calls.some((c) => c.outcome === 'injected')).toBe(true);
  });

  it('GIVEN a snapshot that does not exist THEN that one fails naming it, the others are restored', async () => {
    const [good] = await emu.snapshots(1);
    const out = await restoreVolumes(emu.ec2Api(), [{ snapshotId: good! }, { snapshotId: 'snap-0000000000badbad0' }], opts());
    expect(out[0]!.ok).toBe(true);
    expect(out[1]!.ok).toBe(false);
    expect(!out[1]!.ok && out[1]!.error).toBeInstanceOf(SnapshotNotFoundError);
  });

  it('restores with the configured KMS key, IOPS and throughput, and reads an encrypted snapshot as encrypted', async () => {
    const key = 'arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666';
    const { snapshotId: snap } = await emu.snapshot({ volume: { Encrypted: true, KmsKeyId: key } });
    const [described] = (await emu.direct.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots!;
    const info = toSnapshotInfo(described!, 'us-east-1');
    // moto keeps Encrypted but not the key id on the snapshot; EC2 gives both.
    expect(described!.Encrypted).toBe(true);
    expect(info.kmsKeyId).toBe(described!.KmsKeyId ?? 'default');
    expect(toSnapshotInfo({ ...described!, KmsKeyId: key }, 'us-east-1').kmsKeyId).toBe(key);
    const out = await restoreVolumes(emu.ec2Api(), [{ snapshotId: snap, encryptedWith: info.kmsKeyId }], opts({ kmsKeyId: key, iops: 4000, throughput: 250 }));
    expect(out[0]!.ok).toBe(true);
    const create = emu.proxy.calls.find((c) => c.action === 'CreateVolume')!;
    expect(create.params?.get('KmsKeyId')).toBe(key);
    expect(create.params?.get('Encrypted')).toBe('true');
    expect(create.params?.get('Iops')).toBe('4000');
    expect(create.params?.get('Throughput')).toBe('250');
    const [v] = await emu.taggedVolumes();
    expect(v).toMatchObject({ Encrypted: true, KmsKeyId: key });
  });

  it('GIVEN EBS deletes the new volume of an encrypted snapshot (the key cannot be used) THEN the failure names the key and the grants to add', async () => {
    const key = 'arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666';
    const { snapshotId: snap } = await emu.snapshot({ volume: { Encrypted: true, KmsKeyId: key } });
    // What EC2 does when the caller may not use the key: CreateVolume succeeds, the volume is gone a moment later.
    emu.proxy.addRule({
      action: 'DescribeVolumes',
      when: (req) => req.params.has('VolumeId.1'),
      respond: (req) => ec2ErrorResponse('InvalidVolume.NotFound', `The volume '${req.params.get('VolumeId.1')}' does not exist.`),
    });
    const [out] = await restoreVolumes(emu.ec2Api(), [{ snapshotId: snap, encryptedWith: key }], opts());
    expect(out!.ok).toBe(false);
    const err = !out!.ok ? (out!.error as InfraError) : undefined;
    expect(err).toBeInstanceOf(InfraError);
    expect(err!.code).toBe('aws-kms');
    expect(err!.message).toBe(`volume ${out!.volumeId} from ${snap} disappeared while it was being created: EBS could not use KMS key ${key} (the snapshot is encrypted)`);
    expect(err!.remedy).toMatch(/kms:CreateGrant .*kms:Decrypt, kms:DescribeKey, kms:GenerateDataKeyWithoutPlaintext/);
  });

  it('GIVEN CreateVolume is refused because of the key THEN the error is a named KMS error, not a stack trace', async () => {
    const [snap] = await emu.snapshots(1);
    emu.proxy.addRule({ action: 'CreateVolume', respond: ec2ErrorResponse('InvalidKMSKey.InvalidState', 'The KMS key provided is in an incorrect state') });
    const [out] = await restoreVolumes(emu.ec2Api(), [{ snapshotId: snap! }], opts({ kmsKeyId: 'alias/backup-restore' }));
    expect(!out!.ok && out!.error).toMatchObject({ code: 'aws-kms', message: 'the KMS key of an encrypted snapshot cannot be used: The KMS key provided is in an incorrect state' });
  });

  it('snapdrill gc -c aws.yaml lists expired volumes on a terminal-less dry run, then removes them with --yes', async () => {
    const snaps = await emu.snapshots(2);
    await restoreVolumes(sdkEc2Api(emu.direct), snaps.map((snapshotId) => ({ snapshotId })), opts({ ttlMs: -1000 }));
    // gc runs with spawnSync: its config names moto itself, not the proxy in this process.
    const cfg = emu.configFile('', { endpoint: emu.moto.endpoint });
    const stateDir = tempDir('gc-state');
    const gc = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'gc', '-c', cfg, '--json', '--state-dir', stateDir, ...args], { cwd: ROOT, encoding: 'utf8', env: AWS_ENV });
    const dry = gc('--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).resources.map((r: { action: string }) => r.action)).toEqual(['would-remove', 'would-remove']);
    expect(await emu.taggedVolumes()).toHaveLength(2);
    const real = gc('--yes');
    expect(JSON.parse(real.stdout).resources.map((r: { action: string }) => r.action)).toEqual(['removed', 'removed']);
    expect(await emu.taggedVolumes()).toHaveLength(0);
  });

  it('GIVEN a run killed after creating volumes WHEN gc runs after their expiry THEN it deletes them, and only them', async () => {
    const snaps = await emu.snapshots(3);
    const other = (await emu.direct.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
    await restoreVolumes(emu.ec2Api(), snaps.map((snapshotId) => ({ snapshotId })), opts({ ttlMs: 60_000 }));
    // ...and the process is killed here: nothing deletes the volumes.
    const api = emu.ec2Api();
    const early = await collectAwsGarbage(api, { dryRun: false });
    expect(early.map((l) => l.action)).toEqual(['kept-not-expired', 'kept-not-expired', 'kept-not-expired']);
    const later = new Date(Date.now() + 120_000);
    const dry = await collectAwsGarbage(api, { dryRun: true, now: later });
    expect(dry.map((l) => l.action)).toEqual(['would-remove', 'would-remove', 'would-remove']);
    expect(await emu.taggedVolumes()).toHaveLength(3);
    const done = await collectAwsGarbage(api, { dryRun: false, now: later });
    expect(done.map((l) => l.action)).toEqual(['removed', 'removed', 'removed']);
    expect(await emu.taggedVolumes()).toHaveLength(0);
    const left = await emu.direct.send(new DescribeVolumesCommand({ VolumeIds: [other] }));
    expect(left.Volumes).toHaveLength(1);
  });
});
