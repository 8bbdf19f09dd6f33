import { grubSearches, mergeRepeats } from '../bootcfg.js';
import type { LintRule } from '../rule.js';

/** grubSearch: grub.cfg makes GRUB look for its files on a filesystem UUID that is not restored, so it stops at "grub rescue>". */
export const grubSearch: LintRule = {
  name: 'grub-search',
  ids: ['grub-search-uuid-unknown'],
  check({ facts, ids }) {
    const unknown = grubSearches(facts.bootcfg).filter((s) => ids.resolves({ kind: 'uuid', value: s.uuid }) === false);
    return mergeRepeats(
      unknown,
      (s) => `${s.file}|${s.uuid}`,
      (s) => `${s.file}:${s.n}: ${s.text}`,
      (s) => ({
        id: 'grub-search-uuid-unknown',
        severity: 'error',
        message: `${s.file} line ${s.n} makes GRUB search for the filesystem with UUID ${s.uuid}, which no filesystem restored with this one has: GRUB will not find the kernel ("error: no such device", or the grub rescue> prompt)`,
        remedy: `regenerate grub.cfg (update-grub / grub2-mkconfig -o ${s.file}) so it names the restored /boot filesystem (UUID ${ids.selfUuid ?? 'shown by blkid'}), or restore the volume that carries ${s.uuid}`,
        evidence: [`${s.file}:${s.n}: ${s.text}`, `restored set: ${ids.described}`],
      }),
    );
  },
};
