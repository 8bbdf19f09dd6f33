import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { ConfigError, InfraError } from '../../../errors.js';
import { within } from '../../../util/paths.js';
import { createHistoryS3Client, type HistoryS3Options } from '../history.js';

/** S3Url is a parsed s3://bucket/key. */
export interface S3Url {
  bucket: string;
  key: string;
}

/** isS3Url says whether a location is s3://… rather than a path. */
export function isS3Url(location: string): boolean {
  return /^s3:\/\//.test(location);
}

/** parseS3Url reads s3://bucket/key (key may be empty or a prefix); `what` names the flag or key in the error. */
export function parseS3Url(url: string, what: string): S3Url {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new ConfigError(what, `"${url}" is not s3://BUCKET/KEY`);
  return { bucket: m[1]!, key: m[2] ?? '' };
}

/** joinS3 appends path parts to an s3:// location with single slashes. */
export function joinS3(url: string, ...parts: string[]): string {
  return [url.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter(Boolean).join('/');
}

/** RunObjects moves a fleet run's files between S3 and this machine (the container's scratch): configs, item lists, reports. */
export interface RunObjects {
  getText(url: string, what: string): Promise<string>;
  putText(url: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  /** download copies every object under a prefix into dir (keys relative to the prefix); returns how many. */
  download(prefixUrl: string, dir: string): Promise<number>;
  /** upload copies every file under dir to the prefix; returns the keys written. */
  upload(dir: string, prefixUrl: string): Promise<string[]>;
}

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.json': 'application/json', '.xml': 'application/xml', '.sig': 'application/octet-stream' };

/** contentTypeOf is the Content-Type a report file is stored with (a browser opens index.html straight from S3). */
export function contentTypeOf(file: string): string | undefined {
  return CONTENT_TYPES[path.extname(file)];
}

/** failed turns an S3 failure into a harness error naming the location. */
function failed(e: unknown, verb: string, url: string): InfraError {
  const err = e as { name?: string; message?: string };
  return new InfraError('s3-failed', `cannot ${verb} ${url}: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`, {
    remedy: 'check the bucket name, its region, and that the credentials may read and write that prefix (the fleet stack\'s task role may)',
  });
}

/** filesUnder lists the files under dir, relative, sorted. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? filesUnder(dir, path.join(rel, d.name)) : d.isFile() ? [path.join(rel, d.name)] : []))
    .sort();
}

/** s3RunObjects implements RunObjects with the S3 client of the central account (region and endpoint as for history). */
export function s3RunObjects(opts: HistoryS3Options = {}): RunObjects {
  const client = createHistoryS3Client(opts);
  const self: RunObjects = {
    async getText(url, what) {
      const { bucket, key } = parseS3Url(url, what);
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await r.Body!.transformToString('utf8');
      } catch (e) {
        throw failed(e, 'read', url);
      }
    },
    async putText(url, body, contentType = 'application/octet-stream') {
      const { bucket, key } = parseS3Url(url, 'output');
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
      } catch (e) {
        throw failed(e, 'write', url);
      }
    },
    async download(prefixUrl, dir) {
      const { bucket, key } = parseS3Url(prefixUrl, 'input');
      const prefix = key && !key.endsWith('/') ? `${key}/` : key;
      let n = 0;
      let token: string | undefined;
      try {
        do {
          const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          for (const o of r.Contents ?? []) {
            const rel = o.Key!.slice(prefix.length);
            const dest = path.join(dir, rel);
            // A key with ../ in it stays out of the scratch directory.
            if (!rel || rel.endsWith('/') || !within(dir, dest)) continue;
            const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
            mkdirSync(path.dirname(dest), { recursive: true });
            writeFileSync(dest, await body.Body!.transformToByteArray());
            n++;
          }
          token = r.NextContinuationToken;
        } while (token);
      } catch (e) {
        throw failed(e, 'download', prefixUrl);
      }
      return n;
    },
    async upload(dir, prefixUrl) {
      const keys: string[] = [];
      for (const rel of filesUnder(dir)) {
        const url = joinS3(prefixUrl, rel.split(path.sep).join('/'));
        await self.putText(url, readFileSync(path.join(dir, rel)), contentTypeOf(rel));
        keys.push(url);
      }
      return keys;
    },
  };
  return self;
}
