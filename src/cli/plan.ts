import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { isFleet } from '../fleet/items.js';
import { createFleet } from '../providers/factory.js';
import { formatFleetPlan, makeFleetPlan } from '../fleet/plan.js';
import { makePlan, type Plan } from '../plan.js';
import { newRunId, RUN_ID_PATTERN } from '../run/run.js';
import { Remote } from './remote.js';
import { EXIT_CODES, overridesOf, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return y
    .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML or JSON)' })
    .option('provider', { type: 'string', choices: ['local'], describe: 'Provider, when no config file names one' })
    .option('catalog', { type: 'string', describe: 'local: directory of *.img / *.raw images' })
    .option('id', { type: 'string', array: true, describe: 'Only these snapshot ids (repeatable)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON' })
    .option('items', { type: 'string', describe: 'Fleet config: also write the run\'s work items (JSON array; ACCOUNT/REGION/K/N each, no secrets) to this file or s3://bucket/key, for a workflow\'s map or "run --item"' })
    .option('run-id', { type: 'string', describe: 'Fleet config: the run id the items belong to (default: a new one); the role sessions are named after it' })
    .epilogue(EXIT_CODES);
}

/** PlanArgs are the options of `snapdrill plan`. */
export type PlanArgs = ArgsOf<typeof builder>;

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

/** formatPlan renders a plan for a terminal: the snapshots, what would be created, the estimate and its assumptions. */
export function formatPlan(plan: Plan): string {
  const out = [`${plan.provider}: ${plan.snapshots.length} snapshot(s) selected\n`];
  for (const s of plan.snapshots) out.push(`  ${s.id}  ${gib(s.sizeBytes)}${s.startTime ? `  taken ${s.startTime}` : ''}${s.volumeId ? `  of ${s.volumeId}` : ''}${s.set ? `  set ${s.set}` : ''}${s.origin && s.origin !== 'manual' ? `  (${s.origin})` : ''}\n`);
  out.push('would create:\n');
  for (const c of plan.creates) out.push(`  ${c.count} x ${c.kind}${c.bytes !== undefined ? ` (${gib(c.bytes)})` : ''}: ${c.detail}\n`);
  out.push(`estimated cost: ${plan.estimate.usd === null ? 'unknown' : `$${plan.estimate.usd.toFixed(2)}`}\n${plan.estimate.assumptions.map((a) => `  - ${a}`).join('\n')}\n`);
  return out.join('');
}

async function showPlan(argv: ArgumentsCamelCase<PlanArgs>): Promise<void> {
  const remote = new Remote();
  try {
    const config = loadConfig(await remote.configFile(argv.config), overridesOf(argv));
    if (!isFleet(config)) {
      if (argv.items !== undefined) throw new ConfigError('--items', 'needs a fleet config (accounts, organization or regions)');
      const plan = await makePlan(config);
      process.stdout.write(argv.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
      return;
    }
    if (argv.runId !== undefined && !RUN_ID_PATTERN.test(argv.runId)) throw new ConfigError('--run-id', `"${argv.runId}" is not a run id`);
    const plan = await makeFleetPlan(createFleet(config, argv.runId ?? newRunId()));
    if (argv.items !== undefined) await remote.writeText(argv.items, `${JSON.stringify(plan.items, null, 2)}\n`);
    process.stdout.write(argv.json ? `${JSON.stringify(plan, null, 2)}\n` : formatFleetPlan(plan));
  } finally {
    remote.done();
  }
}

/** planCommand is `snapdrill plan`. */
export const planCommand: CommandModule<{}, PlanArgs> = {
  command: 'plan',
  describe: 'Show which snapshots a run would verify, what it would create, and what that would cost; creates nothing',
  builder,
  handler: showPlan,
};
