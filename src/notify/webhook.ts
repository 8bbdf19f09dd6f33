import type { NotificationOutcome, RunReport } from '../report/types.js';
import { terminalSafe } from '../util/sanitize.js';
import { alertDetail, clip, type Alert, type AlertDetail } from './alerts.js';
import { errorText, outcomeOf } from './outcome.js';

/** WebhookOptions name the receiver. The URL is a secret (Slack, Teams and Chat webhooks carry their token in the path): it is never logged. */
export interface WebhookOptions {
  url: string;
  /** Extra request headers (an Authorization header, say); content-type is application/json. */
  headers?: Record<string, string>;
  /** Per request; default WEBHOOK_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** WebhookBody is what the receiver gets: Slack-compatible `text` and `blocks`, plus the structured detail. */
export interface WebhookBody {
  text: string;
  blocks: unknown[];
  snapdrill: AlertDetail;
}

/** WEBHOOK_TIMEOUT_MS: chat services answer in well under a second; a receiver silent for 10 s is down. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Slack's limits: a header block's text is at most 150 characters, a section's 3000. */
const HEADER_CHARS = 150;
const SECTION_CHARS = 3000;
/** EXCERPT_CHARS of a failed receiver's answer go into the outcome: enough for its error message. */
const EXCERPT_CHARS = 200;

/** webhookTarget is what may be shown of a webhook URL: scheme and host (with port), never path or query. */
export function webhookTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

/** sendWebhook POSTs one JSON message per alert (WebhookBody) with Node's fetch; a non-2xx answer, a timeout or no connection fails the outcome. Never throws. */
export async function sendWebhook(alerts: Alert[], report: RunReport, opts: WebhookOptions, signal?: AbortSignal): Promise<NotificationOutcome> {
  const target = webhookTarget(opts.url);
  if (target === '(invalid URL)') return outcomeOf('webhook', target, ['the webhook URL does not parse']);
  const failures: string[] = [];
  for (const alert of alerts) {
    const failure = await postOnce(webhookBody(alert, report), report, opts, signal);
    if (failure) failures.push(`${alert.kind}: ${failure.split(opts.url).join(target)}`);
  }
  return outcomeOf('webhook', target, failures);
}

/** postOnce POSTs one body; returns why it failed, or undefined when the receiver answered 2xx. */
async function postOnce(body: WebhookBody, report: RunReport, opts: WebhookOptions, signal: AbortSignal | undefined): Promise<string | undefined> {
  const timeoutMs = opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': `snapdrill/${report.tool.version}`, ...opts.headers },
      body: JSON.stringify(body),
      // A redirect would resend the message (and its headers) elsewhere: report it instead.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    const text = await res.text();
    if (res.ok) return undefined;
    const excerpt = clip(terminalSafe(text).trim(), EXCERPT_CHARS);
    return `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`;
  } catch (err) {
    if (timeout.aborted) return `no answer within ${timeoutMs} ms`;
    if (signal?.aborted) return 'cancelled';
    return errorText(err);
  }
}

/** webhookBody is the message for one alert: a header with the title, the body as a mrkdwn section, and the detail. */
export function webhookBody(alert: Alert, report: RunReport): WebhookBody {
  return {
    text: slackEscape(`${alert.title}\n${alert.body}`),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(alert.title, HEADER_CHARS) } },
      { type: 'section', text: { type: 'mrkdwn', text: sectionText(alert.body) } },
    ],
    snapdrill: alertDetail(alert, report),
  };
}

/** sectionText escapes a body for a mrkdwn section and, past Slack's limit, cuts it at a line break (never inside an entity). */
function sectionText(body: string): string {
  const text = slackEscape(body);
  if (text.length <= SECTION_CHARS) return text;
  const cut = text.lastIndexOf('\n', SECTION_CHARS - 2);
  return `${cut > 0 ? text.slice(0, cut) : text.slice(0, SECTION_CHARS - 2).replace(/&[a-z]*$/, '')}\n…`;
}

/** slackEscape escapes the three characters Slack's mrkdwn gives meaning to (links, mentions), so ids from disks stay text. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
