import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { FleetConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';
import { itemConcurrency, parseItem, parseItemList, planItems, shardOfItem } from '../../src/fleet/items.js';
import type { SnapshotInfo } from '../../src/provider.js';
import type { RunReport } from '../../src/report/types.js';
import { mergeRun, readShardReports, tolerate } from '../../src/run/merge.js';
import { tempDir } from '../helpers.js';
import { sampleReport } from '../report/sample.js';

const A = '111111111111';
const B = '222222222222';

function configFile(text: string): string {
  const file = path.join(tempDir('fleet-cfg'), 'fleet.yaml');
  writeFileSync(file, text);
  return file;
}

/** problem loads a config that must be refused and returns the error's field and message. */
function problem(text: string): { field: string; message: string } {
  try {
    loadConfig(configFile(text));
  } catch (e) {
    if (e instanceof ConfigError) return { field: e.path, message: e.message };
    throw e;
  }
  throw new Error('expected the config to be refused');
}

const AWS = 'provider: {type: aws, region: us-east-1}\n';

describe('fleet config', () => {
  it('GIVEN accounts and regions THEN a fleet with defaults, no availabilityZone needed, the session in ms', () => {
    const c = loadConfig(configFile(`${AWS}accounts: [{id: "${A}", roleArn: "arn:aws:iam::${A}:role/snapdrill", externalId: xyz}]\nregions: [us-east-1, eu-west-1]\nfleet: {sessionDuration: 2h}\n`));
    expect(c.fleet).toEqual({
      accounts: { kind: 'list', accounts: [{ id: A, roleArn: `arn:aws:iam::${A}:role/snapdrill`, externalId: 'xyz' }] },
      regions: ['us-east-1', 'eu-west-1'],
      snapshotsPerItem: 50,
      maxItems: 20,
      maxPerAccount: 20,
      maxPerRegion: 10,
      toleratedFailurePercent: 0,
      sessionDurationMs: 7_200_000,
    });
  });

  it('GIVEN an organization THEN its filters are kept; GIVEN regions only THEN the caller\'s own account', () => {
    const org = loadConfig(configFile(`${AWS}organization: {roleName: snapdrill, includeOus: [ou-ab12-cdef5678], excludeAccounts: ["${B}"]}\n`));
    expect(org.fleet!.accounts).toEqual({ kind: 'organization', roleName: 'snapdrill', includeOus: ['ou-ab12-cdef5678'], excludeOus: [], excludeAccounts: [B] });
    expect(org.fleet!.regions).toEqual(['us-east-1']);
    expect(loadConfig(configFile(`${AWS}regions: [eu-west-1]\n`)).fleet!.accounts).toEqual({ kind: 'self' });
  });

  it('GIVEN a wrong fleet THEN the field is named with the reason', () => {
    expect(problem(`${AWS}accounts: [{id: "${A}", roleArn: "arn:aws:iam::${A}:role/x"}]\norganization: {roleName: x}\n`)).toMatchObject({ field: '/organization', message: expect.stringMatching(/exclude each other/) });
    expect(problem(`${AWS}accounts: [{id: "${A}", roleArn: "arn:aws:iam::${A}:role/x"}, {id: "${A}", roleArn: "arn:aws:iam::${A}:role/y"}]\n`)).toMatchObject({ field: '/accounts', message: expect.stringMatching(`names account ${A} twice`) });
    expect(problem(`${AWS}regions: [us-east-1]\nfleet: {sessionDuration: 13h}\n`)).toMatchObject({ field: '/fleet/sessionDuration', message: expect.stringMatching(/15m to 12h/) });
    expect(problem('provider: {type: local, catalog: /tmp}\nregions: [us-east-1]\n')).toMatchObject({ field: '/regions', message: expect.stringMatching(/provider.type aws/) });
    expect(problem(AWS)).toMatchObject({ field: '/provider/availabilityZone', message: expect.stringMatching(/is required/) });
    expect(problem(`${AWS}accounts: [{id: "12345", roleArn: "arn:aws:iam::${A}:role/x"}]\n`).message).toMatch(/\/accounts\/0\/id/);
  });
});

describe('fleet items', () => {
  const fleet: FleetConfig = { accounts: { kind: 'self' }, regions: ['us-east-1', 'eu-west-1'], snapshotsPerItem: 2, maxItems: 20, maxPerAccount: 12, maxPerRegion: 4, toleratedFailurePercent: 0, sessionDurationMs: 3_600_000 };
  const snap = (id: string, volumeId?: string): SnapshotInfo => ({ id, source: `aws:us-east-1:${id}`, tags: {}, sizeBytes: 2 ** 30, ...(volumeId ? { volumeId } : {}) });

  it('GIVEN ACCOUNT/REGION/K/N THEN parsed; GIVEN anything else THEN the flag is named with the form', () => {
    expect(parseItem(`${A}/eu-west-1/2/3`)).toEqual({ account: A, region: 'eu-west-1', k: 2, n: 3 });
    expect(shardOfItem(parseItem(`${A}/eu-west-1/2/3`))).toEqual({ k: 2, n: 3, account: A, region: 'eu-west-1' });
    for (const bad of ['1234/eu-west-1/1/1', `${A}/moon-1/1/1`, `${A}/eu-west-1/4/3`, `${A}/eu-west-1/0/3`, `${A}/eu-west-1/1`]) {
      expect(() => parseItem(bad), bad).toThrow(ConfigError);
    }
    expect(() => parseItem('x')).toThrow(/ACCOUNT\/REGION\/K\/N/);
  });

  it('GIVEN the caps THEN each item gets its share: maxPerAccount over the regions then the shards, maxPerRegion over the shards, at least 1', () => {
    const config = { concurrency: 8, fleet };
    expect(itemConcurrency(config, 1)).toBe(4); // min(8, 4/1, 12/2/1 = 6)
    expect(itemConcurrency(config, 2)).toBe(2); // min(8, 4/2, 12/2/2 = 3)
    expect(itemConcurrency(config, 3)).toBe(1); // min(8, 1, 2)
    expect(itemConcurrency(config, 9)).toBe(1); // never 0
    expect(itemConcurrency({ concurrency: 1, fleet }, 1)).toBe(1);
  });

  it('GIVEN account-regions THEN cut by snapshotsPerItem without splitting a lineage, in account then region order, an empty one still an item', () => {
    const items = planItems(
      [
        { account: B, region: 'us-east-1', selected: [] },
        { account: A, region: 'us-east-1', selected: [snap('snap-1', 'vol-a'), snap('snap-2', 'vol-a'), snap('snap-3', 'vol-b'), snap('snap-4', 'vol-c')] },
        { account: A, region: 'eu-west-1', selected: [snap('snap-5')] },
      ],
      { concurrency: 8, fleet },
    );
    expect(items.map((i) => [i.item, i.snapshots, i.concurrency])).toEqual([
      [`${A}/eu-west-1/1/1`, 1, 4],
      [`${A}/us-east-1/1/2`, 2, 2],
      [`${A}/us-east-1/2/2`, 2, 2],
      [`${B}/us-east-1/1/1`, 0, 4],
    ]);
  });

  it('GIVEN an item list that is not one THEN the file and entry are named', () => {
    expect(() => parseItemList('{', 'items.json')).toThrow(/items.json.*not JSON/);
    expect(() => parseItemList('{}', 'items.json')).toThrow(/not a JSON array/);
    expect(() => parseItemList(`[{"item": "${A}/eu-west-1/1/1"}, {"x": 1}]`, 'items.json')).toThrow(/items.json\[1\].*no "item"/);
    expect(parseItemList(`[{"item": "${A}/eu-west-1/1/1", "snapshots": 3}]`, 'f')).toEqual([{ item: `${A}/eu-west-1/1/1`, snapshots: 3, account: A, region: 'eu-west-1', shard: '1/1' }]);
  });
});

const RUN = '20261203T020000Z-f1ee70';

/** itemReport is a sample report as the item ACCOUNT/REGION/K/N of RUN. */
function itemReport(account: string, region: string, k: number, n: number, id: string): RunReport {
  const base = sampleReport('all-pass-exit0');
  const s = { ...base.snapshots[0]!, id, lineage: `vol-${id}`, volumeId: `vol-${id}`, account, region };
  return { ...base, runId: RUN, shard: { index: k, count: n, account, region }, snapshots: [s] };
}

/** itemsDir writes item reports into OUT/RUN/shard-ACCOUNT-REGION-K-of-N/report.json. */
function itemsDir(reports: RunReport[]): string {
  const dir = path.join(tempDir('fleet-merge'), RUN);
  for (const r of reports) {
    const sub = path.join(dir, `shard-${r.shard!.account}-${r.shard!.region}-${r.shard!.index}-of-${r.shard!.count}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, 'report.json'), JSON.stringify(r));
  }
  return dir;
}

describe('merge of fleet items', () => {
  const quiet = { log: () => {} };
  const expected = [`${A}/us-east-1/1/2`, `${A}/us-east-1/2/2`, `${B}/eu-west-1/1/1`, `${B}/us-east-1/1/1`].map((i) => shardOfItem(parseItem(i)));

  it('GIVEN every item THEN one report of all their snapshots, each with its account and region', async () => {
    const dir = itemsDir([itemReport(A, 'us-east-1', 1, 2, 'snap-a1'), itemReport(A, 'us-east-1', 2, 2, 'snap-a2'), itemReport(B, 'eu-west-1', 1, 1, 'snap-b1'), itemReport(B, 'us-east-1', 1, 1, 'snap-b2')]);
    const { report } = await mergeRun(dir, { ...quiet, expect: expected });
    expect(report.snapshots.map((s) => `${s.account}/${s.region}/${s.id}`)).toEqual([`${A}/us-east-1/snap-a1`, `${A}/us-east-1/snap-a2`, `${B}/eu-west-1/snap-b1`, `${B}/us-east-1/snap-b2`]);
    expect(report.errors).toEqual([]);
    expect(report.exitCode).toBe(0);
  });

  it('GIVEN no list THEN the items are read from the directories, each account-region with its own N; a missing K of a known N is named', () => {
    const dir = itemsDir([itemReport(A, 'us-east-1', 1, 2, 'snap-a1'), itemReport(B, 'eu-west-1', 1, 1, 'snap-b1')]);
    const reading = readShardReports(dir, RUN);
    expect(reading.count).toBe(3);
    expect(reading.problems.map((p) => [p.code, p.subject])).toEqual([['shard-missing', `shard-${A}-us-east-1-2-of-2`]]);
    expect(reading.problems[0]!.remedy).toContain(`snapdrill run -c CONFIG --item ${A}/us-east-1/2/2 --run-id ${RUN}`);
  });

  it('GIVEN a lost item within the tolerated share THEN named and tolerated (exit 0); over it THEN the run fails saying how many and the threshold', async () => {
    const dir = itemsDir([itemReport(A, 'us-east-1', 1, 2, 'snap-a1'), itemReport(A, 'us-east-1', 2, 2, 'snap-a2'), itemReport(B, 'us-east-1', 1, 1, 'snap-b2')]);
    const within = (await mergeRun(dir, { ...quiet, expect: expected, toleratedPercent: 25 })).report;
    expect(within.errors.map((e) => [e.code, e.tolerated])).toEqual([['shard-missing', true]]);
    expect(within.exitCode).toBe(0);
    const over = (await mergeRun(dir, { ...quiet, expect: expected, toleratedPercent: 20 })).report;
    expect(over.errors.map((e) => e.code)).toEqual(['fleet-failure-threshold', 'shard-missing']);
    expect(over.errors[0]!.message).toBe('1 of 4 work items (25.0%) left no usable report, over the tolerated 20% (fleet.toleratedFailurePercent): the run failed');
    expect(over.exitCode).toBe(3);
    // A failed item is not a lost one: its report (exit 3) is merged, never tolerated away.
    const reading = readShardReports(dir, RUN, expected);
    expect(tolerate({ ...reading, problems: [] }, 0, RUN)).toEqual([]);
  });

  it('GIVEN a report of another item in an item\'s directory THEN it is invalid, naming both', () => {
    const dir = itemsDir([itemReport(A, 'us-east-1', 1, 1, 'snap-a1')]);
    const wrong = itemReport(B, 'us-east-1', 1, 1, 'snap-x');
    writeFileSync(path.join(dir, `shard-${A}-us-east-1-1-of-1`, 'report.json'), JSON.stringify(wrong));
    const reading = readShardReports(dir, RUN);
    expect(reading.problems[0]!.code).toBe('shard-invalid');
    expect(reading.problems[0]!.message).toContain(`item ${B}/us-east-1/1/1, not of this run's item ${A}/us-east-1/1/1`);
  });
});


describe('the fleet stack and the central policy', () => {
  it('GIVEN iam/fleet-stack.yaml THEN its task role may do everything the central account\'s code calls (iam/snapdrill-central-policy.json; GetCallerIdentity needs no grant)', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const stack = parseYaml(readFileSync(path.join(root, 'iam/fleet-stack.yaml'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: { Policies?: { PolicyDocument: { Statement: unknown[] } }[] } }> };
    const task = stack.Resources.TaskRole!.Properties.Policies!.flatMap((p) => p.PolicyDocument.Statement);
    const actions = new Set(
      task.flatMap((s) => {
        const st = (s as { 'Fn::If'?: unknown[] })['Fn::If'] ? ((s as { 'Fn::If': unknown[] })['Fn::If'][1] as { Action: string[] }) : (s as { Action: string[] | string });
        return [st.Action].flat();
      }),
    );
    const central = JSON.parse(readFileSync(path.join(root, 'iam/snapdrill-central-policy.json'), 'utf8')) as { Statement: { Action: string[] }[] };
    const needed = central.Statement.flatMap((s) => s.Action).filter((a) => a !== 'sts:GetCallerIdentity');
    expect(needed.filter((a) => !actions.has(a))).toEqual([]);
  });
});
