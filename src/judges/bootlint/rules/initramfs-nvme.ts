import type { LintFinding } from '../../../boot/types.js';
import type { InitramfsFact } from '../facts.js';
import { initramfsRemedy, locatedKernel, type KernelView } from '../kernel.js';
import type { LintRule } from '../rule.js';

/** listedWithoutNvme judges a listed initramfs that has no nvme driver, for a kernel that does not build it in. */
function listedWithoutNvme({ kernel, desc, evidence }: KernelView, initramfs: InitramfsFact, tool: string | null): LintFinding {
  const noModule = kernel.modulesDir !== null && kernel.modules.nvme.length === 0;
  return {
    id: 'initramfs-no-nvme',
    severity: kernel.builtinRead ? 'error' : 'warning',
    message: `the initramfs ${initramfs.path} of ${desc} has no nvme driver${kernel.builtinRead ? ' and the kernel does not build it in' : " (and the kernel's modules.builtin could not be read)"}: on a Nitro instance the root disk is NVMe, so the boot stops waiting for the root device ("Gave up waiting for root device")${noModule ? `; the kernel has no nvme module at all under ${kernel.modulesDir}` : ''}`,
    remedy: noModule ? 'install a kernel with NVMe support (any distribution kernel since Linux 4.x has it) and rebuild its initramfs, or restore to a Xen instance type' : initramfsRemedy(tool, 'nvme', kernel.version),
    evidence: [...evidence, listing(initramfs)],
  };
}

/** listing is the evidence line of a listed initramfs: how many entries, read how, in which segments. */
export const listing = (i: InitramfsFact): string =>
  `${i.path}: ${i.entries ?? '?'} entries read with ${i.reader}${i.segments.length ? ` (${i.segments.map((s) => `${s.format} at ${s.offset}`).join(', ')})` : ''}`;

/** initramfsNvme: on a Nitro target the root disk is NVMe, so the default kernel needs nvme built in or in its initramfs. */
export const initramfsNvme: LintRule = {
  name: 'initramfs-nvme',
  ids: ['initramfs-missing', 'initramfs-unreadable', 'initramfs-no-nvme'],
  check({ facts, context }) {
    const k = locatedKernel(facts.kernel);
    if (!k || !context.targetNvme || (k.kernel.builtinRead && k.kernel.builtin.nvme)) return [];
    const { initramfs } = facts;
    if (!initramfs) {
      if (!k.kernel.exists) return [];
      const message = `${k.desc} has no initramfs on this filesystem, and nvme is not built into the kernel: on a Nitro instance it cannot reach its NVMe root disk`;
      return [{ id: 'initramfs-missing', severity: 'error', message, remedy: initramfsRemedy(facts.initramfsTool, 'nvme', k.kernel.version), evidence: k.evidence }];
    }
    if (!initramfs.ok && initramfs.capped) {
      return [
        {
          id: 'initramfs-unreadable',
          severity: 'warning',
          message: `${initramfs.path} was not listed to the end: ${initramfs.error ?? 'it lists more names than the lint reads'}; whether it holds the nvme driver is unknown`,
          remedy: 'no real initramfs lists that many files: inspect this one on an isolated machine (lsinitramfs / lsinitrd) before booting the restored system',
          evidence: [...k.evidence, `${initramfs.path}: ${initramfs.bytes} bytes`],
        },
      ];
    }
    if (!initramfs.ok) {
      return [
        {
          id: 'initramfs-unreadable',
          severity: 'info',
          message: `could not list ${initramfs.path} (${initramfs.error ?? 'unknown format'}), so whether it holds the nvme driver was not checked`,
          remedy: 'install cpio and the decompressor of the initramfs (zstd, xz-utils, lz4) on the helper, or lsinitramfs/lsinitrd, and run the lint again',
          evidence: [...k.evidence, `${initramfs.path}: ${initramfs.bytes} bytes`],
        },
      ];
    }
    return (initramfs.nvme ?? []).length ? [] : [listedWithoutNvme(k, initramfs, facts.initramfsTool)];
  },
};
