import { awsError, type Ec2Api } from './ec2.js';
import { TAG, tagValue } from './tags.js';

/** AwsLeftover is a resource a snapdrill run created in the account, with when it may be removed. */
export interface AwsLeftover {
  kind: 'volume';
  id: string;
  runId: string;
  expiresAt: string;
  state: string;
  action: 'removed' | 'would-remove' | 'kept-not-expired' | 'kept-in-use' | 'failed';
  error?: string;
}

/** collectAwsGarbage finds every volume tagged by snapdrill and deletes those whose expiry has passed (unless dryRun). */
export async function collectAwsGarbage(api: Ec2Api, opts: { dryRun: boolean; now?: Date }): Promise<AwsLeftover[]> {
  const now = (opts.now ?? new Date()).getTime();
  let vols;
  try {
    vols = await api.describeVolumes({ filters: [{ Name: 'tag-key', Values: [TAG.runId] }] });
  } catch (e) {
    throw awsError(e, 'DescribeVolumes');
  }
  const out: AwsLeftover[] = [];
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
