import { DEFAULT_MAX_BUFFER, execFile } from '../util/exec.js';
import type { Shell, ShellResult, ShellRunOptions } from './shell.js';

/** LocalShell runs check scripts on this machine with `bash -s`: the local provider's helper is this machine. */
export class LocalShell implements Shell {
  readonly kind = 'local' as const;
  /** Stdout characters kept of one run (execFile's capture limit); tests shrink it to exercise paging. */
  readonly outputLimit: number;

  constructor(opts: { maxOutputBytes?: number } = {}) {
    this.outputLimit = opts.maxOutputBytes ?? DEFAULT_MAX_BUFFER;
  }

  async run(script: string, opts: ShellRunOptions): Promise<ShellResult> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C', HOME: process.env.HOME ?? '/root' };
    const r = await execFile('bash', ['-s'], {
      input: script,
      env,
      timeoutMs: opts.timeoutMs,
      maxBuffer: this.outputLimit,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onLocalProcess ? { onSpawn: opts.onLocalProcess } : {}),
    });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs, timedOut: r.timedOut, truncated: r.truncated };
  }
}
