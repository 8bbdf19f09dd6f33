import { execFile, execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import type { Config } from '../../src/config/types.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { TAG } from '../../src/providers/aws/tags.js';
import type { Provider } from '../../src/provider.js';
import type { RunReport, SnapshotResult } from '../../src/report/types.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import { awsProviderYaml, startEmulator, type Emulator } from './emulator.js';
import { delay, ec2Xml, REALISTIC_DELAYS, ssmErrorResponse, ssmJson, stateDelays, throttle, type StateClock, type StateDelays } from './fault-proxy.js';

/** WorldOptions shape the emulated account: which fixture each snapshot stands for, and the faults in front of it. */
export interface WorldOptions {
  /** One snapshot per entry, tagged drill=nightly, standing for this fixture image (a name in the fs catalog). */
  fixtures: string[];
  /** Throttle this share of all EC2 and SSM calls (RequestLimitExceeded / ThrottlingException). */
  throttle?: number;
  /** Added latency of every API call, ms. */
  latencyMs?: number;
  /** Tags per snapshot index (e.g. a multi-volume set key). */
  tags?: (i: number) => Record<string, string>;
  /** Where a fixture image is (tests: helpers.fixture; the bench: its own catalog). */
  fixturePath: (name: string) => string;
  /**
   * The helpers are this machine's sshd (helper.shell: ssh): DescribeInstances reports 127.0.0.1 as their
   * private address, GetConsoleOutput shows cloud-init's block with these host key fingerprints, and an
   * attached volume appears as /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol… over a loop device.
   */
  ssh?: { hostKeyFingerprints: string[] };
  /** Poll intervals of the provider's waits and of SSM, ms. Default 20 and 10 (tests); the bench uses production-like ones. */
  pollMs?: { volume: number; attach: number; helpers: number; ssm: number };
  /**
   * Realistic state delays (fault-proxy.ts stateDelays): true for REALISTIC_DELAYS (volume 2 s, instance 3 s, status
   * checks 4 s more, attach/detach 1 s, SSM: no invocation for 1 s, then InProgress 0.5 s), or some of them changed.
   * The SSM agent of a helper is online once the instance is running. Default: none (moto's instant states).
   */
  stateDelays?: boolean | Partial<StateDelays>;
  /**
   * Copies of each snapshot's fixture made at start (default 0): the first volumes restored from a snapshot show
   * these, so copying fixtures (this machine's disk, not EBS's) stays out of what a bench measures.
   */
  prepareCopies?: number;
}

/** AwsWorld is the emulator (moto behind the fault proxy), with the proxy playing the helper instances. */
export interface AwsWorld extends Emulator {
  /** The helper image the configs name. */
  imageId: string;
  /** Snapshot id → the fixture it stands for. */
  snapFixture: Map<string, string>;
  /** Every volume a helper looked for, with the helper and the fixture it stands for. */
  devices: { volumeId: string; instanceId: string; fixture: string; device: string }[];
  /** writeConfig writes a snapdrill config for this world (endpoint = the proxy); extra YAML lines are appended. */
  writeConfig(extra?: string, providerExtra?: string, helperExtra?: string): string;
  /** providerFactory builds the AWS provider against the proxy with short waits, as in production otherwise. */
  providerFactory(config: Config, runId: string): Provider;
  /** run executes a snapdrill run of `config` in this world (its state in a new directory unless named); stop() removes the runs' helper scratch. */
  run(config: Config, stateDir?: string): Promise<RunOutcome>;
  /** byFixture indexes a report's snapshots by the fixture each stands for. */
  byFixture(report: RunReport): Record<string, SnapshotResult>;
  /** The state delays' clock, when WorldOptions.stateDelays is set. */
  clock?: StateClock;
}

/**
 * startAwsWorld starts moto and the fault proxy and scripts the helper: moto runs nothing on its instances,
 * so each SSM command really runs here with bash, on a loop device holding a copy of the fixture image the
 * attached volume's snapshot stands for (found through the volume's snapdrill:source-snapshot tag).
 */
export async function startAwsWorld(opts: WorldOptions): Promise<AwsWorld> {
  const emulator = await startEmulator();
  const { proxy, direct, tempDir } = emulator;
  const snapFixture = new Map<string, string>();
  const loops: string[] = [];
  const copies: string[] = [];
  const runIds: string[] = [];
  for (const [i, name] of opts.fixtures.entries()) {
    const { snapshotId } = await emulator.snapshot({ sizeGiB: 1, tags: { drill: 'nightly', ...(opts.tags?.(i) ?? {}) } });
    snapFixture.set(snapshotId, name);
  }
  /** Copies made ahead (prepareCopies), by snapshot id. */
  const prepared = new Map<string, string[]>();
  for (const [snapshotId, name] of snapFixture) {
    for (let i = 0; i < (opts.prepareCopies ?? 0); i++) {
      const copy = path.join(tempDir('aws-helper'), 'disk.img');
      execFileSync('cp', ['--reflink=auto', '--sparse=always', opts.fixturePath(name), copy]);
      copies.push(copy);
      prepared.set(snapshotId, [...(prepared.get(snapshotId) ?? []), copy]);
    }
  }
  const results = new Map<string, { out: string; code: number }>();
  let n = 0;
  const devices: AwsWorld['devices'] = [];
  const volumeSource = new Map<string, string>();
  /** showVolume makes a volume appear on the helper (this machine): a loop device over a copy of its snapshot's fixture. */
  const showVolume = (volumeId: string, snapshotId: string, instanceId: string): string => {
    let copy = prepared.get(snapshotId)?.shift();
    if (!copy) {
      copy = path.join(tempDir('aws-helper'), 'disk.img');
      execFileSync('cp', ['--reflink=auto', '--sparse=always', opts.fixturePath(snapFixture.get(snapshotId)!), copy]);
      copies.push(copy);
    }
    const dev = execFileSync('losetup', ['--find', '--show', copy], { encoding: 'utf8' }).trim();
    loops.push(dev);
    // A helper's kernel reads the partition table itself; this one does not (partx through BLKPG).
    execFileSync('bash', ['-c', `partx -a ${dev} 2>/dev/null || true`]);
    devices.push({ volumeId, instanceId, fixture: snapFixture.get(snapshotId)!, device: dev });
    return dev;
  };
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve, reject) => execFile(cmd, args, { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
  /** showVolumeAsync is showVolume without blocking the proxy (and the run in this process) while the copy is made. */
  const showVolumeAsync = async (volumeId: string, snapshotId: string, instanceId: string): Promise<string> => {
    let copy = prepared.get(snapshotId)?.shift();
    if (!copy) {
      copy = path.join(tempDir('aws-helper'), 'disk.img');
      copies.push(copy);
      await run('cp', ['--reflink=auto', '--sparse=always', opts.fixturePath(snapFixture.get(snapshotId)!), copy]);
    }
    const dev = (await run('losetup', ['--find', '--show', copy])).trim();
    loops.push(dev);
    await run('bash', ['-c', `partx -a ${dev} 2>/dev/null || true`]);
    devices.push({ volumeId, instanceId, fixture: snapFixture.get(snapshotId)!, device: dev });
    return dev;
  };
  const runHere = async (command: string, instanceId: string): Promise<{ out: string; code: number }> => {
    const script = Buffer.from(/echo '([^']+)'/.exec(command)![1]!, 'base64').toString('utf8');
    const find = /find_volume_device '(vol-[0-9a-f]+)'/.exec(script);
    if (find) {
      // The device a volume shows as on the helper: a loop device over a copy of its snapshot's fixture.
      const v = (await direct.send(new DescribeVolumesCommand({ VolumeIds: [find[1]!] }))).Volumes![0]!;
      const dev = await showVolumeAsync(find[1]!, v.Tags!.find((t) => t.Key === TAG.sourceSnapshot)!.Value!, instanceId);
      return { out: `${dev}\n`, code: 0 };
    }
    // Asynchronously: the helpers' commands run side by side, as on real helpers, and the proxy keeps answering meanwhile.
    return new Promise((resolve) => {
      execFile('bash', ['-c', command], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ out: stdout ?? '', code });
      });
    });
  };
  if (opts.latencyMs) proxy.addRule(delay('*', opts.latencyMs));
  // Throttling comes first: a throttled call never reaches the scripted helper, it is retried.
  if (opts.throttle) proxy.addRule(throttle('*', { probability: opts.throttle }));
  const delays = opts.stateDelays ? { ...REALISTIC_DELAYS, ...(opts.stateDelays === true ? {} : opts.stateDelays) } : undefined;
  const timing = delays ? stateDelays(delays) : undefined;
  if (timing) proxy.addRule(...timing.rules);
  /** When each command's answer was sent (the SSM delays count from there: the command ran during SendCommand). */
  const sentAt = new Map<string, number>();
  proxy.addRule(
    ssmJson('SendCommand', async (req) => {
      const id = `cmd-${++n}`;
      const body = req.json as { InstanceIds: string[]; Parameters: { commands: string[] } };
      results.set(id, await runHere(body.Parameters.commands[0]!, body.InstanceIds[0]!));
      sentAt.set(id, Date.now());
      return { Command: { CommandId: id } };
    }),
  );
  proxy.addRule({
    action: 'GetCommandInvocation',
    respond: async (req) => {
      const { CommandId } = req.json as { CommandId: string };
      const age = Date.now() - (sentAt.get(CommandId) ?? 0);
      if (delays && age < delays.ssmInvocationMs) return ssmErrorResponse('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
      const r = results.get(CommandId)!;
      const done = !delays || age >= delays.ssmInvocationMs + delays.ssmInProgressMs;
      const body = done ? { Status: r.code === 0 ? 'Success' : 'Failed', ResponseCode: r.code, StandardOutputContent: r.out, StandardErrorContent: '' } : { Status: 'InProgress', ResponseCode: -1, StandardOutputContent: '', StandardErrorContent: '' };
      return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
    },
  });
  proxy.addRule(
    ssmJson('DescribeInstanceInformation', (req) => ({
      InstanceInformationList: (req.json as { Filters: { Values: string[] }[] }).Filters[0]!.Values.filter((id) => !timing || timing.clock.instanceRunning(id)).map((InstanceId) => ({ InstanceId, PingStatus: 'Online' })),
    })),
  );
  const byIdLinks: string[] = [];
  if (opts.ssh) {
    const fps = opts.ssh.hostKeyFingerprints;
    proxy.addRule({ action: 'DescribeInstances', transform: (body) => body.replace(/<privateIpAddress>[^<]*<\/privateIpAddress>/g, '<privateIpAddress>127.0.0.1</privateIpAddress>') });
    proxy.addRule(
      ec2Xml('GetConsoleOutput', (req) => {
        // What Amazon Linux's cloud-init prints at first boot (the fingerprint block), base64 as EC2 sends it.
        const text = ['[   12.345678] cloud-init[1912]: Cloud-init v. 22.2.2 running modules:final', 'ec2: #############################################################', 'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----', ...fps.map((f) => `ec2: 256 ${f} no comment (ED25519)`), 'ec2: -----END SSH HOST KEY FINGERPRINTS-----', 'ec2: #############################################################', ''].join('\n');
        return `<?xml version="1.0" encoding="UTF-8"?>\n<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><instanceId>${req.params.get('InstanceId')}</instanceId><timestamp>2026-11-24T00:00:00.000Z</timestamp><output>${Buffer.from(text).toString('base64')}</output></GetConsoleOutputResponse>`;
      }),
    );
    proxy.addRule({
      action: 'AttachVolume',
      transform: (body, req) => {
        // The volume appears on the helper (this machine) the way udev names an EBS volume on Nitro.
        const volumeId = req.params.get('VolumeId')!;
        const v = volumeSource.get(volumeId);
        if (v) {
          const dev = showVolume(volumeId, v, req.params.get('InstanceId')!);
          const link = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace('-', '')}`;
          execFileSync('mkdir', ['-p', '/dev/disk/by-id']);
          execFileSync('ln', ['-sfn', dev, link]);
          byIdLinks.push(link);
        }
        return body;
      },
    });
    // CreateVolume's answer names the new volume; remember which snapshot it came from.
    proxy.addRule({
      action: 'CreateVolume',
      transform: (body, req) => {
        const id = /<volumeId>(vol-[0-9a-f]+)<\/volumeId>/.exec(body)?.[1];
        if (id) volumeSource.set(id, req.params.get('SnapshotId')!);
        return body;
      },
    });
  }
  const imageId = await emulator.anyImageId();
  // Helpers and boot tests need an explicit subnet and security groups (or provider.allowDefaultNetwork).
  const { subnetId, securityGroupId } = await emulator.network();
  const poll = opts.pollMs ?? { volume: 20, attach: 20, helpers: 20, ssm: 10 };
  const wait = (pollMs: number) => ({ timeoutMs: 120_000, pollMs, reason: 'test' });
  // As in production: adaptive retry, 10 attempts (createEc2Client / createSsmClient).
  const retry = { retryMode: 'adaptive', maxAttempts: 10 } as const;
  const world: AwsWorld = {
    ...emulator,
    imageId,
    snapFixture,
    devices,
    writeConfig(extra = '', providerExtra = '', helperExtra = '') {
      const file = path.join(tempDir('aws-cfg'), 'snapdrill.yaml');
      writeFileSync(
        file,
        awsProviderYaml(proxy.endpoint, `, helper: {imageId: ${imageId}, subnetId: ${subnetId}, securityGroupIds: [${securityGroupId}]${helperExtra}}${providerExtra}`) +
          `snapshots: [{tags: {drill: nightly}}]\noutput: {dir: ${tempDir('aws-out')}}\ndatabases: {enabled: false}\n${extra}`,
      );
      return file;
    },
    providerFactory(c, runId) {
      return new AwsProvider(c.provider as never, runId, c.snapshots, {
        ec2: emulator.ec2Api(retry),
        ssm: emulator.ssmApi(retry),
        imageId,
        waits: { volume: wait(poll.volume), attach: wait(poll.attach), helpers: wait(poll.helpers) },
        ssmPollMs: poll.ssm,
        boot: c.boot,
      });
    },
    async run(config, stateDir = tempDir('aws-state')) {
      const outcome = await executeRun(config, { stateDir, events: {}, signal: new AbortController().signal, providerFactory: (c, id) => world.providerFactory(c, id) });
      runIds.push(outcome.report.runId);
      return outcome;
    },
    ...(timing ? { clock: timing.clock } : {}),
    byFixture(report) {
      return Object.fromEntries(report.snapshots.map((s) => [snapFixture.get(s.id), s]));
    },
    async stop() {
      for (const l of byIdLinks.splice(0)) rmSync(l, { force: true });
      for (const d of loops.splice(0)) execFileSync('bash', ['-c', `partx -d ${d} 2>/dev/null; losetup -d ${d} 2>/dev/null || true`]);
      for (const c of copies.splice(0)) rmSync(c, { force: true });
      // The helper's scratch of each run (this machine played the helper).
      for (const id of runIds.splice(0)) rmSync(path.join('/var/tmp/snapdrill', id), { recursive: true, force: true });
      await emulator.stop();
    },
  };
  return world;
}
