import { locatedKernel } from '../kernel.js';
import type { LintRule } from '../rule.js';
import { listing } from './initramfs-nvme.js';

/** enaDriver: every current Nitro type offers only ENA networking; ENA is loaded by udev from the root filesystem after the switch, so it only has to exist somewhere. */
export const enaDriver: LintRule = {
  name: 'ena',
  ids: ['initramfs-no-ena'],
  check({ facts, context }) {
    const k = locatedKernel(facts.kernel);
    const { initramfs } = facts;
    // Judged only where the kernel side could be read: a listed initramfs, and modules.builtin or a module tree.
    if (!k || !context.targetNvme || !initramfs?.ok) return [];
    const { kernel } = k;
    if ((kernel.builtinRead && kernel.builtin.ena) || kernel.modules.ena.length > 0 || (initramfs.ena ?? []).length > 0) return [];
    if (!kernel.builtinRead && kernel.modulesDir === null) return [];
    return [
      {
        id: 'initramfs-no-ena',
        severity: 'warning',
        message: `${k.desc} has no ENA network driver (not built in, not under ${kernel.modulesDir ?? '/lib/modules'}, not in ${initramfs.path}): the instance boots but has no network on instance types that only offer ENA (every current Nitro type), so SSH and SSM will not reach it`,
        remedy: 'install a kernel (or the amzn-drivers ena module via DKMS) that has the ena driver, and register the image with ENA support; see the AWS guide "Enable enhanced networking with ENA"',
        evidence: [...k.evidence, listing(initramfs)],
      },
    ];
  },
};
