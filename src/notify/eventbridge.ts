import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { NotificationOutcome, RunReport } from '../report/types.js';
import { alertDetail, DETAIL_TYPES, type Alert } from './alerts.js';
import { errorText, outcomeOf } from './outcome.js';

/** EventBridgeOptions choose the bus (default: the account's default bus) and the events' source. */
export interface EventBridgeOptions {
  busName?: string;
  /** Default 'snapdrill'; must not start with "aws.". */
  source?: string;
}

/**
 * sendEventBridge puts one event per alert (at most three, one PutEvents call): `detail-type` from DETAIL_TYPES,
 * `detail` an AlertDetail (schemas/event.schema.json), time = the run's finish. Never throws.
 */
export async function sendEventBridge(alerts: Alert[], report: RunReport, client: EventBridgeClient, opts: EventBridgeOptions, signal?: AbortSignal): Promise<NotificationOutcome> {
  const target = opts.busName ?? 'default';
  if (alerts.length === 0) return outcomeOf('eventbridge', target);
  const entries = alerts.map((alert) => ({
    Source: opts.source ?? 'snapdrill',
    DetailType: DETAIL_TYPES[alert.kind],
    Detail: JSON.stringify(alertDetail(alert, report)),
    Time: new Date(report.finishedAt),
    ...(opts.busName ? { EventBusName: opts.busName } : {}),
  }));
  try {
    const res = await client.send(new PutEventsCommand({ Entries: entries }), { abortSignal: signal });
    // PutEvents answers 200 even when entries fail: each failed entry carries its own error code.
    const failures = (res.Entries ?? []).flatMap((e, i) => (e.ErrorCode ? [`${alerts[i]?.kind ?? i}: ${e.ErrorCode}: ${e.ErrorMessage ?? ''}`] : []));
    if (!failures.length && res.FailedEntryCount) failures.push(`${res.FailedEntryCount} of ${entries.length} events failed`);
    return outcomeOf('eventbridge', target, failures);
  } catch (err) {
    return outcomeOf('eventbridge', target, [errorText(err)]);
  }
}
