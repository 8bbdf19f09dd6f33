import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fingerprintOfPublicKey } from '../src/shells/ssh.js';
import { freePort } from './aws/moto.js';

/** TestSshd is a real OpenSSH server on loopback, with its own host key and one authorised client key (`dir/client`). */
export interface TestSshd {
  dir: string;
  port: number;
  /** The host key's OpenSSH fingerprint ("SHA256:..."). */
  hostFp: string;
  /** The host public key line ("ssh-ed25519 AAAA... comment"). */
  hostPub: string;
  /** Private key sshd accepts (root), and one it does not know. */
  clientKey: string;
  strangerKey: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('sshd did not start listening');
}

/** startTestSshd generates keys in dir and starts sshd -D on a free loopback port. */
export async function startTestSshd(dir: string): Promise<TestSshd> {
  chmodSync(dir, 0o700);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const k of ['hostkey', 'client', 'stranger']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, k)]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client.pub')));
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [`HostKey ${dir}/hostkey`, `AuthorizedKeysFile ${dir}/authorized_keys`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'AllowTcpForwarding yes', `PidFile ${dir}/sshd.pid`, 'ListenAddress 127.0.0.1'].join('\n') + '\n',
  );
  const hostPub = readFileSync(path.join(dir, 'hostkey.pub'), 'utf8').trim();
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const server: TestSshd = {
    dir,
    port,
    hostFp: fingerprintOfPublicKey(hostPub),
    hostPub,
    clientKey: path.join(dir, 'client'),
    strangerKey: path.join(dir, 'stranger'),
    async start() {
      proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      await waitListening(port);
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    },
  };
  await server.start();
  return server;
}
