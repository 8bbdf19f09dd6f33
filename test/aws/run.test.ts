import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CreateSnapshotCommand, CreateTagsCommand, CreateVolumeCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeVolumesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { collectAwsGarbage } from '../../src/providers/aws/gc.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { sdkSsmApi } from '../../src/providers/aws/ssm-shell.js';
import { TAG } from '../../src/providers/aws/tags.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import { fixture, tempDir } from '../helpers.js';
import { ssmJson, startFaultProxy, throttle, type FaultProxy } from './fault-proxy.js';
import { ec2For, ssmFor, startMoto, type MotoServer } from './moto.js';
import { writeFileSync } from 'node:fs';

/**
 * The whole AWS pipeline against moto: snapshots selected by tag, volumes restored, a helper launched and
 * waited for, volumes attached and found, checks sent over SSM, reports written, everything removed.
 * moto runs nothing on its instances, so the fault layer plays the helper: each SSM command really runs
 * here with bash, on a loop device holding the fixture image the snapshot stands for.
 */
for (const throttled of [false, true]) describe(`snapdrill run on AWS (moto + fault layer playing the helper${throttled ? ', 20% of calls throttled' : ''})`, () => {
  let moto: MotoServer;
  let proxy: FaultProxy;
  let direct: EC2Client;
  let outcome: RunOutcome;
  const loops: string[] = [];
  const copies: string[] = [];
  const snapFixture = new Map<string, string>();

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
    direct = ec2For(moto.endpoint);
    for (const name of ['ext4-crash.img', 'xfs-frozen.img']) {
      const vol = (await direct.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
      const snap = (await direct.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
      await direct.send(new CreateTagsCommand({ Resources: [snap], Tags: [{ Key: 'drill', Value: 'nightly' }] }));
      snapFixture.set(snap, name);
    }
    const results = new Map<string, { out: string; code: number }>();
    let n = 0;
    const runHere = async (command: string): Promise<{ out: string; code: number }> => {
      const script = Buffer.from(/echo '([^']+)'/.exec(command)![1]!, 'base64').toString('utf8');
      const find = /find_volume_device '(vol-[0-9a-f]+)'/.exec(script);
      if (find) {
        // The device a volume shows as on the helper: a loop device over a copy of its snapshot's fixture.
        const v = (await direct.send(new DescribeVolumesCommand({ VolumeIds: [find[1]!] }))).Volumes![0]!;
        const src = v.Tags!.find((t) => t.Key === TAG.sourceSnapshot)!.Value!;
        const copy = path.join(tempDir('aws-helper'), 'disk.img');
        copyFileSync(fixture(snapFixture.get(src)!), copy);
        copies.push(copy);
        const dev = execFileSync('losetup', ['--find', '--show', copy], { encoding: 'utf8' }).trim();
        loops.push(dev);
        return { out: `${dev}\n`, code: 0 };
      }
      try {
        return { out: execFileSync('bash', ['-c', command], { encoding: 'utf8', timeout: 120_000 }), code: 0 };
      } catch (e) {
        const err = e as { status: number; stdout: string };
        return { out: err.stdout ?? '', code: err.status ?? 1 };
      }
    };
    // Throttling comes first: a throttled call never reaches the scripted helper, it is retried.
    if (throttled) proxy.addRule(throttle('*', { probability: 0.2 }));
    proxy.addRule(
      ssmJson('SendCommand', async (req) => {
        const id = `cmd-${++n}`;
        results.set(id, await runHere((req.json as { Parameters: { commands: string[] } }).Parameters.commands[0]!));
        return { Command: { CommandId: id } };
      }),
    );
    proxy.addRule(ssmJson('GetCommandInvocation', (req) => {
      const r = results.get((req.json as { CommandId: string }).CommandId)!;
      return { Status: r.code === 0 ? 'Success' : 'Failed', ResponseCode: r.code, StandardOutputContent: r.out, StandardErrorContent: '' };
    }));
    proxy.addRule(ssmJson('DescribeInstanceInformation', (req) => ({
      InstanceInformationList: ((req.json as { Filters: { Values: string[] }[] }).Filters[0]!.Values).map((InstanceId) => ({ InstanceId, PingStatus: 'Online' })),
    })));

    const imageId = (await direct.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    const cfgFile = path.join(tempDir('aws-run'), 'snapdrill.yaml');
    writeFileSync(cfgFile, `provider: {type: aws, region: us-east-1, availabilityZone: us-east-1a, endpoint: "${proxy.endpoint}"}\nsnapshots: [{tags: {drill: nightly}}]\noutput: {dir: ${tempDir('aws-out')}}\ndatabases: {enabled: false}\n`);
    const config = loadConfig(cfgFile);
    const fast = { timeoutMs: 10_000, pollMs: 20, reason: 'test' };
    outcome = await executeRun(config, {
      stateDir: tempDir('aws-state'),
      events: {},
      signal: new AbortController().signal,
      providerFactory: (c, runId) =>
        new AwsProvider(c.provider as never, runId, c.snapshots, {
          // As in production: adaptive retry, 10 attempts (createEc2Client / createSsmClient).
          ec2: sdkEc2Api(ec2For(proxy.endpoint, { retryMode: 'adaptive', maxAttempts: 10 })),
          ssm: sdkSsmApi(ssmFor(proxy.endpoint, { retryMode: 'adaptive', maxAttempts: 10 })),
          imageId,
          waits: { volume: fast, attach: fast, helpers: fast },
          ssmPollMs: 10,
        }),
    });
  }, 300_000);

  afterAll(async () => {
    for (const d of loops) execFileSync('bash', ['-c', `partx -d ${d} 2>/dev/null; losetup -d ${d} 2>/dev/null || true`]);
    for (const c of copies) rmSync(c, { force: true });
    execFileSync('bash', ['-c', `rm -rf /var/tmp/snapdrill/${outcome?.report.runId ?? 'none'}`]);
    await proxy?.stop();
    await moto?.stop();
  });

  it('verifies each selected snapshot with the real checks, over SSM, on its attached volume', () => {
    const by = Object.fromEntries(outcome.report.snapshots.map((s) => [snapFixture.get(s.id), s]));
    expect(outcome.report.errors).toEqual([]);
    expect(by['ext4-crash.img']!.consistency).toBe('crash-consistent');
    expect(by['xfs-frozen.img']!.consistency).toBe('application-consistent');
    expect(by['ext4-crash.img']!.source).toMatch(/^aws:us-east-1:snap-/);
    expect(outcome.report.exitCode).toBe(0);
  });

  it('leaves nothing behind: volumes deleted, helper terminated, nothing for gc to find', async () => {
    const vols = (await direct.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag-key', Values: [TAG.runId] }] }))).Volumes ?? [];
    expect(vols.filter((v) => v.State !== 'deleted')).toEqual([]);
    const inst = (await direct.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: [TAG.runId] }] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(inst.length).toBeGreaterThan(0);
    for (const i of inst) expect(['shutting-down', 'terminated']).toContain(i.State?.Name);
    const left = await collectAwsGarbage(sdkEc2Api(direct), { dryRun: true, now: new Date(Date.now() + 86_400_000) });
    expect(left).toEqual([]);
  });

  it('stays within 15 EC2 calls per snapshot (not counting throttled retries)', () => {
    const ec2Calls = proxy.calls.filter((c) => c.outcome === 'forwarded' && /^[A-Z]/.test(c.action) && !['SendCommand', 'GetCommandInvocation', 'DescribeInstanceInformation'].includes(c.action));
    expect(ec2Calls.length / outcome.report.snapshots.length).toBeLessThanOrEqual(15);
    if (throttled) expect(proxy.calls.some((c) => c.outcome === 'injected')).toBe(true);
  });
});
