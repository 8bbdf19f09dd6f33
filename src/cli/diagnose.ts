import { writeFileSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { DiagnoseInput } from '../diagnose/command.js';
import { ConfigError } from '../errors.js';
import { createProvider } from '../providers/factory.js';
import { renderDiagnosePage } from '../report/console.js';
import { jsonForTerminal } from '../util/sanitize.js';
import { EXIT_CODES, stateDirOf, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return y
    .positional('transcript', { type: 'string', describe: 'A saved console transcript (- for standard input), e.g. pasted from the EC2 console; same as --console' })
    .option('console', { type: 'string', describe: 'A saved console transcript (--console=- for standard input)' })
    .option('instance', { type: 'string', describe: 'An EC2 instance id: its latest console output and screenshot are fetched (needs -c with an aws provider)' })
    .option('snapshot', { type: 'string', describe: 'Also restore this snapshot (from -c CONFIG\'s provider) and lint its root filesystem; alone, only the lint' })
    .option('config', { alias: 'c', type: 'string', describe: 'Config file (the aws provider for --instance; any provider for --snapshot)' })
    .option('state-dir', { type: 'string', describe: 'Where the resource ledger of --snapshot goes (default /var/lib/snapdrill as root)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the causes with their matched lines and remedies as JSON' })
    .option('html', { type: 'string', describe: 'Also write a self-contained HTML page (transcript with the matched lines highlighted)' })
    .epilogue(`${EXIT_CODES}\n  diagnose exits 0 when it could read the console (whether or not a cause matched), 2 on bad input, 3 when AWS could not be reached.`);
}

/** DiagnoseArgs are the options of `snapdrill diagnose`. */
export type DiagnoseArgs = ArgsOf<typeof builder>;

/** stdinOrFile reads a transcript argument: "-" or the empty string yargs makes of it is standard input. */
function stdinOrFile(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  return v === '' || v === '-' ? '-' : v;
}

/** transcriptFile is the transcript asked for: --console, the positional, or a lone "-" (yargs turns it into an empty string, or leaves it in `_`). */
function transcriptFile(argv: ArgumentsCamelCase<DiagnoseArgs>): string | undefined {
  return stdinOrFile(argv.console) ?? stdinOrFile(argv.transcript) ?? (argv._.includes('-') ? '-' : undefined);
}

/** requireOneConsole refuses what cannot be diagnosed: two consoles, none and no snapshot, or a cloud source without a config. */
function requireOneConsole(argv: ArgumentsCamelCase<DiagnoseArgs>, file: string | undefined): void {
  if (file && argv.instance) throw new ConfigError('', 'give one console: a transcript file (or - for standard input), or --instance ID');
  if (!file && !argv.instance && !argv.snapshot) throw new ConfigError('', 'give a console (a transcript file, - for standard input, or --instance ID with -c CONFIG), or --snapshot ID with -c CONFIG');
  if ((argv.instance || argv.snapshot) && !argv.config) throw new ConfigError('', `${argv.instance ? '--instance' : '--snapshot'} needs -c CONFIG`);
}

/** instanceConsole fetches an instance's console through the config's provider, which must be one that has consoles. */
async function instanceConsole(cfg: Config, instanceId: string): Promise<DiagnoseInput> {
  const provider = createProvider(cfg, 'diagnose');
  if (!provider.fetchConsole) throw new ConfigError('/provider/type', '--instance needs an aws provider');
  return provider.fetchConsole(instanceId);
}

/** lintWithSignals restores --snapshot and lints its root filesystem; SIGINT/SIGTERM abort it, which removes what it created. */
async function lintWithSignals(cfg: Config, snapshotId: string, stateDir: string): Promise<NonNullable<DiagnoseInput['lint']>> {
  const { lintSnapshot } = await import('../run/lint-snapshot.js');
  const ac = new AbortController();
  const stop = () => ac.abort('signal');
  process.once('SIGINT', stop).once('SIGTERM', stop);
  return lintSnapshot(cfg, snapshotId, stateDir, ac.signal);
}

async function diagnoseMachine(argv: ArgumentsCamelCase<DiagnoseArgs>): Promise<void> {
  const { diagnoseInput, formatDiagnosis, readTranscript } = await import('../diagnose/command.js');
  const file = transcriptFile(argv);
  requireOneConsole(argv, file);
  const cfg = argv.config ? loadConfig(argv.config) : undefined;
  let input: DiagnoseInput;
  if (file) input = readTranscript(file);
  else if (argv.instance) input = await instanceConsole(cfg!, argv.instance);
  else input = { source: argv.snapshot!, text: '' };
  if (argv.snapshot) input.lint = await lintWithSignals(cfg!, argv.snapshot, stateDirOf(argv));
  const out = diagnoseInput(input);
  if (argv.html) writeFileSync(argv.html, renderDiagnosePage(`snapdrill diagnosis: ${input.source}`, input.text, out.diagnosis, input.screenshotJpegBase64, input.lint));
  if (argv.json) {
    const { diagnosis: _d, ...rest } = out;
    process.stdout.write(`${jsonForTerminal(rest, 2)}\n`);
  } else process.stdout.write(formatDiagnosis(out, input.text));
}

/** diagnoseCommand is `snapdrill diagnose`. */
export const diagnoseCommand: CommandModule<{}, DiagnoseArgs> = {
  command: 'diagnose [transcript]',
  describe: 'Explain why a machine does not start: its console output (a saved transcript, or an EC2 instance\'s) against the diagnosis catalog, and the pre-boot lint of its root volume from a snapshot',
  builder,
  handler: diagnoseMachine,
};
