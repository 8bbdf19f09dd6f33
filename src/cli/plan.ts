import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { makePlan, type Plan } from '../plan.js';
import { EXIT_CODES, overridesOf, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return y
    .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML or JSON)' })
    .option('provider', { type: 'string', choices: ['local'], describe: 'Provider, when no config file names one' })
    .option('catalog', { type: 'string', describe: 'local: directory of *.img / *.raw images' })
    .option('id', { type: 'string', array: true, describe: 'Only these snapshot ids (repeatable)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the plan as JSON' })
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
  const plan = await makePlan(loadConfig(argv.config, overridesOf(argv)));
  process.stdout.write(argv.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
}

/** planCommand is `snapdrill plan`. */
export const planCommand: CommandModule<{}, PlanArgs> = {
  command: 'plan',
  describe: 'Show which snapshots a run would verify, what it would create, and what that would cost; creates nothing',
  builder,
  handler: showPlan,
};
