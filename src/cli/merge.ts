import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { renderTerminalSummary } from '../report/terminal.js';
import { mergeRun } from '../run/merge.js';
import { jsonForTerminal, terminalSafe } from '../util/sanitize.js';
import { EXIT_CODES, type ArgsOf } from './common.js';
import { jsonSummary } from './run.js';

function builder(y: Argv) {
  return y
    .positional('dir', { type: 'string', demandOption: true, describe: 'The run directory the shards wrote into: OUT/RUN-ID' })
    .option('expect', { type: 'number', describe: 'How many shards the run has (default: what the shard-K-of-N directories say); a shard with no report is an error naming it' })
    .option('config', { alias: 'c', type: 'string', describe: 'The config the shards ran with: compare with the history and send the alerts and metrics once for the whole run' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the machine-readable summary on stdout' })
    .example('$0 merge reports/20261203T020000Z-1a2b3c --expect 4 -c snapdrill.yaml', 'merge the four shards of one run and alert once')
    .epilogue(`A missing shard, a shard whose report is unusable and a shard that ended with exit 3 are harness errors\nin the merged report (shard-missing, shard-invalid, shard-failed): exit 3.\n\n${EXIT_CODES}`);
}

/** MergeArgs are the options of `snapdrill merge`. */
export type MergeArgs = ArgsOf<typeof builder>;

/** mergeShards writes the merged report into the run directory; the exit code is the merged report's. */
async function mergeShards(argv: ArgumentsCamelCase<MergeArgs>): Promise<void> {
  const config = argv.config !== undefined ? loadConfig(argv.config) : undefined;
  const outcome = await mergeRun(argv.dir, {
    ...(argv.expect !== undefined ? { expect: argv.expect } : {}),
    ...(config ? { config } : {}),
    log: (line) => process.stderr.write(`${terminalSafe(line)}\n`),
  });
  if (argv.json) process.stdout.write(`${jsonForTerminal(jsonSummary(outcome.report, outcome.reportDir, outcome.files), 2)}\n`);
  else process.stderr.write(renderTerminalSummary(outcome.report, { reportFile: outcome.files.find((f) => f.endsWith('.html')) ?? outcome.files[0] ?? outcome.reportDir }));
  process.exitCode = outcome.report.exitCode;
}

/** mergeCommand is `snapdrill merge OUT/RUN-ID`. */
export const mergeCommand: CommandModule<{}, MergeArgs> = {
  command: 'merge <dir>',
  describe: 'Merge the shards of one fleet run (run --shard K/N --run-id ID) into one report in OUT/RUN-ID/',
  builder,
  handler: mergeShards,
};
