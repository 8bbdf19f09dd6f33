import type { Tag } from '@aws-sdk/client-ec2';

/** TAG names the tags snapdrill puts on everything it creates, in the create call itself. */
export const TAG = {
  runId: 'snapdrill:run-id',
  expiresAt: 'snapdrill:expires-at',
  sourceSnapshot: 'snapdrill:source-snapshot',
  /** Set on a volume kept for forensics after its snapshot failed (keep-on-failure). */
  kept: 'snapdrill:kept',
} as const;

/** runTags are the tags of one created resource: which run made it, when `gc` may remove it, and from what. */
export function runTags(runId: string, expiresAt: Date, sourceSnapshot?: string): Tag[] {
  return [
    { Key: TAG.runId, Value: runId },
    { Key: TAG.expiresAt, Value: expiresAt.toISOString() },
    ...(sourceSnapshot ? [{ Key: TAG.sourceSnapshot, Value: sourceSnapshot }] : []),
    { Key: 'Name', Value: `snapdrill ${runId}${sourceSnapshot ? ` ${sourceSnapshot}` : ''}` },
  ];
}

/** tagValue reads one tag from an SDK tag list. */
export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}
