import type { LintFinding } from '../../../boot/types.js';
import { bootMounts, type BootMount } from '../fstab.js';
import type { KnownIds } from '../known.js';
import { refWord } from '../refs.js';
import type { LintRule } from '../rule.js';

/** identityFinding judges one fstab entry that names its filesystem by UUID, LABEL or PARTUUID against the restored set. */
function identityFinding(m: BootMount, ids: KnownIds): LintFinding | undefined {
  const resolves = ids.resolves(m.ref);
  if (resolves === undefined && m.ref.kind === 'partuuid') {
    return {
      id: 'fstab-partuuid-unverified',
      severity: 'info',
      message: `${m.where} mounts ${m.what} by PARTUUID, and the partition UUIDs of the restored set could not be read, so it was not checked`,
      remedy: 'none needed if the partition table was restored with the filesystem; UUID= is independent of the partition table',
      evidence: [m.quoted],
    };
  }
  if (resolves !== false) return undefined;
  const word = refWord(m.ref);
  return {
    id: `fstab-${m.ref.kind}-unknown`,
    severity: m.nofail ? 'warning' : 'error',
    message: `${m.where} mounts ${m.what}, but no filesystem restored with this one has ${word} ${m.ref.value}; ${m.consequence}`,
    remedy: `restore the missing volume with this one (same snapshot set), or change ${m.where} to a ${word} that exists${m.nofail ? '' : ' or add nofail'}`,
    evidence: [m.quoted, `restored set: ${ids.described}`],
  };
}

/** fstabIdentities: fstab entries whose UUID=, LABEL= or PARTUUID= no filesystem of the restored snapshot (or set) carries. */
export const fstabIdentities: LintRule = {
  name: 'fstab-identities',
  ids: ['fstab-uuid-unknown', 'fstab-label-unknown', 'fstab-partuuid-unknown', 'fstab-partuuid-unverified'],
  check({ facts, ids }) {
    return bootMounts(facts.fstab).flatMap((m) => (m.ref.kind === 'device' ? [] : (identityFinding(m, ids) ?? [])));
  },
};
