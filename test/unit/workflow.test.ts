import { readFileSync } from 'node:fs';
import path from 'node:path';
import validator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import yargs from 'yargs';
import { parse } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { aslOf, deployCommand, renderTemplate } from '../../src/cli/deploy.js';
import { fleetStack, ITEM_STARTS, TRANSIENT_ECS_ERRORS, workflowDefinition, type WorkflowParams } from '../../src/fleet/workflow.js';
import { awsError, ecsRunTaskSync, forLocalEngine, type Container, type Definition } from '../aws/local-sfn.js';

/**
 * The fleet workflow of issue #12: the state machine definition (ASL) the generator makes, validated by
 * asl-validator and executed by aws-local-stepfunctions with stubbed containers (a flow test: the real CLI runs in
 * test/aws/workflow.test.ts), and the CloudFormation stack around it: resources, least-privilege IAM, and
 * iam/fleet-stack.yaml equal to what `snapdrill deploy --print` prints.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

type Json = any;

const PARAMS: WorkflowParams = {
  bucket: 'snapdrill-runs',
  configKey: 'fleet/config.yaml',
  cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/snapdrill',
  taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/snapdrill:3',
  subnets: ['subnet-0a', 'subnet-0b'],
  securityGroups: ['sg-01'],
  assignPublicIp: 'DISABLED',
  maxConcurrency: 20,
  toleratedFailurePercent: 5,
  alertTopicArn: 'arn:aws:sns:us-east-1:123456789012:snapdrill-alerts',
};

const def = workflowDefinition(PARAMS) as Json;
const states = def.States as Record<string, Json>;
const map = states.VerifyItems;
const item = map.ItemProcessor.States as Record<string, Json>;

/** validate runs asl-validator (v4: a CommonJS function; it adds QueryLanguage to the states it reads, hence the copy). */
function validate(definition: unknown): { isValid: boolean; errors: unknown[] } {
  const { isValid, errors } = (validator as unknown as (d: unknown, o?: unknown) => { isValid: boolean; errors: unknown[] })(structuredClone(definition), { checkPaths: true, checkArn: true });
  return { isValid, errors };
}

/** every visits every node below node. */
function every(node: Json, visit: (n: Json) => void): void {
  visit(node);
  if (node && typeof node === 'object') for (const v of Object.values(node)) every(v, visit);
}

describe('fleet workflow definition (ASL)', () => {
  it('is valid Amazon States Language (asl-validator), as generated and as the stack embeds it', () => {
    expect(validate(def)).toEqual({ isValid: true, errors: [] });
    expect(validate(aslOf({}))).toEqual({ isValid: true, errors: [] });
    // The stack's DefinitionString is valid once its substitutions are made.
    const stack = fleetStack() as Json;
    const text = stack.Resources.StateMachine.Properties.DefinitionString as string;
    const values: Record<string, string> = { Bucket: 'b', ConfigKey: 'k.yaml', ClusterArn: PARAMS.cluster, TaskDefinitionArn: PARAMS.taskDefinition, Subnets: '"subnet-1","subnet-2"', SecurityGroups: '"sg-1"', AssignPublicIp: 'DISABLED', MaxConcurrency: '20', ToleratedFailurePercent: '0', AlertTopicArn: '' };
    expect(Object.keys(stack.Resources.StateMachine.Properties.DefinitionSubstitutions).sort()).toEqual(Object.keys(values).sort());
    const substituted = JSON.parse(text.replace(/\$\{(\w+)\}/g, (_, n: string) => values[n] ?? `?${n}?`));
    expect(validate(substituted)).toEqual({ isValid: true, errors: [] });
    expect(substituted.States.VerifyItems.MaxConcurrency).toBe(20);
    expect(substituted.States.VerifyItems.ItemProcessor.States.RunItem.Parameters.NetworkConfiguration.AwsvpcConfiguration.Subnets).toEqual(['subnet-1', 'subnet-2']);
  });

  it('runs gc, then enumerates the items into S3, then a Distributed Map reads them from S3 as JSON', () => {
    expect(def.StartAt).toBe('Init');
    expect(states.Init.Next).toBe('CollectGarbage');
    expect(states.CollectGarbage.Next).toBe('Enumerate');
    expect(states.Enumerate.Next).toBe('VerifyItems');
    expect(map.Next).toBe('Merge');
    expect(map.Type).toBe('Map');
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.ItemReader).toEqual({
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { Bucket: 'snapdrill-runs', 'Key.$': "States.Format('runs/{}/items.json', $.runId)" },
    });
    expect(states.Enumerate.Parameters.Overrides.ContainerOverrides[0]['Command.$']).toBe("States.Array('plan', '-c', $.config, '--run-id', $.runId, '--items', $.items)");
    expect(states.Init.Parameters).toMatchObject({ 'runId.$': '$$.Execution.Name', config: 's3://snapdrill-runs/fleet/config.yaml', 'items.$': "States.Format('s3://snapdrill-runs/runs/{}/items.json', $$.Execution.Name)" });
    // Results go to S3 beside the run, not into the state.
    expect(map.ResultPath).toBeNull();
    expect(map.ResultWriter.Parameters).toEqual({ Bucket: 'snapdrill-runs', 'Prefix.$': "States.Format('runs/{}/map', $.runId)" });
    // The run id is the parent's execution name, passed in: in a child execution $$.Execution.Name is the child's.
    expect(map.ItemSelector).toMatchObject({ 'item.$': '$$.Map.Item.Value.item', 'runId.$': '$.runId' });
  });

  it('caps concurrency, tolerates the configured failure percentage (also given to merge --tolerate)', () => {
    expect(map.MaxConcurrency).toBe(20);
    expect(map.ToleratedFailurePercentage).toBe(5);
    expect(states.Merge.Parameters.Overrides.ContainerOverrides[0]['Command.$']).toBe("States.Array('merge', $.runDir, '-c', $.config, '--items', $.items, '--tolerate', '5')");
  });

  it('runs every container on Fargate with the state as command, retrying transient ECS errors only, with backoff and jitter, for at most 6 hours', () => {
    const tasks = [states.CollectGarbage, states.Enumerate, item.RunItem, states.Merge];
    for (const t of tasks) {
      expect(t.Resource).toBe('arn:aws:states:::ecs:runTask.sync');
      expect(t.Parameters).toMatchObject({ LaunchType: 'FARGATE', Cluster: PARAMS.cluster, TaskDefinition: PARAMS.taskDefinition });
      expect(t.Parameters.NetworkConfiguration.AwsvpcConfiguration).toEqual({ Subnets: PARAMS.subnets, SecurityGroups: PARAMS.securityGroups, AssignPublicIp: 'DISABLED' });
      expect(t.Parameters.Overrides.ContainerOverrides).toHaveLength(1);
      expect(t.Parameters.Overrides.ContainerOverrides[0]).toEqual({ Name: 'snapdrill', 'Command.$': expect.stringMatching(/^States\.Array\('(gc|plan|run|merge)'/) });
      expect(t.Retry).toEqual([{ ErrorEquals: TRANSIENT_ECS_ERRORS, IntervalSeconds: 30, BackoffRate: 2, MaxAttempts: 2, JitterStrategy: 'FULL' }]);
      expect(t.TimeoutSeconds).toBe(6 * 3600);
    }
    expect(TRANSIENT_ECS_ERRORS).toEqual(expect.arrayContaining(['ECS.AmazonECSException', 'AmazonECS.Unknown']));
    // A stopped task's exit code is a verdict: never retried as if transient.
    expect(tasks.flatMap((t) => t.Retry.flatMap((r: Json) => r.ErrorEquals))).not.toEqual(expect.arrayContaining(['States.TaskFailed']));
    expect(tasks.flatMap((t) => t.Retry.flatMap((r: Json) => r.ErrorEquals))).not.toEqual(expect.arrayContaining(['States.ALL']));
    expect(item.RunItem.Parameters.Overrides.ContainerOverrides[0]['Command.$']).toBe("States.Array('run', '-c', $.config, '--run-id', $.runId, '--item', $.item, '--out', $.out)");
  });

  it('catches every failure of an item and records it as a result, so one item never fails the Map', () => {
    expect(item.RunItem.Catch.at(-1)).toEqual({ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ItemFailed' });
    expect(item.ItemFailed).toEqual({ Type: 'Pass', Parameters: { 'item.$': '$.item', failed: true, 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' }, End: true });
    // Every path of the item processor ends in a Pass: nothing in it can fail but a Pass.
    const ends = Object.entries(item).filter(([, s]) => s.End).map(([n]) => n);
    expect(ends.sort()).toEqual(['ItemFailed', 'ItemVerified']);
    expect(Object.values(item).some((s) => s.Type === 'Fail')).toBe(false);
    // Exit 0 and 1 verified the item; a task that failed to start is started again, up to ITEM_STARTS times.
    expect(item.ItemExitCode.Choices).toEqual([
      { Not: { Variable: '$.stopped.task.Containers[0].ExitCode', IsPresent: true }, Next: 'ItemNotStarted' },
      { Variable: '$.stopped.task.Containers[0].ExitCode', NumericLessThanEquals: 1, Next: 'ItemVerified' },
    ]);
    expect(JSON.stringify(item.ItemNotStarted)).toContain(`"NumericLessThan":${ITEM_STARTS}`);
  });

  it('compares no path in a Choice rule before a rule of the same state has checked it is present (a runtime error otherwise)', () => {
    const choices = [...Object.values(states), ...Object.values(item)].filter((s) => s.Type === 'Choice');
    for (const c of choices) {
      const checked = new Set<string>();
      for (const rule of c.Choices as Json[]) {
        if (rule.Not && 'IsPresent' in rule.Not) {
          checked.add(rule.Not.Variable);
          continue;
        }
        const compared = ('And' in rule ? rule.And : [rule]).map((r: Json) => r.Variable as string);
        // Paths every stopped task or Catch output has are exempt: StopCode once checked, $.starts (ItemSelector), Error/Cause.
        for (const v of compared.filter((v: string) => /ExitCode/.test(v))) expect(checked.has(v), `${JSON.stringify(rule)}`).toBe(true);
      }
    }
  });

  it('merges, then decides on the merge container exit code: 0 succeeds, 1, 2 and 3 fail with their own error and the report location', () => {
    expect(states.Merge.Next).toBe('MergeVerdict');
    expect(states.MergeVerdict.Type).toBe('Choice');
    const [first, ...rest] = states.MergeVerdict.Choices as Json[];
    expect(first).toEqual({ Not: { Variable: '$.merge.task.Containers[0].ExitCode', IsPresent: true }, Next: 'MergeNoVerdict' });
    expect(Object.fromEntries(rest.map((c) => [c.NumericEquals, c.Next]))).toEqual({ 0: 'RunPassed', 1: 'PolicyFailed', 2: 'ConfigError', 3: 'HarnessFailed' });
    expect(states.MergeVerdict.Default).toBe('MergeNoVerdict');
    expect(states.RunPassed.Type).toBe('Succeed');
    expect(states.PolicyFailed.Parameters.Error).toBe('Snapdrill.PolicyFailure');
    expect(states.HarnessFailed.Parameters.Error).toBe('Snapdrill.HarnessError');
    expect(states.PolicyFailed.Parameters['Cause.$']).toContain('/index.html');
    expect(states.RunDidNotPass).toEqual({ Type: 'Fail', ErrorPath: '$.verdict.Error', CausePath: '$.verdict.Cause' });
  });

  it('sends every other failure of gc, enumerate, the Map and merge to an SNS notice (when a topic is set), then fails', () => {
    for (const s of ['CollectGarbage', 'Enumerate', 'VerifyItems', 'Merge']) {
      expect(states[s].Catch.at(-1), s).toEqual({ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: `FailedAt${s}` });
      expect(states[`FailedAt${s}`], s).toEqual({ Type: 'Pass', Result: s, ResultPath: '$.failedAt', Next: 'NotifyFailure' });
    }
    expect(states.NotifyFailure.Parameters['message.$']).toMatch(/^States\.Format\('snapdrill run \{\} failed at \{\}/);
    expect(states.HasAlertTopic.Choices).toEqual([{ Variable: '$.alertTopic', StringEquals: '', Next: 'RunFailed' }]);
    expect(states.PublishFailure).toMatchObject({ Resource: 'arn:aws:states:::sns:publish', Parameters: { 'TopicArn.$': '$.alertTopic' }, Next: 'RunFailed' });
    expect(states.RunFailed).toMatchObject({ Type: 'Fail', Error: 'Snapdrill.RunFailed' });
  });

  it('builds its state from the stack values and the execution name only: nothing of the execution input reaches a container', () => {
    const init = JSON.stringify(states.Init.Parameters);
    expect(init).not.toMatch(/"\$\.[^"]*"|\(\$\./); // no path into the input
    const paths: string[] = [];
    every(def, (n) => {
      if (typeof n === 'string' && /\$\$\.Execution\.Input/.test(n)) paths.push(n);
    });
    expect(paths).toEqual([]);
  });
});

/** flowRun runs the definition in aws-local-stepfunctions with stubbed containers; returns the outcome, the commands run and each item's result. */
/** validatedDefinitions are the workflow definitions a StateMachine has already validated: asl-validator builds and compiles its schema on every call. */
const validatedDefinitions = new Set<string>();

async function flowRun(container: Container, opts: { items?: { item: string }[]; publish?: (p: Json) => Promise<unknown>; params?: Partial<WorkflowParams>; runItem?: (p: Json) => Promise<unknown> } = {}) {
  const commands: string[][] = [];
  const published: Json[] = [];
  const ecs = ecsRunTaskSync(async (command, params) => {
    commands.push(command);
    return container(command, params);
  });
  const definition = forLocalEngine(workflowDefinition({ ...PARAMS, ...opts.params }) as Definition);
  // The first StateMachine of each distinct definition validates it (asl-validator); an identical definition is not compiled against the ASL schema again.
  const key = JSON.stringify(definition);
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false, noValidate: validatedDefinitions.has(key) } });
  validatedDefinitions.add(key);
  const execution = machine.run({ password: 'hunter2' }, {
    context: { Execution: { Name: 'run-0001' } },
    overrides: {
      taskResourceLocalHandlers: {
        CollectGarbage: ecs,
        Enumerate: ecs,
        RunItem: opts.runItem ?? ecs,
        Merge: ecs,
        ReadItems: async () => opts.items ?? [{ item: '111111111111/us-east-1/1/1' }, { item: '222222222222/eu-west-1/1/1' }],
        PublishFailure: opts.publish ?? (async (p: Json) => (published.push(p), {})),
      },
      waitTimeOverrides: { WaitToRestart: 0 },
      retryIntervalOverrides: { RunItem: 0, CollectGarbage: 0, Enumerate: 0, Merge: 0, PublishFailure: 0 },
    },
  } as never);
  const items: Json[] = [];
  const logs = (async () => {
    for await (const e of execution.eventLogs as AsyncIterable<Json>) if (e.type === 'StateExited' && e.state.name === 'VerifyItems') items.push(...e.state.output.localMapResults);
  })();
  const outcome = await execution.result.then(
    (output: unknown) => ({ ok: true as const, output, error: undefined as Json }),
    (e: Json) => ({ ok: false as const, output: undefined, error: { name: e.cause?.name, message: e.cause?.message } }),
  );
  await logs;
  return { outcome, commands, published, items: items.sort((a, b) => a.item.localeCompare(b.item)) };
}

describe('fleet workflow state flow (aws-local-stepfunctions, containers stubbed: flow only; the real CLI runs in test/aws/workflow.test.ts)', () => {
  it('runs gc, plan, one run per item and merge with the run id from the execution name, and succeeds on merge exit 0', async () => {
    const r = await flowRun(async () => 0);
    expect(r.outcome.ok).toBe(true);
    const c = 's3://snapdrill-runs/fleet/config.yaml';
    expect(r.commands.map((x) => x.join(' '))).toEqual([
      `gc -c ${c} --yes`,
      `plan -c ${c} --run-id run-0001 --items s3://snapdrill-runs/runs/run-0001/items.json`,
      ...['111111111111/us-east-1/1/1', '222222222222/eu-west-1/1/1'].map((i) => `run -c ${c} --run-id run-0001 --item ${i} --out s3://snapdrill-runs/runs/`),
      `merge s3://snapdrill-runs/runs/run-0001 -c ${c} --items s3://snapdrill-runs/runs/run-0001/items.json --tolerate 5`,
    ]);
    expect(r.items).toEqual([
      { item: '111111111111/us-east-1/1/1', failed: false },
      { item: '222222222222/eu-west-1/1/1', failed: false },
    ]);
    expect(JSON.stringify(r.commands)).not.toContain('hunter2');
    expect(r.published).toEqual([]);
  });

  it('records a failed item (exit 3, or never started) as {item, failed, error, cause} and goes on to merge; exit 1 is a verified item', async () => {
    const r = await flowRun(async (cmd) => (cmd[0] !== 'run' ? 0 : cmd.includes('111111111111/us-east-1/1/1') ? 3 : cmd.includes('333333333333/us-east-1/1/1') ? null : 1), {
      items: [{ item: '111111111111/us-east-1/1/1' }, { item: '222222222222/eu-west-1/1/1' }, { item: '333333333333/us-east-1/1/1' }],
    });
    expect(r.outcome.ok).toBe(true);
    expect(r.items.map((i) => [i.item, i.failed, i.error])).toEqual([
      ['111111111111/us-east-1/1/1', true, 'States.TaskFailed'],
      ['222222222222/eu-west-1/1/1', false, undefined],
      ['333333333333/us-east-1/1/1', true, 'States.TaskFailed'],
    ]);
    expect(JSON.parse(r.items[0].cause).Containers[0].ExitCode).toBe(3);
    // The one that failed to start was started ITEM_STARTS times.
    expect(r.commands.filter((c) => c.includes('333333333333/us-east-1/1/1'))).toHaveLength(ITEM_STARTS);
    expect(r.commands.at(-1)![0]).toBe('merge');
  });

  it('retries a transient ECS error of an item, and records the item as failed when it persists', async () => {
    let calls = 0;
    const flaky = async (p: Json) => {
      calls++;
      if (calls === 1) throw awsError('ECS.AmazonECSException', 'Capacity is unavailable at this time');
      return ecsRunTaskSync(async () => 0)(p);
    };
    const r = await flowRun(async () => 0, { items: [{ item: 'a' }], runItem: flaky });
    expect(calls).toBe(2);
    expect(r.items).toEqual([{ item: 'a', failed: false }]);
    const down = await flowRun(async () => 0, { items: [{ item: 'a' }], runItem: async () => Promise.reject(awsError('ECS.AmazonECSException', 'Capacity is unavailable')) });
    expect(down.items).toEqual([{ item: 'a', failed: true, error: 'ECS.AmazonECSException', cause: 'Capacity is unavailable' }]);
    expect(down.outcome.ok).toBe(true);
  });

  it('fails with the merge verdict: exit 1 a policy failure, exit 3 a harness error, each naming the report', async () => {
    for (const [code, error] of [[1, 'Snapdrill.PolicyFailure'], [2, 'Snapdrill.ConfigError'], [3, 'Snapdrill.HarnessError']] as const) {
      const r = await flowRun(async (cmd) => (cmd[0] === 'merge' ? code : 0));
      expect(r.outcome.error?.name, String(code)).toBe(error);
      expect(r.outcome.error?.message).toContain('s3://snapdrill-runs/runs/run-0001/index.html');
      expect(r.published).toEqual([]); // merge alerts itself
    }
  });

  it('notifies the topic and fails when gc or enumerate fails, and skips the notice without a topic', async () => {
    for (const step of ['gc', 'plan']) {
      const r = await flowRun(async (cmd) => (cmd[0] === step ? 3 : 0));
      expect(r.outcome.error?.name).toBe('Snapdrill.RunFailed');
      const at = step === 'gc' ? 'CollectGarbage' : 'Enumerate';
      expect(r.outcome.error?.message).toMatch(new RegExp(`^snapdrill run run-0001 failed at ${at}: States.TaskFailed`));
      expect(r.published).toHaveLength(1);
      expect(r.published[0]).toMatchObject({ TopicArn: PARAMS.alertTopicArn, Subject: `snapdrill run run-0001 failed at ${at}` });
      expect(r.commands.some((c) => c[0] === 'run')).toBe(false);
    }
    const quiet = await flowRun(async (cmd) => (cmd[0] === 'gc' ? 3 : 0), { params: { alertTopicArn: '' } });
    expect(quiet.outcome.error?.name).toBe('Snapdrill.RunFailed');
    expect(quiet.published).toEqual([]);
    // A notice that cannot be sent still fails the run with its own cause.
    const lost = await flowRun(async (cmd) => (cmd[0] === 'plan' ? 2 : 0), { publish: async () => Promise.reject(awsError('SNS.AuthorizationErrorException', 'denied')) });
    expect(lost.outcome.error?.name).toBe('Snapdrill.RunFailed');
  });

  it('notifies when the merge container never ran', async () => {
    const r = await flowRun(async (cmd) => (cmd[0] === 'merge' ? null : 0));
    expect(r.outcome.error?.name).toBe('Snapdrill.RunFailed');
    expect(r.published[0].Subject).toBe('snapdrill run run-0001 failed at Merge');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// CloudFormation

const text = readFileSync(path.join(ROOT, 'iam/fleet-stack.yaml'), 'utf8');
const template = parse(text) as Json;
const resources = template.Resources as Record<string, { Type: string; Properties: Json }>;
const NO_VALUE = Symbol('AWS::NoValue');

/** render evaluates the intrinsic functions the stack's policies use (Ref, GetAtt, Sub, If, Join), names left as ${Name} / <Resource.Attr>. */
function render(node: Json, conditions: Record<string, boolean>): Json {
  if (Array.isArray(node)) return node.map((n) => render(n, conditions)).filter((n) => n !== NO_VALUE);
  if (node === null || typeof node !== 'object') return node;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [k] = keys as [string];
    const arg = node[k];
    if (k === 'Ref') return arg === 'AWS::NoValue' ? NO_VALUE : `\${${arg}}`;
    if (k === 'Fn::GetAtt') return `<${arg.join('.')}>`;
    if (k === 'Fn::Sub') return arg;
    if (k === 'Fn::If') return render(conditions[arg[0]] ? arg[1] : arg[2], conditions);
    if (k === 'Fn::Join') return (render(arg[1], conditions) as string[]).join(arg[0]);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, render(v, conditions)]).filter(([, v]) => v !== NO_VALUE));
}

/** statements are the statements of a role's inline policies, with every optional feature on (or off). */
function statements(role: string, on = true): Json[] {
  const conditions = Object.fromEntries(Object.keys(template.Conditions).map((c) => [c, on]));
  return (render(resources[role]!.Properties.Policies ?? [], conditions) as Json[]).flatMap((p) => p.PolicyDocument.Statement);
}
const bySid = (role: string) => Object.fromEntries(statements(role).map((s) => [s.Sid, s]));
const list = (v: Json): Json[] => (Array.isArray(v) ? v : [v]);

describe('fleet stack (iam/fleet-stack.yaml)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is exactly what `snapdrill deploy --print` prints with no options, under a header saying so', async () => {
    expect(text).toBe(renderTemplate({}, 'yaml'));
    expect(text.split('\n')[0]).toMatch(/^# Generated by `snapdrill deploy --print`/);
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(fleetStack())));
    // Through the command itself (the CLI registers deployCommand in src/cli/index.ts).
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    await yargs(['deploy', '--print']).command(deployCommand).strict().parseAsync();
    await yargs(['deploy', '--print', '--format', 'json']).command(deployCommand).strict().parseAsync();
    await yargs(['deploy', '--print', '--asl', '--bucket', 'my-bucket']).command(deployCommand).strict().parseAsync();
    expect(out).toHaveLength(3);
    expect(out[0]).toBe(text);
    expect(JSON.parse(out[1]!)).toEqual(fleetStack());
    expect(JSON.parse(out[2]!).States.Init.Parameters.config).toBe('s3://my-bucket/config.yaml');
  });

  it.runIf(readFileSync(path.join(ROOT, 'src/cli/index.ts'), 'utf8').includes('deployCommand'))('prints it through the registered CLI too (snapdrill deploy --print)', async () => {
    // In process: main() is what src/bin.ts runs (the same registered commands and yargs setup), without booting a second Node and tsx per call.
    const { main } = await import('../../src/cli/index.js');
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
      const before = process.exitCode;
      process.exitCode = undefined;
      try {
        await main(args);
        return { code: process.exitCode ?? 0, stdout: out.join(''), stderr: err.join('') };
      } finally {
        process.exitCode = before;
        stdout.mockRestore();
        stderr.mockRestore();
      }
    };
    const r = await cli(['deploy', '--print']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(text);
    const usage = await cli(['deploy']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('aws cloudformation deploy --template-file');
  });

  it('without --print only says how to deploy with CloudFormation (exit 2)', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const before = process.exitCode;
    await yargs(['deploy']).command(deployCommand).strict().parseAsync();
    expect(process.exitCode).toBe(2);
    process.exitCode = before;
    expect(err.join('')).toContain('aws cloudformation deploy --template-file');
  });

  it('sets parameter defaults from the options given', () => {
    const t = fleetStack({ imageUri: 'x.dkr.ecr.us-east-1.amazonaws.com/snapdrill:1', bucket: 'b', subnets: ['subnet-1', 'subnet-2'], maxConcurrency: 50, toleratedFailurePercent: 10 }) as Json;
    expect(t.Parameters.ImageUri.Default).toBe('x.dkr.ecr.us-east-1.amazonaws.com/snapdrill:1');
    expect(t.Parameters.Subnets.Default).toBe('subnet-1,subnet-2');
    expect(t.Parameters.MaxConcurrency.Default).toBe(50);
    expect(t.Parameters.ToleratedFailurePercent.Default).toBe(10);
    expect(template.Parameters.ImageUri.Default).toBeUndefined();
    expect(template.Parameters.MaxConcurrency.Default).toBe(20);
    expect(template.Parameters.ToleratedFailurePercent.Default).toBe(0);
  });

  it('declares the scheduler, the state machine, the ECS cluster and task definition, the log group and the roles', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    const types = Object.fromEntries(Object.entries(resources).map(([id, r]) => [id, r.Type]));
    expect(types).toEqual({
      Cluster: 'AWS::ECS::Cluster',
      LogGroup: 'AWS::Logs::LogGroup',
      TaskExecutionRole: 'AWS::IAM::Role',
      TaskRole: 'AWS::IAM::Role',
      TaskDefinition: 'AWS::ECS::TaskDefinition',
      StateMachineRole: 'AWS::IAM::Role',
      StateMachine: 'AWS::StepFunctions::StateMachine',
      SchedulerRole: 'AWS::IAM::Role',
      Schedule: 'AWS::Scheduler::Schedule',
    });
    expect(resources.StateMachine!.Properties.StateMachineType).toBe('STANDARD');
    const td = resources.TaskDefinition!.Properties;
    expect(td).toMatchObject({ RequiresCompatibilities: ['FARGATE'], NetworkMode: 'awsvpc', TaskRoleArn: { 'Fn::GetAtt': ['TaskRole', 'Arn'] } });
    expect(td.ContainerDefinitions[0]).toMatchObject({ Name: 'snapdrill', Image: { Ref: 'ImageUri' }, Essential: true, LogConfiguration: { LogDriver: 'awslogs' } });
    expect(resources.Schedule!.Properties).toMatchObject({ ScheduleExpression: { Ref: 'ScheduleExpression' }, Target: { Arn: { Ref: 'StateMachine' } } });
    expect(template.Outputs.TaskRoleArn.Value).toEqual({ 'Fn::GetAtt': ['TaskRole', 'Arn'] });
  });

  it('gives the task role only its config, the runs and history prefixes, the Organization read-only and the member role', () => {
    const s = bySid('TaskRole');
    expect(Object.keys(s).sort()).toEqual(['AlertOnTheTopic', 'AssumeTheMemberRole', 'ListRunsAndHistory', 'ListTheOrganization', 'PublishRunMetrics', 'ReadTheFleetConfig', 'WriteAndReadHistory', 'WriteAndReadRuns']);
    expect(s.AssumeTheMemberRole).toEqual({ Sid: 'AssumeTheMemberRole', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: 'arn:${AWS::Partition}:iam::*:role/${MemberRoleName}' });
    expect(s.ListTheOrganization.Action.sort()).toEqual(['organizations:ListAccounts', 'organizations:ListAccountsForParent', 'organizations:ListChildren', 'organizations:ListOrganizationalUnitsForParent']);
    const s3 = statements('TaskRole').filter((x) => list(x.Action).some((a: string) => a.startsWith('s3:')));
    for (const x of s3) for (const r of list(x.Resource)) expect(r).toMatch(/^arn:\$\{AWS::Partition\}:s3:::\$\{BucketName\}(\/(runs\/\*|\$\{HistoryPrefix\}\/\*|\$\{ConfigKey\}))?$/);
    expect(s.ReadTheFleetConfig.Action).toEqual(['s3:GetObject']);
    expect(s.ListRunsAndHistory.Condition).toEqual({ StringLike: { 's3:prefix': ['runs/*', '${HistoryPrefix}/*'] } });
    expect(statements('TaskRole', false).map((x) => x.Sid)).not.toEqual(expect.arrayContaining(['AlertOnTheTopic']));
  });

  it('lets the state machine run only the snapdrill task definition, pass only the two task roles, keep the .sync rule, and start its own item executions', () => {
    const s = bySid('StateMachineRole');
    expect(s.RunTheSnapdrillTask).toMatchObject({ Action: ['ecs:RunTask'], Resource: '${TaskDefinition}', Condition: { ArnEquals: { 'ecs:cluster': '<Cluster.Arn>' } } });
    expect(s.PassTheTaskRoles).toMatchObject({ Action: ['iam:PassRole'], Resource: ['<TaskRole.Arn>', '<TaskExecutionRole.Arn>'], Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } });
    expect(s.ReceiveEcsTaskEventsForSync).toMatchObject({
      Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      Resource: 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForECSTaskRule',
    });
    expect(s.StartTheItemExecutions).toMatchObject({ Action: ['states:StartExecution'], Resource: 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}' });
    expect(resources.StateMachine!.Properties.StateMachineName).toEqual({ Ref: 'AWS::StackName' });
    expect(s.WatchAndStopItsTasks.Resource).toBe('arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*');
    expect(s.ReadItemsWriteMapResults.Resource).toBe('arn:${AWS::Partition}:s3:::${BucketName}/runs/*');
    expect(s.NotifyFailedRuns).toMatchObject({ Action: ['sns:Publish'], Resource: '${AlertTopicArn}' });
  });

  it('lets the scheduler only start the state machine, with an input holding nothing secret', () => {
    expect(statements('SchedulerRole')).toEqual([
      { Sid: 'StartTheRun', Effect: 'Allow', Action: ['states:StartExecution'], Resource: 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}' },
    ]);
    expect(JSON.parse(resources.Schedule!.Properties.Target.Input)).toEqual({ trigger: 'schedule' });
    expect(resources.SchedulerRole!.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'scheduler.amazonaws.com' });
  });

  it('grants no delete on *, no wildcard action, no NotAction; every role is assumable by its one service in this account only', () => {
    const roles = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    const granted = roles.flatMap(([id]) => [true, false].flatMap((on) => statements(id, on).map((s) => ({ where: `${id}/${s.Sid}`, s }))));
    expect(granted.length).toBeGreaterThan(15);
    const deletes = granted.filter(({ s }) => list(s.Action).some((a: string) => /^[\w-]+:Delete/i.test(a)) && list(s.Resource).includes('*'));
    expect(deletes.map((d) => d.where)).toEqual([]);
    expect(granted.filter(({ s }) => list(s.Action).some((a: string) => a.includes('*'))).map((d) => d.where)).toEqual([]);
    expect(granted.every(({ s }) => s.Effect === 'Allow' && !s.NotAction && !s.NotResource)).toBe(true);
    // Resource "*" only where the action has no resource type: the Organization lists, and metrics under a namespace condition.
    const star = [...new Set(granted.filter(({ s }) => list(s.Resource).includes('*')).map((d) => d.where))];
    expect(star.sort()).toEqual(['TaskRole/ListTheOrganization', 'TaskRole/PublishRunMetrics']);
    for (const [id, r] of roles) {
      const [st] = r.Properties.AssumeRolePolicyDocument.Statement;
      expect(r.Properties.AssumeRolePolicyDocument.Statement, id).toHaveLength(1);
      expect(st.Condition, id).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
    }
  });

  it('puts no secret in the template: no NoEcho value, no password, token or secret key anywhere', () => {
    expect(text).not.toMatch(/password|secret_?access|session_?token|NoEcho/i);
  });
});

describe('Dockerfile (the image the fleet stack runs)', () => {
  const docker = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[]; bin: Record<string, string>; engines: { node: string } };
  const stages = docker.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('builds with tsc in a builder stage and ships, on node:20-slim, production dependencies and what package.json "files" names', () => {
    expect(stages.map((s) => s.split('\n')[0])).toEqual(['node:20-slim AS build', 'node:20-slim']);
    expect(stages[0]).toMatch(/RUN npm ci\b/);
    expect(stages[0]).toMatch(/RUN npx tsc -p tsconfig\.json/);
    expect(runtime).toMatch(/RUN npm ci --omit=dev\b/);
    for (const f of pkg.files) expect(runtime, f).toMatch(f === 'dist' ? /COPY --from=build \/app\/dist \.\/dist/ : new RegExp(`^COPY ${f} \\./${f}$`, 'm'));
    const needed = [...pkg.files.filter((f) => f !== 'dist'), 'src', 'package.json', 'package-lock.json', 'tsconfig.json'];
    expect(ignore.filter((l) => needed.includes(l.replace(/^\/|\/$/g, '')))).toEqual([]);
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', '.git', 'dist']));
  });

  it('runs the CLI as a non-root user, as its entry point', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime.indexOf('USER node')).toBeGreaterThan(runtime.lastIndexOf('RUN '));
    expect(runtime).toContain(`ENTRYPOINT ["node", "/app/${pkg.bin.snapdrill}"]`);
    expect(docker).not.toMatch(/^(ENV|ARG) .*(SECRET|TOKEN|PASSWORD|AWS_ACCESS_KEY)/im);
  });
});
