import type { LintRule } from '../rule.js';
import { autorelabel } from './autorelabel.js';
import { duplicateUuid } from './duplicate-uuid.js';
import { enaDriver } from './ena.js';
import { fstabDeviceNames } from './fstab-device-names.js';
import { fstabIdentities } from './fstab-identities.js';
import { grubSearch } from './grub-search.js';
import { initMissing } from './init.js';
import { initramfsNvme } from './initramfs-nvme.js';
import { kernelPresent } from './kernel.js';
import { kernelRoot } from './kernel-root.js';
import { pendingJournal } from './journal.js';
import { rootInodes, rootSpace } from './space.js';

/** RULES are the pre-boot lint's rules, in the order their findings are listed (within one severity). */
export const RULES: readonly LintRule[] = [
  duplicateUuid,
  fstabDeviceNames,
  fstabIdentities,
  kernelRoot,
  grubSearch,
  initMissing,
  kernelPresent,
  initramfsNvme,
  enaDriver,
  autorelabel,
  rootSpace,
  rootInodes,
  pendingJournal,
];
