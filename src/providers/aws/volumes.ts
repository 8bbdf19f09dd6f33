import type { Volume, VolumeType } from '@aws-sdk/client-ec2';
import { InfraError } from '../../errors.js';
import { backoff, BatchPoller } from '../../util/poll.js';
import { awsError, type Ec2Api } from './ec2.js';
import { runTags } from './tags.js';

/**
 * WaitPolicy bounds a wait: how long, how often to ask at most (the backoff's cap: polls start at 250 ms and grow
 * ×1.5 up to pollMs), and what is being waited for (for the error).
 */
export interface WaitPolicy {
  timeoutMs: number;
  pollMs: number;
  reason: string;
}

const watches = new WeakMap<Ec2Api, BatchPoller<Volume>>();

/** missingVolumes are the ids an InvalidVolume.NotFound error names. */
function missingVolumes(e: unknown, asked: string[]): string[] {
  if ((e as { name?: string }).name !== 'InvalidVolume.NotFound') return [];
  const named = new Set([...String((e as Error).message).matchAll(/vol-[0-9a-f]+/g)].map((m) => m[0]));
  return asked.filter((id) => named.has(id));
}

/**
 * volumeWatch is the one DescribeVolumes poller of an EC2 API object: every restore, attach and detach wait of a
 * provider asks it, so the volumes of a run in flight cost one DescribeVolumes per tick together. A volume EC2
 * says does not exist (InvalidVolume.NotFound names it) answers undefined; the others are asked again at once.
 */
export function volumeWatch(api: Ec2Api): BatchPoller<Volume> {
  let w = watches.get(api);
  if (!w) {
    const describe = async (ids: string[]): Promise<Map<string, Volume>> => {
      let ask = ids;
      for (;;) {
        try {
          const vols = ask.length ? await api.describeVolumes({ volumeIds: ask }) : [];
          return new Map(vols.map((v) => [v.VolumeId!, v]));
        } catch (e) {
          const gone = missingVolumes(e, ask);
          if (!gone.length) throw awsError(e, 'DescribeVolumes');
          ask = ask.filter((id) => !gone.includes(id));
        }
      }
    };
    w = new BatchPoller<Volume>(describe, { slackMs: 250, maxIds: 200 });
    watches.set(api, w);
  }
  return w;
}

/** RestoreRequest is one snapshot to turn into a volume. */
export interface RestoreRequest {
  snapshotId: string;
  kmsKeyId?: string;
  /** The snapshot's own KMS key, when it is encrypted: named when the new volume fails. */
  encryptedWith?: string;
}

/** volumeFailed explains a volume EBS gave up on; with encryption involved, that is almost always the KMS key. */
function volumeFailed(r: RestoreRequest, volumeId: string, what: string, kmsKeyId?: string): InfraError {
  const key = r.kmsKeyId ?? kmsKeyId ?? r.encryptedWith;
  if (key) {
    return new InfraError('aws-kms', `volume ${volumeId} from ${r.snapshotId} ${what}: EBS could not use KMS key ${key} (the snapshot is ${r.encryptedWith ? 'encrypted' : 'restored encrypted'})`, {
      remedy: `let the role snapdrill runs as use the key: kms:CreateGrant (with kms:GrantIsForAWSResource), kms:Decrypt, kms:DescribeKey, kms:GenerateDataKeyWithoutPlaintext${r.kmsKeyId && r.encryptedWith ? ' and kms:ReEncrypt* on both keys' : ''}, in the key policy and in IAM; CloudTrail (event source kms.amazonaws.com) names the call that was denied`,
    });
  }
  return new InfraError('volume-failed', `volume ${volumeId} from ${r.snapshotId} ${what}`, { remedy: 'check the snapshot (DescribeSnapshots status and progress); retry the run' });
}

/** RestoreOutcome is the volume a snapshot became, or why it did not. */
export type RestoreOutcome = { snapshotId: string; volumeId: string; ok: true } | { snapshotId: string; volumeId?: string; ok: false; error: Error };

/** RestoreOptions say where and how volumes are created, and who records them (the ledger) the moment they exist. */
export interface RestoreOptions {
  runId: string;
  availabilityZone: string;
  volumeType: VolumeType;
  iops?: number;
  throughput?: number;
  /** KMS key of the new volumes; default: the snapshot's own key. */
  kmsKeyId?: string;
  /** How long `gc` must leave the volumes alone. */
  ttlMs: number;
  wait: WaitPolicy;
  /** Volumes created at once (CreateVolume has its own rate limit). */
  concurrency?: number;
  onCreated?: (snapshotId: string, volumeId: string) => void;
  signal?: AbortSignal;
  now?: () => Date;
}

/**
 * restoreVolumes creates one tagged volume per snapshot and waits until all are available, asking
 * DescribeVolumes once per tick for every volume still in flight (not one waiter per volume).
 */
export async function restoreVolumes(api: Ec2Api, requests: RestoreRequest[], opts: RestoreOptions): Promise<RestoreOutcome[]> {
  const now = opts.now ?? (() => new Date());
  const outcomes = new Map<string, RestoreOutcome>();
  const queue = [...requests];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      if (opts.signal?.aborted) break;
      try {
        const volumeId = await api.createVolume({
          snapshotId: r.snapshotId,
          availabilityZone: opts.availabilityZone,
          volumeType: opts.volumeType,
          ...(opts.iops ? { iops: opts.iops } : {}),
          ...(opts.throughput ? { throughput: opts.throughput } : {}),
          ...((r.kmsKeyId ?? opts.kmsKeyId) ? { kmsKeyId: r.kmsKeyId ?? opts.kmsKeyId } : {}),
          tags: runTags(opts.runId, new Date(now().getTime() + opts.ttlMs), r.snapshotId),
        });
        opts.onCreated?.(r.snapshotId, volumeId);
        outcomes.set(r.snapshotId, { snapshotId: r.snapshotId, volumeId, ok: true });
      } catch (e) {
        outcomes.set(r.snapshotId, { snapshotId: r.snapshotId, ok: false, error: awsError(e, 'CreateVolume') });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 5, requests.length) }, worker));

  const requestOf = new Map(requests.map((r) => [r.snapshotId, r]));
  const pending = new Map([...outcomes.values()].filter((o) => o.ok).map((o) => [o.volumeId!, o.snapshotId]));
  const deadline = now().getTime() + opts.wait.timeoutMs;
  const fail = (volumeId: string, what: string, kmsKeyId?: string) => {
    const snap = pending.get(volumeId)!;
    pending.delete(volumeId);
    outcomes.set(snap, { snapshotId: snap, volumeId, ok: false, error: volumeFailed(requestOf.get(snap)!, volumeId, what, kmsKeyId) });
  };
  const watch = volumeWatch(api);
  const next = backoff({ capMs: opts.wait.pollMs });
  // No poll at once: EBS never has a volume ready the moment CreateVolume answers (the first poll is the backoff's first).
  for (let after = next(); pending.size && !opts.signal?.aborted; after = Math.min(next(), Math.max(0, deadline - now().getTime()))) {
    // One waiter per volume, all answered by the same DescribeVolumes (volumeWatch), on one backoff.
    const ids = [...pending.keys()];
    const vols = await Promise.all(ids.map((id) => watch.get(id, after, opts.signal)));
    if (opts.signal?.aborted) break;
    for (const [i, v] of vols.entries()) {
      const id = ids[i]!;
      if (!v) fail(id, 'disappeared while it was being created');
      else if (v.State === 'available') pending.delete(id);
      else if (v.State === 'error' || v.State === 'deleted' || v.State === 'deleting') fail(id, `went to state ${v.State}`, v.KmsKeyId);
    }
    if (!pending.size) break;
    if (now().getTime() >= deadline) {
      for (const [vol, snap] of pending) {
        outcomes.set(snap, { snapshotId: snap, volumeId: vol, ok: false, error: new InfraError('wait-timeout', `volume ${vol} from ${snap} not available after ${Math.round(opts.wait.timeoutMs / 1000)}s (${opts.wait.reason})`, { transient: true, remedy: 'raise timeouts.restore; large volumes without Fast Snapshot Restore take longer' }) });
      }
      break;
    }
  }
  return requests.map((r) => outcomes.get(r.snapshotId) ?? { snapshotId: r.snapshotId, ok: false, error: new InfraError('interrupted', 'interrupted before the volume was created') });
}
