import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/report/types.js';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { cliAsync, fixture, tempDir } from '../helpers.js';
import { fakeCredentials } from './moto.js';
import { startFleetWorld, type FleetWorld } from './fleet-world.js';

/** json reads a command's --json output, or fails with what it printed on stderr. */
function json(r: { code: number | null; stdout: string; stderr: string }) {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`exit ${r.code}, no JSON on stdout; stderr:\n${r.stderr}`);
  }
}

const ACCOUNTS = ['111111111111', '222222222222', '333333333333'];
const REGIONS = ['us-east-1', 'eu-west-1'];

/**
 * A fleet run over three accounts and two regions of the emulator, through the real CLI: plan lists the fan-out and
 * writes the items, run verifies each item through its account's role and merges, gc sweeps every account. One
 * account-region has no quarantine network, so its item fails (it refuses to launch helpers) and must be named.
 */
describe('fleet: three accounts × two regions (moto, STS AssumeRole, helpers played by the fault layer)', () => {
  let world: FleetWorld;
  let config: string;
  const runId = '20261203T020000Z-f1ee70';
  const broken = { account: ACCOUNTS[2]!, region: 'eu-west-1' };

  beforeAll(async () => {
    world = await startFleetWorld({
      accounts: ACCOUNTS,
      regions: REGIONS,
      // Account 1 us-east-1 holds three snapshots: with snapshotsPerItem 2 it is cut into two items.
      fixtures: (a, r) => (a === ACCOUNTS[0] && r === 'us-east-1' ? ['ext4-clean.img', 'xfs-frozen.img', 'ext4-crash.img'] : [r === 'us-east-1' ? 'ext4-clean.img' : 'xfs-frozen.img']),
      fixturePath: fixture,
      untagged: [broken],
    });
    config = world.fleetConfig('fleet: {snapshotsPerItem: 2, maxPerAccount: 8, maxPerRegion: 4}');
  }, 120_000);
  afterAll(async () => world?.stop());

  it('plans the fan-out per account and region, cuts a big account-region into items, and names the one it cannot read', async () => {
    const items = path.join(tempDir('fleet-items'), 'items.json');
    const r = await cliAsync(['plan', '-c', config, '--run-id', runId, '--items', items, '--json'], world.env);
    const plan = json(r);
    expect(r.stderr).toBe('');
    expect(plan.totals).toMatchObject({ accounts: 3, regions: 2, snapshots: 7, items: 7, errors: 1 });
    const list = JSON.parse(readFileSync(items, 'utf8'));
    expect(list.map((i: { item: string }) => i.item)).toEqual([
      `${ACCOUNTS[0]}/eu-west-1/1/1`,
      `${ACCOUNTS[0]}/us-east-1/1/2`,
      `${ACCOUNTS[0]}/us-east-1/2/2`,
      `${ACCOUNTS[1]}/eu-west-1/1/1`,
      `${ACCOUNTS[1]}/us-east-1/1/1`,
      `${ACCOUNTS[2]}/eu-west-1/1/1`,
      `${ACCOUNTS[2]}/us-east-1/1/1`,
    ]);
    // maxPerRegion 4 over 2 shards, maxPerAccount 8 over 2 regions and 2 shards: 2 at once in each half.
    expect(list.find((i: { item: string }) => i.item.endsWith('us-east-1/1/2')).concurrency).toBe(2);
    expect(JSON.stringify(list)).not.toMatch(/externalId|secret/i);
    const unreadable = plan.accounts.find((a: { account: string }) => a.account === broken.account).regions.find((x: { region: string }) => x.region === broken.region);
    expect(unreadable.error).toMatch(/snapdrill:quarantine=true/);
  }, 170_000);

  let report: RunReport;
  it('runs every item through its account\'s role and merges one report: each snapshot with its account and region, the failed item named', async () => {
    const r = await cliAsync(['run', '-c', config, '--run-id', runId, '--json', '--progress', 'none'], world.env);
    const summary = json(r);
    report = JSON.parse(readFileSync(path.join(summary.reportDir, 'report.json'), 'utf8')) as RunReport;
    const expected = world.snapshots.filter((s) => !(s.account === broken.account && s.region === broken.region));
    expect(report.snapshots.map((s) => `${s.account}/${s.region}/${s.id}`).sort()).toEqual(expected.map((s) => `${s.account}/${s.region}/${s.id}`).sort());
    for (const s of report.snapshots) expect(s.consistency, s.id).toBe(world.snapshots.find((w) => w.id === s.id)!.fixture === 'ext4-crash.img' ? 'crash-consistent' : 'application-consistent');
    const missing = report.errors.filter((e) => e.code === 'shard-missing');
    expect(missing.map((e) => e.subject)).toEqual([`shard-${broken.account}-${broken.region}-1-of-1`]);
    expect(missing[0]!.message).toContain(`item ${broken.account}/${broken.region}/1/1`);
    expect(missing[0]!.remedy).toContain(`--item ${broken.account}/${broken.region}/1/1 --run-id ${runId}`);
    expect(report.exitCode).toBe(3);
    expect(r.code).toBe(3);
  }, 170_000);

  it('assumes each role once per process, and leaves nothing behind in any account', async () => {
    const assumes = world.proxy.calls.filter((c) => c.action === 'AssumeRole');
    // plan and run are two processes: at most one AssumeRole per account in each.
    for (const a of ACCOUNTS) {
      const n = assumes.filter((c) => c.params?.get('RoleArn')?.includes(`::${a}:`)).length;
      expect(n, a).toBeGreaterThanOrEqual(1);
      expect(n, a).toBeLessThanOrEqual(2);
    }
    expect(assumes.every((c) => c.params?.get('RoleSessionName') === `snapdrill-${runId}`)).toBe(true);
    expect(await world.liveResourcesOf()).toEqual([]);
  });

  it('tolerates the failed item when the config allows that share, and still names it', async () => {
    const out = json(await cliAsync(['run', '-c', config, '--run-id', `${runId}-t`, '--json', '--progress', 'none'], world.env));
    const m = await cliAsync(['merge', out.reportDir, '--tolerate', '20', '--json'], world.env);
    const merged = json(m);
    const failed = merged.errors.find((e: { code: string }) => e.code === 'shard-missing');
    expect(failed.tolerated).toBe(true);
    expect(merged.exitCode).toBe(0);
    const strict = json(await cliAsync(['merge', out.reportDir, '--tolerate', '10', '--json'], world.env));
    expect(strict.errors[0].code).toBe('fleet-failure-threshold');
    expect(strict.errors[0].message).toMatch(/1 of 7 work items \(14\.3%\).*over the tolerated 10%/);
    expect(strict.exitCode).toBe(3);
  }, 170_000);

  it('GIVEN the workflow\'s commands THEN config, item list and reports live in S3: plan writes the items, an item writes its reports, merge writes the run\'s', async () => {
    const s3 = new S3Client({ region: 'us-east-1', endpoint: world.moto.endpoint, forcePathStyle: true, credentials: fakeCredentials });
    const bucket = `s3://${world.bucket}`;
    await s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: 'config/fleet.yaml', Body: readFileSync(config) }));
    const id = `${runId}-s3`;
    const cfg = `${bucket}/config/fleet.yaml`;
    const planned = await cliAsync(['plan', '-c', cfg, '--run-id', id, '--items', `${bucket}/runs/${id}/items.json`], world.env);
    expect(planned.code, planned.stderr).toBe(0);
    const item = `${ACCOUNTS[1]}/us-east-1/1/1`;
    const ran = await cliAsync(['run', '-c', cfg, '--run-id', id, '--item', item, '--out', `${bucket}/runs/`, '--json', '--progress', 'none'], world.env);
    expect(json(ran).reportDir).toBe(`${bucket}/runs/${id}/shard-${ACCOUNTS[1]}-us-east-1-1-of-1`);
    const merged = await cliAsync(['merge', `${bucket}/runs/${id}`, '-c', cfg, '--tolerate', '100', '--json'], world.env);
    const m = json(merged);
    expect(m.reportDir).toBe(`${bucket}/runs/${id}`);
    expect(m.snapshots.map((s: { account: string; region: string }) => `${s.account}/${s.region}`)).toEqual([`${ACCOUNTS[1]}/us-east-1`]);
    // Every other item of the S3 item list is named, tolerated at 100%.
    expect(m.errors.filter((e: { code: string; tolerated?: boolean }) => e.code === 'shard-missing' && e.tolerated)).toHaveLength(6);
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: world.bucket, Prefix: `runs/${id}/` }))).Contents ?? []).map((o) => o.Key!.slice(`runs/${id}/`.length)).sort();
    expect(keys).toEqual(expect.arrayContaining(['index.html', 'items.json', 'junit.xml', 'report.json', `shard-${ACCOUNTS[1]}-us-east-1-1-of-1/report.json`]));
    // Stored so a browser opens the reports straight from the bucket.
    expect((await s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: `runs/${id}/index.html` }))).ContentType).toBe('text/html; charset=utf-8');
    expect((await s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: `runs/${id}/shard-${ACCOUNTS[1]}-us-east-1-1-of-1/index.html` }))).ContentType).toBe('text/html; charset=utf-8');
    // The item's history record went beside the runs, where the merge read it.
    expect(((await s3.send(new ListObjectsV2Command({ Bucket: world.bucket, Prefix: 'runs/history/' }))).Contents ?? []).length).toBeGreaterThan(0);
  }, 170_000);

  /** killItem starts one item and kills it (SIGKILL) once a restored volume is attached to its helper. */
  async function killItem(item: string, id: string, stateDir: string): Promise<void> {
    const root = path.resolve(import.meta.dirname, '../..');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/bin.ts'), 'run', '-c', config, '--item', item, '--run-id', id, '--state-dir', stateDir, '--progress', 'none'], { cwd: root, env: world.env, stdio: 'ignore' });
    const seen = world.proxy.calls.length;
    const deadline = Date.now() + 120_000;
    while (!world.proxy.calls.slice(seen).some((c) => c.action === 'AttachVolume' && c.outcome === 'forwarded')) {
      if (Date.now() > deadline) throw new Error('the item never attached a volume');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
  }

  it('GIVEN an item killed mid-run THEN the next gc -c FLEET collects its resources in that account: from the ledger at once, or (no ledger, as in a new container) once expired', async () => {
    const stateDir = tempDir('fleet-kill-state');
    await killItem(`${ACCOUNTS[1]}/eu-west-1/1/1`, `${runId}-k1`, stateDir);
    expect((await world.liveResourcesOf()).filter((r) => r.startsWith(`${ACCOUNTS[1]}/eu-west-1`)).length).toBeGreaterThanOrEqual(2);
    // Same machine: the ledger names the account and region; gc reaches them through that account's role.
    const fromLedger = await cliAsync(['gc', '-c', config, '--state-dir', stateDir, '--yes'], world.env);
    expect(fromLedger.code, fromLedger.stderr).toBe(0);
    expect(fromLedger.stderr).toMatch(new RegExp(`removed\\s+EC2 instance i-\\w+ \\(${ACCOUNTS[1]} eu-west-1\\)`));
    expect(await world.liveResourcesOf()).toEqual([]);

    // A new container: no ledger; the sweep of every account and region removes what expired by the next night.
    await killItem(`${ACCOUNTS[0]}/eu-west-1/1/1`, `${runId}-k2`, tempDir('fleet-kill-state'));
    const notYet = await cliAsync(['gc', '-c', config, '--state-dir', tempDir('fleet-gc-state'), '--yes', '--json'], world.env);
    expect(JSON.parse(notYet.stdout).resources.filter((r: { action: string }) => r.action === 'kept-not-expired').length).toBeGreaterThanOrEqual(2);
    const tomorrow = new Date(Date.now() + 24 * 3_600_000).toISOString();
    const swept = await cliAsync(['gc', '-c', config, '--state-dir', tempDir('fleet-gc-state'), '--yes', '--json', '--as-of', tomorrow], world.env);
    expect(swept.code, swept.stderr).toBe(0);
    const removed = JSON.parse(swept.stdout).resources.filter((r: { action: string }) => r.action === 'removed');
    expect(removed.every((r: { account: string; region: string }) => r.account === ACCOUNTS[0] && r.region === 'eu-west-1')).toBe(true);
    expect(removed.map((r: { kind: string }) => r.kind).sort()).toEqual(expect.arrayContaining(['instance', 'volume']));
    expect(await world.liveResourcesOf()).toEqual([]);
  }, 300_000);
});
