/** Device names: Xen/SCSI-style (xvd, sd, hd), virtio (vd), NVMe. */
export const XEN_NAME = /^\/dev\/(xvd[a-z]+|sd[a-z]+|hd[a-z]+)\d*$/;
const VIRTIO_NAME = /^\/dev\/vd[a-z]+\d*$/;
export const NVME_NAME = /^\/dev\/nvme(\d+)n\d+(p\d+)?$/;

/** Ref is how an fstab spec or a kernel root= names its filesystem. */
export type Ref = { kind: 'uuid' | 'label' | 'partuuid' | 'device'; value: string };

/** specRef says how an fstab spec (or a kernel root=) names its filesystem, or undefined when it names no block device we can judge. */
export function specRef(spec: string): Ref | undefined {
  const eq = /^(UUID|LABEL|PARTUUID)=(.+)$/i.exec(spec);
  if (eq) return { kind: eq[1]!.toLowerCase() as Ref['kind'], value: eq[2]!.replace(/^"(.*)"$/, '$1') };
  const by = /^\/dev\/disk\/by-(uuid|label|partuuid)\/(.+)$/.exec(spec);
  if (by) return { kind: by[1] as Ref['kind'], value: by[2]! };
  if (XEN_NAME.test(spec) || VIRTIO_NAME.test(spec) || NVME_NAME.test(spec)) return { kind: 'device', value: spec };
  return undefined;
}

/** refWord names the kind of identity a reference uses, as a sentence says it. */
export const refWord = (r: Ref): string => (r.kind === 'uuid' ? 'UUID' : r.kind === 'label' ? 'label' : 'partition UUID');

/** deviceAbsence says why a device name will be absent on the target instance type, or undefined when it will exist. */
export function deviceAbsence(dev: string, targetNvme: boolean): string | undefined {
  if (targetNvme && (XEN_NAME.test(dev) || VIRTIO_NAME.test(dev))) {
    return `the target instance type is Nitro, where EBS disks appear only as /dev/nvme*n1: ${dev} will not exist`;
  }
  if (!targetNvme && NVME_NAME.test(dev)) return `the target instance type is Xen, where EBS disks appear as /dev/xvd* (or /dev/sd*): ${dev} will not exist`;
  return undefined;
}
