import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listLedgers } from '../../src/ledger/ledger.js';
import { collectAwsGarbage } from '../../src/providers/aws/gc.js';
import { runTags } from '../../src/providers/aws/tags.js';
import { fixture, tempDir } from '../helpers.js';
import { AWS_ENV } from './emulator.js';
import { detachBusyWhileMounted } from './fault-proxy.js';
import { startAwsWorld, type AwsWorld } from './world.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENV = { ...AWS_ENV, NO_COLOR: '1' };
const cli = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });

/** One gc pass must settle a killed run within this (the issue: "within a minute or two"). */
const GC_PASS_LIMIT_MS = 120_000;

/**
 * A real `snapdrill run` process against moto is killed with SIGKILL in the middle of its checks, while a restored
 * filesystem is mounted on the helper (volumes restored and attached, helper running); one `snapdrill gc -c aws.yaml`
 * pass must then remove every resource it made. The fault proxy plays what a mounted filesystem does to EC2: a
 * detach without Force stays busy while the helper runs, and DeleteVolume answers VolumeInUse until the volume is
 * detached by force or its helper is terminated (and for a while after the termination, as EC2 does).
 */
describe('SIGKILL of an AWS run while a volume is mounted on the helper, then one gc pass', () => {
  let world: AwsWorld;
  /** Filesystems mounted on the helper (this machine plays it), by volume id. */
  const mounts = new Map<string, string>();
  const unmountAll = () => {
    for (const mp of mounts.values()) execFileSync('bash', ['-c', `umount ${mp} 2>/dev/null || true`]);
    mounts.clear();
  };
  beforeAll(async () => {
    world = await startAwsWorld({ fixturePath: fixture, fixtures: ['ext4-crash.img', 'xfs-frozen.img', 'ext4-clean.img'] });
    world.proxy.addRule(...detachBusyWhileMounted({ freedAfterTerminateMs: 3000, mounted: (vol) => mounts.has(vol) }));
  }, 120_000);
  afterAll(async () => {
    unmountAll();
    await world?.stop();
  });

  it('GIVEN a run killed while a check holds a mount WHEN gc -c runs once THEN the helper goes first, the volumes follow, nothing is left, within two minutes', async () => {
    const stateDir = tempDir('aws-kill-state');
    const cfg = world.writeConfig();
    const run = cli(['run', '-c', cfg, '--state-dir', stateDir]);
    let stderr = '';
    run.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => run.on('exit', (code, sig) => r(sig ? null : code)));
    // Kill once a check is under way on an attached volume (the helper looked for a device, then got a check), with
    // that volume's filesystem mounted on the helper, as a check that mounts it leaves it when its run dies.
    const deadline = Date.now() + 120_000;
    while (world.devices.length === 0 || world.proxy.count('SendCommand') < world.devices.length + 1) {
      if (Date.now() > deadline) throw new Error(`the run never reached its checks:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const held = world.devices[0]!;
    const mp = tempDir('aws-kill-mnt');
    execFileSync('mount', ['-o', held.fixture.startsWith('xfs') ? 'ro,norecovery' : 'ro,noload', held.device, mp]);
    mounts.set(held.volumeId, mp);
    run.kill('SIGKILL');
    expect(await exited).toBeNull();
    const before = await world.liveResources();
    expect(before.some((r) => r.startsWith('vol-') && r.endsWith('in-use'))).toBe(true);
    expect(before.some((r) => r.startsWith('i-'))).toBe(true);
    // The ledger of the killed run says what it held.
    const [ledger] = listLedgers(stateDir);
    expect(ledger!.alive).toBe(false);
    expect(ledger!.resources.map((r) => r.resource.kind)).toEqual(expect.arrayContaining(['aws-instance', 'aws-volume', 'aws-attachment']));

    // Not spawnSync: the emulator's proxy lives in this process and must keep answering.
    world.proxy.clearCalls();
    const started = Date.now();
    const gc = cli(['gc', '-c', cfg, '--yes', '--json', '--state-dir', stateDir]);
    let gcOut = '';
    let gcErr = '';
    gc.stdout.on('data', (d) => (gcOut += d));
    gc.stderr.on('data', (d) => (gcErr += d));
    const gcCode = await new Promise<number | null>((r) => gc.on('exit', (code) => r(code)));
    const wallMs = Date.now() - started;
    process.stderr.write(`gc pass wall time (kill while mounted): ${(wallMs / 1000).toFixed(1)} s\n`);
    expect(gcCode, gcErr).toBe(0);
    expect(wallMs).toBeLessThan(GC_PASS_LIMIT_MS);
    // The helper was terminated before any volume was deleted, and no detach waited on a busy attachment.
    const calls = world.proxy.calls.map((c) => c.action);
    expect(calls.indexOf('TerminateInstances')).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('TerminateInstances')).toBeLessThan(calls.indexOf('DeleteVolume'));
    expect(world.proxy.calls.filter((c) => c.action === 'DetachVolume' && c.params?.get('Force') !== 'true')).toEqual([]);
    // The ledger pass removed the attachments, the volumes and the helper; nothing was left for the tag pass.
    expect(gcErr).toMatch(/removed +attachment of vol-/);
    expect(gcErr).toMatch(/removed +EC2 instance i-/);
    expect(JSON.parse(gcOut).resources.filter((r: { action: string }) => r.action !== 'removed')).toEqual([]);
    expect(await world.liveResources()).toEqual([]);
    expect(listLedgers(stateDir)).toEqual([]);
    unmountAll();
  }, 300_000);

  it('GIVEN a killed run whose ledger is lost WHEN the tag sweep runs after expiry THEN it terminates the helper, forces the detach and deletes the volume in the same pass; a volume on an instance that is not ours is kept', async () => {
    world.proxy.clearCalls();
    const api = world.ec2Api();
    const expires = new Date(Date.now() + 60_000);
    const spec = { imageId: world.imageId, instanceType: 't3.micro', availabilityZone: 'us-east-1a' };
    const helper = await api.runInstance({ ...spec, tags: runTags('run-lost', expires) });
    const theirs = await api.runInstance({ ...spec, tags: [{ Key: 'Name', Value: 'production db' }] });
    const vol = await api.createVolume({ snapshotId: [...world.snapFixture.keys()][0]!, availabilityZone: 'us-east-1a', volumeType: 'gp3', tags: runTags('run-lost', expires, 'snap-x') });
    const onTheirs = await api.createVolume({ snapshotId: [...world.snapFixture.keys()][0]!, availabilityZone: 'us-east-1a', volumeType: 'gp3', tags: runTags('run-lost', expires, 'snap-y') });
    await api.attachVolume(vol, helper, '/dev/sdf');
    await api.attachVolume(onTheirs, theirs, '/dev/sdf');
    mounts.set(vol, '(mounted on the helper)');
    mounts.set(onTheirs, '(mounted on their instance)');
    try {
      const started = Date.now();
      const left = await collectAwsGarbage(api, { dryRun: false, now: new Date(Date.now() + 120_000), wait: { timeoutMs: 60_000, pollMs: 200 } });
      process.stderr.write(`tag sweep wall time (volume mounted on a live helper): ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      const byId = Object.fromEntries(left.map((l) => [l.id, l.action]));
      expect(byId[helper]).toBe('removed');
      expect(byId[vol]).toBe('removed');
      expect(byId[onTheirs]).toBe('kept-in-use');
      expect(byId[theirs]).toBeUndefined();
      const calls = world.proxy.calls;
      const detaches = calls.filter((c) => c.action === 'DetachVolume');
      expect(detaches.map((c) => [c.params?.get('VolumeId'), c.params?.get('Force')])).toEqual([[vol, 'true']]);
      expect(calls.findIndex((c) => c.action === 'TerminateInstances')).toBeLessThan(calls.findIndex((c) => c.action === 'DeleteVolume'));
      const states = Object.fromEntries((await api.describeInstances({ instanceIds: [helper, theirs] })).map((i) => [i.InstanceId, i.State?.Name]));
      expect(states[theirs]).toBe('running');
    } finally {
      mounts.clear();
      await world.direct.send(new (await import('@aws-sdk/client-ec2')).TerminateInstancesCommand({ InstanceIds: [theirs] }));
    }
  }, 120_000);
});
