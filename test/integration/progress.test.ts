import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseProgressMode } from '../../src/progress/progress.js';
import { catalogOf, tempDir } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** inTerminal runs the CLI on a real pseudo-terminal (util-linux `script`), as a user at a shell would. */
function inTerminal(args: string, env: NodeJS.ProcessEnv): string {
  const { CI: _ci, ...rest } = process.env;
  const cmd = `stty cols 160 rows 40; ${process.execPath} --import tsx ${path.join(ROOT, 'src/bin.ts')} ${args}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { ...rest, TERM: 'xterm', ...env }, encoding: 'utf8', timeout: 120_000 });
  return r.stdout;
}

describe('progress display', () => {
  it('picks the live list on a terminal, plain lines in CI or when not a TTY, and honours an explicit choice', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const pipe = { isTTY: false } as NodeJS.WriteStream;
    const ci = process.env.CI;
    delete process.env.CI;
    try {
      expect(chooseProgressMode('auto', tty)).toBe('tty');
      expect(chooseProgressMode('auto', pipe)).toBe('plain');
      process.env.CI = 'true';
      expect(chooseProgressMode('auto', tty)).toBe('plain');
      expect(chooseProgressMode('tty', pipe)).toBe('tty');
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });

  it('on a terminal draws a listr2 task list with a tick or cross per snapshot, coloured unless NO_COLOR is set', () => {
    const catalog = catalogOf(['ext4-clean.img', 'ext4-corrupt.img']);
    const args = `run --provider local --catalog ${catalog} --scratch-dir ${tempDir('tty-scratch')} --state-dir ${tempDir('tty-state')} --out ${tempDir('tty-out')}`;
    const colour = inTerminal(args, {});
    expect(colour).toMatch(/\u001b\[32m✔\u001b\[39m snap-ext4-clean: application-consistent/);
    expect(colour).toMatch(/\u001b\[31m✖\u001b\[39m snap-ext4-corrupt: corrupt/);
    expect(colour).toContain('\u001b[2K'); // the live renderer redraws lines in place
    const plain = inTerminal(args, { NO_COLOR: '1' });
    expect(plain).toMatch(/✔ snap-ext4-clean: application-consistent/);
    expect(plain).not.toMatch(/\u001b\[3\dm/);
  });
});
