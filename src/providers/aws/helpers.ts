import { InfraError } from '../../errors.js';
import { backoff } from '../../util/poll.js';
import { sleep } from '../../util/sleep.js';
import { awsError, type Ec2Api, type RunHelperInput } from './ec2.js';
import type { SsmApi } from './ssm-shell.js';
import { runTags } from './tags.js';
import type { WaitPolicy } from './volumes.js';

/** HelperSpec is how helper instances are launched (the tags are added per run). */
export type HelperSpec = Omit<RunHelperInput, 'tags'>;

/** HelperReady says whether a helper became usable, and if not, what it was still waiting for. */
export interface HelperReady {
  instanceId: string;
  ready: boolean;
  /** Why it is not ready: which of running, system status, instance status, SSM agent was missing. */
  reason?: string;
}

/** launchHelpers starts n helper instances, tagged in the launch call, and records each the moment it exists. */
export async function launchHelpers(api: Ec2Api, n: number, spec: HelperSpec, o: { runId: string; ttlMs: number; onLaunched?: (id: string) => void; now?: () => Date }): Promise<string[]> {
  const ids: string[] = [];
  const expires = new Date((o.now?.() ?? new Date()).getTime() + o.ttlMs);
  for (let i = 0; i < n; i++) {
    try {
      const id = await api.runInstance({ ...spec, tags: runTags(o.runId, expires) });
      o.onLaunched?.(id);
      ids.push(id);
    } catch (e) {
      throw awsError(e, 'RunInstances');
    }
  }
  return ids;
}

/** DEFAULT_AGENT_TIMEOUT_MS is how long a helper may be running with status checks ok before its SSM agent must be online. */
export const DEFAULT_AGENT_TIMEOUT_MS = 3 * 60_000;

/** ReadyOptions tune waitHelpersReady beyond its WaitPolicy. */
export interface ReadyOptions {
  /** How long after both status checks pass the SSM agent may stay offline (default 3 minutes). */
  agentTimeoutMs?: number;
  /** First poll delay of the backoff (default 250 ms; later polls grow ×1.5 to wait.pollMs). */
  firstPollMs?: number;
}

/** NO_PROFILE_REMEDY says how to give a helper's SSM agent the credentials it registers with. */
const NO_PROFILE_REMEDY =
  'set provider.helper.instanceProfile to an instance profile whose role has AmazonSSMManagedInstanceCore (in a fleet member account: the ' +
  'member template iam/member-account.yaml creates one, snapdrill-helper, output HelperInstanceProfileName), or enable Default Host Management ' +
  'Configuration in Systems Manager, or use helper.shell: ssh';

/** secs formats a wait in whole seconds (what the messages say was waited, measured, not configured). */
const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

/**
 * agentOffline fails a helper whose EC2 side is ready (running, both status checks ok) but whose SSM agent is not
 * online: at once when it has no instance profile (its agent has no credentials to register with), else once
 * agentTimeoutMs has passed since its checks passed. Returns nothing while it may still come online.
 */
async function agentOffline(ec2: Ec2Api, offline: string[], okSince: Map<string, number>, profiles: Map<string, boolean>, agentTimeoutMs: number, t0: number): Promise<void> {
  const unknown = offline.filter((id) => !profiles.has(id));
  if (unknown.length) {
    let instances;
    try {
      instances = await ec2.describeInstances({ instanceIds: unknown });
    } catch (e) {
      throw awsError(e, 'DescribeInstances');
    }
    for (const i of instances) profiles.set(i.InstanceId!, Boolean(i.IamInstanceProfile?.Arn ?? i.IamInstanceProfile?.Id));
  }
  const now = Date.now();
  for (const id of offline) {
    if (profiles.get(id) === false) {
      throw new InfraError('helper-ssm-unreachable', `helper ${id} is running with status checks ok but its SSM agent is not online after ${secs(now - t0)}: the helper has no instance profile, so the SSM agent cannot register`, { remedy: NO_PROFILE_REMEDY });
    }
    const since = okSince.get(id)!;
    if (now - since >= agentTimeoutMs) {
      throw new InfraError('helper-ssm-unreachable', `helper ${id} has been running with status checks ok for ${secs(now - since)} (${secs(now - t0)} since launch) but its SSM agent never came online: it cannot reach the SSM endpoints, or its instance profile's role cannot register it`, {
        remedy: "check the helper subnet's route to ssm, ssmmessages and ec2messages (VPC endpoints or a NAT), the instance profile's role (AmazonSSMManagedInstanceCore), and the console output (snapdrill diagnose)",
        transient: true,
      });
    }
  }
}

/**
 * waitHelpersReady waits until every helper is running, passes both EC2 status checks and has an SSM agent
 * online (unless ssm is undefined: the helpers are reached over SSH), asking once per tick for all of them
 * (DescribeInstanceStatus, DescribeInstanceInformation), on a backoff (250 ms, ×1.5, up to wait.pollMs).
 * A helper whose agent does not come online is an InfraError `helper-ssm-unreachable` (see agentOffline), not a
 * wait to the deadline. The reasons of helpers still not ready at the deadline state the time actually waited.
 */
export async function waitHelpersReady(ec2: Ec2Api, ssm: SsmApi | undefined, ids: string[], wait: WaitPolicy, signal?: AbortSignal, o: ReadyOptions = {}): Promise<HelperReady[]> {
  const state = new Map<string, string>(ids.map((id) => [id, 'not running yet']));
  const okSince = new Map<string, number>();
  const profiles = new Map<string, boolean>();
  const t0 = Date.now();
  const deadline = t0 + wait.timeoutMs;
  const next = backoff({ capMs: wait.pollMs, ...(o.firstPollMs !== undefined ? { firstMs: o.firstPollMs } : {}) });
  for (;;) {
    const waiting = [...state.entries()].filter(([, r]) => r !== 'ready').map(([id]) => id);
    if (!waiting.length || signal?.aborted) break;
    let statuses;
    try {
      statuses = await ec2.describeInstanceStatus(waiting);
    } catch (e) {
      throw awsError(e, 'DescribeInstanceStatus');
    }
    const checksOk: string[] = [];
    for (const s of statuses) {
      const id = s.InstanceId!;
      const run = s.InstanceState?.Name;
      if (run === 'terminated' || run === 'shutting-down' || run === 'stopped') throw new InfraError('helper-lost', `helper ${id} is ${run}`, { remedy: 'look at its console output and the account limits; re-run' });
      if (run !== 'running') state.set(id, `state ${run ?? 'unknown'}`);
      else if (s.SystemStatus?.Status === 'impaired') state.set(id, 'system status check impaired');
      else if (s.InstanceStatus?.Status === 'impaired') state.set(id, 'instance status check impaired');
      else if (s.SystemStatus?.Status !== 'ok' || s.InstanceStatus?.Status !== 'ok') state.set(id, `status checks ${s.SystemStatus?.Status ?? '?'}/${s.InstanceStatus?.Status ?? '?'}`);
      else checksOk.push(id);
    }
    for (const id of checksOk) if (!okSince.has(id)) okSince.set(id, Date.now());
    if (checksOk.length && !ssm) for (const id of checksOk) state.set(id, 'ready');
    else if (checksOk.length && ssm) {
      let online: Set<string>;
      try {
        online = await ssm.onlineInstances(checksOk);
      } catch (e) {
        throw awsError(e, 'DescribeInstanceInformation');
      }
      for (const id of checksOk) state.set(id, online.has(id) ? 'ready' : 'SSM agent not online');
      const offline = checksOk.filter((id) => !online.has(id));
      if (offline.length) await agentOffline(ec2, offline, okSince, profiles, o.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS, t0);
    }
    if (Date.now() >= deadline) break;
    if ([...state.values()].every((r) => r === 'ready')) break;
    await sleep(Math.min(next(), Math.max(0, deadline - Date.now())), signal);
  }
  const waited = secs(Date.now() - t0);
  return ids.map((id) => (state.get(id) === 'ready' ? { instanceId: id, ready: true } : { instanceId: id, ready: false, reason: `${state.get(id)} after ${waited}${signal?.aborted ? ' (interrupted)' : ''} (${wait.reason})` }));
}
