import { DescribeInstancesCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { collectAwsGarbage } from '../../src/providers/aws/gc.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { TAG } from '../../src/providers/aws/tags.js';
import type { RunOutcome } from '../../src/run/run.js';
import { fixture } from '../helpers.js';
import { ec2Error } from './fault-proxy.js';
import { startAwsWorld, type AwsWorld } from './world.js';

/**
 * The whole AWS pipeline against moto: snapshots selected by tag, volumes restored, a helper launched and
 * waited for, volumes attached and found, checks sent over SSM, reports written, everything removed.
 * moto runs nothing on its instances, so the fault layer plays the helper (test/aws/world.ts).
 */
for (const throttled of [false, true]) describe(`snapdrill run on AWS (moto + fault layer playing the helper${throttled ? ', 20% of calls throttled' : ''})`, () => {
  let world: AwsWorld;
  let outcome: RunOutcome;

  beforeAll(async () => {
    world = await startAwsWorld({ fixturePath: fixture, fixtures: ['ext4-crash.img', 'xfs-frozen.img'], ...(throttled ? { throttle: 0.2 } : {}) });
    const config = loadConfig(world.writeConfig());
    outcome = await world.run(config);
  }, 300_000);

  afterAll(async () => world?.stop());

  it('verifies each selected snapshot with the real checks, over SSM, on its attached volume', () => {
    const by = world.byFixture(outcome.report);
    expect(outcome.report.errors).toEqual([]);
    expect(by['ext4-crash.img']!.consistency).toBe('crash-consistent');
    expect(by['xfs-frozen.img']!.consistency).toBe('application-consistent');
    expect(by['ext4-crash.img']!.source).toMatch(/^aws:us-east-1:snap-/);
    expect(outcome.report.exitCode).toBe(0);
  });

  it('leaves nothing behind: volumes deleted, helper terminated, nothing for gc to find', async () => {
    expect(await world.liveResources()).toEqual([]);
    const inst = (await world.direct.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: [TAG.runId] }] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(inst.length).toBeGreaterThan(0);
    const left = await collectAwsGarbage(sdkEc2Api(world.direct), { dryRun: true, now: new Date(Date.now() + 86_400_000) });
    expect(left).toEqual([]);
  });

  it('stays within 15 EC2 calls per snapshot (not counting throttled retries)', () => {
    const ec2Calls = world.proxy.calls.filter((c) => c.outcome === 'forwarded' && /^[A-Z]/.test(c.action) && !['SendCommand', 'GetCommandInvocation', 'DescribeInstanceInformation'].includes(c.action));
    expect(ec2Calls.length / outcome.report.snapshots.length).toBeLessThanOrEqual(15);
    if (throttled) expect(world.proxy.calls.some((c) => c.outcome === 'injected')).toBe(true);
  });
});

describe('AWS multi-volume sets and keep-on-failure', () => {
  let world: AwsWorld;
  afterAll(async () => world?.stop());

  it('attaches the volumes of one set to one helper together, judges the set, and keeps a failed snapshot\'s volume for forensics until its new expiry', async () => {
    world = await startAwsWorld({
      fixturePath: fixture,
      fixtures: ['xfs-frozen.img', 'ext4-corrupt.img', 'ext4-clean.img'],
      tags: (i): Record<string, string> => (i < 2 ? { 'snapdrill:set': 'i-0123/nightly' } : {}),
    });
    const config = loadConfig(world.writeConfig('', ', keepOnFailure: 24h', ', volumesPerHelper: 1'));
    const t0 = Date.now();
    const { report } = await world.run(config);
    const by = world.byFixture(report);
    expect(by['ext4-corrupt.img']!.consistency).toBe('corrupt');
    expect(by['xfs-frozen.img']!.set).toMatchObject({ key: 'i-0123/nightly', consistency: 'corrupt' });
    expect(by['ext4-clean.img']!.set).toBeUndefined();
    // Three helpers (one volume each), but both members of the set went to the same one; the lone snapshot to another.
    expect(world.devices).toHaveLength(3);
    expect(new Set(world.devices.map((d) => d.instanceId)).size).toBe(2);
    const instOf = (fx: string) => world.devices.find((d) => d.fixture === fx)!.instanceId;
    expect(instOf('xfs-frozen.img')).toBe(instOf('ext4-corrupt.img'));
    // The failed set's volumes are kept (detached, retagged); the passing snapshot's volume is gone.
    expect(by['ext4-corrupt.img']!.kept!.resources).toHaveLength(2);
    const kept = (await world.direct.send(new DescribeVolumesCommand({ Filters: [{ Name: `tag:${TAG.kept}`, Values: ['keep-on-failure'] }] }))).Volumes!;
    expect(kept.map((v) => v.VolumeId).sort()).toEqual([...by['ext4-corrupt.img']!.kept!.resources].sort());
    for (const v of kept) {
      expect(v.State).toBe('available');
      const expires = Date.parse(v.Tags!.find((t) => t.Key === TAG.expiresAt)!.Value!);
      expect(expires).toBeGreaterThanOrEqual(t0 + 24 * 3_600_000);
    }
    expect((await world.liveResources()).sort()).toEqual(kept.map((v) => `${v.VolumeId} available`).sort());
    // gc leaves them alone until the new expiry, then removes them.
    const api = sdkEc2Api(world.direct);
    expect((await collectAwsGarbage(api, { dryRun: false, now: new Date(Date.now() + 3_600_000) })).map((l) => l.action)).toEqual(['kept-not-expired', 'kept-not-expired']);
    expect((await collectAwsGarbage(api, { dryRun: false, now: new Date(Date.now() + 25 * 3_600_000) })).map((l) => l.action)).toEqual(['removed', 'removed']);
    expect(await world.liveResources()).toEqual([]);
  }, 300_000);
});

describe('AWS teardown under eventual consistency', () => {
  let world: AwsWorld;
  afterAll(async () => world?.stop());

  it('GIVEN DeleteVolume still answers VolumeInUse after the detach THEN teardown detaches again and retries, leaving nothing', async () => {
    world = await startAwsWorld({ fixturePath: fixture, fixtures: ['ext4-clean.img'] });
    // Found by bench/ (100 snapshots at concurrency 20): a volume DescribeVolumes reports available can still be in use for DeleteVolume.
    world.proxy.addRule(ec2Error('DeleteVolume', 'VolumeInUse', 'Volume vol-x is currently attached to i-x', 400, { times: 2 }));
    const { report } = await world.run(loadConfig(world.writeConfig()));
    expect(report.errors).toEqual([]);
    expect(report.snapshots[0]!.consistency).toBe('application-consistent');
    expect(world.proxy.calls.filter((c) => c.action === 'DeleteVolume').map((c) => c.outcome)).toEqual(['injected', 'injected', 'forwarded']);
    expect(await world.liveResources()).toEqual([]);
  }, 120_000);
});
