import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ConfigValidationError, loadConfig } from '../config/load.js';
import { ExitCode } from '../errors.js';
import { EXIT_CODES, type ArgsOf } from './common.js';

function builder(y: Argv) {
  return y.positional('config', { type: 'string', demandOption: true }).epilogue(EXIT_CODES);
}

/** ValidateArgs are the arguments of `snapdrill validate`. */
export type ValidateArgs = ArgsOf<typeof builder>;

/** validateConfig prints a one-line summary of a valid config; an invalid one prints every problem with its JSON path and exits 2. */
async function validateConfig(argv: ArgumentsCamelCase<ValidateArgs>): Promise<void> {
  try {
    const cfg = loadConfig(argv.config);
    process.stdout.write(`${argv.config}: valid (provider ${cfg.provider.type}, ${cfg.snapshots.length || 'all'} selector(s), concurrency ${cfg.concurrency})\n`);
  } catch (e) {
    if (e instanceof ConfigValidationError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(ExitCode.Usage);
    }
    throw e;
  }
}

/** validateCommand is `snapdrill validate CONFIG`. */
export const validateCommand: CommandModule<{}, ValidateArgs> = {
  command: 'validate <config>',
  describe: 'Check a config file against the schema; print every problem with its JSON path',
  builder,
  handler: validateConfig,
};
