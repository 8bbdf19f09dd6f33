import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { DEFAULT_SCRATCH_DIR, loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { ConfigError, errorMessage, ExitCode } from '../errors.js';
import { isFleet } from '../fleet/items.js';
import { newRunId } from '../run/run.js';
import { mapLimit } from '../util/concurrency.js';
import { Remote } from './remote.js';
import { collectGarbage, type GcResult } from '../ledger/ledger.js';
import { createFleet, createProvider } from '../providers/factory.js';
import type { CloudLeftover, FleetAccess, Provider } from '../provider.js';
import { EXIT_CODES, stateDirOf, stateDirOption, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return stateDirOption(y)
    .option('config', { alias: 'c', type: 'string', describe: 'With an aws provider: also remove expired snapdrill resources from the account (helpers first), or from every account and region of a fleet config, each through its role; with a local one: its scratchDir is a scratch root. A file or s3://bucket/key' })
    .option('scratch-dir', { type: 'string', array: true, describe: 'A scratch root local leftovers may lie under (repeatable; besides /var/tmp/snapdrill and the one each run recorded)' })
    .option('dry-run', { type: 'boolean', describe: 'Only list what would be removed (the default on an interactive terminal without --yes)' })
    .option('as-of', { type: 'string', describe: 'Judge cloud expiry as of this time (ISO 8601) instead of now: e.g. to see what the next nightly run\'s gc will remove' })
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Remove without asking, also on a terminal' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the outcome as JSON' })
    .epilogue(
      `${EXIT_CODES}\n  gc exits 0 when everything left over was removed (or would be), 3 when something could not be removed or was refused.\n\n` +
        'gc acts only on ledgers it wrote: the state directory and its runs/ owned by this user and 0700 (a looser one of ours is set to 0700 with a warning), each ledger a regular file of this user that nobody else can write.\n' +
        'In them it refuses (reports, never acts on) paths outside the scratch roots, pids <= 1 and processes recorded without their start time; it signals only recorded pids, and a process group only when recorded as one the run created.',
    );
}

/** GcArgs are the options of `snapdrill gc`. */
export type GcArgs = ArgsOf<typeof builder>;

/** scratchRootsOf lists where local leftovers may lie: the default root, every --scratch-dir, and a local config's scratchDir. */
function scratchRootsOf(argv: ArgumentsCamelCase<GcArgs>, cfg: Config | undefined): string[] {
  return [DEFAULT_SCRATCH_DIR, ...(argv.scratchDir ?? []).map((d) => resolve(d)), ...(cfg?.provider.type === 'local' ? [cfg.provider.scratchDir] : [])];
}

/** printLedgerOutcomes prints what the ledger pass did, on stdout (or as JSON) when the ledgers are all gc looked at. */
function printLedgerOutcomes(ledgers: GcResult, dryRun: boolean, json: boolean): void {
  const out = ledgers.outcomes;
  if (json) process.stdout.write(`${JSON.stringify({ dryRun, resources: out, warnings: ledgers.warnings }, null, 2)}\n`);
  else if (out.length === 0) process.stdout.write('nothing left over\n');
  else {
    for (const o of out) process.stdout.write(`${o.action.padEnd(16)} ${o.resource} (run ${o.runId})${o.error ? `: ${o.error}` : ''}\n`);
    if (dryRun) process.stdout.write('dry run: nothing removed; re-run with --yes to remove\n');
  }
}

/**
 * sweepCloud lists the ledger pass on stderr, then removes what expired in the cloud account, ledger or not, and
 * prints that on stdout (or both as JSON); true when something in the account could not be removed.
 */
async function sweepCloud(collect: NonNullable<Provider['collectGarbage']>, ledgers: GcResult, dryRun: boolean, json: boolean): Promise<boolean> {
  for (const o of ledgers.outcomes) process.stderr.write(`${o.action.padEnd(16)} ${o.resource} (ledger of run ${o.runId})${o.error ? `: ${o.error}` : ''}\n`);
  const left: CloudLeftover[] = await collect({ dryRun });
  if (json) process.stdout.write(`${JSON.stringify({ dryRun, resources: left, ledgers: ledgers.outcomes, warnings: ledgers.warnings }, null, 2)}\n`);
  else if (left.length === 0) process.stdout.write('nothing left over\n');
  else {
    for (const l of left) process.stdout.write(`${l.action.padEnd(16)} ${l.account ? `${l.account}/${l.region} ` : ''}${l.kind} ${l.id} (run ${l.runId}, expires ${l.expiresAt || 'never set'})${l.error ? `: ${l.error}` : ''}\n`);
    if (dryRun) process.stdout.write('dry run: nothing removed; re-run with --yes to remove\n');
  }
  return left.some((l) => l.action === 'failed');
}

/**
 * removeLeftovers settles, from the ledgers gc trusts (ledger/trust.ts), what killed runs left: cloud records through
 * the config's provider (helpers first, detaches forced), refused ledgers and records reported and never acted on;
 * with a provider that sweeps its cloud account, also what expired there. Anything failed or refused exits 3.
 */
async function removeLeftovers(argv: ArgumentsCamelCase<GcArgs>): Promise<void> {
  const dryRun = Boolean(argv.dryRun ?? (process.stdin.isTTY && !argv.yes));
  const remote = new Remote();
  const cfg = argv.config ? loadConfig(await remote.configFile(argv.config)) : undefined;
  remote.done();
  const fleet = cfg && isFleet(cfg) ? createFleet(cfg, `gc-${newRunId()}`, { provider: { waits: GC_WAITS } }) : undefined;
  const provider = cfg && !fleet ? createProvider(cfg, 'gc', 'gc') : undefined;
  const releaseCloud = fleet ? fleet.releaser() : provider?.releaseCloud?.bind(provider);
  const asOf = argv.asOf !== undefined ? new Date(argv.asOf) : undefined;
  if (asOf && Number.isNaN(asOf.getTime())) throw new ConfigError('--as-of', `"${argv.asOf}" is not a time (ISO 8601, e.g. 2026-12-04T02:00:00Z)`);
  const when = asOf ? { now: asOf } : {};
  const collectCloud = fleet ? (o: { dryRun: boolean }) => sweepFleet(fleet, { ...o, ...when }) : provider?.collectGarbage ? (o: { dryRun: boolean }) => provider.collectGarbage!({ ...o, ...when }) : undefined;
  const ledgers = await collectGarbage(stateDirOf(argv), { dryRun, scratchRoots: scratchRootsOf(argv, cfg), ...(releaseCloud ? { cloud: releaseCloud } : {}) });
  for (const w of ledgers.warnings) process.stderr.write(`warning: ${w}\n`);
  const ledgerFailed = ledgers.outcomes.some((o) => o.action === 'failed' || o.action === 'refused');
  let cloudFailed = false;
  if (collectCloud) cloudFailed = await sweepCloud(collectCloud, ledgers, dryRun, argv.json);
  else printLedgerOutcomes(ledgers, dryRun, argv.json);
  if (cloudFailed || ledgerFailed) process.exitCode = ExitCode.Infrastructure;
}

/** GC_WAITS bound gc's waits so one pass settles a run (as createProvider does for gc). */
const GC_WAITS = { attach: { timeoutMs: 120_000, pollMs: 2000, reason: 'volume detached' } };

/**
 * sweepFleet removes what expired in every account and region of a fleet config (at most fleet.maxItems at once),
 * each through its account's role; an account-region that cannot be reached is a failed leftover naming it.
 */
async function sweepFleet(fleet: FleetAccess, opts: { dryRun: boolean; now?: Date }): Promise<CloudLeftover[]> {
  const members = await fleet.listMembers();
  const pairs = members.flatMap((m) => fleet.config.fleet.regions.map((region) => ({ m, region })));
  const swept = await mapLimit(pairs, fleet.config.fleet.maxItems, async ({ m, region }): Promise<CloudLeftover[]> => {
    try {
      const p = fleet.config.provider;
      const provider = fleet.provider(m, { ...p, region, availabilityZone: `${region}a` }, 'gc');
      const left = (await provider.collectGarbage?.(opts)) ?? [];
      return left.map((l) => ({ ...l, account: m.id, region }));
    } catch (e) {
      return [{ kind: 'account-region', id: `${m.id}/${region}`, runId: '', expiresAt: '', state: 'unreachable', action: 'failed', error: errorMessage(e), account: m.id, region }];
    }
  });
  return swept.flat();
}

/** gcCommand is `snapdrill gc`. */
export const gcCommand: CommandModule<{}, GcArgs> = {
  command: 'gc',
  describe: 'Remove what killed runs left behind (scratch copies, loop devices, mounts, processes; with -c: cloud resources), from their ledgers',
  builder,
  handler: removeLeftovers,
};
