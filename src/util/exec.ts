import { spawn, type SpawnOptions } from 'node:child_process';

/** ExecResult is what a finished child process left behind. */
export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** True when stdout or stderr exceeded the capture limit and was cut. */
  truncated: boolean;
}

/** ExecOptions bound a child process in time and output. */
export interface ExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bytes kept of each stream; the rest is dropped and `truncated` set. Default 4 MiB. */
  maxBuffer?: number;
  /** Called with the child's pid right after spawn, before it can do anything lasting (for the resource ledger). */
  onSpawn?: (pid: number) => void;
}

/** DEFAULT_MAX_BUFFER is how much of each stream execFile keeps unless told otherwise: 4 MiB. */
export const DEFAULT_MAX_BUFFER = 4 * 1024 * 1024;

/** execFile runs a program without a shell, in its own process group so a timeout or abort kills its children too. */
export function execFile(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: opts.env ?? process.env };
    if (opts.cwd) spawnOpts.cwd = opts.cwd;
    const child = spawn(file, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    let truncated = false;
    let timedOut = false;
    let settled = false;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let escalate: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup('SIGTERM');
      escalate ??= setTimeout(() => killGroup('SIGKILL'), 3000);
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, opts.timeoutMs)
      : undefined;
    const onAbort = () => stop();
    if (opts.signal) {
      if (opts.signal.aborted) queueMicrotask(onAbort);
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      if (stdout.length < maxBuffer) stdout += d;
      else truncated = true;
    });
    child.stderr!.on('data', (d: string) => {
      if (stderr.length < maxBuffer) stderr += d;
      else truncated = true;
    });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, sig) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (escalate) clearTimeout(escalate);
      opts.signal?.removeEventListener('abort', onAbort);
      // The last chunk may have crossed the limit: what is sliced off is cut too.
      if (stdout.length > maxBuffer) {
        stdout = stdout.slice(0, maxBuffer);
        truncated = true;
      }
      if (stderr.length > maxBuffer) {
        stderr = stderr.slice(0, maxBuffer);
        truncated = true;
      }
      resolve({ exitCode: code, signal: sig, stdout, stderr, durationMs: performance.now() - started, timedOut, truncated });
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    child.stdin!.on('error', () => {
      /* child exited before reading its input; the exit code tells the story */
    });
    child.stdin!.end(opts.input ?? '');
  });
}
