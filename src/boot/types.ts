/**
 * Shared types of the boot axis: the pre-boot lint, the boot test (QEMU locally, EC2 on AWS) and the
 * diagnosis of a console transcript. Pure data: no I/O here.
 */

/** LintFinding is one problem the pre-boot lint found on a restored root filesystem, shown before any boot is paid for. */
export interface LintFinding {
  /** Stable id, e.g. fstab-device-missing, fstab-uuid-unknown, initramfs-no-nvme, grub-root-uuid-mismatch, autorelabel, root-nearly-full, duplicate-uuid. */
  id: string;
  severity: 'error' | 'warning' | 'info';
  /** One sentence a reader understands, naming the file/line/device. */
  message: string;
  remedy: string;
  /** The raw lines it is based on (fstab line, grub.cfg line, df numbers). */
  evidence: string[];
}

/** LintStatus is the closed set of lint outcomes: linted (a root filesystem, findings apply), not-root (nothing to lint), not-run (the lint could not tell). */
export type LintStatus = 'linted' | 'not-root' | 'not-run';

/** LintResult is the lint of one root filesystem (or why it could not run). */
export interface LintResult {
  /** Which filesystem was linted (target name, e.g. p1 or disk). */
  target: string;
  status: LintStatus;
  /** Why it was not linted (status not-run, and not-root when there is more to say). */
  reason?: string;
  findings: LintFinding[];
}

/** RestoredFilesystem is one filesystem (or partition) restored with the linted one, as discovery found it: what the restored machine will see. */
export interface RestoredFilesystem {
  snapshotId: string;
  /** Its name within the snapshot: disk, p1, p2. */
  target: string;
  uuid?: string;
  label?: string;
  fstype?: string;
  /** The partition's own UUID (GPT partition GUID, or MBR disk id and partition number), what PARTUUID= names. */
  partuuid?: string;
}

/** LintContext is what the harness knows and the disk cannot say: the filesystems restored together, and the kind of instance it will boot on. */
export interface LintContext {
  /** Every filesystem of the snapshot, or of the whole snapshot set (the linted one included). */
  filesystems: RestoredFilesystem[];
  /** The target instance type exposes disks as NVMe (Nitro); false for Xen (boot.targetNvme). */
  targetNvme: boolean;
}

/** ConsoleMatch is one console line a catalog signature matched. */
export interface ConsoleMatch {
  /** 1-based line number in the transcript. */
  line: number;
  text: string;
  /** The signature (regex source) that matched. */
  signature: string;
}

/** DiagnosedCause is one catalog entry the transcript (or a launch error) matched. */
export interface DiagnosedCause {
  id: string;
  title: string;
  explanation: string;
  remedy: string;
  /** Higher is more specific; the first cause is the likely one. */
  score: number;
  matches: ConsoleMatch[];
}

/** Diagnosis is what the catalog says about one transcript. */
export interface Diagnosis {
  /** The likely cause first; empty when nothing matched (and the report says so plainly). */
  causes: DiagnosedCause[];
  /** Lines the transcript had. */
  lines: number;
}

/** BootMilestone is a point reached during a boot, measured from the start of the VM/instance. */
export interface BootMilestone {
  /** e.g. firmware, bootloader, kernel, initramfs, init, login-prompt (console text: a milestone, never proof), ssh (the banner through the forward: the proof of a local boot), status-checks. */
  name: string;
  atMs: number;
}

/** BootOutcome is the result of one boot test. */
export interface BootOutcome {
  result: 'boots' | 'fails-to-boot' | 'error';
  /** How it was booted: bios, uefi, direct (QEMU) or ec2. */
  mode: string;
  /** QEMU accelerator (tcg, kvm) or the EC2 instance type. */
  platform: string;
  durationMs: number;
  /** The harness's own time around the boot (local: overlay set-up before QEMU starts, killing it after the verdict). */
  overheadMs?: number;
  milestones: BootMilestone[];
  /** Why it did not boot, or why the test could not run (result error). */
  reason?: string;
  /** The serial console transcript (GetConsoleOutput on EC2), capped at the end. */
  console: string;
  /** A JPEG of the screen (EC2 GetConsoleScreenshot), base64. */
  screenshotJpegBase64?: string;
  /** EC2 launch error code (e.g. InvalidParameterCombination), when the instance never started. */
  launchError?: { code: string; message: string };
  diagnosis?: Diagnosis;
}
