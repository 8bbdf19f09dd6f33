import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CheckRegistry } from './checks/registry.js';
import { loadConfig, type ConfigOverrides } from './config/load.js';
import { ConfigValidationError } from './config/load.js';
import { ConfigError, ExitCode, errorMessage, isSnapdrillError } from './errors.js';
import { collectGarbage, defaultStateDir } from './ledger/ledger.js';
import { chooseProgressMode, createProgress } from './progress/progress.js';
import { makePlan } from './plan.js';
import { createEc2Client, sdkEc2Api } from './providers/aws/ec2.js';
import { AwsProvider } from './providers/aws/aws.js';
import { collectAwsGarbage } from './providers/aws/gc.js';
import { executeRun } from './run/run.js';
import type { RunReport } from './run/types.js';
import { jsonForTerminal, terminalSafe } from './util/sanitize.js';
import { VERSION } from './version.js';

/** EXIT_CODES is the exit-code table shown by every command's --help (and quoted in the README). */
export const EXIT_CODES = `Exit codes:
  0  every snapshot met the policy
  1  at least one snapshot did not meet the policy
     (corrupt, unknown, or below the required consistency)
  2  usage or configuration error; nothing was created
  3  the harness could not complete (infrastructure error, or interrupted);
     what it created is removed, or recorded for "snapdrill gc"`;

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

/** stdinOrFile reads a transcript argument: "-" or the empty string yargs makes of it is standard input. */
function stdinOrFile(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  return v === '' || v === '-' ? '-' : v;
}

function fail(e: unknown): never {
  if (isSnapdrillError(e)) {
    // Messages may quote a helper's stderr or a path from a disk: terminal-safe, like everything else shown.
    process.stderr.write(`snapdrill: ${terminalSafe(e.message, { multiline: true })}\n`);
    if (e.remedy) process.stderr.write(`remedy: ${terminalSafe(e.remedy)}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`snapdrill: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(ExitCode.Infrastructure);
}

function stateDirOption<T>(y: Argv<T>) {
  return y.option('state-dir', { type: 'string', describe: 'Where run ledgers are kept (default /var/lib/snapdrill as root; env SNAPDRILL_STATE_DIR)' });
}

async function runCommand(argv: Record<string, unknown>): Promise<void> {
  const overrides: ConfigOverrides = {};
  if (argv.provider !== undefined) overrides.provider = argv.provider as string;
  if (argv.catalog !== undefined) overrides.catalog = argv.catalog as string;
  if (argv['scratch-dir'] !== undefined) overrides.scratchDir = argv['scratch-dir'] as string;
  if (argv.out !== undefined) overrides.out = argv.out as string;
  if (argv.concurrency !== undefined) overrides.concurrency = argv.concurrency as number;
  if (argv.format !== undefined) overrides.formats = (argv.format as string[]).flatMap((f) => f.split(','));
  if (argv.id !== undefined) overrides.ids = argv.id as string[];
  const config = loadConfig(argv.config as string | undefined, overrides);
  const progress = createProgress(argv.quiet ? 'none' : chooseProgressMode(argv.progress as string | undefined));

  const controller = new AbortController();
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
  try {
    const outcome = await executeRun(config, {
      stateDir: (argv['state-dir'] as string | undefined) ?? defaultStateDir(),
      signal: controller.signal,
      events: bindEvents(progress),
    });
    await progress.stop();
    const { report, reportDir, files } = outcome;
    if (argv.json) {
      process.stdout.write(`${jsonForTerminal(jsonSummary(report, reportDir, files), 2)}\n`);
    } else {
      const c = report.summary.byConsistency;
      process.stderr.write(
        `\n${report.summary.total} snapshot(s): ${c['application-consistent']} application-consistent, ${c['crash-consistent']} crash-consistent, ${c.corrupt} corrupt, ${c.unknown} unknown; ${report.summary.failed} failed the policy\n`,
      );
      for (const e of report.errors) process.stderr.write(`harness error (${e.code}): ${terminalSafe(e.message)}${e.remedy ? `\n  remedy: ${terminalSafe(e.remedy)}` : ''}\n`);
      process.stderr.write(`report: ${files.find((f) => f.endsWith('.html')) ?? files[0] ?? reportDir}\n`);
    }
    process.exitCode = report.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** bindEvents lets the progress display start lazily once the snapshot list is known. */
function bindEvents(progress: ReturnType<typeof createProgress>) {
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
    snapshotDone: (r: Parameters<NonNullable<typeof progress.snapshotDone>>[0]) => {
      ensure();
      progress.snapshotDone?.(r);
    },
    message: (t: string) => progress.message?.(t),
  };
}

/** main parses argv and runs a command; exported for tests. */
export async function main(args: string[] = hideBin(process.argv)): Promise<void> {
  await yargs(args)
    .scriptName('snapdrill')
    .usage('$0 <command> [options]\n\nRestore every snapshot, check it, and say whether it would come back: application-consistent, crash-consistent, corrupt or unknown.')
    .command(
      'run',
      'Verify snapshots and write the HTML, JSON and JUnit reports',
      (y) =>
        stateDirOption(y)
          .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML or JSON; schema: schemas/config.schema.json)' })
          .option('provider', { type: 'string', choices: ['local'], describe: 'Provider, when no config file names one' })
          .option('catalog', { type: 'string', describe: 'local: directory of *.img / *.raw images (one snapshot each, optional NAME.json sidecars)' })
          .option('scratch-dir', { type: 'string', describe: 'local: where restored copies go (default /var/tmp/snapdrill)' })
          .option('id', { type: 'string', array: true, describe: 'Verify only these snapshot ids (repeatable); overrides the config selection' })
          .option('out', { alias: 'o', type: 'string', describe: 'Report directory (default ./reports); each run writes OUT/RUN-ID/' })
          .option('format', { type: 'string', array: true, describe: 'Report formats: html, json, junit (default all)' })
          .option('concurrency', { alias: 'j', type: 'number', describe: 'Snapshots verified at once (default: CPUs, at least 2)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print the machine-readable summary on stdout (progress stays on stderr)' })
          .option('progress', { type: 'string', choices: ['auto', 'tty', 'plain', 'none'], default: 'auto', describe: 'Progress display on stderr: live list on a terminal, plain lines when not a TTY or CI is set' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' })
          .example('$0 run --provider local --catalog ./images', 'verify every image in ./images')
          .example('$0 run -c snapdrill.yaml --json', 'verify what the config selects; summary as JSON')
          .epilogue(EXIT_CODES),
      (argv) => runCommand(argv as Record<string, unknown>),
    )
    .command(
      'plan',
      'Show which snapshots a run would verify, what it would create, and what that would cost; creates nothing',
      (y) =>
        y
          .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML or JSON)' })
          .option('provider', { type: 'string', choices: ['local'], describe: 'Provider, when no config file names one' })
          .option('catalog', { type: 'string', describe: 'local: directory of *.img / *.raw images' })
          .option('id', { type: 'string', array: true, describe: 'Only these snapshot ids (repeatable)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON' })
          .epilogue(EXIT_CODES),
      async (argv) => {
        const overrides: ConfigOverrides = {};
        if (argv.provider !== undefined) overrides.provider = argv.provider;
        if (argv.catalog !== undefined) overrides.catalog = argv.catalog;
        if (argv.id !== undefined) overrides.ids = argv.id;
        const plan = await makePlan(loadConfig(argv.config, overrides));
        if (argv.json) {
          process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
          return;
        }
        const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
        process.stdout.write(`${plan.provider}: ${plan.snapshots.length} snapshot(s) selected\n`);
        for (const s of plan.snapshots) process.stdout.write(`  ${s.id}  ${gib(s.sizeBytes)}${s.startTime ? `  taken ${s.startTime}` : ''}${s.volumeId ? `  of ${s.volumeId}` : ''}${s.set ? `  set ${s.set}` : ''}${s.origin && s.origin !== 'manual' ? `  (${s.origin})` : ''}\n`);
        process.stdout.write('would create:\n');
        for (const c of plan.creates) process.stdout.write(`  ${c.count} x ${c.kind}${c.bytes !== undefined ? ` (${gib(c.bytes)})` : ''}: ${c.detail}\n`);
        process.stdout.write(`estimated cost: ${plan.estimate.usd === null ? 'unknown' : `$${plan.estimate.usd.toFixed(2)}`}\n${plan.estimate.assumptions.map((a) => `  - ${a}`).join('\n')}\n`);
      },
    )
    .command(
      'checks',
      'List the registered checks, what they apply to and what they need on the helper',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print as JSON' }).epilogue(EXIT_CODES),
      (argv) => {
        const reg = CheckRegistry.load();
        const list = reg.all().map((c) => ({
          id: c.id,
          title: c.title,
          stage: c.stage,
          appliesTo: c.fstypes,
          needs: c.needs,
          packages: c.packages,
          timeoutMs: c.timeoutMs ?? null,
          mutatesScratchCopy: c.mutates,
          description: c.description,
        }));
        if (argv.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        for (const c of list) {
          process.stdout.write(
            `${c.id.padEnd(10)} ${c.title}\n${' '.repeat(11)}stage: ${c.stage}${c.appliesTo.length ? `, applies to: ${c.appliesTo.join(', ')}` : ''}${c.mutatesScratchCopy ? ', writes the scratch copy' : ''}\n${' '.repeat(11)}needs: ${c.needs.join(', ')} (${Object.entries(c.packages).map(([d, p]) => `${d}: ${p.join(' ')}`).join('; ')})\n\n`,
          );
        }
      },
    )
    .command(
      'validate <config>',
      'Check a config file against the schema; print every problem with its JSON path',
      (y) => y.positional('config', { type: 'string', demandOption: true }).epilogue(EXIT_CODES),
      (argv) => {
        try {
          const cfg = loadConfig(argv.config as string);
          process.stdout.write(`${argv.config}: valid (provider ${cfg.provider.type}, ${cfg.snapshots.length || 'all'} selector(s), concurrency ${cfg.concurrency})\n`);
        } catch (e) {
          if (e instanceof ConfigValidationError) {
            process.stderr.write(`${e.message}\n`);
            process.exit(ExitCode.Usage);
          }
          throw e;
        }
      },
    )
    .command(
      'diagnose [transcript]',
      'Explain why a machine does not start: its console output (a saved transcript, or an EC2 instance\'s) against the diagnosis catalog, and the pre-boot lint of its root volume from a snapshot',
      (y) =>
        y
          .positional('transcript', { type: 'string', describe: 'A saved console transcript (- for standard input), e.g. pasted from the EC2 console; same as --console' })
          .option('console', { type: 'string', describe: 'A saved console transcript (--console=- for standard input)' })
          .option('instance', { type: 'string', describe: 'An EC2 instance id: its latest console output and screenshot are fetched (needs -c with an aws provider)' })
          .option('snapshot', { type: 'string', describe: 'Also restore this snapshot (from -c CONFIG\'s provider) and lint its root filesystem; alone, only the lint' })
          .option('config', { alias: 'c', type: 'string', describe: 'Config file (the aws provider for --instance; any provider for --snapshot)' })
          .option('state-dir', { type: 'string', describe: 'Where the resource ledger of --snapshot goes (default /var/lib/snapdrill as root)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print the causes with their matched lines and remedies as JSON' })
          .option('html', { type: 'string', describe: 'Also write a self-contained HTML page (transcript with the matched lines highlighted)' })
          .epilogue(`${EXIT_CODES}\n  diagnose exits 0 when it could read the console (whether or not a cause matched), 2 on bad input, 3 when AWS could not be reached.`),
      async (argv) => {
        const { diagnoseInput, formatDiagnosis, readTranscript, writeDiagnoseHtml } = await import('./diagnose/command.js');
        // yargs turns a lone "-" (standard input) into an empty string for a string option or positional.
        const file = stdinOrFile(argv.console as string | undefined) ?? stdinOrFile(argv.transcript as string | undefined) ?? (argv._.includes('-') ? '-' : undefined);
        if (file && argv.instance) throw new ConfigError('', 'give one console: a transcript file (or - for standard input), or --instance ID');
        if (!file && !argv.instance && !argv.snapshot) throw new ConfigError('', 'give a console (a transcript file, - for standard input, or --instance ID with -c CONFIG), or --snapshot ID with -c CONFIG');
        if ((argv.instance || argv.snapshot) && !argv.config) throw new ConfigError('', `${argv.instance ? '--instance' : '--snapshot'} needs -c CONFIG`);
        const cfg = argv.config ? loadConfig(argv.config as string) : undefined;
        let input: import('./diagnose/command.js').DiagnoseInput;
        if (file) input = readTranscript(file);
        else if (argv.instance) {
          if (cfg!.provider.type !== 'aws') throw new ConfigError('/provider/type', '--instance needs an aws provider');
          const { fetchInstanceConsole } = await import('./providers/aws/diagnose.js');
          input = await fetchInstanceConsole(cfg!.provider, argv.instance as string);
        } else input = { source: argv.snapshot as string, text: '' };
        if (argv.snapshot) {
          const { lintSnapshot } = await import('./diagnose/lint-snapshot.js');
          const ac = new AbortController();
          const stop = () => ac.abort('signal');
          process.once('SIGINT', stop).once('SIGTERM', stop);
          input.lint = await lintSnapshot(cfg!, argv.snapshot as string, (argv['state-dir'] as string | undefined) ?? defaultStateDir(), ac.signal);
        }
        const out = diagnoseInput(input);
        if (argv.html) writeDiagnoseHtml(argv.html as string, input, out.diagnosis);
        if (argv.json) {
          const { diagnosis: _d, ...rest } = out;
          process.stdout.write(`${jsonForTerminal(rest, 2)}\n`);
        } else process.stdout.write(formatDiagnosis(out, input.text));
      },
    )
    .command(
      'gc',
      'Remove what killed runs left behind (scratch copies, loop devices, mounts, processes; with -c: cloud resources), from their ledgers',
      (y) =>
        stateDirOption(y)
          .option('config', { alias: 'c', type: 'string', describe: 'With an aws provider: also remove expired snapdrill resources from the account (helpers first); with a local one: its scratchDir is a scratch root' })
          .option('scratch-dir', { type: 'string', array: true, describe: 'A scratch root local leftovers may lie under (repeatable; besides /var/tmp/snapdrill and the one each run recorded)' })
          .option('dry-run', { type: 'boolean', describe: 'Only list what would be removed (the default on an interactive terminal without --yes)' })
          .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Remove without asking, also on a terminal' })
          .option('json', { type: 'boolean', default: false, describe: 'Print the outcome as JSON' })
          .epilogue(
            `${EXIT_CODES}\n  gc exits 0 when everything left over was removed (or would be), 3 when something could not be removed or was refused.\n\n` +
              'gc acts only on ledgers it wrote: the state directory and its runs/ owned by this user and 0700 (a looser one of ours is set to 0700 with a warning), each ledger a regular file of this user that nobody else can write.\n' +
              'In them it refuses (reports, never acts on) paths outside the scratch roots, pids <= 1 and processes recorded without their start time; it signals only recorded pids, and a process group only when recorded as one the run created.',
          ),
      async (argv) => {
        const { DEFAULT_SCRATCH_DIR } = await import('./config/load.js');
        const { resolve } = await import('node:path');
        const dryRun = Boolean(argv['dry-run'] ?? (process.stdin.isTTY && !argv.yes));
        const cfg = argv.config ? loadConfig(argv.config as string) : undefined;
        const stateDir = (argv['state-dir'] as string | undefined) ?? defaultStateDir();
        const scratchRoots = [DEFAULT_SCRATCH_DIR, ...((argv['scratch-dir'] as string[] | undefined) ?? []).map((d) => resolve(d)), ...(cfg?.provider.type === 'local' ? [cfg.provider.scratchDir] : [])];
        if (cfg?.provider.type === 'aws') {
          // The provider installs the releaser of AWS records, so ledgers of killed AWS runs are settled too: helpers
          // first, then volumes detached by force; each wait bounded so that one pass settles a killed run.
          new AwsProvider(cfg.provider, 'gc', [], { waits: { attach: { timeoutMs: 120_000, pollMs: 2000, reason: 'volume detached' } } });
        }
        const ledgers = await collectGarbage(stateDir, { dryRun, scratchRoots });
        for (const w of ledgers.warnings) process.stderr.write(`warning: ${w}\n`);
        const ledgerFailed = ledgers.outcomes.some((o) => o.action === 'failed' || o.action === 'refused');
        if (cfg?.provider.type === 'aws') {
          for (const o of ledgers.outcomes) process.stderr.write(`${o.action.padEnd(16)} ${o.resource} (ledger of run ${o.runId})${o.error ? `: ${o.error}` : ''}\n`);
          const left = await collectAwsGarbage(sdkEc2Api(createEc2Client(cfg.provider)), { dryRun });
          if (argv.json) process.stdout.write(`${JSON.stringify({ dryRun, resources: left, ledgers: ledgers.outcomes, warnings: ledgers.warnings }, null, 2)}\n`);
          else if (left.length === 0) process.stdout.write('nothing left over\n');
          else {
            for (const l of left) process.stdout.write(`${l.action.padEnd(16)} ${l.kind} ${l.id} (run ${l.runId}, expires ${l.expiresAt || 'never set'})${l.error ? `: ${l.error}` : ''}\n`);
            if (dryRun) process.stdout.write('dry run: nothing removed; re-run with --yes to remove\n');
          }
          if (left.some((l) => l.action === 'failed') || ledgerFailed) process.exitCode = ExitCode.Infrastructure;
          return;
        }
        const out = ledgers.outcomes;
        if (argv.json) process.stdout.write(`${JSON.stringify({ dryRun, resources: out, warnings: ledgers.warnings }, null, 2)}\n`);
        else if (out.length === 0) process.stdout.write('nothing left over\n');
        else {
          for (const o of out) process.stdout.write(`${o.action.padEnd(16)} ${o.resource} (run ${o.runId})${o.error ? `: ${o.error}` : ''}\n`);
          if (dryRun) process.stdout.write('dry run: nothing removed; re-run with --yes to remove\n');
        }
        if (ledgerFailed) process.exitCode = ExitCode.Infrastructure;
      },
    )
    .demandCommand(1, 'name a command: run, plan, checks, validate, diagnose or gc')
    .strict()
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .epilogue(EXIT_CODES)
    .fail((msg, err) => {
      if (err) fail(err);
      process.stderr.write(`snapdrill: ${msg}\nrun "snapdrill --help" for usage\n`);
      process.exit(ExitCode.Usage);
    })
    .parseAsync()
    .catch(fail);
}
