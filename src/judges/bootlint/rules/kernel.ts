import { separateBoot } from '../fstab.js';
import { locatedKernel } from '../kernel.js';
import type { LintRule } from '../rule.js';

/** kernelPresent: no kernel under /boot (noted: nothing kernel-side was linted), or the boot loader boots a kernel file that is not there. */
export const kernelPresent: LintRule = {
  name: 'kernel',
  ids: ['kernel-not-found', 'kernel-missing'],
  check({ facts }) {
    const { kernel } = facts;
    if (!kernel) return [];
    const apart = separateBoot(facts.fstab);
    const k = locatedKernel(kernel);
    if (!k) {
      return [
        {
          id: 'kernel-not-found',
          severity: 'info',
          message: apart
            ? 'no kernel under /boot: /boot is a separate filesystem (in /etc/fstab), so the kernel, its initramfs and grub.cfg were not linted'
            : 'no kernel found under /boot (a container image, or a kernel loaded from elsewhere): the initramfs was not linted',
          remedy: apart ? 'lint the /boot filesystem of the same snapshot set too, or rely on the boot test' : 'none, unless this filesystem is expected to boot on its own',
          evidence: [],
        },
      ];
    }
    if (!kernel.path || kernel.exists) return [];
    return [
      {
        id: 'kernel-missing',
        severity: 'error',
        message: `${kernel.source ?? 'the boot loader'} boots ${kernel.path}, which does not exist on this filesystem${apart ? ' (/boot is a separate filesystem: check it there)' : ''}`,
        remedy: 'reinstall the kernel package or regenerate the boot loader configuration (update-grub / grub2-mkconfig) in the source system, then take a new snapshot',
        evidence: k.evidence,
      },
    ];
  },
};
