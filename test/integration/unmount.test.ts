import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const LIB = path.resolve(import.meta.dirname, '../../checks/lib/common.sh');

/** The harness never harms its host: unmounting a scratch filesystem never kills anything, and racing unmounts are harmless. */
describe('fs_unmount (checks/lib/common.sh)', () => {
  it('GIVEN three concurrent unmounts of one scratch mount, and processes on the host THEN the mount is gone, every call succeeds and no process is killed', async () => {
    const scratch = tempDir('unmount');
    const mnt = path.join(scratch, 'fs-loopX');
    mkdirSync(mnt);
    spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'snapdrill-unmount-test', mnt]);
    // A bystander on the root filesystem: the old fs_unmount ran `fuser -k -m DIR`, which names the root
    // filesystem once DIR is no longer a mount point (another unmount won the race) and kills everything on it.
    const bystander = spawn('sleep', ['120'], { cwd: '/', stdio: 'ignore' });
    const env = { ...process.env, SNAPDRILL_CHECK: 'harness', SNAPDRILL_TARGET: '/dev/loopX', SNAPDRILL_SCRATCH: scratch };
    const calls = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<number>((resolve) => {
            const c = spawn('bash', ['-c', `source ${LIB}; fs_unmount`], { env, stdio: 'ignore' });
            c.on('exit', (code) => resolve(code ?? -1));
          }),
      ),
    );
    expect(calls).toEqual([0, 0, 0]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(mnt);
    expect(bystander.exitCode).toBeNull();
    expect(() => process.kill(bystander.pid!, 0)).not.toThrow();
    bystander.kill('SIGKILL');
    // A fourth call on a directory that is no longer a mount point is a success, and still kills nothing.
    expect(spawnSync('bash', ['-c', `source ${LIB}; fs_unmount`], { env }).status).toBe(0);
  });

  it('the check library names no kill by mount point or by name', () => {
    const lib = readFileSync(LIB, 'utf8');
    expect(lib).not.toMatch(/fuser\s+-k|pkill|killall/);
  });
});
