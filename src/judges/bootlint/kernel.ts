import type { KernelFact } from './facts.js';

/** KernelView is the default kernel in words, and the lines that show where its drivers are. */
export interface KernelView {
  kernel: KernelFact;
  /** "kernel 6.1.0-9-amd64 (default, from /boot/grub/grub.cfg:7)". */
  desc: string;
  evidence: string[];
}

/** locatedKernel is the default kernel when the check found one (by version or path), else undefined. */
export function locatedKernel(kernel: KernelFact | undefined): KernelView | undefined {
  if (!kernel || (!kernel.version && !kernel.path)) return undefined;
  const desc = `kernel ${kernel.version ?? kernel.path}${kernel.source ? ` (default, from ${kernel.source})` : ''}`;
  const builtin = kernel.builtinRead
    ? `${kernel.modulesDir}/modules.builtin: nvme ${kernel.builtin.nvme ? 'built in' : 'not built in'}, ena ${kernel.builtin.ena ? 'built in' : 'not built in'}`
    : `modules.builtin of ${kernel.version ?? 'the kernel'} not found`;
  return { kernel, desc, evidence: [`${desc}: ${kernel.path ?? '?'}${kernel.exists ? '' : ' (missing)'}`, builtin] };
}

/** initramfsRemedy is the distribution-specific way to add a driver to the initramfs. */
export function initramfsRemedy(tool: string | null, driver: string, kver: string | null): string {
  const k = kver ?? '$(uname -r)';
  switch (tool) {
    case 'initramfs-tools':
      return `in the source system (or a chroot into the restored volume): echo ${driver} >> /etc/initramfs-tools/modules && update-initramfs -u -k ${k} (MODULES=dep in /etc/initramfs-tools/initramfs.conf only includes drivers of the current hardware; MODULES=most includes ${driver}), then take a new snapshot`;
    case 'dracut':
      return `in the source system (or a chroot into the restored volume): echo 'add_drivers+=" ${driver} "' > /etc/dracut.conf.d/${driver}.conf && dracut -f --kver ${k} (hostonly mode only includes drivers of the current hardware), then take a new snapshot`;
    case 'mkinitcpio':
      return `add ${driver} to MODULES=() in /etc/mkinitcpio.conf and run mkinitcpio -P in the source system, then take a new snapshot`;
    default:
      return `rebuild the initramfs of kernel ${k} with the ${driver} driver included (initramfs-tools: /etc/initramfs-tools/modules + update-initramfs -u; dracut: add_drivers+=" ${driver} " + dracut -f), then take a new snapshot`;
  }
}
