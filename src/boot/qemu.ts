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
  /**
   * Probe the guest's SSH port through the loopback forward. A banner read there is the only proof of a boot: it
   * needs a running kernel, network stack and server in the guest. Off, no boot can be proven (the result is never
   * 'boots').
   */
  ssh: boolean;
  /**
   * After a login prompt shows on the console, how long to keep waiting for the SSH banner before deciding the prompt
   * proves nothing (fails-to-boot, named as such). Default LOGIN_GRACE_MS.
   */
  loginGraceMs?: number;
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

/**
 * LOGIN_PROMPT is a login prompt on the serial console. It is a milestone ('login-prompt'), never proof of a boot: the
 * console is text the disk writes, and an init that only prints `debian login:` and sleeps is not a booted system.
 */
export const LOGIN_PROMPT = /^\S.* login: ?$|^login: ?$/m;

/**
 * LOGIN_GRACE_MS is how long a login prompt may stand on the console without the SSH banner arriving through the
 * forward. On the Debian fixtures the banner was there within 0.2 s of the prompt in every capture (sshd starts just
 * before the getty; fixtures/README-boot.md); 60 s leaves room for a slow DHCP lease, first-boot host-key generation
 * or cloud-init ordering sshd after the getty, on a loaded host under TCG.
 */
export const LOGIN_GRACE_MS = 60_000;

/** SSH_BANNER is the identification line an SSH server sends first (RFC 4253 4.2; 1.99 is a server that also speaks 1.x). */
const SSH_BANNER = /^SSH-(2\.0|1\.99)-[\x21-\x7e]+/;

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

/** ProbeResult is what one connection to the forwarded SSH port saw. */
type ProbeResult = { banner: string } | { none: 'closed' | 'timeout' | 'no-banner' };

/**
 * SSH_PROBE_TIMEOUT_MS bounds one probe. slirp accepts on the host side before the guest has answered, so a probe
 * waits for the guest: sshd re-executes itself for every connection, which under TCG on a loaded host took longer
 * than the 1.5 s this used to allow. Probes run beside the console watch, so a long bound delays nothing else.
 */
const SSH_PROBE_TIMEOUT_MS = 10_000;

/**
 * sshBanner connects to the forwarded port and returns the server's identification line. RFC 4253 4.2 lets a server
 * send other lines first; the first line starting with "SSH-" decides, and at most 8 KiB are read (the guest is not
 * trusted to end its lines).
 */
function sshBanner(port: number, timeoutMs = SSH_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (v: ProbeResult) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done({ none: 'timeout' }));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      const lines = data.split('\n');
      const id = lines.slice(0, -1).find((l) => l.startsWith('SSH-'));
      if (id !== undefined) done(SSH_BANNER.test(id.trim()) ? { banner: id.trim() } : { none: 'no-banner' });
      else if (data.length > 8192) done({ none: 'no-banner' });
    });
    sock.on('error', () => done({ none: 'closed' }));
    sock.on('close', () => done({ none: 'closed' }));
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

/**
 * qemuArgs builds QEMU's command line: the overlay as a virtio disk, serial console to a file, no display, and one
 * NIC on quarantined user networking. The guest's disk is attacker-controlled, so:
 * - restrict=on: slirp drops every TCP connection and UDP datagram the guest starts (to 10.0.2.2, which is the host's
 *   127.0.0.1, to the emulated DNS, and to any outside address); only the emulated DHCP answers, so the guest gets
 *   an address and the forward can reach it;
 * - the only way in is hostfwd from 127.0.0.1:sshPort (loopback only) to the guest's port 22: SSH reachability;
 * - no guestfwd, smb, tftp or bootfile (nothing on the host for the guest to talk to), ipv6=off (one address family
 *   to reason about), and no option ROM on the NIC (no iPXE network boot);
 * - -nodefaults and -no-user-config: no default devices, no monitor, no host QEMU configuration files.
 */
export function qemuArgs(o: QemuBootOptions, accel: 'kvm' | 'tcg', overlay: string, serial: string, sshPort: number, vars?: string, extraOverlays: string[] = []): string[] {
  const args = [
    '-name', 'snapdrill-boot',
    '-no-user-config',
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
    '-netdev', `user,id=n0,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ];
  if (o.mode === 'uefi') args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  if (o.mode === 'direct') {
    args.push('-kernel', o.kernel!);
    if (o.initrd) args.push('-initrd', o.initrd);
    args.push('-append', o.append ?? 'console=ttyS0,115200');
  }
  return args;
}

/** prepareDisks creates the qcow2 overlays QEMU writes to (the restored copies stay untouched) and the UEFI variables. */
async function prepareDisks(o: QemuBootOptions): Promise<{ overlay: string; serial: string; extraOverlays: string[]; vars?: string }> {
  if (o.mode === 'direct' && !o.kernel) throw new InfraError('boot-config', 'direct-kernel boot needs boot.kernel');
  if (o.mode === 'uefi' && !existsSync(OVMF_CODE)) throw new InfraError('ovmf-missing', `UEFI boot needs ${OVMF_CODE}`, { remedy: 'apt-get install ovmf' });
  mkdirSync(o.workDir, { recursive: true });
  const overlay = path.join(o.workDir, 'overlay.qcow2');
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
  return { overlay, serial: path.join(o.workDir, 'serial.log'), extraOverlays, ...(vars ? { vars } : {}) };
}

/** Vm is a running QEMU process as the boot watch sees it. */
interface Vm {
  pid?: number;
  exited: boolean;
  exitCode: number | null;
  /** The last 4000 characters of QEMU's stderr. */
  stderr: string;
  /** Why QEMU could not be started, if it could not. */
  spawnError?: Error;
  /** Kills the VM (its whole process group) and waits for it to be gone. */
  kill(): Promise<void>;
}

/** startVm spawns QEMU in a process group of its own. */
function startVm(args: string[], onSpawn?: (pid: number) => void): Vm {
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  if (child.pid) onSpawn?.(child.pid);
  const vm: Vm = {
    ...(child.pid ? { pid: child.pid } : {}),
    exited: false,
    exitCode: null,
    stderr: '',
    async kill() {
      if (vm.exited || !child.pid) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exit;
    },
  };
  child.stderr!.on('data', (d) => (vm.stderr = (vm.stderr + d.toString()).slice(-4000)));
  const exit = new Promise<void>((r) =>
    child.on('exit', (code) => {
      vm.exited = true;
      vm.exitCode = code;
      r();
    }),
  );
  // A QEMU that cannot be started never emits 'exit': remember why, so the watch ends at once.
  child.on('error', (e) => {
    vm.spawnError = e;
    vm.stderr += String(e);
  });
  return vm;
}

/** ConsoleWatch reads the serial log as it grows and records the milestones it shows. */
class ConsoleWatch {
  text = '';
  readonly milestones: BootMilestone[] = [];
  private offset = 0;
  constructor(
    private readonly file: string,
    private readonly t0: number,
  ) {}

  /** pull reads what the guest wrote since the last pull and records new milestones. */
  pull(): void {
    const b = readFrom(this.file, this.offset);
    this.offset += b.length;
    this.text += b.toString('utf8').replace(/\0/g, '');
    if (this.text.length && !this.milestones.length) this.reach('firmware');
    for (const [name, re] of MILESTONES) {
      if (AFTER_KERNEL.has(name)) {
        const k = this.text.search(MILESTONES[1]![1]);
        if (k >= 0 && re.test(this.text.slice(k))) this.reach(name);
      } else if (re.test(this.text)) this.reach(name);
    }
  }

  reach(name: string): void {
    if (!this.milestones.some((m) => m.name === name)) this.milestones.push({ name, atMs: Math.round(performance.now() - this.t0) });
  }
}

/** SshWatch probes the guest's forwarded SSH port, one probe at a time, every 2 s. */
class SshWatch {
  banner: string | undefined;
  private probe: Promise<void> | undefined;
  private last = -Infinity;
  private readonly counts = { closed: 0, timeout: 0, 'no-banner': 0 };
  constructor(
    private readonly port: number,
    private readonly enabled: boolean,
  ) {}

  tick(now: number): void {
    if (!this.enabled || this.probe || now - this.last <= 2000) return;
    this.last = now;
    this.probe = sshBanner(this.port).then((r) => {
      if ('banner' in r) this.banner ??= r.banner;
      else this.counts[r.none]++;
      this.probe = undefined;
    });
  }

  /** settled waits for a probe still in flight (it ends once QEMU is gone). */
  async settled(): Promise<void> {
    await this.probe;
  }

  summary(): string {
    const c = this.counts;
    return this.enabled ? ` (probes of the forward: ${c.closed} closed without a banner, ${c.timeout} timed out, ${c['no-banner']} answered something else)` : ' (the SSH probe was off)';
  }
}

/** Decision is how a boot test ended, once it has. */
type Decision = { result: BootOutcome['result']; reason?: string };

/** BootClock holds when the console first showed a terminal failure and a login prompt (ms since power-on). */
interface BootClock {
  terminalAt?: number;
  promptAt?: number;
}

/** decide is one look at the boot: a decision once the test is over, else undefined (keep watching). */
function decide(o: QemuBootOptions, vm: Vm, con: ConsoleWatch, ssh: SshWatch, clock: BootClock, now: number, ctx: { accel: 'kvm' | 'tcg'; port: number }): Decision | undefined {
  if (vm.spawnError && !vm.pid) return { result: 'error', reason: `cannot start qemu-system-x86_64: ${vm.spawnError.message} (apt-get install qemu-system-x86)` };
  if (ssh.banner) {
    con.reach('ssh');
    return { result: 'boots' };
  }
  if (!vm.exited) ssh.tick(now);
  if (clock.promptAt === undefined && LOGIN_PROMPT.test(con.text)) {
    con.reach('login-prompt');
    clock.promptAt = now;
  }
  if (clock.terminalAt === undefined && terminalFailure(con.text)) clock.terminalAt = now;
  if (clock.terminalAt !== undefined && now - clock.terminalAt > o.settleMs) return { result: 'fails-to-boot', reason: `stopped at: ${terminalFailure(con.text)}` };
  const grace = o.loginGraceMs ?? LOGIN_GRACE_MS;
  if (clock.promptAt !== undefined && now - clock.promptAt > grace) {
    return {
      result: 'fails-to-boot',
      reason: `a login prompt showed on the console at ${(clock.promptAt / 1000).toFixed(1)} s, but no SSH server answered through the forward within ${Math.round(grace / 1000)} s after it: the prompt is text any disk can print, not proof of a boot${ssh.summary()}`,
    };
  }
  if (vm.exited) return exitDecision(vm, con, ctx);
  if (o.signal?.aborted) return { result: 'error', reason: 'interrupted' };
  if (now > o.timeoutMs) {
    const last = con.milestones.at(-1);
    return {
      result: 'fails-to-boot',
      reason: `no SSH answer through the forward within ${Math.round(o.timeoutMs / 1000)} s${last ? ` (last milestone: ${last.name} at ${(last.atMs / 1000).toFixed(1)} s)` : ' (no console output at all)'}${ssh.summary()}`,
    };
  }
  return undefined;
}

/** exitDecision says why a VM that exited by itself did not boot (or why the test could not run). */
function exitDecision(vm: Vm, con: ConsoleWatch, ctx: { accel: 'kvm' | 'tcg'; port: number }): Decision {
  const lastLine = vm.stderr.trim().split('\n').at(-1);
  if (/host forwarding rule/.test(vm.stderr)) return { result: 'error', reason: `QEMU could not set up the SSH forward on 127.0.0.1:${ctx.port}: ${lastLine}` };
  if (ctx.accel === 'kvm' && !con.text.length) return { result: 'error', reason: `QEMU exited (${vm.exitCode}) under KVM before any console output; set boot.accel: tcg` };
  return { result: 'fails-to-boot', reason: `the machine stopped (QEMU exit ${vm.exitCode}) before an SSH answer through the forward${vm.stderr.trim() ? `: ${lastLine}` : ''}` };
}

/** MAX_CONSOLE is how much of the console (its end) a boot outcome keeps. */
const MAX_CONSOLE = 256 * 1024;

/**
 * bootQemu boots a restored disk under QEMU (quarantined: see qemuArgs) and decides whether it boots.
 * - Booted means an SSH banner read through the loopback forward before the timeout: only a running kernel, network
 *   stack and server in the guest can answer there. The port is probed from power-on, whatever the console says.
 * - The serial console is for milestones and diagnosis only, because the disk writes it: a login prompt is the
 *   'login-prompt' milestone; if no banner follows within loginGraceMs, the result is fails-to-boot and the reason
 *   says the prompt is not proof.
 * - A terminal failure on the console (panic, emergency shell, grub rescue) ends the test early: a disk can only make
 *   itself look worse that way.
 * The VM is always killed and its overlay left for the caller's scratch cleanup.
 */
export async function bootQemu(o: QemuBootOptions): Promise<BootOutcome> {
  const called = performance.now();
  const disks = await prepareDisks(o);
  const choice = chooseAccel(o.accel);
  const port = await freeLoopbackPort();
  const t0 = performance.now();
  const vm = startVm(qemuArgs(o, choice.accel, disks.overlay, disks.serial, port, disks.vars, disks.extraOverlays), o.onSpawn);
  const con = new ConsoleWatch(disks.serial, t0);
  const ssh = new SshWatch(port, o.ssh);
  const clock: BootClock = {};
  let decision: Decision | undefined;
  let decidedAt = 0;
  try {
    while (!decision) {
      await new Promise((r) => setTimeout(r, 100));
      con.pull();
      decision = decide(o, vm, con, ssh, clock, performance.now() - t0, { accel: choice.accel, port });
    }
  } finally {
    decidedAt = performance.now();
    await vm.kill();
    // QEMU is gone: a probe still waiting on the forward ends with it.
    await ssh.settled();
  }
  con.pull();
  return {
    result: decision.result,
    mode: o.mode,
    platform: `qemu ${choice.accel}${choice.accel === 'tcg' ? ` (${choice.reason})` : ''}`,
    durationMs: Math.round(performance.now() - t0),
    // The harness's own time around QEMU: overlay and firmware set-up before the VM starts, killing it after the verdict.
    overheadMs: Math.round(t0 - called + (performance.now() - decidedAt)),
    milestones: con.milestones,
    ...(decision.reason ? { reason: decision.reason } : {}),
    console: con.text.length > MAX_CONSOLE ? con.text.slice(-MAX_CONSOLE) : con.text,
  };
}
