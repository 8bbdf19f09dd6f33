import type { Argv } from 'yargs';
import type { ConfigOverrides } from '../config/load.js';
import { ExitCode, isSnapdrillError } from '../errors.js';
import { defaultStateDir } from '../ledger/ledger.js';
import { terminalSafe } from '../util/sanitize.js';

/** EXIT_CODES is the exit-code table shown by every command's --help (and quoted in the README). */
export const EXIT_CODES = `Exit codes:
  0  every snapshot met the policy
  1  at least one snapshot did not meet the policy
     (corrupt, unknown, below the required consistency, or over the RTO),
     or a covered volume has no snapshot within the RPO
  2  usage or configuration error; nothing was created
  3  the harness could not complete (infrastructure error, or interrupted);
     what it created is removed, or recorded for "snapdrill gc"`;

/** ArgsOf is the options type a command's builder declares, read from the builder itself so the two cannot disagree. */
export type ArgsOf<B> = B extends (y: Argv) => Argv<infer T> ? T : never;

/** fail ends the process for an error: a snapdrill error with its message, remedy and exit code; anything else is an internal error (exit 3). */
export function fail(e: unknown): never {
  if (isSnapdrillError(e)) {
    // Messages may quote a helper's stderr or a path from a disk: terminal-safe, like everything else shown.
    process.stderr.write(`snapdrill: ${terminalSafe(e.message, { multiline: true })}\n`);
    if (e.remedy) process.stderr.write(`remedy: ${terminalSafe(e.remedy)}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`snapdrill: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(ExitCode.Infrastructure);
}

/** stateDirOption declares --state-dir, the directory of run ledgers. */
export function stateDirOption<T>(y: Argv<T>) {
  return y.option('state-dir', { type: 'string', describe: 'Where run ledgers are kept (default /var/lib/snapdrill as root; env SNAPDRILL_STATE_DIR)' });
}

/** stateDirOf is the state directory a command uses: --state-dir, else the default (SNAPDRILL_STATE_DIR, or by user). */
export function stateDirOf(argv: { stateDir?: string | undefined }): string {
  return argv.stateDir ?? defaultStateDir();
}

/** SelectionFlags are the flags `run` and `plan` layer over a config file. */
export interface SelectionFlags {
  provider?: string | undefined;
  catalog?: string | undefined;
  id?: string[] | undefined;
  scratchDir?: string | undefined;
  out?: string | undefined;
  concurrency?: number | undefined;
  format?: string[] | undefined;
  evidence?: boolean | undefined;
  signingKey?: string | undefined;
  history?: string | undefined;
}

/** overridesOf turns the flags given into config overrides; flags not given leave the file's values alone. */
export function overridesOf(argv: SelectionFlags): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (argv.provider !== undefined) o.provider = argv.provider;
  if (argv.catalog !== undefined) o.catalog = argv.catalog;
  if (argv.scratchDir !== undefined) o.scratchDir = argv.scratchDir;
  if (argv.out !== undefined) o.out = argv.out;
  if (argv.concurrency !== undefined) o.concurrency = argv.concurrency;
  if (argv.format !== undefined) o.formats = argv.format.flatMap((f) => f.split(','));
  if (argv.id !== undefined) o.ids = argv.id;
  if (argv.evidence) o.evidence = true;
  if (argv.signingKey !== undefined) o.signingKey = argv.signingKey;
  if (argv.history !== undefined) o.history = argv.history;
  return o;
}
