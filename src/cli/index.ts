import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode } from '../errors.js';
import { VERSION } from '../version.js';
import { checksCommand } from './checks.js';
import { EXIT_CODES, fail } from './common.js';
import { deployCommand } from './deploy.js';
import { diagnoseCommand } from './diagnose.js';
import { evidenceCommand } from './evidence.js';
import { gcCommand } from './gc.js';
import { historyCommand } from './history.js';
import { mergeCommand } from './merge.js';
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { validateCommand } from './validate.js';

/** main parses argv and runs a command (one file per command in this folder); exported for tests. */
export async function main(args: string[] = hideBin(process.argv)): Promise<void> {
  try {
    await yargs(args)
      .scriptName('snapdrill')
      .usage('$0 <command> [options]\n\nRestore every snapshot, check it, and say whether it would come back: application-consistent, crash-consistent, corrupt or unknown.')
      .command(runCommand)
      .command(mergeCommand)
      .command(planCommand)
      .command(checksCommand)
      .command(validateCommand)
      .command(diagnoseCommand)
      .command(gcCommand)
      .command(deployCommand)
      .command(historyCommand)
      .command(evidenceCommand)
      .demandCommand(1, 'name a command: run, merge, plan, checks, validate, diagnose, gc, deploy, history or evidence')
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
      .parseAsync();
  } catch (e) {
    // Also what a handler throws before its first await: yargs lets that out of parseAsync synchronously.
    fail(e);
  }
}
