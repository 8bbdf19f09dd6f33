/** ShellResult is the outcome of one script run on the helper. */
export interface ShellResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** True when the transport cut the output (e.g. SSM's 24,000-character limit). */
  truncated: boolean;
}

/** ShellRunOptions bound one script run. */
export interface ShellRunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with a local pid when the shell starts a process on this machine, so the ledger can record it. */
  onLocalProcess?: (pid: number) => void;
}

/** Shell runs a bash script on the helper: locally, over SSH or over SSM. The script is self-contained. */
export interface Shell {
  readonly kind: 'local' | 'ssh' | 'ssm';
  /**
   * Characters of stdout one run returns in full; beyond them the transport cuts (and says `truncated`).
   * Check output longer than this is read back in pages (src/checks/runner.ts). Default: SSM's 24,000.
   */
  readonly outputLimit?: number;
  run(script: string, opts: ShellRunOptions): Promise<ShellResult>;
}

/** shellQuote single-quotes a value for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
