import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { renderTerminalSummary } from '../report/terminal.js';
import { ConfigError } from '../errors.js';
import { existsSync } from 'node:fs';
import { ITEMS_FILE, parseItem, parseItemList, shardOfItem } from '../fleet/items.js';
import { mergeRun, type MergeOutcome } from '../run/merge.js';
import path from 'node:path';
import { isS3Url, joinS3, Remote } from './remote.js';
import { jsonForTerminal, terminalSafe } from '../util/sanitize.js';
import { EXIT_CODES, type ArgsOf } from './common.js';
import { jsonSummary } from './run.js';

function builder(y: Argv) {
  return y
    .positional('dir', { type: 'string', demandOption: true, describe: 'The run directory the shards wrote into: OUT/RUN-ID, or s3://bucket/prefix/RUN-ID (the merged reports are written back there)' })
    .option('items', { type: 'string', describe: 'A fleet run\'s item list (plan --items; a file or s3://; default: DIR/items.json when there): every item on it is expected, and one without a report is named' })
    .option('tolerate', { type: 'number', describe: 'Percent of items that may leave no report without failing the run (default: the config\'s fleet.toleratedFailurePercent, else 0); they are still named' })
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
  const remote = new Remote();
  try {
    const config = argv.config !== undefined ? loadConfig(await remote.configFile(argv.config)) : undefined;
    // The items of a run in S3 kept their history beside the runs (run --out s3://…/ defaults it to OUT/history).
    if (config && isS3Url(argv.dir) && config.output.history === path.join(config.output.dir, 'history')) config.output.history = joinS3(argv.dir.replace(/\/+$/, '').replace(/\/[^/]+$/, ''), 'history');
    if (argv.items !== undefined && argv.expect !== undefined) throw new ConfigError('--items', 'excludes --expect: the item list says what the run has');
    const tolerate = argv.tolerate ?? config?.fleet?.toleratedFailurePercent;
    if (tolerate !== undefined && !(tolerate >= 0 && tolerate <= 100)) throw new ConfigError('--tolerate', `${tolerate} is not a percentage (0 to 100)`);
    const local = await remote.runDir(argv.dir);
    // A fleet run keeps its item list in OUT/RUNID/items.json (plan --items in a workflow, or run here): every item on it is expected.
    const listed = argv.items ?? (argv.expect === undefined && existsSync(path.join(local, ITEMS_FILE)) ? path.join(local, ITEMS_FILE) : undefined);
    const items = listed !== undefined ? parseItemList(await remote.readText(listed, '--items'), listed) : undefined;
    const merged = await mergeRun(local, {
      ...(items ? { expect: items.map((i) => shardOfItem(parseItem(i.item))) } : argv.expect !== undefined ? { expect: argv.expect } : {}),
      ...(tolerate !== undefined ? { toleratedPercent: tolerate } : {}),
      ...(config ? { config } : {}),
      log: (line) => process.stderr.write(`${terminalSafe(line)}\n`),
    });
    const published = isS3Url(argv.dir) ? await remote.publishFiles(argv.dir, merged.files) : [];
    report(published.length ? { ...merged, reportDir: argv.dir, files: published } : merged, argv.json);
  } finally {
    remote.done();
  }
}

/** report prints the merged summary and sets the exit code. */
function report(outcome: MergeOutcome, json: boolean): void {
  if (json) process.stdout.write(`${jsonForTerminal(jsonSummary(outcome.report, outcome.reportDir, outcome.files), 2)}\n`);
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
