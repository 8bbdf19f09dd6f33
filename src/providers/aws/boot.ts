import type { InstanceStatus } from '@aws-sdk/client-ec2';
import type { BootMilestone, BootOutcome } from '../../boot/types.js';
import { sleep } from '../../util/sleep.js';
import { awsError, type Ec2Api } from './ec2.js';
import { runTags } from './tags.js';

/** AwsBootSpec is one EC2 boot test of a restored snapshot (DESIGN.md §5). */
export interface AwsBootSpec {
  /** Tags (runTags with the root snapshot as source) go on the image, the instance and its volumes, in the create calls. */
  runId: string;
  ttlMs: number;
  rootSnapshotId: string;
  /** Mapped at /dev/sdf, /dev/sdg, ... in this order. */
  dataSnapshotIds: string[];
  /** Default /dev/xvda. */
  rootDeviceName?: string;
  /** Default x86_64. */
  architecture?: 'x86_64' | 'arm64';
  /** Unset: the instance type's default. */
  bootMode?: 'legacy-bios' | 'uefi' | 'uefi-preferred';
  /** Default true. */
  enaSupport?: boolean;
  instanceType: string;
  availabilityZone: string;
  /** The quarantine subnet (no route to production); without it the instance is placed in availabilityZone's default subnet. */
  subnetId?: string;
  securityGroupIds?: string[];
  /** Bound of the status-check wait, and how often DescribeInstanceStatus is asked. */
  timeoutMs: number;
  pollMs: number;
}

/** AwsBootHooks get every resource the moment it exists, so the caller's ledger can release it on every path. */
export interface AwsBootHooks {
  onCreated(r: { kind: 'aws-image' | 'aws-instance'; id: string }): void;
}

/** DATA_DEVICES are the device names of the data snapshots in the image's block-device mapping. */
const DATA_DEVICES = 'fghijklmnopqrstuvwxyz'.split('').map((c) => `/dev/sd${c}`);

/** CONSOLE_CAP bounds the kept console text (its end is kept): GetConsoleOutput returns at most 64 KiB anyway. */
const CONSOLE_CAP = 128 * 1024;

/** STOPPED_STATES are instance states after which the instance will not come up by itself. */
const STOPPED_STATES = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);

/**
 * isLaunchErrorCode says whether an EC2 error of RegisterImage/RunInstances is a property of the snapshot
 * or its launch settings (ENA required, unsupported boot mode or architecture, bad mapping, unusable image)
 * — a boot-test outcome — rather than a harness problem (permissions, credentials, throttling, capacity).
 */
export function isLaunchErrorCode(code: string): boolean {
  return (
    ['InvalidParameterCombination', 'InvalidParameterValue', 'Unsupported', 'UnsupportedOperation', 'InvalidBlockDeviceMapping'].includes(code) ||
    code.startsWith('InvalidAMIID.')
  );
}

/** launchErrorOf returns the code and message of an EC2 error that is a launch outcome, else undefined. */
function launchErrorOf(e: unknown): { code: string; message: string } | undefined {
  const err = e as { name?: string; Code?: string; message?: string };
  const code = err.Code ?? err.name ?? '';
  return isLaunchErrorCode(code) ? { code, message: err.message ?? String(e) } : undefined;
}

/** errorText is "Code: message" of an SDK error, for a reason line. */
function errorText(e: unknown): string {
  const err = e as { name?: string; message?: string };
  return `${err.name ?? 'Error'}: ${err.message ?? String(e)}`;
}

/** imageName is `snapdrill-<runId>-<rootSnapshotId>`, restricted to the characters and length EC2 allows in AMI names. */
export function bootImageName(runId: string, rootSnapshotId: string): string {
  return `snapdrill-${runId}-${rootSnapshotId}`.replace(/[^A-Za-z0-9()[\]./\-'@_]/g, '-').slice(0, 128);
}

/**
 * bootTestAws boots a restored snapshot on EC2: RegisterImage from the root snapshot (data snapshots at
 * /dev/sdf, /dev/sdg, ...; every volume DeleteOnTermination, gp3), RunInstances in the quarantine
 * subnet/security groups (no key pair, no instance profile, IMDSv2 only, shutdown terminates), then polls
 * DescribeInstanceStatus until running with both status checks ok (`boots`), a check impaired, the
 * instance stopped/terminated, or the timeout (`fails-to-boot`). Whatever happened after launch, it then
 * takes GetConsoleOutput (latest) and GetConsoleScreenshot; their failures go into `reason`, never thrown.
 *
 * Launch refusals that belong to the snapshot or its settings (ENA required, unsupported boot mode, ...)
 * are outcomes (`fails-to-boot` with `launchError`); permission, credential, throttling and other harness
 * errors are thrown (awsError). Nothing is removed here: every created resource is handed to
 * hooks.onCreated as soon as it exists (the image before the launch can fail), and the caller's ledger
 * releases it (terminating the instance removes its volumes; the image is deregistered).
 *
 * Milestones (`launched`, `running`, `status-checks`) are measured from the start of this call. When the
 * signal aborts, the wait stops and the outcome is `error` (interrupted), without console collection.
 */
export async function bootTestAws(api: Ec2Api, spec: AwsBootSpec, hooks: AwsBootHooks, signal?: AbortSignal): Promise<BootOutcome> {
  const t0 = Date.now();
  const since = () => Date.now() - t0;
  const milestones: BootMilestone[] = [];
  const finish = (o: Pick<BootOutcome, 'result' | 'console'> & Partial<BootOutcome>): BootOutcome => ({
    mode: 'ec2',
    platform: spec.instanceType,
    milestones,
    ...o,
    durationMs: since(),
  });

  if (spec.dataSnapshotIds.length > DATA_DEVICES.length) {
    return finish({ result: 'error', reason: `${spec.dataSnapshotIds.length} data snapshots: at most ${DATA_DEVICES.length} can be mapped (/dev/sdf../dev/sdz)`, console: '' });
  }
  if (signal?.aborted) return finish({ result: 'error', reason: 'interrupted before the boot test started', console: '' });

  const tags = runTags(spec.runId, new Date(t0 + spec.ttlMs), spec.rootSnapshotId);
  const rootDeviceName = spec.rootDeviceName ?? '/dev/xvda';

  let imageId: string;
  try {
    imageId = await api.registerImage({
      name: bootImageName(spec.runId, spec.rootSnapshotId),
      description: `snapdrill boot test of ${spec.rootSnapshotId} (run ${spec.runId})`,
      rootDeviceName,
      blockDevices: [
        { deviceName: rootDeviceName, snapshotId: spec.rootSnapshotId },
        ...spec.dataSnapshotIds.map((snapshotId, i) => ({ deviceName: DATA_DEVICES[i]!, snapshotId })),
      ],
      volumeType: 'gp3',
      architecture: spec.architecture ?? 'x86_64',
      ...(spec.bootMode ? { bootMode: spec.bootMode } : {}),
      enaSupport: spec.enaSupport ?? true,
      tags,
    });
  } catch (e) {
    const launchError = launchErrorOf(e);
    if (launchError) return finish({ result: 'fails-to-boot', reason: `RegisterImage refused: ${launchError.code}: ${launchError.message}`, launchError, console: '' });
    throw awsError(e, 'RegisterImage');
  }
  hooks.onCreated({ kind: 'aws-image', id: imageId });

  let instanceId: string;
  try {
    instanceId = await api.runInstance({
      imageId,
      instanceType: spec.instanceType,
      availabilityZone: spec.availabilityZone,
      ...(spec.subnetId ? { subnetId: spec.subnetId } : {}),
      ...(spec.securityGroupIds?.length ? { securityGroupIds: spec.securityGroupIds } : {}),
      tags,
    });
  } catch (e) {
    const launchError = launchErrorOf(e);
    if (launchError) return finish({ result: 'fails-to-boot', reason: `RunInstances refused: ${launchError.code}: ${launchError.message}`, launchError, console: '' });
    throw awsError(e, 'RunInstances');
  }
  hooks.onCreated({ kind: 'aws-instance', id: instanceId });
  milestones.push({ name: 'launched', atMs: since() });

  const waited = await waitStatusChecks(api, instanceId, spec, since, milestones, signal);
  if (waited.interrupted) return finish({ result: 'error', reason: `interrupted while waiting for the status checks of ${instanceId}`, console: '' });

  // Always: the console and the screen say why it did not boot (or show a healthy boot).
  const notes: string[] = [];
  let consoleText = '';
  try {
    consoleText = await api.getConsoleOutput(instanceId);
    if (consoleText.length > CONSOLE_CAP) consoleText = consoleText.slice(-CONSOLE_CAP);
  } catch (e) {
    notes.push(`console output unavailable (${errorText(e)})`);
  }
  let screenshot = '';
  try {
    screenshot = await api.getConsoleScreenshot(instanceId);
  } catch (e) {
    notes.push(`console screenshot unavailable (${errorText(e)})`);
  }
  const reason = [waited.reason, ...notes].filter(Boolean).join('; ');
  return finish({
    result: waited.ok ? 'boots' : 'fails-to-boot',
    ...(reason ? { reason } : {}),
    console: consoleText,
    ...(screenshot ? { screenshotJpegBase64: screenshot } : {}),
  });
}

/** waitStatusChecks polls DescribeInstanceStatus for one instance until a verdict, the timeout or the signal. */
async function waitStatusChecks(
  api: Ec2Api,
  instanceId: string,
  spec: AwsBootSpec,
  since: () => number,
  milestones: BootMilestone[],
  signal?: AbortSignal,
): Promise<{ ok: boolean; reason?: string; interrupted?: boolean }> {
  const deadline = Date.now() + spec.timeoutMs;
  let last: InstanceStatus | undefined;
  for (;;) {
    if (signal?.aborted) return { ok: false, interrupted: true };
    let status: InstanceStatus | undefined;
    try {
      status = (await api.describeInstanceStatus([instanceId])).find((s) => s.InstanceId === instanceId);
    } catch (e) {
      // Right after RunInstances, EC2 may not know the id yet (eventual consistency): ask again next tick.
      if ((e as { name?: string }).name !== 'InvalidInstanceID.NotFound') throw awsError(e, 'DescribeInstanceStatus');
    }
    if (status) {
      last = status;
      const state = status.InstanceState?.Name ?? '';
      const system = status.SystemStatus?.Status;
      const instance = status.InstanceStatus?.Status;
      if (state === 'running' && !milestones.some((m) => m.name === 'running')) milestones.push({ name: 'running', atMs: since() });
      if (STOPPED_STATES.has(state)) return { ok: false, reason: `instance ${state}${await stateReason(api, instanceId)}` };
      if (state === 'running' && system === 'impaired') return { ok: false, reason: 'system status check impaired' };
      if (state === 'running' && instance === 'impaired') return { ok: false, reason: 'instance status check impaired' };
      if (state === 'running' && system === 'ok' && instance === 'ok') {
        milestones.push({ name: 'status-checks', atMs: since() });
        return { ok: true };
      }
    }
    if (Date.now() >= deadline) {
      const state = last?.InstanceState?.Name;
      return {
        ok: false,
        reason:
          `status checks not ok after ${Math.round(spec.timeoutMs / 1000)}s: ` +
          `system ${last?.SystemStatus?.Status ?? 'unknown'}, instance ${last?.InstanceStatus?.Status ?? 'unknown'}` +
          (state !== 'running' ? ` (state ${state ?? 'unknown'})` : ''),
      };
    }
    await sleep(spec.pollMs, signal);
  }
}

/** stateReason is ": <StateReason message>" of an instance that stopped or terminated (DescribeInstances), or "" when unknown. */
async function stateReason(api: Ec2Api, instanceId: string): Promise<string> {
  try {
    const [i] = await api.describeInstances({ instanceIds: [instanceId] });
    const r = i?.StateReason?.Message ?? i?.StateReason?.Code ?? i?.StateTransitionReason;
    return r ? `: ${r}` : '';
  } catch {
    return '';
  }
}
