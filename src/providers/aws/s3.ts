import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { AwsProviderConfig } from '../../config/types.js';
import type { Credentials } from './central/credentials.js';

/** ObjectReader reads one S3 object as text; undefined when it does not exist. */
export interface ObjectReader {
  getText(bucket: string, key: string): Promise<string | undefined>;
}

/** createS3Reader reads SSM command output the helpers wrote to the configured bucket. */
export function createS3Reader(cfg: AwsProviderConfig, endpoint = cfg.endpoint, credentials?: Credentials): ObjectReader {
  const client = new S3Client({
    ...(credentials ? { credentials } : {}),
    region: cfg.region,
    retryMode: 'adaptive',
    maxAttempts: 10,
    ...(cfg.profile ? { profile: cfg.profile } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  });
  return {
    async getText(bucket, key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await r.Body!.transformToString('utf8');
      } catch (e) {
        if ((e as { name?: string }).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
  };
}

/** ssmOutputKey is where the SSM agent puts one stream of an AWS-RunShellScript invocation under OutputS3KeyPrefix. */
export function ssmOutputKey(prefix: string, commandId: string, instanceId: string, stream: 'stdout' | 'stderr'): string {
  return `${prefix ? `${prefix.replace(/\/+$/, '')}/` : ''}${commandId}/${instanceId}/awsrunShellScript/0.awsrunShellScript/${stream}`;
}
