import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SnapshotNotFoundError, isSnapdrillError } from '../../src/errors.js';
import { makePlan } from '../../src/plan.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { createEc2Client, sdkEc2Api } from '../../src/providers/aws/ec2.js';
import type { AwsProviderConfig, Config } from '../../src/config/types.js';
import { listAwsSnapshots, listVolumeSnapshots, originOf } from '../../src/providers/aws/snapshots.js';
import { judgeRpo } from '../../src/judges/rpo.js';
import { coveredVolumes } from '../../src/run/rpo.js';
import { selectSnapshots } from '../../src/select.js';
import { throttle } from './fault-proxy.js';
import { AWS_ENV, useEmulator } from './use-emulator.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('AWS snapshot selection and plan, against moto', () => {
  // The calls go straight to moto (emu.direct); the proxy (seed 7) only plays a throttling EC2.
  const emu = useEmulator({ seed: 7 });
  /** awsConfig is a config naming moto itself: `snapdrill plan` runs in a child process, with spawnSync. */
  const awsConfig = (extra = '', providerExtra = '') => emu.configFile(extra, { providerExtra, endpoint: emu.moto.endpoint });

  it('GIVEN tagged snapshots of two volumes WHEN selecting by tag, latest per volume THEN the newest of each volume', async () => {
    const a1 = await emu.snapshot({ tags: { env: 'prod' } });
    // moto stamps StartTime to the second: let the second snapshot be visibly newer.
    await new Promise((r) => setTimeout(r, 1100));
    const a2 = await emu.snapshot({ volumeId: a1.volumeId, tags: { env: 'prod' } });
    await emu.snapshot({ volumeId: a1.volumeId, tags: { env: 'dev' } });
    const b1 = await emu.snapshot({ sizeGiB: 20, tags: { env: 'prod', AppConsistent: 'true' } });
    const selectors = [{ tags: { env: 'prod' }, latestPerVolume: 1 }];
    const listed = await listAwsSnapshots(sdkEc2Api(emu.direct), 'us-east-1', selectors);
    const chosen = selectSnapshots(listed, selectors, 'region us-east-1');
    expect(chosen.map((s) => s.id).sort()).toEqual([a2.snapshotId, b1.snapshotId].sort());
    const b = chosen.find((s) => s.id === b1.snapshotId)!;
    expect(b).toMatchObject({ source: `aws:us-east-1:${b1.snapshotId}`, volumeId: b1.volumeId, sizeBytes: 20 * 2 ** 30, tags: { env: 'prod', AppConsistent: 'true' } });
  });

  it('GIVEN a selection by snapshot id WHEN judging the RPO THEN the newest snapshot of each volume counts, not only the one asked for; a named volume with none fails', async () => {
    const old = await emu.snapshot({ tags: { env: 'rpo' } });
    const fresh = await emu.snapshot({ volumeId: old.volumeId, tags: { env: 'rpo' } });
    const api = sdkEc2Api(emu.direct);
    const selectors = [{ ids: [old.snapshotId] }, { volumeIds: ['vol-0000000000000dead'] }];
    const listed = await listAwsSnapshots(api, 'us-east-1', [{ ids: [old.snapshotId] }]);
    expect(listed.map((s) => s.id)).toEqual([old.snapshotId]);
    const inventory = await listVolumeSnapshots(api, 'us-east-1', [old.volumeId]);
    expect(inventory.map((s) => s.id).sort()).toEqual([old.snapshotId, fresh.snapshotId].sort());
    expect(inventory[0]).toMatchObject({ region: 'us-east-1', account: expect.stringMatching(/^\d{12}$/) });
    const covered = await coveredVolumes({ snapshotsOfVolumes: (ids) => listVolumeSnapshots(api, 'us-east-1', ids) }, listed, listed, selectors);
    const violations = judgeRpo(covered, 3_600_000, new Date());
    expect(violations.map((v) => [v.volumeId, v.reason])).toEqual([['vol-0000000000000dead', 'vol-0000000000000dead has no snapshot newer than 1h00m: no snapshot at all']]);
  });

  it('GIVEN an id that does not exist THEN the error names it (exit 2), before anything is created', async () => {
    const a = await emu.snapshot();
    const err = await listAwsSnapshots(sdkEc2Api(emu.direct), 'us-east-1', [{ ids: [a.snapshotId, 'snap-0123456789abcdef0'] }]).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotNotFoundError);
    expect((err as SnapshotNotFoundError).snapshotIds).toContain('snap-0123456789abcdef0');
    expect(isSnapdrillError(err) && err.exitCode).toBe(2);
  });

  it('recognises AWS Backup and DLM snapshots, and groups the volumes of one instance taken together into a set', async () => {
    const arn = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0abc1234def567890';
    const root = await emu.snapshot({ tags: { 'aws:backup:source-resource': arn } });
    const data = await emu.snapshot({ sizeGiB: 50, tags: { 'aws:backup:source-resource': arn } });
    const dlm = await emu.snapshot({ tags: { 'aws:dlm:lifecycle-policy-id': 'policy-0123', 'aws:dlm:pre-script': 'FAILED' } });
    const listed = await listAwsSnapshots(sdkEc2Api(emu.direct), 'us-east-1', []);
    const by = (id: string) => listed.find((s) => s.id === id)!;
    expect(originOf(by(root.snapshotId).tags)).toBe('aws-backup');
    expect(originOf(by(dlm.snapshotId).tags)).toBe('dlm');
    expect(by(root.snapshotId).set).toMatch(/^i-0abc1234def567890@/);
    expect(by(data.snapshotId).set?.startsWith('i-0abc1234def567890@')).toBe(true);
    expect(by(dlm.snapshotId).set).toBeUndefined();
  });

  it('plans volumes, helpers and an estimated cost without creating anything', async () => {
    const planOf = (config: Config) => makePlan(config, new AwsProvider(config.provider as AwsProviderConfig, 'plan', config.snapshots, { ec2: sdkEc2Api(emu.direct) }));
    await emu.snapshot({ sizeGiB: 100, tags: { env: 'prod' } });
    await emu.snapshot({ sizeGiB: 300, tags: { env: 'prod' } });
    const plan = await planOf(loadConfig(awsConfig('snapshots: [{tags: {env: prod}}]\n')));
    expect(plan.snapshots).toHaveLength(2);
    expect(plan.creates).toEqual([
      expect.objectContaining({ kind: 'volume', count: 2, bytes: 400 * 2 ** 30 }),
      expect.objectContaining({ kind: 'helper-instance', count: 1 }),
    ]);
    // 400 GiB gp3 for 1 h at $0.08/GB-month, plus one m6i.large hour at $0.096.
    expect(plan.estimate.usd).toBe(Math.round(((400 * 0.08) / 730 + 0.096) * 100) / 100);
    const { Volumes } = await emu.direct.send(new (await import('@aws-sdk/client-ec2')).DescribeVolumesCommand({}));
    expect(Volumes).toHaveLength(2); // only the two source volumes: plan created nothing
    // With boot tests: images and instances at most one per snapshot, priced for the whole boot timeout.
    const boot = await planOf(loadConfig(awsConfig('snapshots: [{tags: {env: prod}}]\nboot: {enabled: true, timeout: 10m, instanceType: t3.medium}\n')));
    expect(boot.creates.map((c) => [c.kind, c.count])).toEqual([['volume', 2], ['helper-instance', 1], ['boot-image', 2], ['boot-instance', 2]]);
    const bootHours = 10 / 60;
    expect(boot.estimate.usd).toBe(Math.round(((400 * 0.08) / 730 + 0.096 + 2 * 0.0416 * bootHours + (400 * 0.08 * bootHours) / 730) * 100) / 100);
  });

  it('snapdrill plan --json works end to end with the standard credential chain', async () => {
    const s = await emu.snapshot({ tags: { team: 'db' } });
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'plan', '-c', awsConfig('snapshots: [{tags: {team: "*"}}]\n'), '--json'], { cwd: ROOT, encoding: 'utf8', env: AWS_ENV });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).snapshots.map((x: { id: string }) => x.id)).toEqual([s.snapshotId]);
  });

  it('GIVEN EC2 throttles half of the DescribeSnapshots calls THEN selection still succeeds through adaptive retry', async () => {
    const s = await emu.snapshot({ tags: { tier: 'gold' } });
    emu.proxy.addRule(throttle('DescribeSnapshots', { probability: 0.5, times: 6 }));
    // createEc2Client takes credentials from the standard chain, as in production: here, the environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', AWS_ENV.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', AWS_ENV.AWS_SECRET_ACCESS_KEY);
    try {
      const cfg = loadConfig(awsConfig()).provider;
      const api = sdkEc2Api(createEc2Client({ ...(cfg as AwsProviderConfig), endpoint: emu.endpoint }));
      for (let i = 0; i < 4; i++) {
        const got = await listAwsSnapshots(api, 'us-east-1', [{ tags: { tier: 'gold' } }]);
        expect(got.map((x) => x.id)).toEqual([s.snapshotId]);
      }
      expect(emu.proxy.calls.filter((c) => c.outcome === 'injected').length, JSON.stringify(emu.proxy.calls)).toBeGreaterThan(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('resolves the helper image from the public Amazon Linux 2023 parameter when none is configured', async () => {
    const { AwsProvider, AL2023_PARAMETER } = await import('../../src/providers/aws/aws.js');
    const { sdkSsmApi } = await import('../../src/providers/aws/ssm-shell.js');
    const { ssmFor } = await import('./moto.js');
    const cfg = loadConfig(awsConfig('', ', allowDefaultNetwork: true')).provider as AwsProviderConfig;
    const p = new AwsProvider(cfg, 'run-x', [], { ec2: sdkEc2Api(emu.direct), ssm: sdkSsmApi(ssmFor(emu.moto.endpoint)) });
    await p.preflight();
    const ami = await sdkSsmApi(ssmFor(emu.moto.endpoint)).getParameter(AL2023_PARAMETER);
    expect(ami).toMatch(/^ami-/);
    expect((p as unknown as { imageId: string }).imageId).toBe(ami);
  });
});
