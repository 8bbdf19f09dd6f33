/**
 * The fleet workflow (issue #12): a Step Functions Standard state machine that runs snapdrill across accounts,
 * regions and shards, and the CloudFormation stack around it. Pure generators: no AWS calls, no YAML here (the
 * CLI renders), so the tests can validate and execute exactly what `snapdrill deploy --print` prints.
 *
 *   Init -> CollectGarbage -> Enumerate -> VerifyItems (Distributed Map, one ECS Fargate task per item) -> Merge
 *        -> MergeVerdict: exit 0 Succeed, 1 policy failure, 2 config error, 3 harness error (Fail states);
 *   any other failure of GC, Enumerate, the Map or Merge -> NotifyFailure (SNS, when a topic is set) -> RunFailed.
 *
 * Every container runs the snapdrill CLI (the image's ENTRYPOINT) with a command built from the state: the run id
 * is the execution name, the config and the output locations are fixed by the stack. The state machine ignores its
 * execution input (Init builds the state from the stack's values only), so nothing secret can travel through it.
 */

/** CONTAINER_NAME is the name of the snapdrill container in the task definition (what the RunTask overrides name). */
export const CONTAINER_NAME = 'snapdrill';

/**
 * TRANSIENT_ECS_ERRORS are the errors of the optimized ECS integration a task is retried on: ECS API errors named
 * ECS.<Exception> (capacity unavailable comes as ECS.AmazonECSException), throttling, and AmazonECS.Unknown, which
 * runTask.sync raises when RunTask answers with a non-empty Failures list (RESOURCE:*, AGENT, capacity). A task
 * that stopped (States.TaskFailed: a container exited non-zero, or the task failed to start) is never retried here:
 * its exit code is a verdict; only TaskFailedToStart is restarted, by the item's own loop.
 */
export const TRANSIENT_ECS_ERRORS = ['ECS.AmazonECSException', 'ECS.ServerException', 'ECS.ThrottlingException', 'ECS.LimitExceededException', 'AmazonECS.Unknown'];

/** ITEM_TIMEOUT_SECONDS bounds one item's container (6 h): a hung item is stopped and recorded as failed. */
export const ITEM_TIMEOUT_SECONDS = 6 * 3600;

/** ITEM_STARTS is how many times an item's task is started when ECS reports TaskFailedToStart. */
export const ITEM_STARTS = 3;

/** WorkflowParams are the values the state machine definition is generated with (in the stack: ${...} substitutions). */
export interface WorkflowParams {
  /** The S3 bucket of the config and the runs (runs land at s3://BUCKET/runs/RUNID/). */
  bucket: string;
  /** The key of the fleet config in the bucket. */
  configKey: string;
  /** The ECS cluster (name or ARN) the tasks run on. */
  cluster: string;
  /** The task definition (ARN) of the snapdrill container. */
  taskDefinition: string;
  /** Subnets of the Fargate tasks. */
  subnets: string[];
  /** Security groups of the Fargate tasks. */
  securityGroups: string[];
  /** Whether the tasks get a public IP (ENABLED for public subnets without a NAT gateway). */
  assignPublicIp: 'ENABLED' | 'DISABLED';
  /** How many items run at once (Map MaxConcurrency). */
  maxConcurrency: number;
  /** Percentage of failed items the run tolerates (Map ToleratedFailurePercentage, and merge --tolerate). */
  toleratedFailurePercent: number;
  /** SNS topic ARN told when the run fails outside the merge's own alerts; empty: no notification. */
  alertTopicArn: string;
}

type State = Record<string, unknown>;
type States = Record<string, State>;

/** retry is the Retry of every ECS task: transient errors only, exponential backoff with full jitter. */
function retry(): State[] {
  return [{ ErrorEquals: TRANSIENT_ECS_ERRORS, IntervalSeconds: 30, BackoffRate: 2, MaxAttempts: 2, JitterStrategy: 'FULL' }];
}

/**
 * runTask is the parameters of an ecs:runTask.sync state whose container runs `command` (an intrinsic building
 * the argument array from the state, e.g. States.Array('gc', '-c', $.config)).
 */
function runTask(p: WorkflowParams, command: string): State {
  return {
    LaunchType: 'FARGATE',
    Cluster: p.cluster,
    TaskDefinition: p.taskDefinition,
    NetworkConfiguration: { AwsvpcConfiguration: { Subnets: p.subnets, SecurityGroups: p.securityGroups, AssignPublicIp: p.assignPublicIp } },
    Overrides: { ContainerOverrides: [{ Name: CONTAINER_NAME, 'Command.$': command }] },
  };
}

/** ecsTask is a Task state running the snapdrill container with `command`; its failures go to `failed` (a FailedAt... state). */
function ecsTask(p: WorkflowParams, command: string, next: string, extra: State = {}): State {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::ecs:runTask.sync',
    Parameters: runTask(p, command),
    TimeoutSeconds: ITEM_TIMEOUT_SECONDS,
    ResultPath: null,
    Retry: retry(),
    Next: next,
    ...extra,
  };
}

/** failedAt is the Pass state a Catch of `state` goes to: it records where the run failed, then notifies. */
function failedAt(state: string): [string, State] {
  return [`FailedAt${state}`, { Type: 'Pass', Result: state, ResultPath: '$.failedAt', Next: 'NotifyFailure' }];
}

/** catchAll sends every error of a state to its FailedAt state, the error kept at $.failure. */
function catchAll(state: string): State[] {
  return [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: `FailedAt${state}` }];
}

/**
 * itemProcessor is the child workflow of one item: run its container; a container that ran and exited 0 or 1 has
 * verified the item (pass or policy failure, its report is in S3); a task that failed to start is started again
 * (up to ITEM_STARTS times); anything else becomes the result {item, failed: true, error, cause}, so one failed
 * item never fails the Map. `snapdrill merge --tolerate` enforces the tolerated percentage from the reports.
 */
function itemProcessor(p: WorkflowParams): State {
  const command = "States.Array('run', '-c', $.config, '--run-id', $.runId, '--item', $.item, '--out', $.out)";
  const exitCode = '$.stopped.task.Containers[0].ExitCode';
  const states: States = {
    RunItem: ecsTask(p, command, 'ItemVerified', {
      Catch: [
        { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.failure', Next: 'ItemStopped' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ItemFailed' },
      ],
    }),
    // runTask.sync fails a task whose container exited non-zero with States.TaskFailed, the task description as Cause.
    ItemStopped: { Type: 'Choice', Choices: [{ Variable: '$.failure.Cause', StringMatches: '{*', Next: 'ParseStoppedTask' }], Default: 'ItemFailed' },
    ParseStoppedTask: { Type: 'Pass', Parameters: { 'task.$': 'States.StringToJson($.failure.Cause)' }, ResultPath: '$.stopped', Next: 'ItemExitCode' },
    // One comparison per rule, presence first: a comparison on a missing path is a runtime error in Step Functions.
    // (Not IsPresent rather than IsPresent: false, which aws-local-stepfunctions 3 never matches.)
    ItemExitCode: {
      Type: 'Choice',
      Choices: [
        { Not: { Variable: exitCode, IsPresent: true }, Next: 'ItemNotStarted' },
        { Variable: exitCode, NumericLessThanEquals: 1, Next: 'ItemVerified' },
      ],
      Default: 'ItemFailed',
    },
    ItemNotStarted: {
      Type: 'Choice',
      Choices: [
        { Not: { Variable: '$.stopped.task.StopCode', IsPresent: true }, Next: 'ItemFailed' },
        { And: [{ Variable: '$.stopped.task.StopCode', StringEquals: 'TaskFailedToStart' }, { Variable: '$.starts', NumericLessThan: ITEM_STARTS }], Next: 'WaitToRestart' },
      ],
      Default: 'ItemFailed',
    },
    WaitToRestart: { Type: 'Wait', Seconds: 60, Next: 'CountStart' },
    CountStart: {
      Type: 'Pass',
      Parameters: { 'item.$': '$.item', 'runId.$': '$.runId', 'config.$': '$.config', 'out.$': '$.out', 'starts.$': 'States.MathAdd($.starts, 1)' },
      Next: 'RunItem',
    },
    ItemVerified: { Type: 'Pass', Parameters: { 'item.$': '$.item', failed: false }, End: true },
    ItemFailed: { Type: 'Pass', Parameters: { 'item.$': '$.item', failed: true, 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' }, End: true },
  };
  return { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'RunItem', States: states };
}

/** verifyItems is the Distributed Map over the items Enumerate wrote to s3://BUCKET/runs/RUNID/items.json. */
function verifyItems(p: WorkflowParams): State {
  return {
    Type: 'Map',
    Label: 'Items',
    ItemReader: {
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { Bucket: p.bucket, 'Key.$': "States.Format('runs/{}/items.json', $.runId)" },
    },
    // Evaluated in this (the parent) execution: a child's $$.Execution.Name is its own.
    ItemSelector: { 'item.$': '$$.Map.Item.Value.item', 'runId.$': '$.runId', 'config.$': '$.config', 'out.$': '$.out', starts: 1 },
    ItemProcessor: itemProcessor(p),
    MaxConcurrency: p.maxConcurrency,
    ToleratedFailurePercentage: p.toleratedFailurePercent,
    // The results ({item, failed, ...} each) go to S3, beside the run, not into the state (256 KiB limit).
    ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: p.bucket, 'Prefix.$': "States.Format('runs/{}/map', $.runId)" } },
    ResultPath: null,
    Catch: catchAll('VerifyItems'),
    Next: 'Merge',
  };
}

/** mergeStates are Merge and the verdict on its container's exit code (0 pass, 1 policy failure, 2 config, 3 harness). */
function mergeStates(p: WorkflowParams): States {
  const command =
    "States.Array('merge', $.runDir, '-c', $.config, '--items', $.items, '--tolerate', " + `'${p.toleratedFailurePercent}')`;
  const exitCode = '$.merge.task.Containers[0].ExitCode';
  const verdict = (code: number, next: string) => ({ Variable: exitCode, NumericEquals: code, Next: next });
  // Fail states take ErrorPath/CausePath from the state (aws-local-stepfunctions evaluates no intrinsic there).
  const fail = (error: string, what: string) => ({
    Type: 'Pass',
    Parameters: { Error: error, 'Cause.$': `States.Format('snapdrill run {} ${what}; report: {}/index.html', $.runId, $.runDir)` },
    ResultPath: '$.verdict',
    Next: 'RunDidNotPass',
  });
  return {
    Merge: ecsTask(p, command, 'MergeVerdict', {
      ResultSelector: { 'task.$': '$' },
      ResultPath: '$.merge',
      Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.merge', Next: 'MergeStopped' }, ...catchAll('Merge')],
    }),
    // runTask.sync fails a task whose container exited non-zero with States.TaskFailed, the task description as Cause.
    MergeStopped: { Type: 'Choice', Choices: [{ Variable: '$.merge.Cause', StringMatches: '{*', Next: 'ParseMergeTask' }], Default: 'MergeDidNotRun' },
    MergeDidNotRun: { Type: 'Pass', Parameters: { 'Error.$': '$.merge.Error', 'Cause.$': '$.merge.Cause' }, ResultPath: '$.failure', Next: 'FailedAtMerge' },
    ParseMergeTask: { Type: 'Pass', Parameters: { 'task.$': 'States.StringToJson($.merge.Cause)' }, ResultPath: '$.merge', Next: 'MergeVerdict' },
    MergeVerdict: {
      Type: 'Choice',
      // Presence first: a comparison on a missing path is a runtime error in Step Functions.
      Choices: [
        { Not: { Variable: exitCode, IsPresent: true }, Next: 'MergeNoVerdict' },
        verdict(0, 'RunPassed'),
        verdict(1, 'PolicyFailed'),
        verdict(2, 'ConfigError'),
        verdict(3, 'HarnessFailed'),
      ],
      Default: 'MergeNoVerdict',
    },
    MergeNoVerdict: {
      Type: 'Pass',
      Result: { Error: 'Snapdrill.NoVerdict', Cause: 'the merge container stopped without an exit code of 0 to 3' },
      ResultPath: '$.failure',
      Next: 'FailedAtMerge',
    },
    RunPassed: { Type: 'Succeed' },
    PolicyFailed: fail('Snapdrill.PolicyFailure', 'verified: at least one snapshot did not meet the policy'),
    ConfigError: fail('Snapdrill.ConfigError', 'stopped: configuration error (exit 2)'),
    HarnessFailed: fail('Snapdrill.HarnessError', 'could not complete, or more items failed than tolerated (exit 3)'),
    RunDidNotPass: { Type: 'Fail', ErrorPath: '$.verdict.Error', CausePath: '$.verdict.Cause' },
  };
}

/** notifyStates tell the alert topic (when one is set) where the run failed, then fail the execution. */
function notifyStates(): States {
  return {
    NotifyFailure: {
      Type: 'Pass',
      Parameters: { 'message.$': "States.Format('snapdrill run {} failed at {}: {}: {}', $.runId, $.failedAt, $.failure.Error, $.failure.Cause)" },
      ResultPath: '$.notice',
      Next: 'HasAlertTopic',
    },
    HasAlertTopic: { Type: 'Choice', Choices: [{ Variable: '$.alertTopic', StringEquals: '', Next: 'RunFailed' }], Default: 'PublishFailure' },
    PublishFailure: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sns:publish',
      Parameters: {
        'TopicArn.$': '$.alertTopic',
        'Subject.$': "States.Format('snapdrill run {} failed at {}', $.runId, $.failedAt)",
        'Message.$': '$.notice.message',
      },
      ResultPath: null,
      Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 3, JitterStrategy: 'FULL' }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notifyFailure', Next: 'RunFailed' }],
      Next: 'RunFailed',
    },
    RunFailed: { Type: 'Fail', Error: 'Snapdrill.RunFailed', CausePath: '$.notice.message' },
  };
}

/**
 * workflowDefinition is the Amazon States Language definition of the fleet run (see the file comment), with the
 * values of `p` written in; the stack generates it with ${...} placeholders for DefinitionSubstitutions.
 */
export function workflowDefinition(p: WorkflowParams): Record<string, unknown> {
  const config = `s3://${p.bucket}/${p.configKey}`;
  const states: States = {
    // The state is built from the stack's values and the execution name only: the execution input is ignored.
    Init: {
      Type: 'Pass',
      Parameters: {
        'runId.$': '$$.Execution.Name',
        config,
        out: `s3://${p.bucket}/runs/`,
        'runDir.$': `States.Format('s3://${p.bucket}/runs/{}', $$.Execution.Name)`,
        'items.$': `States.Format('s3://${p.bucket}/runs/{}/items.json', $$.Execution.Name)`,
        alertTopic: p.alertTopicArn,
      },
      Next: 'CollectGarbage',
    },
    // Leftovers of items killed in earlier runs, in every account and region of the config.
    CollectGarbage: ecsTask(p, "States.Array('gc', '-c', $.config, '--yes')", 'Enumerate', { Catch: catchAll('CollectGarbage') }),
    Enumerate: ecsTask(p, "States.Array('plan', '-c', $.config, '--run-id', $.runId, '--items', $.items)", 'VerifyItems', { Catch: catchAll('Enumerate') }),
    VerifyItems: verifyItems(p),
    ...mergeStates(p),
    ...notifyStates(),
    ...Object.fromEntries(['CollectGarbage', 'Enumerate', 'VerifyItems', 'Merge'].map(failedAt)),
  };
  return {
    Comment: 'snapdrill fleet run: gc, enumerate the items (account x region x shard), verify each on ECS Fargate, merge, notify',
    QueryLanguage: 'JSONPath',
    StartAt: 'Init',
    States: states,
  };
}

/** StackOptions are the values `snapdrill deploy --print` writes as the defaults of the stack's Parameters (none: no default). */
export interface StackOptions {
  /** The snapdrill image (ECR URI with tag or digest). */
  imageUri?: string;
  /** The bucket of the config, the runs and the history. */
  bucket?: string;
  /** The key of the fleet config in the bucket (default config.yaml). */
  configKey?: string;
  /** The EventBridge Scheduler expression of the nightly run (default cron(0 2 * * ? *)). */
  schedule?: string;
  /** IANA time zone of the schedule (default UTC). */
  scheduleTimezone?: string;
  /** Subnets of the Fargate tasks. */
  subnets?: string[];
  /** Security groups of the Fargate tasks. */
  securityGroups?: string[];
  /** Give the tasks a public IP (default false: private subnets with a NAT gateway or VPC endpoints). */
  assignPublicIp?: boolean;
  /** The name of the role snapdrill assumes in each member account (iam/member-account.yaml's SnapdrillRoleName, default snapdrill). */
  memberRoleName?: string;
  /** Items at once (default 20). */
  maxConcurrency?: number;
  /** Tolerated percentage of failed items (default 0). */
  toleratedFailurePercent?: number;
  /** SNS topic told of failed runs (and that merge alerts on). */
  alertTopicArn?: string;
}

/** Json is a node of the CloudFormation template. */
type Json = unknown;

const sub = (s: string): Json => ({ 'Fn::Sub': s });
const ref = (name: string): Json => ({ Ref: name });
const getAtt = (id: string, attr: string): Json => ({ 'Fn::GetAtt': [id, attr] });
const ifHas = (condition: string, statement: Json): Json => ({ 'Fn::If': [condition, statement, ref('AWS::NoValue')] });
const has = (param: string): Json => ({ 'Fn::Not': [{ 'Fn::Equals': [ref(param), ''] }] });
const withDefault = <T>(p: Record<string, Json>, value: T | undefined, show: (v: T) => Json = (v) => v): Record<string, Json> =>
  value === undefined ? p : { ...p, Default: show(value) };

/** stackParameters are the stack's Parameters, with the options given as defaults. */
function stackParameters(o: StackOptions): Record<string, Json> {
  const list = (v: string[]) => v.join(',');
  return {
    ImageUri: withDefault({ Type: 'String', MinLength: 1, Description: 'The snapdrill container image (ECR URI with tag or digest), built from the Dockerfile' }, o.imageUri),
    BucketName: withDefault({ Type: 'String', AllowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', Description: 'Bucket of the config (ConfigKey), the runs (runs/RUNID/) and the history (HistoryPrefix/)' }, o.bucket),
    ConfigKey: withDefault({ Type: 'String', AllowedPattern: '^[A-Za-z0-9][A-Za-z0-9/._-]*$', Description: 'Key of the fleet config in the bucket (no secrets in it: keys and files by ARN)' }, o.configKey ?? 'config.yaml'),
    HistoryPrefix: { Type: 'String', Default: 'history', AllowedPattern: '^[A-Za-z0-9][A-Za-z0-9/._-]*[A-Za-z0-9]$', Description: 'output.history of the config is s3://BUCKET/HistoryPrefix' },
    ScheduleExpression: withDefault({ Type: 'String', Description: 'EventBridge Scheduler expression of the run' }, o.schedule ?? 'cron(0 2 * * ? *)'),
    ScheduleTimezone: withDefault({ Type: 'String', Description: 'Time zone of the schedule' }, o.scheduleTimezone ?? 'UTC'),
    Subnets: withDefault({ Type: 'List<AWS::EC2::Subnet::Id>', Description: 'Subnets of the Fargate tasks (reaching ECR, S3, STS and the member accounts APIs)' }, o.subnets, list),
    SecurityGroups: withDefault({ Type: 'List<AWS::EC2::SecurityGroup::Id>', Description: 'Security groups of the Fargate tasks (outbound HTTPS only is enough)' }, o.securityGroups, list),
    AssignPublicIp: { Type: 'String', Default: o.assignPublicIp ? 'ENABLED' : 'DISABLED', AllowedValues: ['ENABLED', 'DISABLED'], Description: 'ENABLED only in public subnets without a NAT gateway' },
    MemberRoleName: withDefault({ Type: 'String', AllowedPattern: '^[\\w+=,.@-]{1,64}$', Description: 'Role snapdrill assumes in every member account (iam/member-account.yaml SnapdrillRoleName)' }, o.memberRoleName ?? 'snapdrill'),
    MaxConcurrency: withDefault({ Type: 'Number', MinValue: 1, MaxValue: 10000, Description: 'Items (Fargate tasks) at once' }, o.maxConcurrency ?? 20),
    ToleratedFailurePercent: withDefault({ Type: 'Number', MinValue: 0, MaxValue: 100, Description: 'Percentage of items that may fail (no report) before the run is a harness error (merge --tolerate)' }, o.toleratedFailurePercent ?? 0),
    AlertTopicArn: withDefault({ Type: 'String', AllowedPattern: '^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[\\w-]+$', Description: 'SNS topic told when a run fails before its merge (and the alerts.sns of the config). Empty - none' }, o.alertTopicArn ?? ''),
    MetricsNamespace: { Type: 'String', Default: '', Description: 'CloudWatch namespace of the config alerts.cloudwatch. Empty - no metrics' },
    TaskCpu: { Type: 'String', Default: '1024', AllowedValues: ['512', '1024', '2048', '4096'], Description: 'Fargate CPU units of a task' },
    TaskMemory: { Type: 'String', Default: '2048', Description: 'Fargate memory (MiB) of a task, valid for TaskCpu' },
    LogRetentionDays: { Type: 'Number', Default: 90, Description: 'Days the containers logs are kept' },
  };
}

/** RAW marks a placeholder whose substitution is JSON (a number, a list), written into the definition unquoted. */
const raw = (name: string) => `@@RAW:${name}@@`;

/** definitionString is the workflow with ${...} placeholders, and their DefinitionSubstitutions. */
function definitionString(): { text: string; substitutions: Record<string, Json> } {
  const jsonList = (param: string): Json => ({ 'Fn::Join': ['', ['"', { 'Fn::Join': ['","', ref(param)] }, '"']] });
  const def = workflowDefinition({
    bucket: '${Bucket}',
    configKey: '${ConfigKey}',
    cluster: '${ClusterArn}',
    taskDefinition: '${TaskDefinitionArn}',
    subnets: [raw('Subnets')],
    securityGroups: [raw('SecurityGroups')],
    assignPublicIp: '${AssignPublicIp}' as WorkflowParams['assignPublicIp'],
    maxConcurrency: raw('MaxConcurrency') as unknown as number,
    toleratedFailurePercent: raw('ToleratedFailurePercent') as unknown as number,
    alertTopicArn: '${AlertTopicArn}',
  });
  const text = JSON.stringify(def, null, 2)
    .replace(/"@@RAW:(\w+)@@"/g, (_, n: string) => `\${${n}}`)
    .replace(/@@RAW:(\w+)@@/g, (_, n: string) => `\${${n}}`);
  return {
    text,
    substitutions: {
      Bucket: ref('BucketName'),
      ConfigKey: ref('ConfigKey'),
      ClusterArn: getAtt('Cluster', 'Arn'),
      TaskDefinitionArn: ref('TaskDefinition'),
      Subnets: jsonList('Subnets'),
      SecurityGroups: jsonList('SecurityGroups'),
      AssignPublicIp: ref('AssignPublicIp'),
      MaxConcurrency: ref('MaxConcurrency'),
      ToleratedFailurePercent: ref('ToleratedFailurePercent'),
      AlertTopicArn: ref('AlertTopicArn'),
    },
  };
}

/** trust is an AssumeRolePolicyDocument for one AWS service, limited to this account. */
function trust(service: string): Json {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } } }],
  };
}

/** policy is an inline policy of a role. */
const policy = (name: string, statements: Json[]): Json => ({ PolicyName: name, PolicyDocument: { Version: '2012-10-17', Statement: statements } });

/** taskRoleStatements are what the snapdrill container may do: read its config, write the runs and the history, list the Organization, assume the member role. */
function taskRoleStatements(): Json[] {
  const s3 = (path: string) => sub(`arn:\${AWS::Partition}:s3:::\${BucketName}/${path}`);
  return [
    { Sid: 'ReadTheFleetConfig', Effect: 'Allow', Action: ['s3:GetObject'], Resource: s3('${ConfigKey}') },
    { Sid: 'WriteAndReadRuns', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: s3('runs/*') },
    { Sid: 'WriteAndReadHistory', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: s3('${HistoryPrefix}/*') },
    {
      Sid: 'ListRunsAndHistory',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: sub('arn:${AWS::Partition}:s3:::${BucketName}'),
      Condition: { StringLike: { 's3:prefix': ['runs/*', sub('${HistoryPrefix}/*')] } },
    },
    { Sid: 'AssumeTheMemberRole', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: sub('arn:${AWS::Partition}:iam::*:role/${MemberRoleName}') },
    {
      Sid: 'ListTheOrganization',
      Effect: 'Allow',
      Action: ['organizations:ListAccounts', 'organizations:ListAccountsForParent', 'organizations:ListChildren', 'organizations:ListOrganizationalUnitsForParent'],
      Resource: '*',
    },
    ifHas('HasAlertTopic', { Sid: 'AlertOnTheTopic', Effect: 'Allow', Action: ['sns:Publish'], Resource: ref('AlertTopicArn') }),
    ifHas('HasMetricsNamespace', {
      Sid: 'PublishRunMetrics',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricData'],
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': ref('MetricsNamespace') } },
    }),
  ];
}

/** stateMachineRoleStatements are what the state machine may do: run (only) the snapdrill task, watch it, run its own item executions, read the items, write the Map results, alert. */
function stateMachineRoleStatements(): Json[] {
  const runs = sub('arn:${AWS::Partition}:s3:::${BucketName}/runs/*');
  return [
    { Sid: 'RunTheSnapdrillTask', Effect: 'Allow', Action: ['ecs:RunTask'], Resource: ref('TaskDefinition'), Condition: { ArnEquals: { 'ecs:cluster': getAtt('Cluster', 'Arn') } } },
    { Sid: 'WatchAndStopItsTasks', Effect: 'Allow', Action: ['ecs:DescribeTasks', 'ecs:StopTask'], Resource: sub('arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*') },
    {
      Sid: 'PassTheTaskRoles',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [getAtt('TaskRole', 'Arn'), getAtt('TaskExecutionRole', 'Arn')],
      Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    },
    {
      Sid: 'ReceiveEcsTaskEventsForSync',
      Effect: 'Allow',
      Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      Resource: sub('arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForECSTaskRule'),
    },
    { Sid: 'StartTheItemExecutions', Effect: 'Allow', Action: ['states:StartExecution'], Resource: sub('arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}') },
    {
      Sid: 'WatchTheItemExecutions',
      Effect: 'Allow',
      Action: ['states:DescribeExecution', 'states:StopExecution'],
      Resource: sub('arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}/*'),
    },
    { Sid: 'ReadItemsWriteMapResults', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: runs },
    ifHas('HasAlertTopic', { Sid: 'NotifyFailedRuns', Effect: 'Allow', Action: ['sns:Publish'], Resource: ref('AlertTopicArn') }),
  ];
}

/** taskResources are the cluster, the log group, the task's two roles and its definition. */
function taskResources(): Record<string, Json> {
  return {
    Cluster: { Type: 'AWS::ECS::Cluster', Properties: { ClusterName: ref('AWS::StackName') } },
    LogGroup: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: sub('/snapdrill/${AWS::StackName}'), RetentionInDays: ref('LogRetentionDays') } },
    TaskExecutionRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Description: 'ECS pulls the snapdrill image and writes its logs',
        AssumeRolePolicyDocument: trust('ecs-tasks.amazonaws.com'),
        ManagedPolicyArns: [sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy')],
      },
    },
    TaskRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Description: 'The snapdrill container: its config, runs and history in the bucket, the Organization (read-only), the member role',
        AssumeRolePolicyDocument: trust('ecs-tasks.amazonaws.com'),
        MaxSessionDuration: 43200,
        Policies: [policy('snapdrill-fleet-task', taskRoleStatements())],
      },
    },
    TaskDefinition: {
      Type: 'AWS::ECS::TaskDefinition',
      Properties: {
        Family: ref('AWS::StackName'),
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
        Cpu: ref('TaskCpu'),
        Memory: ref('TaskMemory'),
        RuntimePlatform: { OperatingSystemFamily: 'LINUX', CpuArchitecture: 'X86_64' },
        ExecutionRoleArn: getAtt('TaskExecutionRole', 'Arn'),
        TaskRoleArn: getAtt('TaskRole', 'Arn'),
        ContainerDefinitions: [
          {
            Name: CONTAINER_NAME,
            Image: ref('ImageUri'),
            Essential: true,
            // A stopped task gets SIGTERM, then this long to remove what it created (the most Fargate allows).
            StopTimeout: 120,
            Environment: [{ Name: 'CI', Value: '1' }],
            LogConfiguration: {
              LogDriver: 'awslogs',
              Options: { 'awslogs-group': ref('LogGroup'), 'awslogs-region': ref('AWS::Region'), 'awslogs-stream-prefix': 'snapdrill' },
            },
          },
        ],
      },
    },
  };
}

/** workflowResources are the state machine, its role, the schedule and the scheduler's role. */
function workflowResources(): Record<string, Json> {
  const { text, substitutions } = definitionString();
  const machineArn = sub('arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}');
  return {
    StateMachineRole: {
      Type: 'AWS::IAM::Role',
      Properties: { Description: 'The snapdrill fleet state machine', AssumeRolePolicyDocument: trust('states.amazonaws.com'), Policies: [policy('snapdrill-fleet-workflow', stateMachineRoleStatements())] },
    },
    StateMachine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: ref('AWS::StackName'),
        StateMachineType: 'STANDARD',
        RoleArn: getAtt('StateMachineRole', 'Arn'),
        DefinitionString: text,
        DefinitionSubstitutions: substitutions,
      },
    },
    SchedulerRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Description: 'EventBridge Scheduler starts the snapdrill fleet run',
        AssumeRolePolicyDocument: trust('scheduler.amazonaws.com'),
        Policies: [policy('snapdrill-fleet-schedule', [{ Sid: 'StartTheRun', Effect: 'Allow', Action: ['states:StartExecution'], Resource: machineArn }])],
      },
    },
    Schedule: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        Description: 'The nightly snapdrill fleet run',
        ScheduleExpression: ref('ScheduleExpression'),
        ScheduleExpressionTimezone: ref('ScheduleTimezone'),
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: ref('StateMachine'),
          RoleArn: getAtt('SchedulerRole', 'Arn'),
          // Nothing secret, and nothing the run reads: the state machine builds its state from the stack's values.
          Input: JSON.stringify({ trigger: 'schedule' }),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        },
      },
    },
  };
}

/**
 * fleetStack is the CloudFormation template of the fleet run (as an object; `snapdrill deploy --print` renders it):
 * EventBridge Scheduler -> Step Functions (workflowDefinition, through DefinitionSubstitutions) -> ECS Fargate tasks
 * of the snapdrill image, with least-privilege roles. `o` sets the defaults of the Parameters.
 */
export function fleetStack(o: StackOptions = {}): Record<string, Json> {
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'snapdrill fleet run (issue #12): EventBridge Scheduler -> Step Functions Standard (gc, enumerate, Distributed Map of ECS Fargate tasks, one per account x region x shard, merge, notify). Reports land at s3://BUCKET/runs/RUNID/.',
    Parameters: stackParameters(o),
    Conditions: { HasAlertTopic: has('AlertTopicArn'), HasMetricsNamespace: has('MetricsNamespace') },
    Resources: { ...taskResources(), ...workflowResources() },
    Outputs: {
      StateMachineArn: { Description: 'aws stepfunctions start-execution --state-machine-arn ... (a run by hand)', Value: ref('StateMachine') },
      TaskRoleArn: { Description: 'SnapdrillPrincipalArn of iam/member-account.yaml in every member account', Value: getAtt('TaskRole', 'Arn') },
      ClusterName: { Description: 'The ECS cluster of the tasks', Value: ref('Cluster') },
      Runs: { Description: 'Where the reports land: RUNID/index.html below it', Value: sub('s3://${BucketName}/runs/') },
    },
  };
}
