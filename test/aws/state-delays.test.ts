import { describe, expect, it } from 'vitest';
import { restoreVolumes } from '../../src/providers/aws/volumes.js';
import { SsmShell, ssmDeliveryFloorMs } from '../../src/providers/aws/ssm-shell.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { ssmErrorResponse, ssmJson, stateDelays, REALISTIC_DELAYS } from './fault-proxy.js';
import { TEST_ZONE } from './emulator.js';
import { useEmulator } from './use-emulator.js';

const restoreOpts = { runId: 'run-d', availabilityZone: TEST_ZONE, volumeType: 'gp3' as const, ttlMs: 3_600_000, wait: { timeoutMs: 30_000, pollMs: 5000, reason: 'available' } };

/**
 * Issue #12: the emulator takes time as EC2 does (stateDelays), and snapdrill's waits poll adaptively (250 ms, ×1.5,
 * up to the old interval) and together (one DescribeVolumes per tick for every volume of the run in flight).
 */
describe('realistic state delays and adaptive, batched polling (moto behind the fault proxy)', () => {
  const emu = useEmulator();

  it('GIVEN state delays THEN a new volume is creating, an instance pending, then its checks initializing, an attachment attaching, a detached volume in use until the detach completes', async () => {
    // Minute-long delays, and the clock moved by hand: what each state looks like, whatever the machine's load.
    const D = { ...REALISTIC_DELAYS, volumeMs: 60_000, instanceMs: 60_000, statusChecksMs: 60_000, attachMs: 60_000, detachMs: 60_000 };
    const { rules, clock } = stateDelays(D);
    emu.proxy.addRule(...rules);
    const api = emu.ec2Api();
    const [snap] = await emu.snapshots(1, 1);
    const vol = await api.createVolume({ snapshotId: snap!, availabilityZone: TEST_ZONE, volumeType: 'gp3', tags: [{ Key: 'a', Value: 'b' }] });
    const inst = await api.runInstance({ imageId: await emu.anyImageId(), instanceType: 't3.micro', availabilityZone: TEST_ZONE, tags: [{ Key: 'a', Value: 'b' }] });
    expect((await api.describeVolumes({ volumeIds: [vol] }))[0]!.State).toBe('creating');
    expect((await api.describeInstances({ instanceIds: [inst] }))[0]!.State!.Name).toBe('pending');
    const [st] = await api.describeInstanceStatus([inst]);
    expect([st!.InstanceState!.Name, st!.SystemStatus!.Status, st!.InstanceStatus!.Status]).toEqual(['pending', 'initializing', 'initializing']);
    // Later, as if the time had passed: the clock's records moved back.
    clock.volumeCreated.set(vol, Date.now() - D.volumeMs);
    clock.instanceLaunched.set(inst, Date.now() - D.instanceMs);
    expect((await api.describeVolumes({ volumeIds: [vol] }))[0]!.State).toBe('available');
    const [st2] = await api.describeInstanceStatus([inst]);
    expect([st2!.InstanceState!.Name, st2!.InstanceStatus!.Status]).toEqual(['running', 'initializing']);
    clock.instanceLaunched.set(inst, Date.now() - D.instanceMs - D.statusChecksMs);
    expect((await api.describeInstanceStatus([inst]))[0]!.InstanceStatus!.Status).toBe('ok');
    await api.attachVolume(vol, inst, '/dev/sdf');
    expect((await api.describeVolumes({ volumeIds: [vol] }))[0]!.Attachments![0]!.State).toBe('attaching');
    await api.detachVolume(vol, inst, false);
    const detaching = (await api.describeVolumes({ volumeIds: [vol] }))[0]!;
    expect([detaching.State, detaching.Attachments![0]!.State]).toEqual(['in-use', 'detaching']);
    await expect(api.deleteVolume(vol)).rejects.toMatchObject({ name: 'VolumeInUse' });
    clock.detached.get(vol)!.at -= D.detachMs;
    expect((await api.describeVolumes({ volumeIds: [vol] }))[0]!.State).toBe('available');
    await api.deleteVolume(vol);
  });

  it('GIVEN 6 restores started one by one, as the pipeline does THEN they share one DescribeVolumes per tick, and the first poll comes after 250 ms, not 5 s', async () => {
    emu.proxy.addRule(...stateDelays().rules);
    const snaps = await emu.snapshots(6, 1);
    const api = sdkEc2Api(emu.ec2());
    const t0 = Date.now();
    const outs = await Promise.all(snaps.map((snapshotId) => restoreVolumes(api, [{ snapshotId }], restoreOpts)));
    const took = Date.now() - t0;
    expect(outs.flat().every((o) => o.ok)).toBe(true);
    // Available after 2 s; the backoff asks at 0.25, 0.63, 1.19, 2.03 s: done well before the old first poll (5 s).
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(4000);
    // About four ticks for all six volumes together (one waiter per volume would make about twenty-five calls).
    expect(emu.proxy.count('DescribeVolumes')).toBeLessThanOrEqual(7);
  });

  it('GIVEN SSM takes 1.5 s to report a command THEN after the first command the shell polls once per command (the learnt delivery floor)', async () => {
    const sentAt = new Map<string, number>();
    let n = 0;
    emu.proxy.addRule(
      ssmJson('SendCommand', () => {
        const id = `cmd-${++n}`;
        sentAt.set(id, Date.now());
        return { Command: { CommandId: id } };
      }),
      {
        action: 'GetCommandInvocation',
        respond: (req) => {
          const age = Date.now() - sentAt.get((req.json as { CommandId: string }).CommandId)!;
          if (age < 1000) return ssmErrorResponse('InvocationDoesNotExist', 'no such invocation');
          const body = age < 1500 ? { Status: 'InProgress' } : { Status: 'Success', ResponseCode: 0, StandardOutputContent: 'ok\n', StandardErrorContent: '' };
          return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
        },
      },
    );
    const api = emu.ssmApi();
    const shell = new SsmShell(api, 'i-0123456789abcdef0', { pollMs: 2000 });
    const first = await shell.run('echo ok', { timeoutMs: 60_000 });
    expect(first).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
    const firstPolls = emu.proxy.count('GetCommandInvocation');
    expect(firstPolls).toBeGreaterThanOrEqual(2);
    expect(ssmDeliveryFloorMs(api)).toBeGreaterThanOrEqual(1500);
    emu.proxy.clearCalls();
    for (let i = 0; i < 3; i++) expect((await shell.run('echo ok', { timeoutMs: 60_000 })).exitCode).toBe(0);
    expect(emu.proxy.count('SendCommand')).toBe(3);
    expect(emu.proxy.count('GetCommandInvocation')).toBe(3);
  });
});
