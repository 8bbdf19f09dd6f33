import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { CONFIG_SCHEMA, loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_RUNS } from '../history/store.js';
import type { LineageEntry, RunRecord } from '../judges/history.js';
import { fmt } from '../judges/rto.js';
import { openHistory } from '../providers/history.js';
import { schemaPath } from '../util/paths.js';
import { jsonForTerminal, terminalSafe } from '../util/sanitize.js';
import { EXIT_CODES, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return y
    .option('config', { alias: 'c', type: 'string', describe: "Read the history the config's runs write (output.history, default <output.dir>/history)" })
    .option('store', { type: 'string', describe: 'The history location instead: a directory or s3://bucket/prefix (default: reports/history)' })
    .option('lineage', { type: 'string', describe: 'Show one lineage (a volume id, or a snapshot set key) run by run' })
    .option('runs', { type: 'number', describe: `How many of the newest runs to show (default: the config's output.historyRuns, else ${DEFAULT_RUNS})` })
    .option('json', { type: 'boolean', default: false, describe: 'Print the run records as JSON' })
    .epilogue(
      `${EXIT_CODES}\n  history exits 0 when the store could be listed (records that cannot be read are skipped with a warning on stderr), 2 on a usage error, 3 when the store cannot be listed.\n\n` +
        'S3 locations are reached with the config\'s AWS provider (region, endpoint, profile) or, without one, the environment (AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE).',
    );
}

/** HistoryArgs are the options of `snapdrill history`. */
export type HistoryArgs = ArgsOf<typeof builder>;

/** defaultOutputDir is output.dir's default, read from the config schema (the one place defaults are written). */
function defaultOutputDir(): string {
  const schema = JSON.parse(readFileSync(schemaPath(CONFIG_SCHEMA), 'utf8')) as { properties: { output: { properties: { dir: { default: string } } } } };
  return schema.properties.output.properties.dir.default;
}

/** locationOf is the history a command reads: --store, else the config's output.history (default <output.dir>/history), else reports/history. */
function locationOf(argv: ArgumentsCamelCase<HistoryArgs>, config: Config | undefined): string {
  return argv.store ?? config?.output.history ?? path.resolve(defaultOutputDir(), 'history');
}

/** when prints a record's start time for a column: 2026-12-03 03:15:00Z. */
function when(iso: string): string {
  return terminalSafe(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** runLine is one run in a line: time, run id, snapshots, failures, unknowns, exit code. */
function runLine(r: RunRecord): string {
  const failed = r.entries.filter((e) => !e.policyPass).length;
  const unknown = r.entries.filter((e) => e.consistency === 'unknown').length;
  const cols = [when(r.startedAt).padEnd(21), terminalSafe(r.runId).padEnd(24), String(r.entries.length).padStart(9), String(failed).padStart(6), String(unknown).padStart(7), String(r.exitCode).padStart(4)];
  return `${cols.join('  ')}${r.interrupted ? '  (interrupted)' : ''}${r.rpo.length ? `  ${r.rpo.length} RPO violation(s)` : ''}`;
}

/** entryLine is one lineage in one run: time, run id, snapshot, verdict, policy, RTO. */
function entryLine(r: RunRecord, e: LineageEntry | undefined): string {
  const head = `${when(r.startedAt).padEnd(21)}  ${terminalSafe(r.runId).padEnd(24)}`;
  if (!e) return `${head}  (not verified in this run)`;
  const policy = e.policyPass ? 'pass' : `fail: ${terminalSafe(e.reason)}`;
  return `${head}  ${terminalSafe(e.snapshotId).padEnd(22)}  ${e.consistency.padEnd(22)}  ${fmt(e.restoreToVerifiedMs).padStart(9)}  ${policy}`;
}

/** printText prints one line per run, or with --lineage one line per run for that lineage. */
function printText(records: RunRecord[], lineage: string | undefined, location: string): void {
  if (records.length === 0) {
    process.stdout.write(`no runs recorded in ${terminalSafe(location)}\n`);
    return;
  }
  if (lineage === undefined) {
    process.stdout.write(`${['started'.padEnd(21), 'run'.padEnd(24), 'snapshots', 'failed', 'unknown', 'exit'].join('  ')}\n`);
    for (const r of records) process.stdout.write(`${runLine(r)}\n`);
    return;
  }
  process.stdout.write(`${['started'.padEnd(21), 'run'.padEnd(24), 'snapshot'.padEnd(22), 'verdict'.padEnd(22), 'RTO'.padStart(9), 'policy'].join('  ')}\n`);
  for (const r of records) {
    if (r.entries.length === 0) process.stdout.write(`${entryLine(r, undefined)}\n`);
    for (const e of r.entries) process.stdout.write(`${entryLine(r, e)}\n`);
  }
}

/** showHistory lists the newest runs of a history store, oldest first, warning on stderr about records it skipped. */
async function showHistory(argv: ArgumentsCamelCase<HistoryArgs>): Promise<void> {
  if (argv.runs !== undefined && (!Number.isInteger(argv.runs) || argv.runs < 1)) throw new ConfigError('--runs', 'must be a whole number of runs, at least 1');
  const config = argv.config !== undefined ? loadConfig(argv.config) : undefined;
  const location = locationOf(argv, config);
  const store = openHistory(location, config);
  const limit = argv.runs ?? config?.output.historyRuns ?? DEFAULT_RUNS;
  const { records, skipped } = await store.list({ limit, ...(argv.lineage !== undefined ? { lineage: argv.lineage } : {}) });
  for (const s of skipped) process.stderr.write(`warning: skipped ${terminalSafe(s.key)}: ${terminalSafe(s.reason)}\n`);
  if (argv.json) process.stdout.write(`${jsonForTerminal(records, 2)}\n`);
  else printText(records, argv.lineage, location);
}

/** historyCommand is `snapdrill history`. */
export const historyCommand: CommandModule<{}, HistoryArgs> = {
  command: 'history',
  describe: 'List the recorded runs (time, run id, snapshots, failures, unknowns, exit code), or one lineage run by run',
  builder,
  handler: showHistory,
};
