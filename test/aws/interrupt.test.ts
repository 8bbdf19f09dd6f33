import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import { bootCatalog, fixture } from '../helpers.js';
import { instanceStatusChecks, type ProxiedRequest, type Rule } from './fault-proxy.js';
import { startAwsWorld, type AwsWorld } from './world.js';

/**
 * Issue #12: an AWS run interrupted (its AbortSignal, what SIGINT/SIGTERM trigger) in any phase still writes its
 * report, marked interrupted, and removes everything it created. The abort fires from inside the emulator the moment
 * the phase's first call arrives (50 ms later, while it is being answered): helper boot (DescribeInstanceStatus), restore (CreateVolume), attach
 * (AttachVolume), check (the first check's SendCommand, after find_volume_device), teardown (DetachVolume), and the
 * AWS boot test (RegisterImage).
 */
async function interruptedRun(world: AwsWorld, action: string, when: (req: ProxiedRequest) => boolean = () => true, extra = ''): Promise<RunOutcome> {
  const ac = new AbortController();
  let fired = false;
  // Never fires itself (when answers false), so it sees the call even where a scripted answer ends the evaluation.
  const rule: Rule = {
    action,
    when: (req) => {
      if (!fired && when(req)) {
        fired = true;
        setTimeout(() => ac.abort('SIGINT'), 50);
      }
      return false;
    },
  };
  (world.proxy.rules as Rule[]).unshift(rule);
  try {
    const outcome = await executeRun(loadConfig(world.writeConfig(extra)), { stateDir: world.tempDir('aws-int-state'), events: {}, signal: ac.signal, providerFactory: (c, id) => world.providerFactory(c, id) });
    rmSync(path.join('/var/tmp/snapdrill', outcome.report.runId), { recursive: true, force: true });
    expect(ac.signal.aborted, `the run never reached ${action}`).toBe(true);
    return outcome;
  } finally {
    const i = world.proxy.rules.indexOf(rule);
    if (i >= 0) (world.proxy.rules as Rule[]).splice(i, 1);
  }
}

/** expectInterruptedReport: the report files exist and say interrupted; nothing is left in the account. */
async function expectInterruptedReport(world: AwsWorld, outcome: RunOutcome): Promise<void> {
  expect(outcome.report.interrupted).toBe(true);
  const json = path.join(outcome.reportDir, 'report.json');
  expect(existsSync(json)).toBe(true);
  expect(JSON.parse(readFileSync(json, 'utf8')).interrupted).toBe(true);
  expect(outcome.report.exitCode).not.toBe(0);
  expect(await world.liveResources()).toEqual([]);
}

describe('an AWS run interrupted in each phase still writes its interrupted report and cleans up', () => {
  let world: AwsWorld;
  beforeAll(async () => {
    world = await startAwsWorld({ fixturePath: fixture, fixtures: ['ext4-crash.img', 'xfs-frozen.img'] });
  }, 120_000);
  afterAll(async () => world?.stop());

  it('GIVEN an interrupt while the helpers boot THEN the report is written, both snapshots unfinished', async () => {
    // The helpers' status checks stay initializing for a few polls: the interrupt lands while they boot.
    world.proxy.addRule(instanceStatusChecks({ system: 'initializing', instance: 'initializing' }, { times: 5 }));
    const outcome = await interruptedRun(world, 'DescribeInstanceStatus');
    await expectInterruptedReport(world, outcome);
    expect(world.proxy.count('CreateVolume')).toBe(0);
    expect(outcome.report.snapshots).toHaveLength(2);
  }, 120_000);

  for (const [phase, action, when] of [
    ['restore', 'CreateVolume', undefined],
    ['attach', 'AttachVolume', undefined],
    ['check', 'SendCommand', (req: ProxiedRequest) => !/^find_volume_device '/m.test(Buffer.from(/echo '([^']+)'/.exec(JSON.stringify(req.json))?.[1] ?? '', 'base64').toString('utf8'))],
    ['teardown', 'DetachVolume', undefined],
  ] as const) {
    it(`GIVEN an interrupt during ${phase} (${action}) THEN the report is written, marked interrupted, and nothing is left`, async () => {
      world.proxy.clearCalls();
      const outcome = await interruptedRun(world, action, when);
      await expectInterruptedReport(world, outcome);
      expect(outcome.report.snapshots).toHaveLength(2);
    }, 120_000);
  }
});

describe('an AWS run interrupted during its boot test', () => {
  let world: AwsWorld;
  afterAll(async () => world?.stop());

  it('GIVEN an interrupt once the boot image is registered THEN the report is written, the image deregistered, nothing left', async () => {
    world = await startAwsWorld({ fixtures: ['boot-fstab-missing.img'], fixturePath: (n) => (n.startsWith('boot-') ? path.join(bootCatalog(), n) : fixture(n)) });
    const outcome = await interruptedRun(world, 'RegisterImage', undefined, 'boot: {enabled: true, timeout: 1m, instanceType: t3.small}\n');
    await expectInterruptedReport(world, outcome);
    expect(world.proxy.count('DeregisterImage')).toBe(1);
  }, 300_000);
});
