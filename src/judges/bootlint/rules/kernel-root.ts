import type { LintFinding } from '../../../boot/types.js';
import { cmdlines, mergeRepeats, type CmdlineLine } from '../bootcfg.js';
import { deviceAbsence, refWord, specRef, type Ref } from '../refs.js';
import type { LintInput, LintRule } from '../rule.js';

type Problem = { line: CmdlineLine; ref: Ref; id: string; why: string };

/** problemOf says what is wrong with a command line's root=, if anything. */
function problemOf(line: CmdlineLine, { context, ids }: LintInput): Problem | undefined {
  const ref = line.root ? specRef(line.root) : undefined;
  if (!ref) return undefined;
  if (ref.kind === 'device') {
    const absent = deviceAbsence(ref.value, context.targetNvme);
    return absent ? { line, ref, id: 'grub-root-device-missing', why: absent } : undefined;
  }
  if (ids.resolves(ref) !== false) return undefined;
  return { line, ref, id: ref.kind === 'label' ? 'grub-root-label-unknown' : 'grub-root-uuid-mismatch', why: `no filesystem restored with this one has ${refWord(ref)} ${ref.value}` };
}

function finding({ line: l, ref, id, why }: Problem, { ids }: LintInput): LintFinding {
  const self = ids.selfUuid;
  return {
    id,
    severity: l.isDefault ? 'warning' : 'error',
    message: l.isDefault
      ? `${l.file} line ${l.n} puts root=${l.root} on the kernel command line, but ${why}: the next update-grub/grub2-mkconfig (a kernel update) will write it into grub.cfg and the machine will not find its root filesystem`
      : `${l.file} line ${l.n} boots the kernel with root=${l.root}, but ${why}: the initramfs will wait for it and drop to a shell ("Gave up waiting for root device", "ALERT! ... does not exist")`,
    remedy:
      ref.kind === 'device'
        ? `use root=UUID=${self ?? '<uuid of the root filesystem>'} (blkid shows it) instead of a device name, in ${l.isDefault ? l.file : '/etc/default/grub, then update-grub / grub2-mkconfig'}`
        : `point root= at the restored root filesystem (UUID ${self ?? 'shown by blkid'}) in ${l.isDefault ? l.file : `${l.file} (regenerate it with update-grub / grub2-mkconfig, or grubby --update-kernel=ALL --args=root=UUID=...)`}, or restore the volume that carries ${ref.value}`,
    evidence: [`${l.file}:${l.n}: ${l.text}`, `restored set: ${ids.described}`],
  };
}

/** kernelRoot: a kernel command line (GRUB, BLS, grubenv, /etc/default/grub) whose root= will not be found on the restored instance. */
export const kernelRoot: LintRule = {
  name: 'kernel-root',
  ids: ['grub-root-device-missing', 'grub-root-uuid-mismatch', 'grub-root-label-unknown'],
  check(input) {
    const problems = cmdlines(input.facts.bootcfg).flatMap((l) => problemOf(l, input) ?? []);
    return mergeRepeats(problems, (p) => `${p.id}|${p.line.file}|${p.line.root}`, (p) => `${p.line.file}:${p.line.n}: ${p.line.text}`, (p) => finding(p, input));
  },
};
