import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listLedgers } from '../../src/ledger/ledger.js';
import { fixture, tempDir } from '../helpers.js';
import { startAwsWorld, type AwsWorld } from './world.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE', AWS_SECRET_ACCESS_KEY: 'fake', AWS_EC2_METADATA_DISABLED: 'true', NO_COLOR: '1' };
const cli = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * A real `snapdrill run` process against moto is killed with SIGKILL in the middle of its checks (volumes
 * restored and attached, helper running); `snapdrill gc -c aws.yaml` must then remove every resource it made.
 */
describe('SIGKILL of an AWS run, then gc', () => {
  let world: AwsWorld;
  beforeAll(async () => {
    world = await startAwsWorld({ fixturePath: fixture, fixtures: ['ext4-crash.img', 'xfs-frozen.img', 'ext4-clean.img'] });
  }, 120_000);
  afterAll(async () => world?.stop());

  it('leaves nothing in the account after gc, though the run never reached its teardown', async () => {
    const stateDir = tempDir('aws-kill-state');
    const cfg = world.writeConfig();
    const run = cli(['run', '-c', cfg, '--state-dir', stateDir]);
    let stderr = '';
    run.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => run.on('exit', (code, sig) => r(sig ? null : code)));
    // Kill once a check is under way on an attached volume: the helper looked for a device, then got a check.
    const deadline = Date.now() + 120_000;
    while (world.devices.length === 0 || world.proxy.count('SendCommand') < world.devices.length + 1) {
      if (Date.now() > deadline) throw new Error(`the run never reached its checks:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    run.kill('SIGKILL');
    expect(await exited).toBeNull();
    const before = await world.liveResources();
    expect(before.some((r) => r.startsWith('vol-') && r.endsWith('in-use'))).toBe(true);
    expect(before.some((r) => r.startsWith('i-'))).toBe(true);
    // The ledger of the killed run says what it held.
    const [ledger] = listLedgers(stateDir);
    expect(ledger!.alive).toBe(false);
    expect(ledger!.resources.map((r) => r.resource.kind)).toEqual(expect.arrayContaining(['aws-instance', 'aws-volume', 'aws-attachment']));

    // Not spawnSync: the emulator's proxy lives in this process and must keep answering.
    const gc = cli(['gc', '-c', cfg, '--yes', '--json', '--state-dir', stateDir]);
    let gcOut = '';
    let gcErr = '';
    gc.stdout.on('data', (d) => (gcOut += d));
    gc.stderr.on('data', (d) => (gcErr += d));
    const gcCode = await new Promise<number | null>((r) => gc.on('exit', (code) => r(code)));
    expect(gcCode, gcErr).toBe(0);
    // The ledger pass removed the attachment, the volumes and the helper; nothing was left for the tag pass.
    expect(gcErr).toMatch(/removed +attachment of vol-/);
    expect(gcErr).toMatch(/removed +EC2 instance i-/);
    expect(JSON.parse(gcOut).resources.filter((r: { action: string }) => r.action !== 'removed')).toEqual([]);
    expect(await world.liveResources()).toEqual([]);
    expect(listLedgers(stateDir)).toEqual([]);
  }, 300_000);
});
