/**
 * Alerts and metrics after a run (issue #11). Metrics are exported after every run; alerts are sent only when
 * the run has something to say (alerts.ts). Every channel runs on its own, in parallel, under a timeout: a
 * failed notification is logged and returned as an outcome, it never throws and never changes the exit code.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { NotificationOutcome, RunReport } from '../report/types.js';
import { terminalSafe } from '../util/sanitize.js';
import { ALERT_KINDS, alertsFor, type Alert, type AlertKind } from './alerts.js';
import { putCloudWatchMetrics, type CloudWatchOptions } from './cloudwatch.js';
import { sendEventBridge, type EventBridgeOptions } from './eventbridge.js';
import { errorText, outcomeOf, type Channel } from './outcome.js';
import { writePrometheusTextfile } from './prometheus.js';
import { sendSns } from './sns.js';
import { sendWebhook, webhookTarget, type WebhookOptions } from './webhook.js';

export { ALERT_KINDS, DETAIL_TYPES, alertDetail, alertsFor, type Alert, type AlertDetail, type AlertItem, type AlertKind } from './alerts.js';
export { putCloudWatchMetrics, type CloudWatchOptions } from './cloudwatch.js';
export { sendEventBridge, type EventBridgeOptions } from './eventbridge.js';
export { renderPrometheus, writePrometheusTextfile } from './prometheus.js';
export { sendSns } from './sns.js';
export { sendWebhook, type WebhookOptions } from './webhook.js';

/** NotifyOptions are the configured channels; an absent one is not used. */
export interface NotifyOptions {
  /** node_exporter textfile, e.g. /var/lib/prometheus/node-exporter/snapdrill.prom: written every run. */
  metricsFile?: string;
  /** CloudWatch metrics: sent every run. */
  cloudwatch?: CloudWatchOptions;
  sns?: { topicArn: string };
  eventBridge?: EventBridgeOptions;
  webhook?: WebhookOptions;
  /** Which alerts to send; default all three. */
  on?: AlertKind[];
  /** Where the run's report was written: named in the alerts (detail.reportPath). */
  reportPath?: string;
  /** Per channel; default CHANNEL_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** NotifyDeps are the clients of the AWS channels configured (a configured channel without its client fails its outcome) and the log. */
export interface NotifyDeps {
  sns?: SNSClient;
  eventBridge?: EventBridgeClient;
  cloudwatch?: CloudWatchClient;
  log: (line: string) => void;
}

/** CHANNEL_TIMEOUT_MS bounds each channel: the run is over, and a stuck endpoint must not keep the process alive. */
export const CHANNEL_TIMEOUT_MS = 30_000;

/** Job is one channel to run: its target (safe to log) and the send, which gets an AbortSignal fired at the timeout. */
interface Job {
  channel: Channel;
  target: string;
  send: (signal: AbortSignal) => Promise<NotificationOutcome>;
}

/** notifyAfterRun runs every configured channel in parallel and returns one outcome per channel; it never throws. */
export async function notifyAfterRun(report: RunReport, opts: NotifyOptions, deps: NotifyDeps): Promise<NotificationOutcome[]> {
  const wanted = new Set<AlertKind>(opts.on ?? ALERT_KINDS);
  const alerts = alertsFor(report, { reportPath: opts.reportPath }).filter((a) => wanted.has(a.kind));
  const jobs = [...metricJobs(report, opts, deps), ...(alerts.length ? alertJobs(alerts, report, opts, deps) : [])];
  return Promise.all(jobs.map((job) => runJob(job, opts.timeoutMs ?? CHANNEL_TIMEOUT_MS, deps.log)));
}

/** metricJobs are the metric exports configured: every run. */
function metricJobs(report: RunReport, opts: NotifyOptions, deps: NotifyDeps): Job[] {
  const jobs: Job[] = [];
  const { metricsFile, cloudwatch } = opts;
  if (metricsFile) jobs.push({ channel: 'prometheus', target: metricsFile, send: async () => writePrometheusTextfile(report, metricsFile) });
  if (cloudwatch) jobs.push(withClient('cloudwatch', cloudwatch.namespace, deps.cloudwatch, (c, signal) => putCloudWatchMetrics(report, c, cloudwatch, signal)));
  return jobs;
}

/** alertJobs are the alert channels configured, for a run that raised alerts. */
function alertJobs(alerts: Alert[], report: RunReport, opts: NotifyOptions, deps: NotifyDeps): Job[] {
  const jobs: Job[] = [];
  const { sns, eventBridge, webhook } = opts;
  if (sns) jobs.push(withClient('sns', sns.topicArn, deps.sns, (c, signal) => sendSns(alerts, report, c, sns.topicArn, signal)));
  if (eventBridge) jobs.push(withClient('eventbridge', eventBridge.busName ?? 'default', deps.eventBridge, (c, signal) => sendEventBridge(alerts, report, c, eventBridge, signal)));
  if (webhook) jobs.push({ channel: 'webhook', target: webhookTarget(webhook.url), send: (signal) => sendWebhook(alerts, report, webhook, signal) });
  return jobs;
}

/** withClient makes a job of an AWS channel; without its client, the job fails with a reason instead. */
function withClient<C>(channel: Channel, target: string, client: C | undefined, send: (client: C, signal: AbortSignal) => Promise<NotificationOutcome>): Job {
  return {
    channel,
    target,
    send: async (signal) => (client ? send(client, signal) : outcomeOf(channel, target, [`${channel} is configured but no ${channel} client was given`])),
  };
}

/** runJob runs one channel under its timeout (aborting its requests when it fires), catches anything it throws, and logs the outcome. */
async function runJob(job: Job, timeoutMs: number, log: (line: string) => void): Promise<NotificationOutcome> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<NotificationOutcome>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(outcomeOf(job.channel, job.target, [`no result within ${timeoutMs} ms`]));
    }, timeoutMs);
  });
  const sent = job.send(abort.signal).catch((err: unknown) => outcomeOf(job.channel, job.target, [errorText(err)]));
  const outcome = await Promise.race([sent, timedOut]);
  clearTimeout(timer);
  try {
    log(terminalSafe(`notify ${outcome.channel} ${outcome.target}: ${outcome.ok ? 'ok' : `failed: ${outcome.error}`}`));
  } catch {
    /* a broken log must not turn a sent notification into a crash */
  }
  return outcome;
}
