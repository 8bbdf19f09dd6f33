import { InfraError } from '../../errors.js';
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

/**
 * waitHelpersReady waits until every helper is running, passes both EC2 status checks and has an SSM agent
 * online (unless ssm is undefined: the helpers are reached over SSH), asking once per tick for all of them (DescribeInstanceStatus, DescribeInstanceInformation).
 */
export async function waitHelpersReady(ec2: Ec2Api, ssm: SsmApi | undefined, ids: string[], wait: WaitPolicy, signal?: AbortSignal): Promise<HelperReady[]> {
  const state = new Map<string, string>(ids.map((id) => [id, 'not running yet']));
  const deadline = Date.now() + wait.timeoutMs;
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
    if (checksOk.length && !ssm) for (const id of checksOk) state.set(id, 'ready');
    else if (checksOk.length && ssm) {
      let online: Set<string>;
      try {
        online = await ssm.onlineInstances(checksOk);
      } catch (e) {
        throw awsError(e, 'DescribeInstanceInformation');
      }
      for (const id of checksOk) state.set(id, online.has(id) ? 'ready' : 'SSM agent not online');
    }
    if (Date.now() >= deadline) break;
    if ([...state.values()].every((r) => r === 'ready')) break;
    await sleep(wait.pollMs, signal);
  }
  return ids.map((id) => (state.get(id) === 'ready' ? { instanceId: id, ready: true } : { instanceId: id, ready: false, reason: `${state.get(id)} after ${Math.round(wait.timeoutMs / 1000)}s (${wait.reason})` }));
}
