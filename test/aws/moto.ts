/**
 * Local AWS emulator for tests (DESIGN.md §6): starts `moto.server` (EC2, SSM, EBS over HTTP) on a free
 * loopback port and hands out SDK v3 clients pointed at it. moto is shallow (resources reach their final
 * state at once, SSM runs nothing, DescribeInstanceInformation is missing, ...): pair it with
 * test/aws/fault-proxy.ts for the paths moto cannot reach.
 *
 * If moto cannot start, startMoto() throws (with moto's stderr): tests fail, they never skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';

// The SDK must never probe the instance metadata service (169.254.169.254) from a test process.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export interface MotoServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** Process id of the moto server (for leak checks). */
  readonly pid: number;
  /** Clears every resource in every backend (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Kills moto and waits until it has exited. Idempotent. */
  stop(): Promise<void>;
  /** What moto wrote to stderr so far (its request log and any traceback); bounded. */
  stderr(): string;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const fakeCredentials: AwsCredentials = { accessKeyId: 'AKIAFAKEFAKEFAKE', secretAccessKey: 'fake' };

export const TEST_REGION = 'us-east-1';

/** ec2For returns an EC2 client for a moto (or fault-proxy) endpoint; `extra` overrides anything (maxAttempts, retryMode, ...). */
export function ec2For(endpoint: string, extra: Partial<EC2ClientConfig> = {}): EC2Client {
  return new EC2Client({ region: TEST_REGION, endpoint, credentials: fakeCredentials, ...extra });
}

/** ssmFor returns an SSM client for a moto (or fault-proxy) endpoint; `extra` overrides anything (maxAttempts, retryMode, ...). */
export function ssmFor(endpoint: string, extra: Partial<SSMClientConfig> = {}): SSMClient {
  return new SSMClient({ region: TEST_REGION, endpoint, credentials: fakeCredentials, ...extra });
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 3_000;
const PORT_ATTEMPTS = 5;
const STDERR_LIMIT = 64 * 1024;

/** freePort asks the kernel for a free loopback port (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

// Runs `python3 -m moto.server -H 127.0.0.1 -p PORT`, plus a watchdog thread: when our end of its stdin
// pipe closes (this process exited, even by SIGKILL, so no 'exit' handler ran) moto exits too.
const LAUNCHER = [
  'import os, sys, threading',
  'def _watch():',
  '    try:',
  '        sys.stdin.buffer.read()',
  '    finally:',
  '        os._exit(0)',
  'threading.Thread(target=_watch, daemon=True).start()',
  'from moto.server import main',
  'main(sys.argv[1:])',
].join('\n');

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL every moto still running.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** httpRequest does one small request to moto with a timeout; resolves with status and body. */
function httpRequest(url: string, method: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class AddressInUse extends Error {}

/** startMoto starts a fresh moto server on a free port and waits (≤ 30 s) until it answers. */
export async function startMoto(): Promise<MotoServer> {
  let lastErr: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      return await launch(port);
    } catch (err) {
      // Another process grabbed the port between our probe and moto's bind: pick another one.
      if (err instanceof AddressInUse) {
        lastErr = err;
        continue;
      }
      throw err;
    }
  }
  throw new Error(`moto could not bind a free port after ${PORT_ATTEMPTS} attempts: ${String(lastErr)}`);
}

async function launch(port: number): Promise<MotoServer> {
  installExitHook();
  const endpoint = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', MOTO_PORT: String(port) };
  const child = spawn('python3', ['-c', LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);

  let stderr = '';
  const keep = (c: Buffer) => {
    stderr += c.toString('utf8');
    if (stderr.length > STDERR_LIMIT) stderr = stderr.slice(-STDERR_LIMIT);
  };
  child.stderr!.on('data', keep);
  child.stdout!.on('data', keep);
  // Never write to stdin: it stays open for the watchdog. Ignore EPIPE if moto died.
  child.stdin!.on('error', () => {});

  let spawnError: Error | undefined;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve();
    });
  });
  child.once('error', (err) => {
    spawnError = err;
    live.delete(child);
  });

  // Let the test process exit even if a test forgot stop(): the exit hook and the watchdog still kill moto.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  const describe = (why: string) =>
    `moto (python3 -m moto.server -p ${port}) ${why}\n--- moto stderr ---\n${stderr.trim() || '(empty)'}`;

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) throw new Error(describe(`could not be spawned: ${spawnError.message}`));
    if (exited) {
      if (/address already in use|errno 98/i.test(stderr)) throw new AddressInUse(describe('found its port in use'));
      throw new Error(describe(`exited before answering (code ${exited.code}, signal ${exited.signal})`));
    }
    try {
      const res = await httpRequest(`${endpoint}/moto-api/`, 'GET', 2_000);
      if (res.status > 0 && res.status < 500) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await Promise.race([exitPromise, sleep(STOP_TIMEOUT_MS)]);
      throw new Error(describe(`did not answer within ${START_TIMEOUT_MS / 1000} s`));
    }
    await sleep(100);
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    pid: child.pid!,
    stderr: () => stderr,
    async reset() {
      const res = await httpRequest(`${endpoint}/moto-api/reset`, 'POST', 10_000);
      if (res.status !== 200) throw new Error(describe(`reset answered HTTP ${res.status}: ${res.body}`));
    },
    stop() {
      stopping ??= (async () => {
        if (exited || spawnError) return;
        child.kill('SIGTERM');
        const done = await Promise.race([exitPromise.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
        if (!done) {
          child.kill('SIGKILL');
          await exitPromise;
        }
        child.stdin?.destroy();
      })();
      return stopping;
    },
  };
}
