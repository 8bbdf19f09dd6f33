import { spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InfraError } from '../errors.js';
import { execFile } from '../util/exec.js';
import type { BootMilestone, BootOutcome } from './types.js';

/** QemuBootOptions say how to boot one restored disk. */
export interface QemuBootOptions {
  /** The restored raw copy; QEMU boots a qcow2 overlay on it, so even the copy is not written. */
  disk: string;
  /** Data disks restored with it (a multi-volume set), attached after it, each through its own overlay. */
  extraDisks?: string[];
  /** Scratch directory for the overlay, the serial log and the UEFI variables (inside the run's scratch area). */
  workDir: string;
  mode: 'bios' | 'uefi' | 'direct';
  /** direct mode: the kernel, initrd and command line. */
  kernel?: string;
  initrd?: string;
  append?: string;
  memoryMiB: number;
  cpus: number;
  timeoutMs: number;
  accel: 'auto' | 'kvm' | 'tcg';
  /** Probe the guest's SSH port through a loopback forward; a banner counts as booted. */
  ssh: boolean;
  /** After a terminal failure shows on the console (panic, emergency shell, grub rescue), wait this long for more output, then stop. */
  settleMs: number;
  signal?: AbortSignal;
  /** Called with QEMU's pid right after spawn (for the resource ledger). */
  onSpawn?: (pid: number) => void;
}

/** OVMF firmware files (Debian's ovmf package). */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** MILESTONES are the points of a Linux boot recognised on the serial console, in order. */
const MILESTONES: [string, RegExp][] = [
  ['bootloader', /GNU GRUB|Booting `|Loading Linux|Welcome to GRUB|grub rescue>|error: /],
  ['kernel', /Linux version \d/],
  ['initramfs', /Loading, please wait|Run \/init as init process|dracut: |Begin: Loading essential drivers|initramfs/],
  ['init', /systemd\[1\]: |Welcome to (?!GRUB).*!|INIT: version/],
];

/** AFTER_KERNEL are the milestones that only count once the kernel has started (GRUB's own output must not look like them). */
const AFTER_KERNEL = new Set(['initramfs', 'init']);

/** BOOTED is a login prompt on the serial console. */
export const BOOTED = /^\S.* login: ?$|^login: ?$/m;

/** TERMINAL failures: the guest will not get further by itself. */
export const TERMINAL = [
  /Kernel panic - not syncing/,
  /grub rescue>/,
  /You are in emergency mode|Give root password for maintenance|Press Enter for maintenance|Entering emergency mode/,
  // Shell prompts may be followed by a terminal query (ESC [6n), so no end-of-line anchor.
  /Dropping to a shell!?|^\(initramfs\) |^dracut:\/# |BusyBox v[\d.]+ .*built-in shell|requires a manual fsck/m,
  // No init on the root: the initramfs falls back to a shell as PID 1 (no getty, no sshd will ever come).
  /Target filesystem doesn't have requested \/sbin\/init|can't access tty; job control turned off|No working init found/,
  /Cannot continue|System halted|reboot: System halted/,
];

/** terminalFailure returns the first console line showing that the guest cannot go on by itself, if any. */
export function terminalFailure(consoleText: string): string | undefined {
  const re = TERMINAL.find((r) => r.test(consoleText));
  if (!re) return undefined;
  return consoleText.split('\n').map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trim()).find((l) => re.test(l)) ?? 'a terminal failure';
}

/** AccelChoice is the accelerator QEMU uses, and why. */
export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  reason: string;
}

/**
 * chooseAccel decides between KVM and software emulation (TCG). /dev/kvm is not enough: a paravirtual KVM
 * (kvm_pvm, as on this project's build machines) accepts guests but shuts them down as soon as they enable
 * paging. Ordinary guests need the kvm_intel or kvm_amd module.
 */
export function chooseAccel(wanted: 'auto' | 'kvm' | 'tcg', sys = '/sys/module', dev = '/dev/kvm'): AccelChoice {
  if (wanted === 'tcg') return { accel: 'tcg', reason: 'configured' };
  let usable = true;
  try {
    accessSync(dev, constants.R_OK | constants.W_OK);
  } catch {
    usable = false;
  }
  const hw = existsSync(path.join(sys, 'kvm_intel')) || existsSync(path.join(sys, 'kvm_amd'));
  const pvm = existsSync(path.join(sys, 'kvm_pvm'));
  if (usable && hw) return { accel: 'kvm', reason: wanted === 'kvm' ? 'configured' : 'hardware KVM available' };
  const why = !usable ? `${dev} is missing or not accessible` : pvm ? `${dev} is a paravirtual KVM (kvm_pvm) that cannot boot ordinary guests` : `${dev} has neither kvm_intel nor kvm_amd behind it`;
  if (wanted === 'kvm') throw new InfraError('kvm-unusable', `boot.accel is kvm but ${why}`, { remedy: 'set boot.accel to auto or tcg (software emulation: slower, always works)' });
  return { accel: 'tcg', reason: `software emulation: ${why}` };
}

/** freeLoopbackPort asks the kernel for a free TCP port on 127.0.0.1. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** sshBanner connects to the forwarded port and returns the banner line, or undefined. */
function sshBanner(port: number, timeoutMs = 1500): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (v: string | undefined) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(undefined));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const line = data.split('\n')[0]!;
      if (/^SSH-2\.0-/.test(line) && data.includes('\n')) done(line.trim());
    });
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
  });
}

/** readFrom reads a file from an offset (the serial log grows while the guest runs). */
function readFrom(file: string, offset: number): Buffer {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return Buffer.alloc(0);
  }
  if (size <= offset) return Buffer.alloc(0);
  const buf = Buffer.alloc(size - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** qemuArgs builds QEMU's command line: the overlay as a virtio disk, serial console to a file, user networking with a loopback SSH forward, no display. */
export function qemuArgs(o: QemuBootOptions, accel: 'kvm' | 'tcg', overlay: string, serial: string, sshPort: number, vars?: string, extraOverlays: string[] = []): string[] {
  const args = [
    '-name', 'snapdrill-boot',
    // q35 for every mode: the pc machine's floppy controller fills the console with fd0 I/O errors.
    '-machine', 'q35',
    '-accel', accel,
    '-cpu', accel === 'kvm' ? 'host' : 'max',
    '-m', String(o.memoryMiB),
    '-smp', String(o.cpus),
    '-display', 'none',
    '-vga', 'none',
    '-nodefaults',
    '-no-reboot',
    '-serial', `file:${serial}`,
    '-drive', `file=${overlay},format=qcow2,if=virtio,cache=unsafe`,
    ...extraOverlays.flatMap((x) => ['-drive', `file=${x},format=qcow2,if=virtio,cache=unsafe`]),
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=n0',
  ];
  if (o.mode === 'uefi') args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  if (o.mode === 'direct') {
    args.push('-kernel', o.kernel!);
    if (o.initrd) args.push('-initrd', o.initrd);
    args.push('-append', o.append ?? 'console=ttyS0,115200');
  }
  return args;
}

/**
 * bootQemu boots a restored disk under QEMU and watches its serial console: booted means a login prompt (or an SSH
 * banner through the loopback forward) before the timeout; a terminal failure (panic, emergency shell, grub rescue)
 * ends the test early. The VM is always killed and its overlay left for the caller's scratch cleanup.
 */
export async function bootQemu(o: QemuBootOptions): Promise<BootOutcome> {
  const called = performance.now();
  if (o.mode === 'direct' && !o.kernel) throw new InfraError('boot-config', 'direct-kernel boot needs boot.kernel');
  if (o.mode === 'uefi' && !existsSync(OVMF_CODE)) throw new InfraError('ovmf-missing', `UEFI boot needs ${OVMF_CODE}`, { remedy: 'apt-get install ovmf' });
  mkdirSync(o.workDir, { recursive: true });
  const overlay = path.join(o.workDir, 'overlay.qcow2');
  const serial = path.join(o.workDir, 'serial.log');
  const extraOverlays = (o.extraDisks ?? []).map((_, i) => path.join(o.workDir, `data${i + 1}.qcow2`));
  for (const [disk, ov] of [[o.disk, overlay] as const, ...(o.extraDisks ?? []).map((d, i) => [d, extraOverlays[i]!] as const)]) {
    const img = await execFile('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', path.resolve(disk), ov], { timeoutMs: 30_000 });
    if (img.exitCode !== 0) throw new InfraError('qemu-img', `qemu-img create failed: ${img.stderr.trim() || `exit ${img.exitCode}`}`, { remedy: 'apt-get install qemu-utils' });
  }
  let vars: string | undefined;
  if (o.mode === 'uefi') {
    vars = path.join(o.workDir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
  }
  const choice = chooseAccel(o.accel);
  const sshPort = await freeLoopbackPort();
  const t0 = performance.now();
  const setupMs = t0 - called;
  const child = spawn('qemu-system-x86_64', qemuArgs(o, choice.accel, overlay, serial, sshPort, vars, extraOverlays), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  if (child.pid) o.onSpawn?.(child.pid);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited = false;
  let exitCode: number | null = null;
  const exit = new Promise<void>((r) =>
    child.on('exit', (code) => {
      exited = true;
      exitCode = code;
      r();
    }),
  );
  // A QEMU that cannot be started never emits 'exit': remember why, so the watch below ends at once.
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
    stderr += String(e);
  });

  const milestones: BootMilestone[] = [];
  const reach = (name: string) => {
    if (!milestones.some((m) => m.name === name)) milestones.push({ name, atMs: Math.round(performance.now() - t0) });
  };
  let consoleText = '';
  let offset = 0;
  const pull = () => {
    const b = readFrom(serial, offset);
    offset += b.length;
    consoleText += b.toString('utf8').replace(/\0/g, '');
  };
  let result: BootOutcome['result'] | undefined;
  let reason: string | undefined;
  let terminalAt: number | undefined;
  let lastSsh = 0;
  let decidedAt = 0;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      if (spawnError && !child.pid) {
        result = 'error';
        reason = `cannot start qemu-system-x86_64: ${spawnError.message} (apt-get install qemu-system-x86)`;
        break;
      }
      pull();
      const now = performance.now() - t0;
      if (consoleText.length && !milestones.length) reach('firmware');
      for (const [name, re] of MILESTONES) {
        if (AFTER_KERNEL.has(name)) {
          const k = consoleText.search(MILESTONES[1]![1]);
          if (k >= 0 && re.test(consoleText.slice(k))) reach(name);
        } else if (re.test(consoleText)) reach(name);
      }
      if (BOOTED.test(consoleText)) {
        reach('login');
        result = 'boots';
        break;
      }
      if (o.ssh && now - lastSsh > 2000 && milestones.some((m) => m.name === 'init')) {
        lastSsh = now;
        const banner = await sshBanner(sshPort);
        if (banner) {
          reach('ssh');
          result = 'boots';
          break;
        }
      }
      if (terminalAt === undefined && terminalFailure(consoleText)) terminalAt = now;
      if (terminalAt !== undefined && now - terminalAt > o.settleMs) {
        result = 'fails-to-boot';
        reason = `stopped at: ${terminalFailure(consoleText)}`;
        break;
      }
      if (exited) {
        if (choice.accel === 'kvm' && !consoleText.length) {
          result = 'error';
          reason = `QEMU exited (${exitCode}) under KVM before any console output; set boot.accel: tcg`;
        } else {
          result = 'fails-to-boot';
          reason = `the machine stopped (QEMU exit ${exitCode}) before a login prompt${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`;
        }
        break;
      }
      if (o.signal?.aborted) {
        result = 'error';
        reason = 'interrupted';
        break;
      }
      if (now > o.timeoutMs) {
        result = 'fails-to-boot';
        const last = milestones.at(-1);
        reason = `no login prompt within ${Math.round(o.timeoutMs / 1000)} s${last ? ` (last milestone: ${last.name} at ${(last.atMs / 1000).toFixed(1)} s)` : ' (no console output at all)'}`;
        break;
      }
    }
  } finally {
    decidedAt = performance.now();
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exit;
    }
  }
  pull();
  const durationMs = Math.round(performance.now() - t0);
  // The harness's own time around QEMU: overlay and firmware set-up before the VM starts, killing it after the verdict.
  const overheadMs = Math.round(setupMs + (performance.now() - decidedAt));
  const MAX = 256 * 1024;
  return {
    result: result!,
    mode: o.mode,
    platform: `qemu ${choice.accel}${choice.accel === 'tcg' ? ` (${choice.reason})` : ''}`,
    durationMs,
    overheadMs,
    milestones,
    ...(reason ? { reason } : {}),
    console: consoleText.length > MAX ? consoleText.slice(-MAX) : consoleText,
  };
}
