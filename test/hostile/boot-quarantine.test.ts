import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootQemu, qemuArgs, type QemuBootOptions } from '../../src/boot/qemu.js';
import type { BootOutcome } from '../../src/boot/types.js';
import { tempDir } from '../helpers.js';

/**
 * The port the boot-reach-host image tries on 10.0.2.2 (QEMU user networking's name for the host's 127.0.0.1), TCP
 * and UDP. Fixed at image build time in fixtures/build-hostile-boot.sh (HOSTILE_PORT); the manifest repeats it.
 */
const HOSTILE_PORT = 47622;

/** hostileCatalog builds (or reuses from the cache) the hostile boot images; they derive from the boot catalog's boot-good. */
function hostileCatalog(): string {
  const script = path.resolve(import.meta.dirname, '../../fixtures/build-hostile-boot.sh');
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
  return out.trim().split('\n').at(-1)!;
}

/** alive says whether a pid still names a process (zombies aside: bootQemu reaps its QEMU). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Host-side listeners on 127.0.0.1:HOSTILE_PORT that record every connection, byte and datagram that reaches them. */
class Trap {
  tcp: string[] = [];
  udp: string[] = [];
  private server = net.createServer((s) => {
    const i = this.tcp.push(`connection from ${s.remoteAddress}:${s.remotePort}`) - 1;
    s.on('data', (d) => (this.tcp[i] += ` ${JSON.stringify(d.toString('latin1'))}`));
    s.on('error', () => undefined);
  });
  private socket = dgram.createSocket('udp4');

  async open(): Promise<void> {
    this.socket.on('message', (m, from) => this.udp.push(`${from.address}:${from.port} ${JSON.stringify(m.toString('latin1'))}`));
    const inUse = (what: string, e: Error) =>
      new Error(`cannot listen on 127.0.0.1:${HOSTILE_PORT}/${what} (${e.message}): the hostile boot test needs that fixed port free (fixtures/build-hostile-boot.sh HOSTILE_PORT)`);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e) => reject(inUse('tcp', e)));
      this.server.listen(HOSTILE_PORT, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', (e) => reject(inUse('udp', e)));
      this.socket.bind(HOSTILE_PORT, '127.0.0.1', resolve);
    });
  }

  close(): Promise<void> {
    this.socket.close();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * A booted guest must not reach the host or any network, and "booted" must not be a string the disk can print
 * (issue 9). Two hostile disks derived from the bootable Debian fixture, booted through bootQemu (what the local
 * provider's bootTest calls) under software emulation, side by side:
 * - boot-reach-host: a unit ordered before sshd tries TCP and UDP to the host's loopback (10.0.2.2:47622, where a
 *   listener waits), the host's sshd, the emulated DNS and an outside address, and prints each result on the
 *   console; then sshd starts, so the disk really boots.
 * - boot-fake-login: /sbin/init prints a systemd welcome, an "ssh started" line, an SSH banner and
 *   `debian login: ` on the console and sleeps: no network, no sshd.
 * On the code before the quarantine the first one's connections and datagrams reached the listener (2 of each), and
 * the second was reported as booting at its fake prompt.
 */
describe('boot quarantine: a hostile disk can at most lie about itself', () => {
  const trap = new Trap();
  const pids: number[] = [];
  const workDirs: string[] = [];
  let catalog: string;
  let reach: BootOutcome;
  let fake: BootOutcome;

  const boot = (image: string): Promise<BootOutcome> => {
    const workDir = tempDir(`hostile-${image}`);
    workDirs.push(workDir);
    return bootQemu({
      disk: path.join(catalog, `${image}.img`),
      workDir,
      mode: 'bios',
      memoryMiB: 512,
      cpus: 1,
      // Generous: both VMs run at once under TCG on shared cores; a verdict comes far earlier on an idle machine.
      timeoutMs: 420_000,
      accel: 'auto',
      ssh: true,
      settleMs: 3000,
      onSpawn: (pid) => pids.push(pid),
    });
  };

  beforeAll(async () => {
    catalog = hostileCatalog();
    expect(JSON.parse(readFileSync(path.join(catalog, 'manifest.json'), 'utf8')).port).toBe(HOSTILE_PORT);
    await trap.open();
    [reach, fake] = await Promise.all([boot('boot-reach-host'), boot('boot-fake-login')]);
    // Anything still on its way to the listener has arrived by now.
    await new Promise((r) => setTimeout(r, 500));
    for (const [name, o] of [['boot-reach-host', reach], ['boot-fake-login', fake]] as const) {
      console.info(`${name}: ${o.result} after ${(o.durationMs / 1000).toFixed(1)} s (${o.milestones.map((m) => `${m.name} ${(m.atMs / 1000).toFixed(1)}`).join(', ')})${o.reason ? `: ${o.reason}` : ''}`);
    }
  }, 900_000);

  afterAll(() => trap.close());

  it('starts QEMU with one NIC on restricted user networking: SSH forward on loopback only, no guestfwd, smb, tftp or network boot', () => {
    const o: QemuBootOptions = { disk: '/d.img', workDir: '/w', mode: 'bios', memoryMiB: 512, cpus: 1, timeoutMs: 1, accel: 'tcg', ssh: true, settleMs: 1 };
    const args = qemuArgs(o, 'tcg', '/w/overlay.qcow2', '/w/serial.log', 40022);
    const netdevs = args.flatMap((a, i) => (args[i - 1] === '-netdev' ? [a] : []));
    expect(netdevs).toEqual(['user,id=n0,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:40022-:22']);
    expect(args.filter((a, i) => args[i - 1] === '-device' && /net/.test(a))).toEqual(['virtio-net-pci,netdev=n0,romfile=']);
    expect(args.join(' ')).not.toMatch(/guestfwd|smb=|tftp=|bootfile=|tap|bridge|socket|vde|vhost/);
    expect(args.filter((a) => a === '-net' || a === '-nic' || a === '-monitor' || a === '-qmp' || a === '-chardev')).toEqual([]);
    expect(args).toContain('-nodefaults');
    expect(args).toContain('-no-user-config');
  });

  it('GIVEN a disk whose init tries the host loopback, the host sshd, the DNS and the world THEN nothing reaches the host, and the disk still boots (SSH through the forward)', () => {
    const said = reach.console.split('\n').filter((l) => l.includes('snapdrill-hostile: ')).map((l) => l.slice(l.indexOf('snapdrill-hostile: ')).trim());
    // The attempts did run (the unit finishes before sshd starts, and sshd answered).
    expect(reach.result, `${reach.reason}\n${reach.console.slice(-3000)}`).toBe('boots');
    expect(reach.milestones.map((m) => m.name)).toContain('ssh');
    expect(said).toContain('snapdrill-hostile: guest address 10.0.2.15/24');
    expect(said).toContain('snapdrill-hostile: done');
    for (const target of [`10.0.2.2:${HOSTILE_PORT}`, '10.0.2.2:22', '10.0.2.3:53', '1.1.1.1:80']) {
      expect(said.filter((l) => l.startsWith(`snapdrill-hostile: tcp ${target} blocked`)), target).toHaveLength(2);
    }
    expect(said.filter((l) => l.includes('CONNECTED'))).toEqual([]);
    // The guest did send its datagrams (bash reports a write to /dev/udp as sent): none arrived.
    expect(said.filter((l) => l.startsWith(`snapdrill-hostile: udp 10.0.2.2:${HOSTILE_PORT} sent`))).toHaveLength(2);
    expect(trap.tcp).toEqual([]);
    expect(trap.udp).toEqual([]);
  });

  it('GIVEN a disk that only prints a login prompt (and an SSH banner) on its console THEN it is not reported as booting, and the reason says why', () => {
    expect(fake.result, fake.console.slice(-2000)).toBe('fails-to-boot');
    expect(fake.console).toMatch(/^debian login: $/m);
    expect(fake.console).toContain('SSH-2.0-OpenSSH');
    const names = fake.milestones.map((m) => m.name);
    expect(names).toContain('login-prompt');
    expect(names).not.toContain('ssh');
    expect(fake.reason).toMatch(/^a login prompt showed on the console at \d+\.\d s, but no SSH server answered through the forward within 60 s after it: the prompt is text any disk can print, not proof of a boot \(probes of the forward: \d+ closed without a banner, \d+ timed out, 0 answered something else\)$/);
    // Decided one grace period after the prompt, not at the timeout.
    const prompt = fake.milestones.find((m) => m.name === 'login-prompt')!.atMs;
    expect(fake.durationMs).toBeGreaterThanOrEqual(prompt + 60_000);
    expect(fake.durationMs).toBeLessThan(prompt + 75_000);
  });

  it('leaves no QEMU process behind', () => {
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
    const left = (() => {
      try {
        return execFileSync('pgrep', ['-af', 'qemu-system-x86_64'], { encoding: 'utf8' }).split('\n');
      } catch {
        return [];
      }
    })().filter((l) => workDirs.some((d) => l.includes(d)));
    expect(left).toEqual([]);
  });
});
