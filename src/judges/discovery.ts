import type { Fact } from '../checks/runner.js';
import { newFsFinding } from './filesystem.js';
import type { FilesystemFinding } from './types.js';

/** FsTarget is a filesystem (or partition) that discovery found on a restored volume. */
export interface FsTarget {
  target: string;
  device: string;
  fstype?: string;
  uuid?: string;
  label?: string;
  sizeBytes: number;
  partNumber?: number;
  partType?: string;
  partName?: string;
  /** The partition's UUID (GPT partition GUID, or MBR disk id and number): what PARTUUID= names. */
  partuuid?: string;
  usage?: string;
}

/** Discovery is what the discover check found on one volume. */
export interface Discovery {
  device: string;
  sizeBytes: number;
  partitionTable?: string;
  /** Filesystems to hand to filesystem checks. */
  targets: FsTarget[];
  /** Every filesystem and partition found, checkable or not (swap, an EFI system partition): what the restored machine will see. */
  filesystems: FsTarget[];
  /** Findings decided by discovery alone (nothing recognised, partitions we do not check). */
  findings: FilesystemFinding[];
}

interface ProbeResult {
  blkidExit: number;
  probe: Record<string, string>;
}

interface DeviceFact {
  device: string;
  size: number;
  result: ProbeResult;
}

/** BIOS_BOOT_GUID is the GPT type of GRUB's BIOS boot partition, which holds no filesystem. */
const BIOS_BOOT_GUID = '21686148-6449-6e6f-744e-656564454649';

/** IGNORED_FSTYPES hold no data whose consistency matters for a restore (swap) or are boot-only (vfat ESP). */
const IGNORED_FSTYPES: Record<string, string> = {
  swap: 'swap space holds no persistent data',
  vfat: 'FAT (EFI system partition): no consistency check; boot files only',
};

function toTarget(d: DeviceFact, name: string): FsTarget {
  const p = d.result.probe;
  const t: FsTarget = { target: name, device: d.device, sizeBytes: d.size };
  if (p.TYPE) t.fstype = p.TYPE;
  if (p.UUID) t.uuid = p.UUID;
  if (p.LABEL) t.label = p.LABEL;
  if (p.USAGE) t.usage = p.USAGE;
  if (p.PART_ENTRY_NUMBER) t.partNumber = Number(p.PART_ENTRY_NUMBER);
  if (p.PART_ENTRY_TYPE) t.partType = p.PART_ENTRY_TYPE;
  if (p.PART_ENTRY_NAME) t.partName = p.PART_ENTRY_NAME;
  if (p.PART_ENTRY_UUID) t.partuuid = p.PART_ENTRY_UUID;
  return t;
}

function partName(device: string, fallback: number, probe: Record<string, string>): string {
  const n = probe.PART_ENTRY_NUMBER ?? /p?(\d+)$/.exec(device)?.[1] ?? String(fallback);
  return `p${n}`;
}

/** judgeDiscovery turns the discover check's facts into filesystem targets and discovery-only findings. */
export function judgeDiscovery(facts: Fact[], checkable: (fstype: string) => boolean): Discovery {
  const dev = facts.find((f) => f.fact === 'device')?.value as DeviceFact | undefined;
  if (!dev) {
    return {
      device: '',
      sizeBytes: 0,
      targets: [],
      filesystems: [],
      findings: [
        newFsFinding({ target: 'disk', device: '' }, { summary: 'discovery printed no result', evidence: [{ key: 'discover.device', value: null, text: 'the discover check printed no device fact' }] }),
      ],
    };
  }
  const candidates: FsTarget[] = [];
  const out: Discovery = { device: dev.device, sizeBytes: dev.size, targets: [], filesystems: candidates, findings: [] };
  const probe = dev.result.probe;
  if (probe.PTTYPE) {
    out.partitionTable = probe.PTTYPE;
    const parts = facts.filter((f) => f.fact === 'partition').map((f) => f.value as DeviceFact);
    parts.forEach((p, i) => candidates.push(toTarget(p, partName(p.device, i + 1, p.result.probe))));
    if (parts.length === 0) {
      out.findings.push(
        newFsFinding(
          { target: 'disk', device: dev.device },
          {
            summary: `${probe.PTTYPE} partition table with no visible partitions`,
            evidence: [{ key: 'discover.pttype', value: probe.PTTYPE, text: `blkid found a ${probe.PTTYPE} partition table but no partition devices appeared` }],
            hints: [{ text: 'the partition table may be damaged, or the helper did not expose partitions', remedy: 'inspect with sfdisk -d / sgdisk -v on a copy' }],
          },
        ),
      );
    }
  } else if (probe.TYPE) {
    candidates.push(toTarget(dev, 'disk'));
  } else {
    out.findings.push(newFsFinding({ target: 'disk', device: dev.device }, {
      summary: 'no filesystem or partition table recognised',
      evidence: [
        { key: 'discover.blkid-exit', value: dev.result.blkidExit, text: `blkid -p found no signature (exit ${dev.result.blkidExit})` },
        { key: 'discover.size', value: dev.size, text: `volume size ${dev.size} bytes` },
      ],
      hints: [
        {
          text: 'the volume holds no filesystem snapdrill recognises: it may be encrypted, unformatted, overwritten, or not a disk image at all',
          remedy: 'check that the right snapshot/image was selected; inspect its first sectors with `file -s` or `hexdump -C | head`',
        },
      ],
    }));
  }
  for (const t of candidates) {
    if (t.fstype && checkable(t.fstype)) {
      out.targets.push(t);
      continue;
    }
    if (!t.fstype && t.partType?.toLowerCase() === BIOS_BOOT_GUID) {
      out.findings.push(newFsFinding(t, { state: 'not-checked', summary: 'BIOS boot partition (boot loader code, no filesystem)', evidence: [{ key: 'discover.parttype', value: t.partType, text: 'GPT type BIOS boot' }] }));
    } else if (t.fstype && IGNORED_FSTYPES[t.fstype]) {
      out.findings.push(newFsFinding(t, { state: 'not-checked', summary: IGNORED_FSTYPES[t.fstype]!, evidence: [{ key: 'discover.fstype', value: t.fstype, text: `blkid: TYPE=${t.fstype}` }] }));
    } else if (t.fstype) {
      out.findings.push(newFsFinding(t, {
        summary: `no check for ${t.fstype}`,
        evidence: [{ key: 'discover.fstype', value: t.fstype, text: `blkid: TYPE=${t.fstype}${t.usage ? ` (usage ${t.usage})` : ''}` }],
        hints: [{ text: `snapdrill cannot yet verify ${t.fstype}; its consistency is unknown`, remedy: 'verify this volume by hand, or exclude it from the policy' }],
      }));
    } else {
      out.findings.push(newFsFinding(t, {
        summary: 'partition holds no recognised filesystem',
        evidence: [{ key: 'discover.blkid-exit', value: t.partType ?? null, text: `blkid -p found no signature on ${t.target}` }],
        hints: [{ text: 'an unformatted or damaged partition', remedy: 'inspect it on a copy with `file -s` or `hexdump -C | head`' }],
      }));
    }
  }
  return out;
}
