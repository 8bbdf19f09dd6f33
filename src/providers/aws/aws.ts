import type { AwsProviderConfig, Config, SnapshotSelector } from '../../config/types.js';
import { InfraError, SnapshotUnusableError } from '../../errors.js';
import type { Ledger } from '../../ledger/ledger.js';
import type { CloudRecord, ReleaseOptions } from '../../ledger/resources.js';
import type { Shell } from '../../shells/shell.js';
import { shellQuote } from '../../shells/shell.js';
import { SshShell, type SshOptions } from '../../shells/ssh.js';
import { hostKeyFingerprints } from './console.js';
import { createS3Reader, type ObjectReader } from './s3.js';
import { sleep } from '../../util/sleep.js';
import { CheckRegistry } from '../../checks/registry.js';
import { runLibraryCommand } from '../../checks/runner.js';
import type { AttachedVolume, BootRequest, ConsoleCapture, Provider, ProviderPlan, RestoredVolume, SnapshotInfo, StageContext } from '../../provider.js';
import { awsError, createEc2Client, sdkEc2Api, type Ec2Api } from './ec2.js';
import { DEFAULT_AGENT_TIMEOUT_MS, launchHelpers, waitHelpersReady, type HelperSpec } from './helpers.js';
import { listAwsSnapshots, listVolumeSnapshots, originOf } from './snapshots.js';
import { awsPlan } from './plan.js';
import { collectAwsGarbage, type AwsLeftover } from './gc.js';
import { fetchInstanceConsole } from './diagnose.js';
import { createSsmClient, sdkSsmApi, SsmShell, type SsmApi } from './ssm-shell.js';
import { restoreVolumes, volumeWatch, type WaitPolicy } from './volumes.js';
import { backoff } from '../../util/poll.js';
import { bootTestAws } from './boot.js';
import type { BootOutcome } from '../../boot/types.js';
import { TAG } from './tags.js';
import type { Credentials } from './central/credentials.js';
import { requireQuarantine } from './quarantine.js';
import type { BootOptions } from '../../config/types.js';

/** AL2023_PARAMETER is the public SSM parameter naming the latest Amazon Linux 2023 AMI of a region. */
export const AL2023_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/** DEVICE_NAMES are the names asked for in AttachVolume; Nitro ignores them (the NVMe serial finds the device). */
const DEVICE_NAMES = 'fghijklmnopqrstuvwxyz'.split('').map((c) => `/dev/sd${c}`);

/** AwsDeps let tests point the provider at an emulator and script the helpers' answers. */
export interface AwsDeps {
  ec2?: Ec2Api;
  ssm?: SsmApi;
  /** Image of the helpers; default: provider.helper.imageId, else the latest Amazon Linux 2023 (public SSM parameter). */
  imageId?: string;
  /** Waits; `agent`: how long a helper may run with status checks ok before its SSM agent must be online (timeoutMs). */
  waits?: Partial<Record<'volume' | 'attach' | 'helpers' | 'agent', WaitPolicy>>;
  ssmPollMs?: number;
  /** Reads full SSM output from S3 (helper.ssmOutput); default: the S3 client of the provider's region. */
  s3?: ObjectReader;
  /** Connection retry of SSH helpers (helper.shell: ssh). */
  sshOptions?: Partial<SshOptions>;
  /** Credentials of the account (a fleet item's assumed role); default: the standard chain or provider.profile. */
  credentials?: Credentials;
  /** The account the credentials reach (a fleet item): recorded with every resource in the ledger. */
  account?: string;
  /** The run's boot options: preflight refuses boot tests in the default network too (see quarantine.ts). */
  boot?: Pick<BootOptions, 'enabled' | 'subnetId' | 'securityGroupIds'>;
}

interface Helper {
  id: string;
  shell: SsmShell | SshShell;
  /** Device names in use on this helper, by volume id. */
  inUse: Map<string, string>;
}

/**
 * AwsProvider verifies EBS snapshots: volumes restored in one AZ, attached to helper instances that
 * run the checks over SSM, everything tagged in its create call and recorded in the ledger first.
 */
export class AwsProvider implements Provider {
  readonly type = 'aws';
  private readonly ec2: Ec2Api;
  private readonly ssm: SsmApi;
  private helpers: Helper[] = [];
  /** The helper each multi-volume set's members are attached to. */
  private readonly setHelpers = new Map<string, string>();
  private readonly waits: Record<'volume' | 'attach' | 'helpers' | 'agent', WaitPolicy>;

  constructor(
    private readonly cfg: AwsProviderConfig,
    private readonly runId: string,
    private readonly selectors: SnapshotSelector[],
    private readonly deps: AwsDeps = {},
  ) {
    this.ec2 = deps.ec2 ?? sdkEc2Api(createEc2Client(cfg, deps.credentials));
    this.ssm = deps.ssm ?? sdkSsmApi(createSsmClient(cfg, deps.credentials));
    this.waits = {
      // pollMs is each wait's longest interval: polls start at 250 ms and back off ×1.5 up to it (util/poll.ts).
      volume: { timeoutMs: 30 * 60_000, pollMs: 5000, reason: 'restored volume available' },
      attach: { timeoutMs: 5 * 60_000, pollMs: 3000, reason: 'volume attached' },
      helpers: { timeoutMs: 15 * 60_000, pollMs: 10_000, reason: 'helper running, status checks ok, SSM agent online' },
      agent: { timeoutMs: DEFAULT_AGENT_TIMEOUT_MS, pollMs: 10_000, reason: 'SSM agent online after the status checks passed' },
      ...deps.waits,
    };
  }

  describe(): string {
    return `aws ${this.deps.account ? `${this.deps.account} ` : ''}${this.cfg.region} (${this.cfg.availabilityZone})`;
  }

  /** place is where a resource of this provider lives, as the ledger records it: region, and account in a fleet. */
  private get place(): { region: string; account?: string } {
    return { region: this.cfg.region, ...(this.deps.account ? { account: this.deps.account } : {}) };
  }

  /** imageId is the helpers' AMI: configured, or the latest Amazon Linux 2023 from the public SSM parameter (resolved in preflight). */
  private imageId: string | undefined;

  async preflight(): Promise<void> {
    // Before anything is created: helpers (and boot tests) only in a named subnet and security groups, unless opted out.
    requireQuarantine(this.cfg, this.deps.boot);
    this.imageId = this.deps.imageId ?? this.cfg.helper.imageId;
    if (this.imageId) return;
    let resolved: string | undefined;
    try {
      resolved = await this.ssm.getParameter(AL2023_PARAMETER);
    } catch (e) {
      throw awsError(e, 'GetParameter');
    }
    if (!resolved) {
      throw new InfraError('helper-image-missing', `no helper image: provider.helper.imageId is not set and ${AL2023_PARAMETER} does not exist in ${this.cfg.region}`, {
        remedy: 'set provider.helper.imageId to an Amazon Linux 2023 AMI in the region',
      });
    }
    this.imageId = resolved;
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    return listAwsSnapshots(this.ec2, this.cfg.region, this.selectors);
  }

  /** snapshotsOfVolumes lists every completed snapshot of the volumes (the RPO check's inventory). */
  async snapshotsOfVolumes(volumeIds: string[]): Promise<SnapshotInfo[]> {
    return listVolumeSnapshots(this.ec2, this.cfg.region, volumeIds);
  }

  /** plan estimates the volumes, helpers and boot tests a run over the selected snapshots would create, and names each snapshot's origin. */
  plan(selected: SnapshotInfo[], run: Pick<Config, 'concurrency' | 'boot'>): ProviderPlan {
    return { ...awsPlan(this.cfg, selected, run.concurrency, run.boot), origins: Object.fromEntries(selected.map((s) => [s.id, originOf(s.tags)])) };
  }

  /** collectGarbage terminates and deletes the expired instances and volumes snapdrill tagged in the account (see gc.ts). */
  collectGarbage(opts: { dryRun: boolean; now?: Date }): Promise<AwsLeftover[]> {
    return collectAwsGarbage(this.ec2, opts);
  }

  /** fetchConsole fetches an instance's latest console output and screenshot. */
  fetchConsole(instanceId: string): Promise<ConsoleCapture> {
    return fetchInstanceConsole(this.cfg, instanceId, this.ec2);
  }

  async start(ledger: Ledger, expected: number, signal: AbortSignal): Promise<void> {
    if (expected === 0) return;
    const n = Math.max(1, Math.ceil(expected / this.cfg.helper.volumesPerHelper));
    const spec: HelperSpec = {
      imageId: this.imageId!,
      instanceType: this.cfg.helper.instanceType,
      availabilityZone: this.cfg.availabilityZone,
      ...(this.cfg.helper.subnetId ? { subnetId: this.cfg.helper.subnetId } : {}),
      ...(this.cfg.helper.securityGroupIds ? { securityGroupIds: this.cfg.helper.securityGroupIds } : {}),
      ...(this.cfg.helper.instanceProfile ? { instanceProfileName: this.cfg.helper.instanceProfile } : {}),
      ...(this.cfg.helper.ssh && this.cfg.helper.shell === 'ssh' ? { keyName: this.cfg.helper.ssh.keyName } : {}),
      // Amazon Linux 2023: every check header's al2023 packages, and nvme-cli for find_volume_device (checks/lib/common.sh).
      userData: `#!/bin/bash\ndnf install -y -q ${CheckRegistry.load().helperPackages('al2023', ['nvme-cli']).join(' ')} || true\n`,
    };
    const ids = await launchHelpers(this.ec2, n, spec, {
      runId: this.runId,
      ttlMs: this.ttlMs(),
      onLaunched: (id) => ledger.acquire('run', { kind: 'aws-instance', id, ...this.place }),
    });
    const ssh = this.cfg.helper.shell === 'ssh' ? this.cfg.helper.ssh : undefined;
    const ready = await waitHelpersReady(this.ec2, ssh ? undefined : this.ssm, ids, this.waits.helpers, signal, { agentTimeoutMs: this.waits.agent.timeoutMs });
    // Interrupted while the helpers boot: no shells; the run's stages stop at once and its report says interrupted.
    if (signal.aborted) return;
    const notReady = ready.filter((h) => !h.ready);
    if (notReady.length) {
      throw new InfraError('helper-not-ready', `helper ${notReady.map((h) => `${h.instanceId}: ${h.reason}`).join('; ')}`, {
        remedy: ssh ? 'look at the helper console output and the account limits' : 'check the subnet routes to the SSM endpoints, the instance profile (AmazonSSMManagedInstanceCore) and the console output',
        transient: true,
      });
    }
    if (!ssh) {
      const so = this.cfg.helper.ssmOutput;
      const output = so ? { ...so, reader: this.deps.s3 ?? createS3Reader(this.cfg, this.cfg.endpoint, this.deps.credentials) } : undefined;
      this.helpers = ids.map((id) => ({ id, shell: new SsmShell(this.ssm, id, { pollMs: this.deps.ssmPollMs ?? 2000, ...(output ? { output } : {}) }), inUse: new Map() }));
      return;
    }
    const instances = await this.ec2.describeInstances({ instanceIds: ids }).catch((e) => {
      throw awsError(e, 'DescribeInstances');
    });
    const keys = await this.hostKeysFromConsole(ids, signal);
    this.helpers = ids.map((id) => {
      const inst = instances.find((i) => i.InstanceId === id);
      const host = ssh.address === 'public' ? inst?.PublicIpAddress : inst?.PrivateIpAddress;
      if (!host) throw new InfraError('helper-no-address', `helper ${id} has no ${ssh.address} IP address`, { remedy: ssh.address === 'public' ? 'use a subnet that assigns public addresses, or helper.ssh.address: private with a route or a jump host' : 'check the helper subnet' });
      const shell = new SshShell(
        {
          host,
          port: ssh.port,
          user: ssh.user,
          hostKeySha256: keys.get(id)!,
          sudo: true,
          ...(ssh.privateKeyPath ? { privateKeyPath: ssh.privateKeyPath } : {}),
          ...(ssh.jump ? { jump: { host: ssh.jump.host, port: ssh.jump.port ?? 22, user: ssh.jump.user ?? ssh.user, hostKeySha256: ssh.jump.hostKeySha256, ...((ssh.jump.privateKeyPath ?? ssh.privateKeyPath) ? { privateKeyPath: ssh.jump.privateKeyPath ?? ssh.privateKeyPath } : {}) } } : {}),
        },
        this.deps.sshOptions,
      );
      return { id, shell, inUse: new Map() };
    });
  }

  /**
   * hostKeysFromConsole pins each SSH helper's host keys to what it printed on its own serial console at first
   * boot (cloud-init's fingerprint block), polling GetConsoleOutput until every helper shows them.
   */
  private async hostKeysFromConsole(ids: string[], signal: AbortSignal): Promise<Map<string, string[]>> {
    const keys = new Map<string, string[]>();
    const deadline = Date.now() + this.waits.helpers.timeoutMs;
    for (;;) {
      for (const id of ids.filter((i) => !keys.has(i))) {
        let text: string;
        try {
          text = await this.ec2.getConsoleOutput(id);
        } catch (e) {
          throw awsError(e, 'GetConsoleOutput');
        }
        const fps = hostKeyFingerprints(text);
        if (fps.length) keys.set(id, fps);
      }
      if (keys.size === ids.length || signal.aborted) return keys;
      if (Date.now() > deadline) {
        const missing = ids.filter((i) => !keys.has(i));
        throw new InfraError('helper-host-key', `helper ${missing.join(', ')} did not print its SSH host key fingerprints on the console within ${Math.round(this.waits.helpers.timeoutMs / 1000)}s, so its host key cannot be pinned`, {
          remedy: 'use an image whose cloud-init prints the host keys (Amazon Linux does by default), or helper.shell: ssm',
        });
      }
      await sleep(this.waits.helpers.pollMs, signal);
    }
  }

  private ttlMs(): number {
    return Math.max(2, this.cfg.estimatedHours * 2) * 3_600_000;
  }

  async restore(snapshot: SnapshotInfo, ctx: StageContext): Promise<RestoredVolume> {
    const [out] = await restoreVolumes(this.ec2, [{ snapshotId: snapshot.id, ...(snapshot.kmsKeyId ? { encryptedWith: snapshot.kmsKeyId } : {}) }], {
      runId: this.runId,
      availabilityZone: this.cfg.availabilityZone,
      volumeType: this.cfg.volumeType,
      ...(this.cfg.iops ? { iops: this.cfg.iops } : {}),
      ...(this.cfg.throughput ? { throughput: this.cfg.throughput } : {}),
      ...(this.cfg.kmsKeyId ? { kmsKeyId: this.cfg.kmsKeyId } : {}),
      ttlMs: this.ttlMs(),
      wait: { ...this.waits.volume, timeoutMs: Math.min(this.waits.volume.timeoutMs, ctx.timeoutMs) },
      signal: ctx.signal,
      onCreated: (_s, id) => ctx.ledger.acquire(ctx.owner, { kind: 'aws-volume', id, ...this.place }),
    });
    if (!out!.ok) throw out!.error;
    return { snapshot, handle: out!.volumeId, scratch: `/var/tmp/snapdrill/${this.runId}/${snapshot.id}` };
  }

  async attach(volume: RestoredVolume, ctx: StageContext): Promise<AttachedVolume> {
    // Members of a multi-volume set go to one helper, so they are seen together; otherwise the least loaded helper takes the volume.
    const setKey = volume.snapshot.set;
    const helper = (setKey ? this.helpers.find((h) => h.id === this.setHelpers.get(setKey)) : undefined) ?? [...this.helpers].sort((a, b) => a.inUse.size - b.inUse.size)[0];
    if (!helper) throw new InfraError('no-helper', 'no helper instance is running');
    const name = DEVICE_NAMES.find((n) => ![...helper.inUse.values()].includes(n));
    if (!name) throw new InfraError('helper-full', `helper ${helper.id} has no free device name`);
    helper.inUse.set(volume.handle, name);
    if (setKey) this.setHelpers.set(setKey, helper.id);
    ctx.ledger.acquire(ctx.owner, { kind: 'aws-attachment', volumeId: volume.handle, instanceId: helper.id, ...this.place });
    try {
      await this.ec2.attachVolume(volume.handle, helper.id, name);
    } catch (e) {
      throw awsError(e, 'AttachVolume');
    }
    const deadline = Date.now() + this.waits.attach.timeoutMs;
    // Adaptive and batched: every attach and detach wait of the run shares one DescribeVolumes per tick (volumeWatch).
    const pace = backoff({ capMs: this.waits.attach.pollMs });
    for (let after = pace(); ; after = pace()) {
      const v = await volumeWatch(this.ec2).get(volume.handle, after, ctx.signal);
      if (v?.Attachments?.some((a) => a.InstanceId === helper.id && a.State === 'attached')) break;
      if (ctx.signal.aborted) throw new InfraError('interrupted', `interrupted while volume ${volume.handle} was attaching to ${helper.id}`);
      if (Date.now() > deadline) throw new InfraError('attach-timeout', `volume ${volume.handle} not attached to ${helper.id} after ${Math.round(this.waits.attach.timeoutMs / 1000)}s`, { transient: true });
    }
    // Find the device by the volume id in its NVMe serial, never by the requested name.
    const r = await runLibraryCommand(CheckRegistry.load(), helper.shell, `find_volume_device ${shellQuote(volume.handle)} ${shellQuote(name)}`, {}, { timeoutMs: 120_000, signal: ctx.signal });
    const device = r.stdout.trim().split('\n').pop() ?? '';
    if (r.exitCode !== 0 || !device.startsWith('/dev/')) throw new SnapshotUnusableError('device-not-found', `volume ${volume.handle} is attached to ${helper.id} but no device shows it: ${r.stderr.trim()}`);
    return { device, helper: helper.id, warnings: [] };
  }

  /** bootTest registers an image from the root snapshot (the set's other snapshots as data volumes), launches it in quarantine and reads its console. */
  async bootTest(req: BootRequest, ctx: StageContext): Promise<BootOutcome> {
    const o = req.options;
    requireQuarantine(this.cfg, { ...o, enabled: true }, { helpers: false });
    const subnetId = o.subnetId ?? this.cfg.helper.subnetId;
    const securityGroupIds = o.securityGroupIds ?? this.cfg.helper.securityGroupIds;
    // What the image needs, in order: the config, the AMI the snapshot was made for, the snapshot's tags.
    let source: Awaited<ReturnType<Ec2Api['describeImage']>>;
    if (req.snapshot.sourceImageId) {
      try {
        source = await this.ec2.describeImage(req.snapshot.sourceImageId);
      } catch (e) {
        throw awsError(e, 'DescribeImages');
      }
    }
    const srcArch = source?.Architecture === 'arm64' || source?.Architecture === 'x86_64' ? source.Architecture : undefined;
    const srcMode = source?.BootMode === 'legacy-bios' || source?.BootMode === 'uefi' || source?.BootMode === 'uefi-preferred' ? source.BootMode : undefined;
    const arch = o.architecture ?? srcArch ?? (req.snapshot.tags['snapdrill:architecture'] as 'x86_64' | 'arm64' | undefined);
    const bootMode = o.bootMode ?? srcMode;
    const enaSupport = o.enaSupport ?? source?.EnaSupport ?? true;
    return bootTestAws(
      this.ec2,
      {
        runId: this.runId,
        ttlMs: this.ttlMs(),
        rootSnapshotId: req.snapshot.id,
        dataSnapshotIds: req.data.map((d) => d.id),
        ...(arch ? { architecture: arch } : {}),
        ...(bootMode ? { bootMode } : {}),
        ...(source?.RootDeviceName ? { rootDeviceName: source.RootDeviceName } : {}),
        enaSupport,
        instanceType: o.instanceType ?? this.cfg.helper.instanceType,
        availabilityZone: this.cfg.availabilityZone,
        ...(subnetId ? { subnetId } : {}),
        ...(securityGroupIds ? { securityGroupIds } : {}),
        timeoutMs: Math.min(o.timeoutMs, ctx.timeoutMs),
        pollMs: this.deps.waits?.helpers?.pollMs ?? 10_000,
      },
      { onCreated: (r) => ctx.ledger.acquire(ctx.owner, { kind: r.kind, id: r.id, ...this.place }) },
      ctx.signal,
    );
  }

  /** keepOnFailureMs is provider.keepOnFailure: how long the volumes of a failed snapshot are kept for forensics. */
  get keepOnFailureMs(): number | undefined {
    return this.cfg.keepOnFailureMs;
  }

  async keepForForensics(ledger: Ledger, owner: string, until: Date): Promise<string[] | undefined> {
    const kept = ledger.keep(owner, (r) => r.kind === 'aws-volume').map((r) => (r as { id: string }).id);
    if (!kept.length) return undefined;
    try {
      await this.ec2.createTags(kept, [
        { Key: TAG.expiresAt, Value: until.toISOString() },
        { Key: TAG.kept, Value: 'keep-on-failure' },
      ]);
    } catch (e) {
      // The volumes keep their original expiry: gc removes them sooner than asked, never later.
      throw awsError(e, 'CreateTags');
    }
    return kept;
  }

  shell(attached?: AttachedVolume): Shell {
    const h = this.helpers.find((x) => x.id === attached?.helper) ?? this.helpers[0];
    if (!h) throw new InfraError('no-helper', 'no helper instance is running');
    return h.shell;
  }

  /**
   * forceAfter is when a teardown stops waiting for a plain detach and forces it: at once when the run is settled
   * (nothing of ours uses the volume; a check a kill left on the helper may still hold it mounted, which keeps a plain
   * detach busy for minutes), else after a short grace. The volume is a throwaway copy, so forcing loses nothing.
   */
  private forceAfter(o: ReleaseOptions): number {
    return Date.now() + (o.settle ? 0 : Math.min(30_000, this.waits.attach.timeoutMs / 2));
  }

  /**
   * deleteVolume deletes a restored volume. EC2 is eventually consistent: a volume just reported detached may
   * still be "in use" for DeleteVolume, so that answer gets a detach (idempotent; forced once forceAfter has passed,
   * at once when settling) and a bounded retry.
   */
  private async deleteVolume(volumeId: string, o: ReleaseOptions): Promise<void> {
    const deadline = Date.now() + this.waits.attach.timeoutMs;
    const forceAt = this.forceAfter(o);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ec2.deleteVolume(volumeId);
        return;
      } catch (e) {
        if ((e as { name?: string }).name !== 'VolumeInUse' || Date.now() > deadline) throw e;
      }
      const force = Date.now() >= forceAt;
      const [v] = await this.ec2.describeVolumes({ volumeIds: [volumeId] });
      for (const a of v?.Attachments ?? []) if (a.InstanceId && (force || a.State !== 'detaching')) await this.ec2.detachVolume(volumeId, a.InstanceId, force).catch(() => undefined);
      await sleep(Math.min(this.waits.attach.pollMs * attempt, 10_000));
    }
  }

  /** detach detaches a volume from a helper and waits, bounded, until it is free; a plain detach that stays busy is forced (see forceAfter). */
  private async detach(volumeId: string, instanceId: string, o: ReleaseOptions): Promise<void> {
    const ignoreGone = (e: unknown) => {
      if (!/IncorrectState|NotFound/.test((e as { name?: string }).name ?? '')) throw e;
    };
    const forceAt = this.forceAfter(o);
    let forced = Date.now() >= forceAt;
    await this.ec2.detachVolume(volumeId, instanceId, forced).catch(ignoreGone);
    const deadline = Date.now() + this.waits.attach.timeoutMs;
    const pace = backoff({ capMs: this.waits.attach.pollMs });
    for (;;) {
      const v = await volumeWatch(this.ec2).get(volumeId, pace());
      if (!v || v.State === 'available' || !v.Attachments?.some((a) => a.InstanceId === instanceId && a.State !== 'detached')) return;
      if (Date.now() > deadline) throw new InfraError('detach-timeout', `volume ${volumeId} still attached to ${instanceId} after ${Math.round(this.waits.attach.timeoutMs / 1000)}s${forced ? ' (detach forced)' : ''}`, { transient: true });
      if (!forced && Date.now() >= forceAt) {
        forced = true;
        await this.ec2.detachVolume(volumeId, instanceId, true).catch(ignoreGone);
      }
    }
  }

  /**
   * releaseCloud removes one AWS resource: detach and wait, delete a volume, terminate a helper. Gone already is fine.
   * When the run is settled (its end, or gc after a kill) the ledger terminates the helpers first and detaches by force.
   */
  async releaseCloud(r: CloudRecord, o: ReleaseOptions = {}): Promise<void> {
    const gone = (e: unknown) => /NotFound|IncorrectState/.test((e as { name?: string }).name ?? '');
    try {
      if (r.kind === 'aws-attachment') {
        await this.detach(r.volumeId, r.instanceId, o);
        // Only now is the device name free again: attaching another volume under a name still detaching fails.
        this.helpers.find((h) => h.id === r.instanceId)?.inUse.delete(r.volumeId);
      } else if (r.kind === 'aws-volume') await this.deleteVolume(r.id, o);
      else if (r.kind === 'aws-image') await this.ec2.deregisterImage(r.id);
      else {
        const h = this.helpers.find((x) => x.id === r.id);
        if (h?.shell instanceof SshShell) h.shell.close();
        await this.ec2.terminateInstances([r.id]);
      }
    } catch (e) {
      if (!gone(e)) throw awsError(e, 'teardown');
    }
  }
}
