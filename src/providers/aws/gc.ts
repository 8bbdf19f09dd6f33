import type { Volume } from '@aws-sdk/client-ec2';
import { sleep } from '../../util/sleep.js';
import type { CloudLeftover } from '../../provider.js';
import { awsError, type Ec2Api } from './ec2.js';
import { TAG, tagValue } from './tags.js';

/** AwsLeftover is a resource a snapdrill run created in the account, with when it may be removed. */
export interface AwsLeftover extends CloudLeftover {
  kind: 'volume' | 'instance';
}

/** AwsGcOptions: dryRun lists only; wait bounds how long volumes freed by this pass are waited for (default 120 s, polled every 3 s). */
export interface AwsGcOptions {
  dryRun: boolean;
  now?: Date;
  wait?: { timeoutMs: number; pollMs: number };
}

/** Instance states in which an instance no longer holds its volumes for long (EC2 releases them as it terminates). */
const GOING = new Set(['shutting-down', 'terminated']);

/**
 * collectAwsGarbage finds every instance and volume tagged by snapdrill and removes those whose expiry has passed
 * (unless dryRun), in one pass: expired instances are terminated first; an expired volume still attached only to
 * instances that are going away is detached by force (a filesystem a killed check left mounted keeps a plain detach
 * busy for minutes) and deleted once free, waiting at most `wait`. A volume attached to a live instance is kept.
 */
export async function collectAwsGarbage(api: Ec2Api, opts: AwsGcOptions): Promise<AwsLeftover[]> {
  const now = (opts.now ?? new Date()).getTime();
  const wait = opts.wait ?? { timeoutMs: 120_000, pollMs: 3000 };
  const out: AwsLeftover[] = [];
  const expired = (tags: Volume['Tags']) => {
    const expires = Date.parse(tagValue(tags, TAG.expiresAt) ?? '');
    // Without a readable expiry it can only be a leftover.
    return Number.isNaN(expires) || expires <= now;
  };
  let instances;
  try {
    instances = await api.describeInstances({ filters: [{ Name: 'tag-key', Values: [TAG.runId] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] });
  } catch (e) {
    throw awsError(e, 'DescribeInstances');
  }
  /** Instances this pass terminated (or would, in a dry run). */
  const going = new Set<string>();
  for (const i of instances) {
    const expiresAt = tagValue(i.Tags, TAG.expiresAt) ?? '';
    const base = { kind: 'instance' as const, id: i.InstanceId!, runId: tagValue(i.Tags, TAG.runId) ?? '', expiresAt, state: i.State?.Name ?? '' };
    if (!expired(i.Tags)) out.push({ ...base, action: 'kept-not-expired' });
    else if (opts.dryRun) {
      going.add(i.InstanceId!);
      out.push({ ...base, action: 'would-remove' });
    } else {
      try {
        await api.terminateInstances([i.InstanceId!]);
        going.add(i.InstanceId!);
        out.push({ ...base, action: 'removed' });
      } catch (e) {
        out.push({ ...base, action: 'failed', error: awsError(e, 'TerminateInstances').message });
      }
    }
  }
  let vols;
  try {
    vols = await api.describeVolumes({ filters: [{ Name: 'tag-key', Values: [TAG.runId] }] });
  } catch (e) {
    throw awsError(e, 'DescribeVolumes');
  }
  const holders = (v: Volume) => (v.Attachments ?? []).filter((a) => a.State !== 'detached' && a.InstanceId).map((a) => a.InstanceId!);
  // Instances holding expired volumes that this pass did not terminate: are they going away already (a ledger pass, an earlier gc)?
  const unknown = [...new Set(vols.filter((v) => v.State === 'in-use' && expired(v.Tags)).flatMap(holders))].filter((id) => !going.has(id));
  if (unknown.length) {
    try {
      for (const i of await api.describeInstances({ instanceIds: unknown })) if (GOING.has(i.State?.Name ?? '')) going.add(i.InstanceId!);
    } catch (e) {
      // An instance that no longer exists at all holds nothing; anything else is a real error.
      if (!/NotFound/.test((e as { name?: string }).name ?? '')) throw awsError(e, 'DescribeInstances');
    }
  }
  const settling = new Map<string, Omit<AwsLeftover, 'action'>>();
  for (const v of vols) {
    const base = { kind: 'volume' as const, id: v.VolumeId!, runId: tagValue(v.Tags, TAG.runId) ?? '', expiresAt: tagValue(v.Tags, TAG.expiresAt) ?? '', state: v.State ?? '' };
    if (!expired(v.Tags)) out.push({ ...base, action: 'kept-not-expired' });
    else if (v.State === 'in-use' && !holders(v).every((id) => going.has(id))) out.push({ ...base, action: 'kept-in-use' });
    else if (opts.dryRun) out.push({ ...base, action: 'would-remove' });
    else if (v.State === 'in-use') {
      // Its instance is going away: force the detach rather than wait for the termination to release it.
      for (const id of holders(v)) await api.detachVolume(v.VolumeId!, id, true).catch(() => undefined);
      settling.set(v.VolumeId!, base);
    } else {
      try {
        await api.deleteVolume(v.VolumeId!);
        out.push({ ...base, action: 'removed' });
      } catch (e) {
        if ((e as { name?: string }).name === 'VolumeInUse') settling.set(v.VolumeId!, base);
        else out.push({ ...base, action: 'failed', error: awsError(e, 'DeleteVolume').message });
      }
    }
  }
  out.push(...(await deleteWhenFree(api, settling, wait)));
  return out;
}

/** deleteWhenFree deletes volumes as they become available, asking DescribeVolumes once per tick for all of them, until wait.timeoutMs. */
async function deleteWhenFree(api: Ec2Api, pending: Map<string, Omit<AwsLeftover, 'action'>>, wait: { timeoutMs: number; pollMs: number }): Promise<AwsLeftover[]> {
  const out: AwsLeftover[] = [];
  const deadline = Date.now() + wait.timeoutMs;
  while (pending.size) {
    let vols: Volume[];
    try {
      vols = await api.describeVolumes({ volumeIds: [...pending.keys()] });
    } catch (e) {
      if (!/NotFound/.test((e as { name?: string }).name ?? '')) throw awsError(e, 'DescribeVolumes');
      vols = await api.describeVolumes({ filters: [{ Name: 'volume-id', Values: [...pending.keys()] }] }).catch(() => []);
    }
    const seen = new Map(vols.map((v) => [v.VolumeId!, v]));
    for (const [id, base] of [...pending]) {
      const v = seen.get(id);
      if (!v || v.State === 'deleted' || v.State === 'deleting') {
        pending.delete(id);
        out.push({ ...base, action: 'removed' });
      } else if (v.State === 'available') {
        try {
          await api.deleteVolume(id);
          pending.delete(id);
          out.push({ ...base, action: 'removed' });
        } catch (e) {
          // Eventually consistent: reported available, still in use for DeleteVolume for a moment.
          if ((e as { name?: string }).name !== 'VolumeInUse') {
            pending.delete(id);
            out.push({ ...base, action: 'failed', error: awsError(e, 'DeleteVolume').message });
          }
        }
      }
    }
    if (!pending.size) break;
    if (Date.now() >= deadline) {
      for (const [id, base] of pending) out.push({ ...base, action: 'failed', error: `volume ${id} still in use ${Math.round(wait.timeoutMs / 1000)}s after its detach was forced; run gc again` });
      break;
    }
    await sleep(wait.pollMs);
  }
  return out;
}
