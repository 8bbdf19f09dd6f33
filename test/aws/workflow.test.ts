import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowDefinition, type WorkflowParams } from '../../src/fleet/workflow.js';
import { cliAsync, fixture } from '../helpers.js';
import { startFleetWorld, type FleetWorld } from './fleet-world.js';
import { ecsRunTaskSync, forLocalEngine, type Container, type Definition, type RunTaskParameters } from './local-sfn.js';
import { fakeCredentials, TEST_REGION } from './moto.js';

/**
 * The fleet workflow end to end, the containers being the REAL CLI: the generated state machine (src/fleet/workflow.ts)
 * runs in aws-local-stepfunctions (test/aws/local-sfn.ts bridges what that engine lacks: ItemReader, ECS), and every
 * ecs:runTask.sync state spawns `node --import tsx src/bin.ts <the Command the state built>` against a multi-account
 * moto world (test/aws/fleet-world.ts): gc, plan --items, one run per item (account x region x shard), merge.
 * The state machine gets no credentials and passes none: the child processes get the world's environment, as a
 * Fargate task gets its task role.
 */

const ACCOUNTS = ['111111111111', '222222222222', '333333333333'];
const REGIONS = ['us-east-1', 'eu-west-1'];
const ITEM = /^[0-9]{12}\/[a-z0-9-]+\/[0-9]+\/[0-9]+$/;
const CONFIG_KEY = 'fleet/config.yaml';

describe('fleet workflow, executed locally with the real CLI in each task (aws-local-stepfunctions + moto, 3 accounts x 2 regions)', () => {
  let world: FleetWorld;
  let s3: S3Client;

  beforeAll(async () => {
    world = await startFleetWorld({ accounts: ACCOUNTS, regions: REGIONS, fixturePath: fixture, fixtures: (_, region) => [region === 'us-east-1' ? 'ext4-crash.img' : 'xfs-frozen.img'] });
    s3 = new S3Client({ endpoint: world.moto.endpoint, region: TEST_REGION, credentials: fakeCredentials, forcePathStyle: true });
    // The fleet config lives in the bucket, as the stack's ConfigKey.
    await s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: CONFIG_KEY, Body: readFileSync(world.fleetConfig()) }));
  }, 300_000);

  afterAll(async () => world?.stop());

  /** read returns an object of the bucket as text, or undefined when it does not exist. */
  async function read(key: string): Promise<string | undefined> {
    try {
      return await (await s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key }))).Body!.transformToString();
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') return undefined;
      throw e;
    }
  }

  async function keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: world.bucket, Prefix: prefix, ContinuationToken: token }));
      out.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  /** execute runs the generated workflow; `container` decides what each task does (default: the real CLI with the world's env). */
  async function execute(runId: string, opts: { tolerate?: number; container?: (command: string[], p: RunTaskParameters, real: Container) => Promise<number | null> } = {}) {
    const params: WorkflowParams = {
      bucket: world.bucket,
      configKey: CONFIG_KEY,
      cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/snapdrill',
      taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/snapdrill:1',
      subnets: ['subnet-0a'],
      securityGroups: ['sg-0a'],
      assignPublicIp: 'DISABLED',
      maxConcurrency: 4,
      toleratedFailurePercent: opts.tolerate ?? 0,
      alertTopicArn: '',
    };
    const commands: string[][] = [];
    const results: { command: string[]; code: number | null; stderr: string }[] = [];
    const realCli: Container = async (command) => {
      const r = await cliAsync(command, world.env);
      results.push({ command, code: r.code, stderr: r.stderr });
      return r.code;
    };
    const ecs = ecsRunTaskSync(async (command, p) => {
      commands.push(command);
      return opts.container ? opts.container(command, p, realCli) : realCli(command, p);
    });
    const machine = new StateMachine(forLocalEngine(workflowDefinition(params) as Definition) as never, { validationOptions: { checkArn: false } });
    const execution = machine.run({}, {
      context: { Execution: { Name: runId } },
      overrides: {
        taskResourceLocalHandlers: {
          CollectGarbage: ecs,
          Enumerate: ecs,
          RunItem: ecs,
          Merge: ecs,
          // Stands in for the Map's ItemReader (which the local engine ignores): reads the items the real Enumerate wrote.
          ReadItems: async (p: { Bucket: string; Key: string }) => JSON.parse((await (await s3.send(new GetObjectCommand(p))).Body!.transformToString()) as string),
          PublishFailure: async () => ({}),
        },
        waitTimeOverrides: { WaitToRestart: 0 },
        retryIntervalOverrides: { RunItem: 0, CollectGarbage: 0, Enumerate: 0, Merge: 0 },
      },
    } as never);
    const items: { item: string; failed: boolean; error?: string }[] = [];
    const logs = (async () => {
      for await (const e of execution.eventLogs as AsyncIterable<{ type: string; state?: { name: string; output: { localMapResults: never[] } } }>) {
        if (e.type === 'StateExited' && e.state?.name === 'VerifyItems') items.push(...e.state.output.localMapResults);
      }
    })();
    const outcome = await execution.result.then(
      () => ({ ok: true, error: undefined as { name?: string; message?: string } | undefined }),
      (e: { cause?: { name?: string; message?: string } }) => ({ ok: false, error: e.cause }),
    );
    await logs;
    /** failures describes the commands that did not exit 0, for assertion messages. */
    const failures = () => results.filter((x) => x.code !== 0).map((x) => `${x.command.join(' ')} -> ${x.code}\n${x.stderr.slice(-2000)}`).join('\n');
    return { outcome, commands, results, failures, items: items.sort((a, b) => a.item.localeCompare(b.item)) };
  }

  /** killingOneItem runs the real CLI but for the first item, whose container is killed (137) before it writes anything. */
  function killingOneItem() {
    let victim: string | undefined;
    const container = async (command: string[], p: RunTaskParameters, real: Container) => {
      if (command[0] === 'run' && (victim === undefined || command.includes(victim))) {
        victim ??= command[command.indexOf('--item') + 1];
        return 137;
      }
      return real(command, p);
    };
    return { container, victim: () => victim };
  }

  /** An execution name as a scheduler or a person gives it (the run id contract: letters, digits, . _ -, at most 80). */
  const executionName = (tag: string) => `e2e-${tag}-${randomBytes(3).toString('hex')}`;
  /** An execution named as snapdrill names runs (20261203T020000Z-1a2b3c). */
  const snapdrillRunId = () => `${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}-${randomBytes(3).toString('hex')}`;

  it('runs gc, plan, every item and merge with the real CLI; the merged report lands at s3://BUCKET/runs/RUNID/', async () => {
    const runId = executionName('ok');
    const r = await execute(runId);
    expect(r.failures()).toBe('');
    expect(r.outcome).toEqual({ ok: true, error: undefined });

    const verbs = r.commands.map((c) => c[0]);
    expect(verbs[0]).toBe('gc');
    expect(verbs[1]).toBe('plan');
    expect(verbs.at(-1)).toBe('merge');
    const items = JSON.parse((await read(`runs/${runId}/items.json`))!) as { item: string; account: string; region: string }[];
    // 3 accounts x 2 regions, at least one item each.
    expect(new Set(items.map((i) => `${i.account}/${i.region}`)).size).toBe(6);
    for (const i of items) expect(i.item).toMatch(ITEM);
    expect(r.commands.filter((c) => c[0] === 'run').map((c) => c[c.indexOf('--item') + 1]).sort()).toEqual(items.map((i) => i.item).sort());
    expect(r.items.map((i) => [i.item, i.failed])).toEqual(items.map((i) => [i.item, false]).sort());

    const written = await keys(`runs/${runId}/`);
    expect(written).toEqual(expect.arrayContaining([`runs/${runId}/index.html`, `runs/${runId}/report.json`, `runs/${runId}/junit.xml`]));
    expect(written.filter((k) => /\/shard-[^/]+\/report\.json$/.test(k))).toHaveLength(items.length);
    const merged = JSON.parse((await read(`runs/${runId}/report.json`))!) as { exitCode: number; snapshots: { id: string; account?: string; region?: string }[] };
    expect(merged.exitCode).toBe(0);
    // One merged report: every snapshot of every account and region, each carrying its account and region.
    expect(merged.snapshots.map((s) => `${s.account}/${s.region}/${s.id}`).sort()).toEqual(world.snapshots.map((s) => `${s.account}/${s.region}/${s.id}`).sort());
    // Nothing secret in any command a container got.
    expect(JSON.stringify(r.commands)).not.toContain(String(world.env.AWS_SECRET_ACCESS_KEY));
    expect(await world.liveResourcesOf()).toEqual([]);
  }, 900_000);

  it('records an item whose container dies (no report) as failed, and the merge over the tolerance fails the run as a harness error', async () => {
    const runId = snapdrillRunId();
    const { container, victim } = killingOneItem();
    const r = await execute(runId, { container });
    expect(r.outcome.error?.name, r.failures()).toBe('Snapdrill.HarnessError');
    expect(victim()).toMatch(ITEM);
    expect(r.items.filter((i) => i.failed).map((i) => i.item)).toEqual([victim()]);
    expect(r.outcome.ok).toBe(false);
    expect(r.outcome.error?.name).toBe('Snapdrill.HarnessError');
    expect(r.outcome.error?.message).toContain(`s3://${world.bucket}/runs/${runId}/index.html`);
    // The failed item is visible in the merged report, named with the command that reruns it; the others are there.
    const merged = JSON.parse((await read(`runs/${runId}/report.json`))!) as { errors: { code: string; message: string; remedy?: string }[]; snapshots: { account?: string; region?: string }[] };
    const missing = merged.errors.filter((e) => e.code === 'shard-missing');
    expect(missing.map((e) => e.message)).toEqual([expect.stringContaining(`item ${victim()}`)]);
    expect(missing[0]!.remedy).toContain(`--item ${victim()} --run-id ${runId}`);
    expect(merged.errors.some((e) => e.code === 'fleet-failure-threshold')).toBe(true);
    const [account, region] = victim().split('/');
    expect(merged.snapshots.some((s) => s.account === account && s.region === region)).toBe(false);
    expect(merged.snapshots.length).toBe(world.snapshots.length - 1);
  }, 900_000);

  it('tolerates the same failed item under --tolerate 50', async () => {
    const runId = snapdrillRunId();
    const { container, victim } = killingOneItem();
    const r = await execute(runId, { tolerate: 50, container });
    expect(r.outcome, r.failures()).toEqual({ ok: true, error: undefined });
    expect(r.commands.at(-1)).toEqual(expect.arrayContaining(['merge', '--tolerate', '50']));
    expect(r.items.filter((i) => i.failed).map((i) => i.item)).toEqual([victim()]);
  }, 900_000);
});
