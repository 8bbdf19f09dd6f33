import type { Fact } from '../../checks/runner.js';

/** NumberedLine is one line of a file the check read, with its 1-based line number. */
export interface NumberedLine {
  n: number;
  text: string;
}

/** Identity is what blkid says about the linted device itself: the only identity the check can see. */
export interface Identity {
  uuid: string | null;
  label: string | null;
  fstype: string | null;
  partuuid: string | null;
}

/** RootFact says whether the filesystem looks like a root filesystem, and which init it has. */
export interface RootFact {
  fstab: boolean;
  init: string | null;
  sbinInit?: boolean;
}

/** BootCfgFact is one boot-loader configuration file, only its interesting lines. */
export interface BootCfgFact {
  file: string;
  lines: NumberedLine[];
}

/** KernelFact is the default kernel, how it was found, and where its NVMe and ENA drivers are. */
export interface KernelFact {
  version: string | null;
  source: string | null;
  path: string | null;
  exists: boolean;
  initramfs: string | null;
  modulesDir: string | null;
  builtinRead: boolean;
  builtin: { nvme: boolean; ena: boolean };
  modules: { nvme: string[]; ena: string[] };
  kernels: string[];
}

/** InitramfsFact is the listing of the default kernel's initramfs, or why it could not be listed. */
export interface InitramfsFact {
  path: string;
  bytes: number;
  ok: boolean;
  reader?: string;
  error?: string;
  /** The listing stopped at the lint's cap on names (a decompression bomb), or could not be written. */
  capped?: boolean;
  segments: { offset: number; format: string; entries: number }[];
  entries?: number;
  nvme?: string[];
  ena?: string[];
}

/** SpaceFact is df's view of the mounted filesystem: bytes and inodes. */
export interface SpaceFact {
  sizeBytes: number;
  usedBytes: number | null;
  availBytes: number | null;
  inodes: number | null;
  inodesUsed: number | null;
  inodesFree: number | null;
}

/** BootFacts are the bootlint check's facts on a root filesystem, typed, absent ones left undefined. */
export interface BootFacts {
  identity: Identity | undefined;
  root: RootFact;
  initramfsTool: string | null;
  ec2UdevRules: string[];
  fstab: NumberedLine[];
  bootcfg: BootCfgFact[];
  kernel: KernelFact | undefined;
  initramfs: InitramfsFact | undefined;
  autorelabel: { present: boolean; selinux: string | null } | undefined;
  space: SpaceFact | undefined;
  replayPending: boolean;
}

/** factValue is the value of the first fact of that name, undefined when the check did not print it. */
export function factValue<T>(facts: Fact[], name: string): T | undefined {
  return facts.find((f) => f.fact === name)?.value as T | undefined;
}

/** readBootFacts types the facts of a filesystem the check recognised as a root filesystem. */
export function readBootFacts(facts: Fact[], root: RootFact): BootFacts {
  const v = <T>(name: string) => factValue<T>(facts, name);
  return {
    identity: v<Identity>('identity'),
    root,
    initramfsTool: v<{ initramfsTool: string | null }>('os')?.initramfsTool ?? null,
    ec2UdevRules: v<{ rules: string[] }>('ec2-udev')?.rules ?? [],
    fstab: v<{ lines: NumberedLine[] }>('fstab')?.lines ?? [],
    bootcfg: facts.filter((f) => f.fact === 'bootcfg').map((f) => f.value as BootCfgFact),
    kernel: v<KernelFact>('kernel'),
    initramfs: v<InitramfsFact>('initramfs'),
    autorelabel: v<{ present: boolean; selinux: string | null }>('autorelabel'),
    space: v<SpaceFact>('space'),
    replayPending: v<{ replayPending: boolean | null }>('journal')?.replayPending === true,
  };
}
