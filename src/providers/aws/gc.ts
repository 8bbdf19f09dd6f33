import { awsError, type Ec2Api } from './ec2.js';
import { TAG, tagValue } from './tags.js';

/** AwsLeftover is a resource a snapdrill run created in the account, with when it may be removed. */
export interface AwsLeftover {
  kind: 'volume' | 'instance';
  id: string;
  runId: string;
  expiresAt: string;
  state: string;
  action: 'removed' | 'would-remove' | 'kept-not-expired' | 'kept-in-use' | 'failed';
  error?: string;
}

/** collectAwsGarbage finds every instance and volume tagged by snapdrill and removes those whose expiry has passed (unless dryRun): instances first, which frees their volumes. */
export async function collectAwsGarbage(api: Ec2Api, opts: { dryRun: boolean; now?: Date }): Promise<AwsLeftover[]> {
  const now = (opts.now ?? new Date()).getTime();
  const out: AwsLeftover[] = [];
  let instances;
  try {
    instances = await api.describeInstances({ filters: [{ Name: 'tag-key', Values: [TAG.runId] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] });
  } catch (e) {
    throw awsError(e, 'DescribeInstances');
  }
  for (const i of instances) {
    const expiresAt = tagValue(i.Tags, TAG.expiresAt) ?? '';
    const base = { kind: 'instance' as const, id: i.InstanceId!, runId: tagValue(i.Tags, TAG.runId) ?? '', expiresAt, state: i.State?.Name ?? '' };
    const expires = Date.parse(expiresAt);
    if (!Number.isNaN(expires) && expires > now) out.push({ ...base, action: 'kept-not-expired' });
    else if (opts.dryRun) out.push({ ...base, action: 'would-remove' });
    else {
      try {
        await api.terminateInstances([i.InstanceId!]);
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
  for (const v of vols) {
    const expiresAt = tagValue(v.Tags, TAG.expiresAt) ?? '';
    const base = { kind: 'volume' as const, id: v.VolumeId!, runId: tagValue(v.Tags, TAG.runId) ?? '', expiresAt, state: v.State ?? '' };
    const expires = Date.parse(expiresAt);
    // A volume without a readable expiry is treated as expired: it can only be a leftover.
    if (!Number.isNaN(expires) && expires > now) {
      out.push({ ...base, action: 'kept-not-expired' });
    } else if (v.State === 'in-use') {
      out.push({ ...base, action: 'kept-in-use' });
    } else if (opts.dryRun) {
      out.push({ ...base, action: 'would-remove' });
    } else {
      try {
        await api.deleteVolume(v.VolumeId!);
        out.push({ ...base, action: 'removed' });
      } catch (e) {
        out.push({ ...base, action: 'failed', error: awsError(e, 'DeleteVolume').message });
      }
    }
  }
  return out;
}
