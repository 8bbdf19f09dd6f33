import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { ConfigError, ExitCode } from '../errors.js';
import { chooseProgressMode, createProgress, type Progress } from '../progress/progress.js';
import type { RunReport } from '../report/types.js';
import type { RunEvents } from '../run/events.js';
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { isFleet } from '../fleet/items.js';
import { createFleet } from '../providers/factory.js';
import { parseItem, type ItemRef } from '../fleet/items.js';
import { runFleet, runItem } from '../fleet/run.js';
import { executeRun, newRunId, RUN_ID_PATTERN, type RunOptions, type RunOutcome } from '../run/run.js';
import { isS3Url, joinS3, Remote } from './remote.js';
import { parseShard } from '../run/shard.js';
import { renderTerminalSummary } from '../report/terminal.js';
import { jsonForTerminal, terminalSafe } from '../util/sanitize.js';
import { EXIT_CODES, overridesOf, stateDirOf, stateDirOption, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return stateDirOption(y)
    .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML or JSON; schema: schemas/config.schema.json)' })
    .option('provider', { type: 'string', choices: ['local'], describe: 'Provider, when no config file names one' })
    .option('catalog', { type: 'string', describe: 'local: directory of *.img / *.raw images (one snapshot each, optional NAME.json sidecars)' })
    .option('scratch-dir', { type: 'string', describe: 'local: where restored copies go (default /var/tmp/snapdrill)' })
    .option('id', { type: 'string', array: true, describe: 'Verify only these snapshot ids (repeatable); overrides the config selection' })
    .option('out', { alias: 'o', type: 'string', describe: 'Report directory (default ./reports); each run writes OUT/RUN-ID/' })
    .option('format', { type: 'string', array: true, describe: 'Report formats: html, json, junit (default all)' })
    .option('concurrency', { alias: 'j', type: 'number', describe: 'Snapshots verified at once (default: CPUs, at least 2)' })
    .option('evidence', { type: 'boolean', describe: 'Also write a signed evidence pack into the run\'s report directory (output.evidence); check it with "snapdrill evidence verify DIR"' })
    .option('signing-key', { type: 'string', describe: 'Ed25519 private key file (snapdrill evidence keygen) or KMS key ARN that signs the evidence pack (output.signingKey)' })
    .option('history', { type: 'string', describe: 'History store: a directory or s3://bucket/prefix (output.history; default OUT/history)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the machine-readable summary on stdout (progress stays on stderr)' })
    .option('progress', { type: 'string', choices: ['auto', 'tty', 'plain', 'none'], default: 'auto', describe: 'Progress display on stderr: live list on a terminal, plain lines when not a TTY or CI is set' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' })
    .option('shard', { type: 'string', describe: 'Verify only the K-th of N parts of the selection (K/N; sets and lineages are never split); needs --run-id. Writes OUT/RUN-ID/shard-K-of-N/ and sends no alerts: "snapdrill merge OUT/RUN-ID" does' })
    .option('item', { type: 'string', describe: 'Verify one work item of a fleet config (accounts, organization or regions): ACCOUNT/REGION/K/N, as "snapdrill plan --items" lists them; needs --run-id. Writes OUT/RUN-ID/shard-ACCOUNT-REGION-K-of-N/. Without it, a fleet config runs every item here, one after another, then merges' })
    .option('run-id', { type: 'string', describe: 'Run id to use instead of a new one (as snapdrill makes them: 20261203T020000Z-1a2b3c); every shard of one run gets the same' })
    .example('$0 run --provider local --catalog ./images', 'verify every image in ./images')
    .example('$0 run -c snapdrill.yaml --json', 'verify what the config selects; summary as JSON')
    .example('$0 run -c snapdrill.yaml --shard 2/4 --run-id 20261203T020000Z-1a2b3c', 'verify the second of four parts of one fleet run')
    .example('$0 run -c s3://bucket/fleet.yaml --item 111111111111/eu-west-1/1/2 --run-id RUN --out s3://bucket/runs/', 'one work item of a fleet run (what the workflow\'s map runs)')
    .epilogue(EXIT_CODES);
}

/** RunArgs are the options of `snapdrill run`. */
export type RunArgs = ArgsOf<typeof builder>;

/** jsonSummary is what `run --json` prints: per snapshot its id, source, verdicts and the evidence keys that decided them. */
export function jsonSummary(report: RunReport, reportDir: string, files: string[]) {
  return {
    runId: report.runId,
    exitCode: report.exitCode,
    interrupted: report.interrupted,
    reportDir,
    files,
    summary: report.summary,
    errors: report.errors,
    snapshots: report.snapshots.map((s) => ({
      id: s.id,
      source: s.source,
      ...(s.account !== undefined ? { account: s.account } : {}),
      ...(s.region !== undefined ? { region: s.region } : {}),
      consistency: s.consistency,
      boot: s.boot,
      policy: s.policy.pass ? 'pass' : 'fail',
      summary: s.summary,
      filesystems: s.filesystems.map((f) => ({
        target: f.target,
        fstype: f.fstype ?? null,
        state: f.state,
        evidence: Object.fromEntries(f.evidence.map((e) => [e.key, e.value])),
      })),
      databases: s.databases.map((d) => ({
        engine: d.engine,
        path: d.path,
        filesystem: d.filesystem,
        state: d.state,
        evidence: Object.fromEntries(d.evidence.map((e) => [e.key, e.value])),
      })),
      canaries: s.canaries.map((c) => ({ name: c.name, path: c.path, value: c.value, pass: c.pass, detail: c.detail })),
      ...(s.error ? { error: s.error } : {}),
    })),
  };
}

/**
 * onSignals makes the first SIGINT/SIGTERM abort the run (which then removes what it created) and a second one exit
 * at once; it returns the function that stops listening.
 */
function onSignals(controller: AbortController): () => void {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\nsnapdrill: ${sig} received: stopping checks and removing what this run created (send again to exit at once; "snapdrill gc" removes leftovers)\n`);
      controller.abort(sig);
    } else {
      process.stderr.write(`snapdrill: exiting without cleanup; run "snapdrill gc" to remove leftovers\n`);
      process.exit(ExitCode.Infrastructure);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** bindEvents lets the progress display start lazily once the snapshot list is known. */
function bindEvents(progress: Progress): RunEvents {
  let started = false;
  const queued: string[] = [];
  const ensure = () => {
    if (!started) {
      started = true;
      progress.start(queued);
    }
  };
  return {
    snapshotQueued: (id: string) => queued.push(id),
    phaseStart: (id: string, phase: string) => {
      ensure();
      progress.phaseStart?.(id, phase);
    },
    phaseEnd: (id: string, phase: string, ok: boolean, ms: number) => progress.phaseEnd?.(id, phase, ok, ms),
    snapshotDone: (r) => {
      ensure();
      progress.snapshotDone?.(r);
    },
    message: (t: string) => progress.message?.(t),
  };
}

/** printOutcome prints the summary: as JSON on stdout with --json, else the summary table on stderr. */
function printOutcome({ report, reportDir, files, evidence }: RunOutcome, json: boolean): void {
  if (json) {
    process.stdout.write(`${jsonForTerminal({ ...jsonSummary(report, reportDir, files), ...(evidence ? { evidence } : {}) }, 2)}\n`);
    return;
  }
  process.stderr.write(renderTerminalSummary(report, { reportFile: files.find((f) => f.endsWith('.html')) ?? files[0] ?? reportDir, ...(evidence ? { evidence } : {}) }));
}

/** fleetOptions reads --shard, --item and --run-id: a shard or item needs the run id its siblings share, and a given id must be one. */
export function fleetOptions(argv: { shard?: string | undefined; item?: string | undefined; runId?: string | undefined }): Pick<RunOptions, 'shard' | 'runId'> & { item?: ItemRef } {
  if (argv.runId !== undefined && !RUN_ID_PATTERN.test(argv.runId)) {
    throw new ConfigError('--run-id', `"${argv.runId}" is not a run id`, 'give one as snapdrill makes them, UTC time and 6 hex digits: 20261203T020000Z-1a2b3c (e.g. "$(date -u +%Y%m%dT%H%M%SZ)-$(openssl rand -hex 3)"), or a workflow execution name (letters, digits, . _ -, at most 80)');
  }
  if (argv.shard !== undefined && argv.item !== undefined) throw new ConfigError('--item', 'excludes --shard: an item is already a shard of one account and region');
  const needsId = (flag: string) => new ConfigError(flag, 'needs --run-id: every part of one run writes under the same run id, where "snapdrill merge" finds them', 'make one id for the whole fleet run and pass it to every part with --run-id');
  if (argv.item !== undefined) {
    if (argv.runId === undefined) throw needsId('--item');
    return { item: parseItem(argv.item), runId: argv.runId };
  }
  if (argv.shard === undefined) return argv.runId !== undefined ? { runId: argv.runId } : {};
  const shard = parseShard(argv.shard);
  if (argv.runId === undefined) throw needsId('--shard');
  return { shard, runId: argv.runId };
}

/** loadRunConfig reads the config (s3:// staged), with --out s3://… staged too: its history then defaults to OUT/history in S3. */
async function loadRunConfig(argv: ArgumentsCamelCase<RunArgs>, remote: Remote): Promise<Config> {
  const config = loadConfig(await remote.configFile(argv.config), overridesOf({ ...argv, out: remote.outDir(argv.out) }));
  if (argv.out !== undefined && isS3Url(argv.out) && config.output.history === path.join(config.output.dir, 'history')) config.output.history = joinS3(argv.out, 'history');
  return config;
}

/** execute runs what the flags ask: one fleet item, a whole fleet here (merged), or a run or shard of one account. */
async function execute(config: Config, parts: ReturnType<typeof fleetOptions>, opts: Omit<RunOptions, 'shard' | 'runId'>, argv: ArgumentsCamelCase<RunArgs>): Promise<RunOutcome> {
  if (!isFleet(config)) {
    if (parts.item) throw new ConfigError('--item', 'needs a fleet config (accounts, organization or regions): this one names one account and region', 'use --shard K/N to split a single-account run');
    return executeRun(config, { ...parts, ...opts });
  }
  if (parts.shard) throw new ConfigError('--shard', 'a fleet config is split into items, not shards', 'list the items with "snapdrill plan -c CONFIG --items FILE" and run one with --item');
  const runId = parts.runId ?? newRunId();
  const fleet = createFleet(config, runId);
  if (parts.item) return runItem(fleet, parts.item, { ...opts, runId, ...(argv.concurrency !== undefined ? { concurrency: argv.concurrency } : {}) });
  const whole = await runFleet(fleet, { ...opts, runId }, (line) => process.stderr.write(`${terminalSafe(line)}\n`));
  return { report: whole.merged.report, reportDir: whole.merged.reportDir, files: whole.merged.files };
}

/** runSnapshots verifies what the config and flags select; the exit code is the report's. */
async function runSnapshots(argv: ArgumentsCamelCase<RunArgs>): Promise<void> {
  const parts = fleetOptions(argv);
  const remote = new Remote();
  const progress = createProgress(argv.quiet ? 'none' : chooseProgressMode(argv.progress));
  const controller = new AbortController();
  // A fleet run here runs its items one after another on this signal: each adds its listeners.
  setMaxListeners(0, controller.signal);
  const stopListening = onSignals(controller);
  try {
    const config = await loadRunConfig(argv, remote);
    const outcome = await execute(config, parts, { stateDir: stateDirOf(argv), signal: controller.signal, events: bindEvents(progress) }, argv);
    await progress.stop();
    // In S3: a part goes to OUT/RUNID/<its directory>/, a whole run to OUT/RUNID/.
    const rel = outcome.report.shard ? `${outcome.report.runId}/${path.basename(outcome.reportDir)}` : outcome.report.runId;
    const published = await remote.publish(argv.out, outcome.reportDir, rel);
    printOutcome(published.length ? { ...outcome, reportDir: joinS3(argv.out!, rel), files: published } : outcome, argv.json);
    process.exitCode = outcome.report.exitCode;
  } finally {
    stopListening();
    remote.done();
  }
}

/** runCommand is `snapdrill run`. */
export const runCommand: CommandModule<{}, RunArgs> = {
  command: 'run',
  describe: 'Verify snapshots and write the HTML, JSON and JUnit reports',
  builder,
  handler: runSnapshots,
};
