import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { CheckRegistry } from '../checks/registry.js';
import { EXIT_CODES, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return y.option('json', { type: 'boolean', default: false, describe: 'Print as JSON' }).epilogue(EXIT_CODES);
}

/** ChecksArgs are the options of `snapdrill checks`. */
export type ChecksArgs = ArgsOf<typeof builder>;

/** listChecks describes every registered check: what it applies to, what it needs on the helper, whether it writes the scratch copy. */
export function listChecks(reg: CheckRegistry = CheckRegistry.load()) {
  return reg.all().map((c) => ({
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
}

async function showChecks(argv: ArgumentsCamelCase<ChecksArgs>): Promise<void> {
  const list = listChecks();
  if (argv.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  for (const c of list) {
    process.stdout.write(
      `${c.id.padEnd(10)} ${c.title}\n${' '.repeat(11)}stage: ${c.stage}${c.appliesTo.length ? `, applies to: ${c.appliesTo.join(', ')}` : ''}${c.mutatesScratchCopy ? ', writes the scratch copy' : ''}\n${' '.repeat(11)}needs: ${c.needs.join(', ')} (${Object.entries(c.packages).map(([d, p]) => `${d}: ${p.join(' ')}`).join('; ')})\n\n`,
    );
  }
}

/** checksCommand is `snapdrill checks`. */
export const checksCommand: CommandModule<{}, ChecksArgs> = {
  command: 'checks',
  describe: 'List the registered checks, what they apply to and what they need on the helper',
  builder,
  handler: showChecks,
};
