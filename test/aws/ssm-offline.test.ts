import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { AwsProviderConfig } from '../../src/config/types.js';
import { InfraError } from '../../src/errors.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { sdkEc2Api } from '../../src/providers/aws/ec2.js';
import { launchHelpers, waitHelpersReady } from '../../src/providers/aws/helpers.js';
import { tempDir } from '../helpers.js';
import { ssmJson, stateDelays, type Rule } from './fault-proxy.js';
import { useEmulator } from './use-emulator.js';

/** withInstanceProfile shows every instance with an instance profile (moto launches without one unless IAM has it). */
const withInstanceProfile: Rule = {
  action: 'DescribeInstances',
  transform: (b) => b.replace(/<instanceState>/g, '<iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/snapdrill-helper</arn><id>AIPAEXAMPLE</id></iamInstanceProfile><instanceState>'),
};
const agentOffline = ssmJson('DescribeInstanceInformation', { InstanceInformationList: [] });

/**
 * Issue #12: a helper whose SSM agent never comes online is reported with its cause within minutes (at once when it has
 * no instance profile), and the messages state the time actually waited, not the configured one.
 */
describe('helper SSM agent never online, against moto behind the fault proxy with state delays', () => {
  const emu = useEmulator();
  const spec = async () => ({ imageId: await emu.anyImageId(), instanceType: 't3.medium', availabilityZone: 'us-east-1a' });

  it('GIVEN a helper without an instance profile WHEN its checks pass and the agent is offline THEN helper-ssm-unreachable at once, naming the cause and the remedy', async () => {
    const timing = stateDelays({ volumeMs: 0, instanceMs: 300, statusChecksMs: 400, attachMs: 0, detachMs: 0, ssmInvocationMs: 0, ssmInProgressMs: 0 });
    emu.proxy.addRule(...timing.rules, agentOffline);
    const ids = await launchHelpers(emu.ec2Api(), 1, await spec(), { runId: 'run-o', ttlMs: 3_600_000 });
    const t0 = Date.now();
    const err = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 60_000, pollMs: 200, reason: 'helpers ready' }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ code: 'helper-ssm-unreachable' });
    expect((err as Error).message).toMatch(new RegExp(`^helper ${ids[0]} is running with status checks ok but its SSM agent is not online after \\d+s: the helper has no instance profile, so the SSM agent cannot register$`));
    expect((err as InfraError).remedy).toMatch(/provider\.helper\.instanceProfile/);
    expect((err as InfraError).remedy).toMatch(/member-account\.yaml/);
    // The checks pass 0.7 s after launch: the failure follows within a few polls, not at the 60 s deadline.
    expect(took).toBeGreaterThanOrEqual(600);
    expect(took).toBeLessThan(5000);
    expect(emu.proxy.count('DescribeInstances')).toBe(1);
  });

  it('GIVEN a helper with an instance profile whose agent stays offline THEN helper-ssm-unreachable once agentTimeoutMs has passed after the checks, stating the time actually waited', async () => {
    emu.proxy.addRule(withInstanceProfile, agentOffline);
    const ids = await launchHelpers(emu.ec2Api(), 1, await spec(), { runId: 'run-o', ttlMs: 3_600_000 });
    const t0 = Date.now();
    const err = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 60_000, pollMs: 200, reason: 'helpers ready' }, undefined, { agentTimeoutMs: 1500 }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toMatchObject({ code: 'helper-ssm-unreachable' });
    expect((err as Error).message).toMatch(/has been running with status checks ok for [12]s \([12]s since launch\) but its SSM agent never came online/);
    expect((err as InfraError).remedy).toMatch(/ssmmessages/);
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(5000);
  });

  it('GIVEN a wait that ends at its deadline THEN the reason states the time waited, and an interrupted wait says so', async () => {
    emu.proxy.addRule(withInstanceProfile, agentOffline);
    const ids = await launchHelpers(sdkEc2Api(emu.direct), 1, await spec(), { runId: 'run-o', ttlMs: 3_600_000 });
    const [h] = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 1200, pollMs: 200, reason: 'helpers ready' });
    expect(h!.reason).toMatch(/^SSM agent not online after 1s \(helpers ready\)$/);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const [i] = await waitHelpersReady(emu.ec2Api(), emu.ssmApi(), ids, { timeoutMs: 900_000, pollMs: 10_000, reason: 'helpers ready' }, ac.signal);
    expect(i!.reason).toMatch(/^SSM agent not online after \d+s \(interrupted\) \(helpers ready\)$/);
  });

  it('GIVEN a whole provider start with realistic state delays and no instance profile THEN start fails with helper-ssm-unreachable within seconds of the checks passing', async () => {
    const timing = stateDelays();
    emu.proxy.addRule(...timing.rules, agentOffline);
    const imageId = await emu.anyImageId();
    const { subnetId, securityGroupId } = await emu.network();
    const cfg = loadConfig(emu.configFile('snapshots: [{tags: {drill: nightly}}]\n', { providerExtra: `, helper: {imageId: ${imageId}, subnetId: ${subnetId}, securityGroupIds: [${securityGroupId}]}` }));
    const provider = new AwsProvider(cfg.provider as AwsProviderConfig, 'run-offline', cfg.snapshots, { ec2: emu.ec2Api(), ssm: emu.ssmApi(), imageId });
    await provider.preflight();
    const ledger = Ledger.create(tempDir('ssm-offline-state'), 'run-offline', { cloud: (r, o) => provider.releaseCloud(r, o) });
    const t0 = Date.now();
    try {
      const err = await provider.start(ledger, 1, new AbortController().signal).catch((e: unknown) => e);
      const took = Date.now() - t0;
      expect(err).toMatchObject({ code: 'helper-ssm-unreachable' });
      expect((err as Error).message).toMatch(/no instance profile/);
      // Running after 3 s, checks ok 4 s later; production polls (cap 10 s) find it within one more poll.
      expect(took).toBeGreaterThanOrEqual(7000);
      expect(took).toBeLessThan(20_000);
    } finally {
      await ledger.releaseAll();
      ledger.close();
    }
    expect(await emu.liveResources()).toEqual([]);
  }, 60_000);
});
