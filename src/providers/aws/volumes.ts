import type { VolumeType } from '@aws-sdk/client-ec2';
import { InfraError } from '../../errors.js';
import { sleep } from '../../util/sleep.js';
import { awsError, type Ec2Api } from './ec2.js';
import { runTags } from './tags.js';

/** WaitPolicy bounds a wait: how long, how often to ask, and what is being waited for (for the error). */
export interface WaitPolicy {
  timeoutMs: number;
  pollMs: number;
  reason: string;
}

/** RestoreRequest is one snapshot to turn into a volume. */
export interface RestoreRequest {
  snapshotId: string;
  kmsKeyId?: string;
}

/** RestoreOutcome is the volume a snapshot became, or why it did not. */
export type RestoreOutcome = { snapshotId: string; volumeId: string; ok: true } | { snapshotId: string; volumeId?: string; ok: false; error: Error };

/** RestoreOptions say where and how volumes are created, and who records them (the ledger) the moment they exist. */
export interface RestoreOptions {
  runId: string;
  availabilityZone: string;
  volumeType: VolumeType;
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
          ...(r.kmsKeyId ? { kmsKeyId: r.kmsKeyId } : {}),
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

  const pending = new Map([...outcomes.values()].filter((o) => o.ok).map((o) => [o.volumeId!, o.snapshotId]));
  const deadline = now().getTime() + opts.wait.timeoutMs;
  while (pending.size && !opts.signal?.aborted) {
    const vols = await api.describeVolumes({ volumeIds: [...pending.keys()] }).catch((e) => {
      throw awsError(e, 'DescribeVolumes');
    });
    for (const v of vols) {
      const snap = pending.get(v.VolumeId!);
      if (!snap) continue;
      if (v.State === 'available') pending.delete(v.VolumeId!);
      else if (v.State === 'error' || v.State === 'deleted' || v.State === 'deleting') {
        pending.delete(v.VolumeId!);
        outcomes.set(snap, { snapshotId: snap, volumeId: v.VolumeId!, ok: false, error: new InfraError('volume-failed', `volume ${v.VolumeId} from ${snap} went to state ${v.State}`, { remedy: 'check the snapshot and the KMS key; retry the run' }) });
      }
    }
    if (!pending.size) break;
    if (now().getTime() >= deadline) {
      for (const [vol, snap] of pending) {
        outcomes.set(snap, { snapshotId: snap, volumeId: vol, ok: false, error: new InfraError('wait-timeout', `volume ${vol} from ${snap} not available after ${Math.round(opts.wait.timeoutMs / 1000)}s (${opts.wait.reason})`, { transient: true, remedy: 'raise timeouts.restore; large volumes without Fast Snapshot Restore take longer' }) });
      }
      break;
    }
    await sleep(opts.wait.pollMs, opts.signal);
  }
  return requests.map((r) => outcomes.get(r.snapshotId) ?? { snapshotId: r.snapshotId, ok: false, error: new InfraError('interrupted', 'interrupted before the volume was created') });
}
