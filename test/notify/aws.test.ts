import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CloudWatchClient, GetMetricStatisticsCommand, ListMetricsCommand, type Dimension } from '@aws-sdk/client-cloudwatch';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertsFor } from '../../src/notify/alerts.js';
import { notifyAfterRun, putCloudWatchMetrics, sendEventBridge, sendSns } from '../../src/notify/index.js';
import type { RunReport } from '../../src/report/types.js';
import { compiledSchema } from '../../src/util/schema.js';
import { tempDir } from '../helpers.js';
import { fakeCredentials, startMoto, TEST_REGION, type MotoServer } from '../aws/moto.js';
import { sampleReport } from '../report/sample.js';

let moto: MotoServer;
let sns: SNSClient;
let sqs: SQSClient;
let events: EventBridgeClient;
let cloudwatch: CloudWatchClient;

/** recent is a sample run that finished a minute ago (CloudWatch takes data up to two weeks old). */
function recent(scenario: Parameters<typeof sampleReport>[0]): RunReport {
  const finished = Date.now() - 60_000;
  return { ...sampleReport(scenario), startedAt: new Date(finished - 5_000).toISOString(), finishedAt: new Date(finished).toISOString() };
}

/** queue creates an SQS queue whose policy lets SNS and EventBridge deliver to it; returns its URL and ARN. */
async function queue(name: string): Promise<{ url: string; arn: string }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: attrs.Attributes!.QueueArn! };
}

/** receiveAll drains up to `want` messages from a queue (moto delivers synchronously; the loop bounds the wait). */
async function receiveAll(url: string, want: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < 5 && bodies.length < want; i++) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    bodies.push(...(res.Messages ?? []).map((m) => m.Body!));
  }
  return bodies;
}

/** snsTopicToQueue creates a topic subscribed by a new queue. */
async function snsTopicToQueue(name: string): Promise<{ topicArn: string; queueUrl: string }> {
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn!;
  const q = await queue(`${name}-q`);
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: q.arn }));
  return { topicArn, queueUrl: q.url };
}

/** busToQueue creates an event bus with a rule (source snapdrill, the given detail-types) targeting a new queue. */
async function busToQueue(name: string, detailTypes: string[]): Promise<string> {
  await events.send(new CreateEventBusCommand({ Name: name }));
  const q = await queue(`${name}-q`);
  await events.send(new PutRuleCommand({ Name: `${name}-rule`, EventBusName: name, EventPattern: JSON.stringify({ source: ['snapdrill'], 'detail-type': detailTypes }) }));
  await events.send(new PutTargetsCommand({ Rule: `${name}-rule`, EventBusName: name, Targets: [{ Id: 'q', Arn: q.arn }] }));
  return q.url;
}

/** statistic reads one statistic of a metric around the report's finish. */
async function statistic(report: RunReport, name: string, dims: Dimension[], stat: 'Maximum' | 'Sum' | 'SampleCount'): Promise<number | undefined> {
  const at = Date.parse(report.finishedAt);
  const res = await cloudwatch.send(
    new GetMetricStatisticsCommand({ Namespace: 'SnapdrillTest', MetricName: name, Dimensions: dims, StartTime: new Date(at - 600_000), EndTime: new Date(at + 600_000), Period: 60, Statistics: [stat] }),
  );
  return res.Datapoints?.[0]?.[stat];
}

describe('notifications to AWS, against moto', () => {
  beforeAll(async () => {
    moto = await startMoto();
    const cfg = { region: TEST_REGION, endpoint: moto.endpoint, credentials: fakeCredentials };
    sns = new SNSClient(cfg);
    sqs = new SQSClient(cfg);
    events = new EventBridgeClient(cfg);
    cloudwatch = new CloudWatchClient(cfg);
  }, 60_000);
  afterAll(async () => moto?.stop());
  beforeEach(async () => moto.reset());

  it('GIVEN a topic with an SQS subscription WHEN sending a mixed run THEN one message per alert arrives, with subject and attributes', async () => {
    const { topicArn, queueUrl } = await snsTopicToQueue('snapdrill-alerts');
    const report = recent('mixed-exit1');
    const out = await sendSns(alertsFor(report), report, sns, topicArn);
    expect(out).toEqual({ channel: 'sns', target: topicArn, ok: true });
    const messages = (await receiveAll(queueUrl, 2)).map((b) => JSON.parse(b) as { Subject: string; Message: string; MessageAttributes: Record<string, { Type: string; Value: string }> });
    expect(messages.map((m) => m.Subject).sort()).toEqual(['snapdrill: 3 of 4 snapshots fail the policy', 'snapdrill: harness error, exit code 1 (1 error)']);
    const policy = messages.find((m) => m.MessageAttributes.kind?.Value === 'policy-failure')!;
    expect(policy.MessageAttributes).toMatchObject({ kind: { Type: 'String', Value: 'policy-failure' }, runId: { Value: report.runId }, exitCode: { Type: 'Number', Value: '1' } });
    expect(policy.Message).toContain('- snap-db-walgap (vol-web, corrupt): corrupt');
  });

  it('GIVEN a topic ARN that does not exist WHEN sending THEN the outcome fails with the AWS error and nothing throws', async () => {
    const report = recent('mixed-exit1');
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:no-such-topic';
    const out = await sendSns(alertsFor(report), report, sns, topicArn);
    expect(out).toMatchObject({ channel: 'sns', target: topicArn, ok: false });
    expect(out.error).toMatch(/^policy-failure: NotFound.*; harness-error: NotFound/);
  });

  it('GIVEN a bus whose rule matches policy failures WHEN sending a mixed run THEN the queue gets that event and its detail validates against the schema', async () => {
    const queueUrl = await busToQueue('snapdrill-bus', ['snapdrill Policy Failure']);
    const report = recent('mixed-exit1');
    const out = await sendEventBridge(alertsFor(report, { reportPath: '/reports/r1/report.json' }), report, events, { busName: 'snapdrill-bus' });
    expect(out).toEqual({ channel: 'eventbridge', target: 'snapdrill-bus', ok: true });
    const received = (await receiveAll(queueUrl, 2)).map((b) => JSON.parse(b) as { source: string; 'detail-type': string; detail: unknown });
    // The harness error was put too, but the rule does not match its detail-type.
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ source: 'snapdrill', 'detail-type': 'snapdrill Policy Failure' });
    const validate = compiledSchema('event.schema.json');
    expect(validate(received[0]!.detail), JSON.stringify(validate.errors)).toBe(true);
    expect(received[0]!.detail).toMatchObject({ runId: report.runId, kind: 'policy-failure', exitCode: 1, reportPath: '/reports/r1/report.json', counts: { items: 3, snapshots: 4 } });
  });

  it('GIVEN a bus that does not exist WHEN sending THEN the outcome fails with the AWS error and nothing throws', async () => {
    const report = recent('mixed-exit1');
    const out = await sendEventBridge(alertsFor(report), report, events, { busName: 'no-such-bus' });
    expect(out).toMatchObject({ channel: 'eventbridge', target: 'no-such-bus', ok: false });
    expect(out.error).toMatch(/ResourceNotFound|does not exist/);
  });

  it('GIVEN a mixed run WHEN putting CloudWatch metrics THEN ListMetrics and GetMetricStatistics show its values', async () => {
    const report = recent('mixed-exit1');
    const env: Dimension = { Name: 'Environment', Value: 'test' };
    const out = await putCloudWatchMetrics(report, cloudwatch, { namespace: 'SnapdrillTest', dimensions: { Environment: 'test' } });
    expect(out).toEqual({ channel: 'cloudwatch', target: 'SnapdrillTest', ok: true });
    const listed = (await cloudwatch.send(new ListMetricsCommand({ Namespace: 'SnapdrillTest' }))).Metrics ?? [];
    expect(new Set(listed.map((m) => m.MetricName))).toEqual(new Set(['Snapshots', 'PolicyFailures', 'HarnessErrors', 'RpoViolations', 'ExitCode', 'RunSucceeded', 'PhaseDuration', 'RestoreToVerified']));
    expect(listed.filter((m) => m.MetricName === 'Snapshots').map((m) => m.Dimensions?.find((d) => d.Name === 'Verdict')?.Value).sort()).toEqual(['application-consistent', 'corrupt', 'crash-consistent', 'unknown']);
    expect(await statistic(report, 'Snapshots', [env, { Name: 'Verdict', Value: 'corrupt' }], 'Maximum')).toBe(2);
    expect(await statistic(report, 'Snapshots', [env, { Name: 'Verdict', Value: 'crash-consistent' }], 'Maximum')).toBe(0);
    expect(await statistic(report, 'PolicyFailures', [env], 'Maximum')).toBe(3);
    expect(await statistic(report, 'ExitCode', [env], 'Maximum')).toBe(1);
    // Restore phases: three of 0.1 s and the empty image's 0 s, sent as Values [0.1, 0] with Counts [3, 1].
    expect(await statistic(report, 'PhaseDuration', [env, { Name: 'Phase', Value: 'restore' }], 'SampleCount')).toBe(4);
    expect(await statistic(report, 'PhaseDuration', [env, { Name: 'Phase', Value: 'restore' }], 'Sum')).toBeCloseTo(0.3);
    expect(await statistic(report, 'RestoreToVerified', [env], 'Sum')).toBe(4);
  });

  it('GIVEN every channel configured WHEN a mixed run ends THEN every outcome is ok and every channel delivered', async () => {
    const { topicArn, queueUrl: snsQueue } = await snsTopicToQueue('snapdrill-all');
    const busQueue = await busToQueue('snapdrill-all-bus', ['snapdrill Policy Failure', 'snapdrill Harness Error', 'snapdrill Recovery']);
    const hooks: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        hooks.push(body);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const report = recent('mixed-exit1');
      const metricsFile = path.join(tempDir('notify'), 'snapdrill.prom');
      const lines: string[] = [];
      const outcomes = await notifyAfterRun(
        report,
        { metricsFile, cloudwatch: { namespace: 'SnapdrillTest' }, sns: { topicArn }, eventBridge: { busName: 'snapdrill-all-bus' }, webhook: { url: `${origin}/hook/secret` } },
        { sns, eventBridge: events, cloudwatch, log: (l) => lines.push(l) },
      );
      expect(outcomes).toEqual([
        { channel: 'prometheus', target: metricsFile, ok: true },
        { channel: 'cloudwatch', target: 'SnapdrillTest', ok: true },
        { channel: 'sns', target: topicArn, ok: true },
        { channel: 'eventbridge', target: 'snapdrill-all-bus', ok: true },
        { channel: 'webhook', target: origin, ok: true },
      ]);
      expect(lines).toHaveLength(5);
      expect(readFileSync(metricsFile, 'utf8')).toContain('snapdrill_policy_failures 3');
      expect(await receiveAll(snsQueue, 2)).toHaveLength(2);
      expect((await receiveAll(busQueue, 2)).map((b) => JSON.parse(b)['detail-type']).sort()).toEqual(['snapdrill Harness Error', 'snapdrill Policy Failure']);
      expect(hooks).toHaveLength(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
