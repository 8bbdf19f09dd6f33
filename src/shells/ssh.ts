import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Client, type ConnectConfig } from 'ssh2';
import { InfraError } from '../errors.js';
import { sleep } from '../util/sleep.js';
import type { Shell, ShellResult, ShellRunOptions } from './shell.js';

/** SshTarget is a host to run checks on, with the host key it must present. */
export interface SshTarget {
  host: string;
  port?: number;
  user: string;
  /** Private key file; without one, the agent at SSH_AUTH_SOCK is used. */
  privateKeyPath?: string;
  /** The host key's fingerprint as OpenSSH prints it ("SHA256:..."), or the host's keys of every type: anything else is refused. */
  hostKeySha256: string | string[];
  /** Run scripts through `sudo -n` (a non-root login user on a helper). */
  sudo?: boolean;
  /** Reach the target through this host (a bastion). */
  jump?: SshTarget;
}

/** SshOptions say how long to keep retrying while the instance boots. */
export interface SshOptions {
  retryForMs: number;
  retryDelayMs: number;
  readyTimeoutMs: number;
  maxOutputBytes: number;
}

const DEFAULTS: SshOptions = { retryForMs: 5 * 60_000, retryDelayMs: 3000, readyTimeoutMs: 20_000, maxOutputBytes: 8 * 1024 * 1024 };

/** fingerprintHex turns an OpenSSH "SHA256:base64" fingerprint into the hex digest ssh2 compares. */
export function fingerprintHex(fp: string): string {
  return Buffer.from(fp.replace(/^SHA256:/, ''), 'base64').toString('hex');
}

/** isTransient says whether a connection error may go away by itself (the host is still booting). */
function isTransient(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETUNREACH'].includes(code) || /Timed out while waiting for handshake/.test((e as Error).message);
}

/** pinned lists the hex digests a target's host key may have. */
function pinned(t: SshTarget): string[] {
  return [t.hostKeySha256].flat().map(fingerprintHex);
}

function connectOnce(t: SshTarget, o: SshOptions, sock?: NodeJS.ReadableStream): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let hostKeyOk = true;
    const cfg: ConnectConfig = {
      host: t.host,
      port: t.port ?? 22,
      username: t.user,
      readyTimeout: o.readyTimeoutMs,
      hostHash: 'sha256',
      hostVerifier: (digest: string) => (hostKeyOk = pinned(t).includes(digest)),
      ...(t.privateKeyPath ? { privateKey: readFileSync(t.privateKeyPath) } : { agent: process.env.SSH_AUTH_SOCK }),
      ...(sock ? { sock: sock as never } : {}),
    } as ConnectConfig;
    c.once('ready', () => resolve(c));
    c.once('error', (e) => {
      c.end();
      if (!hostKeyOk) reject(new InfraError('ssh-host-key', `host key of ${t.host}:${t.port ?? 22} does not match the pinned ${[t.hostKeySha256].flat().join(' or ')}`, { remedy: 'if the host was legitimately rebuilt, pin its new key (from its console output); otherwise do not connect' }));
      else if ((e as { level?: string }).level === 'client-authentication') reject(new InfraError('ssh-auth', `${t.user}@${t.host} refused every offered key`, { remedy: 'check the key pair (and that the agent holds the key) and the user name' }));
      else reject(e);
    });
    c.connect(cfg);
  });
}

/**
 * SshShell runs check scripts over SSH (ssh2): host key pinned, key from a file or the agent, an optional
 * jump host, and retries while the target is still booting (refused, reset, unreachable), never on a bad key.
 */
export class SshShell implements Shell {
  readonly kind = 'ssh' as const;
  private client: Client | undefined;
  private jumpClient: Client | undefined;
  private readonly o: SshOptions;
  /** Stdout kept of one run (maxOutputBytes); longer check output is read back in pages. */
  readonly outputLimit: number;

  constructor(
    private readonly target: SshTarget,
    opts: Partial<SshOptions> = {},
  ) {
    this.o = { ...DEFAULTS, ...opts };
    this.outputLimit = this.o.maxOutputBytes;
  }

  /** connect opens the connection (through the jump host if any), retrying transient failures for retryForMs. */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.client) return;
    const deadline = Date.now() + this.o.retryForMs;
    for (;;) {
      try {
        if (this.target.jump) {
          this.jumpClient ??= await connectOnce(this.target.jump, this.o);
          const jc = this.jumpClient;
          const stream = await new Promise<NodeJS.ReadableStream>((res, rej) =>
            jc.forwardOut('127.0.0.1', 0, this.target.host, this.target.port ?? 22, (err, s) => (err ? rej(err) : res(s))),
          );
          this.client = await connectOnce(this.target, this.o, stream);
        } else this.client = await connectOnce(this.target, this.o);
        return;
      } catch (e) {
        const retry = isTransient(e) || /Channel open failure/.test((e as Error).message);
        if (!retry || Date.now() > deadline || signal?.aborted) {
          if (e instanceof InfraError) throw e;
          throw new InfraError('ssh-connect', `cannot reach ${this.target.user}@${this.target.host}:${this.target.port ?? 22}: ${(e as Error).message}`, { transient: isTransient(e), remedy: 'check the security group, the route, and that sshd runs on the helper', cause: e });
        }
        await sleep(this.o.retryDelayMs, signal);
      }
    }
  }

  async run(script: string, opts: ShellRunOptions): Promise<ShellResult> {
    await this.connect(opts.signal);
    const client = this.client!;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      // The helper enforces the timeout too, so a lost connection cannot leave a check running there.
      const sudo = this.target.sudo && this.target.user !== 'root' ? 'sudo -n ' : '';
      client.exec(`${sudo}timeout -s KILL ${Math.ceil(opts.timeoutMs / 1000) + 5} bash -s`, (err, stream) => {
        if (err) return reject(new InfraError('ssh-exec', `cannot start a command on ${this.target.host}: ${err.message}`, { transient: true, cause: err }));
        let stdout = '';
        let stderr = '';
        let truncated = false;
        let timedOut = false;
        let code: number | null = null;
        // Decoders keep a UTF-8 character split across two packets whole.
        const decoders = { out: new StringDecoder('utf8'), err: new StringDecoder('utf8') };
        const cut = { out: false, err: false };
        const cap = (acc: string, d: Buffer, which: 'out' | 'err') => {
          // Once a stream is cut, nothing more of it is kept: a gap in the middle would look like whole lines.
          if (cut[which] || acc.length + d.length > this.o.maxOutputBytes) {
            cut[which] = true;
            truncated = true;
            return acc;
          }
          return acc + decoders[which].write(d);
        };
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          resolve({ exitCode: timedOut ? null : code, stdout, stderr, durationMs: performance.now() - t0, timedOut: timedOut && !opts.signal?.aborted, truncated });
        };
        const stop = () => {
          timedOut = true;
          // Not every sshd honours channel signals: drop the connection (the next run reconnects).
          stream.signal('KILL');
          this.close();
          finish();
        };
        const timer = setTimeout(stop, opts.timeoutMs);
        const onAbort = () => stop();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (d: Buffer) => (stdout = cap(stdout, d, 'out')));
        stream.stderr.on('data', (d: Buffer) => (stderr = cap(stderr, d, 'err')));
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', finish);
        stream.end(script);
      });
    });
  }

  /** close ends the connections. */
  close(): void {
    this.client?.end();
    this.jumpClient?.end();
    this.client = undefined;
    this.jumpClient = undefined;
  }
}

/** fingerprintOfPublicKey computes the OpenSSH "SHA256:" fingerprint of a public key line ("ssh-ed25519 AAAA... comment"). */
export function fingerprintOfPublicKey(line: string): string {
  const blob = Buffer.from(line.trim().split(/\s+/)[1]!, 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
