import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Objects, StoredObject } from '../../history/store.js';

/** HistoryS3Options say how to reach the history bucket: from the config's AWS provider, else the environment. */
export interface HistoryS3Options {
  region?: string | undefined;
  endpoint?: string | undefined;
  profile?: string | undefined;
}

/**
 * createHistoryS3Client builds the S3 client of a history bucket. The region defaults to the environment's (then
 * us-east-1) and redirects are followed, since the bucket may live in another region than the snapshots. A custom
 * endpoint (provider.endpoint, AWS_ENDPOINT_URL: moto, MinIO) is addressed path-style: bucket.127.0.0.1 does not resolve.
 * Standard retries, few attempts: a handful of calls per run, and a CLI that should not hang on a wrong endpoint.
 */
export function createHistoryS3Client(opts: HistoryS3Options = {}): S3Client {
  const endpoint = opts.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    followRegionRedirects: true,
    retryMode: 'standard',
    maxAttempts: 4,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  });
}

/** httpStatus is the HTTP status of an SDK error, when it has one. */
function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * s3HistoryObjects is the history store's S3 API over an SDK client. A record is created with If-None-Match: *
 * (moto supports it too), so an existing record is refused by S3 itself (412), with no HEAD-then-PUT race; 409 is
 * S3's answer to a conditional write racing another on the same key, which is the same clash.
 */
export function s3HistoryObjects(client: S3Client): S3Objects {
  return {
    async putNew(bucket, key, body) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }));
        return true;
      } catch (e) {
        if (httpStatus(e) === 412 || httpStatus(e) === 409) return false;
        throw e;
      }
    },
    async list(bucket, prefix) {
      const out: StoredObject[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, ...(o.Size !== undefined ? { size: o.Size } : {}) });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async getText(bucket, key) {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await r.Body!.transformToString('utf8');
    },
  };
}
