import type { LintContext, RestoredFilesystem } from '../../boot/types.js';
import type { Identity } from './facts.js';
import type { Ref } from './refs.js';

/** KnownIds are the identities the restored machine will find: the set's filesystems, and the linted device as blkid saw it. */
export interface KnownIds {
  /** resolves says whether a UUID/LABEL/PARTUUID reference names a restored filesystem; undefined when it cannot be told. */
  resolves(r: Ref): boolean | undefined;
  /** The linted filesystem's UUID, for remedies; null when blkid showed none. */
  selfUuid: string | null;
  /** The restored set in words, for evidence ("restored set: ..."). */
  described: string;
}

const describe = (f: RestoredFilesystem) => `${f.snapshotId}:${f.target}=${f.uuid || '-'}${f.label ? ` (${f.label})` : ''}${f.partuuid ? ` PARTUUID=${f.partuuid}` : ''}`;

/** knownIds gathers the identities of the restored set; UUIDs and PARTUUIDs compare case-insensitively, labels exactly. */
export function knownIds(context: LintContext, self: Identity | undefined): KnownIds {
  const fs = context.filesystems;
  const lower = (xs: (string | null | undefined)[]) => new Set(xs.filter((x): x is string => Boolean(x)).map((x) => x.toLowerCase()));
  const uuids = lower([...fs.map((f) => f.uuid), self?.uuid]);
  const labels = new Set([...fs.map((f) => f.label), self?.label].filter((x): x is string => Boolean(x)));
  const partuuids = lower([...fs.map((f) => f.partuuid), self?.partuuid]);
  return {
    resolves(r) {
      if (r.kind === 'uuid') return uuids.has(r.value.toLowerCase());
      if (r.kind === 'label') return labels.has(r.value);
      // No partition UUID known at all (bare filesystems, or a table without them): it cannot be told.
      if (r.kind === 'partuuid') return partuuids.size ? partuuids.has(r.value.toLowerCase()) : undefined;
      return undefined;
    },
    selfUuid: self?.uuid ?? null,
    described: fs.length ? fs.map(describe).join(', ') : '(none)',
  };
}
