import type { LintFinding } from '../../../boot/types.js';
import { bootMounts, type BootMount } from '../fstab.js';
import { deviceAbsence, NVME_NAME } from '../refs.js';
import type { LintInput, LintRule } from '../rule.js';

const useUuid = (m: BootMount) => `refer to the filesystem by UUID= (blkid shows it) instead of ${m.ref.value}`;
const xenStyle = (dev: string) => /^\/dev\/(xvd|sd)/.test(dev);

/** deviceFinding judges one fstab entry that names a kernel device: absent on the target, mapped by Amazon's udev rule, or unstable NVMe numbering. */
function deviceFinding(m: BootMount, { context, facts }: LintInput): LintFinding | undefined {
  const nvme = context.targetNvme;
  const addNofail = m.nofail ? '' : ', and add nofail to entries of volumes that may be absent';
  const absent = deviceAbsence(m.ref.value, nvme);
  if (absent && nvme && facts.ec2UdevRules.length > 0 && xenStyle(m.ref.value)) {
    return {
      id: 'fstab-device-name-mapped',
      severity: 'warning',
      message: `${m.where} mounts ${m.what} by a Xen-style device name; on a Nitro instance it exists only as a symlink made by Amazon's udev rule (${facts.ec2UdevRules[0]}) from the block-device mapping name, so it breaks if the volume is attached under another name`,
      remedy: `${useUuid(m)}${addNofail}`,
      evidence: [m.quoted, ...facts.ec2UdevRules],
    };
  }
  if (absent) {
    return {
      id: m.nofail ? 'fstab-device-missing-nofail' : 'fstab-device-missing',
      severity: m.nofail ? 'warning' : 'error',
      message: `${m.where} mounts ${m.what}, but ${absent}; ${m.consequence}`,
      remedy: `${useUuid(m)}${addNofail}${nvme && xenStyle(m.ref.value) ? '; or install amazon-ec2-utils, whose udev rules also create /dev/xvd* and /dev/sd* names on Nitro' : ''}`,
      evidence: [m.quoted, `target instance: ${nvme ? 'Nitro (NVMe)' : 'Xen'}`],
    };
  }
  if (!nvme || Number(NVME_NAME.exec(m.ref.value)?.[1] ?? '0') === 0) return undefined;
  return {
    id: 'fstab-device-name-unstable',
    severity: 'warning',
    message: `${m.where} mounts ${m.what} by NVMe device name; Nitro numbers attached EBS volumes in arbitrary order, so ${m.ref.value} may be another volume (or absent) on the restored instance`,
    remedy: useUuid(m),
    evidence: [m.quoted],
  };
}

/** fstabDeviceNames: fstab entries that name a device (/dev/xvdf, /dev/nvme1n1) the target instance type will not have under that name. */
export const fstabDeviceNames: LintRule = {
  name: 'fstab-device-names',
  ids: ['fstab-device-missing', 'fstab-device-missing-nofail', 'fstab-device-name-mapped', 'fstab-device-name-unstable'],
  check(input) {
    return bootMounts(input.facts.fstab).flatMap((m) => (m.ref.kind === 'device' ? (deviceFinding(m, input) ?? []) : []));
  },
};
