import type { Filter, Snapshot } from '@aws-sdk/client-ec2';
import type { SnapshotSelector } from '../../config/types.js';
import type { SnapshotInfo } from '../../provider.js';
import { SnapshotNotFoundError } from '../../errors.js';
import { awsError, type Ec2Api } from './ec2.js';

/** SnapshotOrigin says what made a snapshot, read from the tags AWS services put on it. */
export type SnapshotOrigin = 'aws-backup' | 'dlm' | 'manual';

/** originOf recognises AWS Backup and Data Lifecycle Manager snapshots by their tags. */
export function originOf(tags: Record<string, string>, description = ''): SnapshotOrigin {
  if (tags['aws:backup:source-resource'] || /^This snapshot is created by the AWS Backup service/.test(description)) return 'aws-backup';
  if (tags['aws:dlm:lifecycle-policy-id'] || tags['dlm:managed'] === 'true') return 'dlm';
  return 'manual';
}

/** setKeyOf groups snapshots taken together of one instance (CreateSnapshots, AWS Backup or DLM multi-volume): instance + start time. */
export function setKeyOf(s: Snapshot, tags: Record<string, string>): string | undefined {
  if (tags['snapdrill:set']) return tags['snapdrill:set'];
  const instance =
    /instance\/(i-[0-9a-f]+)/.exec(tags['aws:backup:source-resource'] ?? '')?.[1] ??
    /\b(i-[0-9a-f]{8,17})\b/.exec(s.Description ?? '')?.[1] ??
    tags['instance-id'];
  if (!instance || !s.StartTime) return undefined;
  // Volumes of one multi-volume snapshot start within the same second.
  return `${instance}@${s.StartTime.toISOString().slice(0, 19)}Z`;
}

/** toSnapshotInfo maps an EC2 snapshot to snapdrill's provider-neutral description. */
export function toSnapshotInfo(s: Snapshot, region: string): SnapshotInfo {
  const tags = Object.fromEntries((s.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  const info: SnapshotInfo = {
    id: s.SnapshotId!,
    source: `aws:${region}:${s.SnapshotId}`,
    tags,
    sizeBytes: (s.VolumeSize ?? 0) * 2 ** 30,
  };
  if (s.VolumeId && s.VolumeId !== 'vol-ffffffff') info.volumeId = s.VolumeId;
  if (s.OwnerId) info.account = s.OwnerId;
  info.region = region;
  if (s.StartTime) info.startTime = s.StartTime.toISOString();
  if (s.Encrypted) info.kmsKeyId = s.KmsKeyId ?? 'default';
  const ami = tags['snapdrill:source-ami'] ?? /\bfor (ami-[0-9a-f]{8,17})\b/.exec(s.Description ?? '')?.[1];
  if (ami) info.sourceImageId = ami;
  const set = setKeyOf(s, tags);
  if (set) info.set = set;
  return info;
}

/** filtersFor turns a selector into server-side filters, so a region with thousands of snapshots is not listed whole. */
export function filtersFor(sel: SnapshotSelector): Filter[] {
  const f: Filter[] = [{ Name: 'status', Values: ['completed'] }];
  if (sel.volumeIds?.length) f.push({ Name: 'volume-id', Values: sel.volumeIds });
  for (const [k, v] of Object.entries(sel.tags ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    if (values.includes('*')) f.push({ Name: 'tag-key', Values: [k] });
    else f.push({ Name: `tag:${k}`, Values: values });
  }
  return f;
}

/** describeIds fetches snapshots by id; when some do not exist, it finds out which (EC2 names only the first) and names them all. */
async function describeIds(api: Ec2Api, ids: string[], where: string): Promise<Snapshot[]> {
  try {
    return await api.describeSnapshots({ snapshotIds: ids });
  } catch (e) {
    if (!(awsError(e, where) instanceof SnapshotNotFoundError)) throw e;
    const missing: string[] = [];
    for (const id of ids) {
      try {
        await api.describeSnapshots({ snapshotIds: [id] });
      } catch (one) {
        if (awsError(one, where) instanceof SnapshotNotFoundError) missing.push(id);
        else throw one;
      }
    }
    throw new SnapshotNotFoundError(missing.length ? missing : ids, where);
  }
}

/** listAwsSnapshots asks EC2 for the candidates of every selector (ids exactly, the rest by filters) and returns them, deduplicated. */
export async function listAwsSnapshots(api: Ec2Api, region: string, selectors: SnapshotSelector[]): Promise<SnapshotInfo[]> {
  const where = `region ${region}`;
  const seen = new Map<string, Snapshot>();
  const add = (xs: Snapshot[]) => xs.forEach((s) => s.SnapshotId && seen.set(s.SnapshotId, s));
  try {
    if (selectors.length === 0) add(await api.describeSnapshots({ filters: [{ Name: 'status', Values: ['completed'] }] }));
    for (const sel of selectors) {
      if (sel.ids?.length) add(await describeIds(api, sel.ids, where));
      else add(await api.describeSnapshots({ filters: filtersFor(sel) }));
    }
  } catch (e) {
    throw e instanceof SnapshotNotFoundError ? e : awsError(e, where);
  }
  return [...seen.values()].sort((a, b) => (a.StartTime?.getTime() ?? 0) - (b.StartTime?.getTime() ?? 0) || (a.SnapshotId ?? '').localeCompare(b.SnapshotId ?? '')).map((s) => toSnapshotInfo(s, region));
}

/** listVolumeSnapshots lists every completed snapshot of some volumes (200 volume ids per call), for the RPO check. */
export async function listVolumeSnapshots(api: Ec2Api, region: string, volumeIds: string[]): Promise<SnapshotInfo[]> {
  const out: Snapshot[] = [];
  try {
    for (let i = 0; i < volumeIds.length; i += 200) {
      out.push(...(await api.describeSnapshots({ filters: [{ Name: 'status', Values: ['completed'] }, { Name: 'volume-id', Values: volumeIds.slice(i, i + 200) }] })));
    }
  } catch (e) {
    throw awsError(e, `region ${region}`);
  }
  return out.map((s) => toSnapshotInfo(s, region));
}
