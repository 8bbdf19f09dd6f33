import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { NotificationOutcome, RunReport } from '../report/types.js';
import type { Alert } from './alerts.js';
import { errorText, outcomeOf } from './outcome.js';

/** SUBJECT_CHARS: SNS wants a subject shorter than 100 characters (it becomes the e-mail subject). */
const SUBJECT_CHARS = 99;

/**
 * sendSns publishes one message per alert to an SNS topic: the title as Subject, the text body as Message,
 * and MessageAttributes `kind`, `runId` and `exitCode` (subscriptions can filter on them). Never throws.
 */
export async function sendSns(alerts: Alert[], report: RunReport, client: SNSClient, topicArn: string, signal?: AbortSignal): Promise<NotificationOutcome> {
  const failures: string[] = [];
  for (const alert of alerts) {
    try {
      await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: subjectOf(alert.title),
          Message: `${alert.title}\n\n${alert.body}`,
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: alert.kind },
            runId: { DataType: 'String', StringValue: report.runId },
            exitCode: { DataType: 'Number', StringValue: String(report.exitCode) },
          },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      failures.push(`${alert.kind}: ${errorText(err)}`);
    }
  }
  return outcomeOf('sns', topicArn, failures);
}

/** subjectOf makes a title an SNS subject: printable ASCII only (no line breaks or controls), under 100 characters. */
export function subjectOf(title: string): string {
  const ascii = title.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= SUBJECT_CHARS ? ascii : `${ascii.slice(0, SUBJECT_CHARS - 3)}...`;
}
