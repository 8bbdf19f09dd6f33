/**
 * The history store: one JSON object per run (and per shard of a fleet run) under `<location>/runs/`, written once
 * and never rewritten, so writers never race on a shared file. The location is a directory or `s3://bucket/prefix`;
 * its contents are not trusted to be well-formed: a record that cannot be read, parsed or validated is skipped and
 * reported, never thrown.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, errorMessage, InfraError, SnapdrillError } from '../errors.js';
import { mapLimit } from '../util/concurrency.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import type { RunRecord } from '../judges/history.js';

/** HISTORY_SCHEMA is the JSON Schema every record is validated against, when written and when read. */
export const HISTORY_SCHEMA = 'history.schema.json';

/** MAX_RECORD_BYTES is the largest record read: a run of 1,000 snapshots is about 400 KB, so anything this big is not one. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** DEFAULT_RUNS is how many runs `list` returns when not told: about three months of nightly runs. */
export const DEFAULT_RUNS = 90;

/** READ_CONCURRENCY bounds the records fetched at once: enough to hide S3 latency, few enough for memory. */
const READ_CONCURRENCY = 16;

/** RUNS_DIR is the folder of records under the location. */
const RUNS_DIR = 'runs';

/** ListOptions choose what `list` returns. */
export interface ListOptions {
  /** The newest this many runs (shards of a run count once); default 90. */
  limit?: number;
  /** Keep only this lineage's entries (and RPO violations of the volume of that id); runs without it stay, empty. */
  lineage?: string;
  /** A run id or an ISO time: only runs that started before it. */
  before?: string;
}

/** SkippedRecord is an object of the store that was not returned, and why. */
export interface SkippedRecord {
  key: string;
  reason: string;
}

/** HistoryStore reads and writes run records at one location. */
export interface HistoryStore {
  /** write stores a record under its own new key and returns where; a record already there is never overwritten (HistoryRecordExistsError). */
  write(record: RunRecord): Promise<string>;
  /**
   * list returns the newest runs, oldest first, shards of one run merged into one record, and the objects it skipped
   * (unreadable, not JSON, not valid, too large, misnamed) with the reason. It throws only when the location cannot be
   * listed at all (InfraError history-list-failed) or `before` names neither a run nor a time (ConfigError).
   */
  list(opts?: ListOptions): Promise<{ records: RunRecord[]; skipped: SkippedRecord[] }>;
}

/** StoredObject is one object under a history location, as listed: its key and, when the listing says, its size. */
export interface StoredObject {
  key: string;
  size?: number;
}

/**
 * S3Objects is the narrow S3 API the store uses. providers/aws/history.ts implements it over the SDK (the cloud is
 * reached only from providers/aws), so this module never imports `@aws-sdk`.
 */
export interface S3Objects {
  /** putNew stores body under key unless the key exists (PutObject with If-None-Match: *); false when it already exists. */
  putNew(bucket: string, key: string, body: string): Promise<boolean>;
  /** list lists every object under prefix, all pages. */
  list(bucket: string, prefix: string): Promise<StoredObject[]>;
  /** getText reads one object as UTF-8. */
  getText(bucket: string, key: string): Promise<string>;
}

/** HistoryRecordExistsError refuses to overwrite a record: two writers gave the same run id and shard. */
export class HistoryRecordExistsError extends SnapdrillError {
  readonly where: string;
  constructor(where: string) {
    super('history-record-exists', `a history record already exists at ${where}; records are never overwritten`, {
      source: 'user',
      remedy: 'give each shard of a fleet run its own shard name, or start a new run (a new run id)',
    });
    this.where = where;
  }
}

/** Backend is where the bytes go: keys are relative to the location ("runs/…json"). */
interface Backend {
  where(key: string): string;
  putNew(key: string, body: string): Promise<boolean>;
  list(): Promise<StoredObject[]>;
  /** read returns the text, or the size when it is over MAX_RECORD_BYTES. */
  read(key: string): Promise<string | { tooLarge: number }>;
}

/** encodePart escapes a run id or shard for a key: only [A-Za-z0-9._-] stay as they are, so "~" can separate the shard. */
function encodePart(s: string): string {
  return encodeURIComponent(s).replace(/[!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** compactTime turns an ISO time into the sortable 20261203T031500Z of keys and run ids. */
function compactTime(iso: string): string {
  return new Date(iso).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * recordKey is where a record goes: runs/<startedAt compact>-<runId>[~<shard>].json, so names sort by time. The
 * shard is set off by "~" (escaped inside the parts): run ids and shard names (eu-west-1) both contain "-".
 */
export function recordKey(record: Pick<RunRecord, 'startedAt' | 'runId' | 'shard'>): string {
  const shard = record.shard !== undefined ? `~${encodePart(record.shard)}` : '';
  return `${RUNS_DIR}/${compactTime(record.startedAt)}-${encodePart(record.runId)}${shard}.json`;
}

/** KeyParts is what a record's key says: its start time (compact), run id and shard. */
interface KeyParts {
  key: string;
  time: string;
  runId: string;
  shard?: string;
  size?: number;
}

const KEY = /^runs\/(\d{8}T\d{6}Z)-([A-Za-z0-9._%-]+?)(?:~([A-Za-z0-9._%-]+))?\.json$/;

/** parseKey reads a key back; undefined when it is not a record's name. */
function parseKey(obj: StoredObject): KeyParts | undefined {
  const m = KEY.exec(obj.key);
  if (!m) return undefined;
  try {
    return { key: obj.key, time: m[1]!, runId: decodeURIComponent(m[2]!), ...(m[3] !== undefined ? { shard: decodeURIComponent(m[3]) } : {}), ...(obj.size !== undefined ? { size: obj.size } : {}) };
  } catch {
    return undefined; // a malformed %-escape
  }
}

/** localBackend keeps records as files; a write goes to a temporary name, then is hard-linked to its key, which fails if the key exists. */
function localBackend(dir: string): Backend {
  const runs = path.join(dir, RUNS_DIR);
  const file = (key: string) => path.join(dir, ...key.split('/'));
  return {
    where: file,
    async putNew(key, body) {
      await mkdir(runs, { recursive: true });
      // The leading dot hides it from list(): readers never see a half-written record.
      const tmp = path.join(runs, `.${path.basename(key)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmp, body, { flag: 'wx' });
      try {
        await link(tmp, file(key));
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      } finally {
        await unlink(tmp).catch(() => {});
      }
    },
    async list() {
      let names;
      try {
        names = await readdir(runs, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
      return names.filter((d) => !d.name.startsWith('.')).map((d) => ({ key: `${RUNS_DIR}/${d.name}` }));
    },
    async read(key) {
      const fh = await open(file(key), 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new Error('not a regular file');
        if (st.size > MAX_RECORD_BYTES) return { tooLarge: st.size };
        return await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    },
  };
}

/** s3Backend keeps records as objects under s3://bucket/prefix. */
function s3Backend(bucket: string, prefix: string, s3: S3Objects): Backend {
  const full = (key: string) => (prefix ? `${prefix}/${key}` : key);
  return {
    where: (key) => `s3://${bucket}/${full(key)}`,
    putNew: (key, body) => s3.putNew(bucket, full(key), body),
    async list() {
      const objs = await s3.list(bucket, full(`${RUNS_DIR}/`));
      // Folder markers (keys ending in "/", from the S3 console) and hidden names are not records.
      return objs.map((o) => ({ ...o, key: o.key.slice(prefix ? prefix.length + 1 : 0) })).filter((o) => !o.key.endsWith('/') && !path.posix.basename(o.key).startsWith('.'));
    },
    read: (key) => s3.getText(bucket, full(key)),
  };
}

/** RunKeys are the keys of one run: its shards, and the time of the earliest. */
interface RunKeys {
  runId: string;
  time: string;
  parts: KeyParts[];
}

/** byTime orders runs oldest first; run ids break ties within a second. */
function byTime(a: { time: string; runId: string }, b: { time: string; runId: string }): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}

/** Cutoff is `before` resolved: a run (runs ordered before it are kept), or an ISO time (its second in keys, its ms against records). */
type Cutoff = { run: { time: string; runId: string } } | { time: string; ms: number };

/**
 * cutoffOf resolves `before`: a run id in the store, or one that starts with its time (as snapdrill's do), or an ISO
 * time. An ISO time keeps every run of an earlier second, and those of the same second are checked on the records.
 */
function cutoffOf(before: string, runs: RunKeys[]): Cutoff {
  const known = runs.find((r) => r.runId === before);
  if (known) return { run: known };
  const stamped = /^(\d{8}T\d{6}Z)/.exec(before);
  if (stamped) return { run: { time: stamped[1]!, runId: before } };
  const ms = Date.parse(before);
  if (/^\d{4}-\d{2}-\d{2}/.test(before) && Number.isFinite(ms)) return { time: compactTime(before), ms };
  throw new ConfigError('before', `"${before}" is neither a run id in the history nor an ISO time`);
}

/** groupRuns groups record keys by run id. */
function groupRuns(parts: KeyParts[]): RunKeys[] {
  const runs = new Map<string, RunKeys>();
  for (const p of parts) {
    const r = runs.get(p.runId);
    if (!r) runs.set(p.runId, { runId: p.runId, time: p.time, parts: [p] });
    else {
      r.parts.push(p);
      if (p.time < r.time) r.time = p.time;
    }
  }
  return [...runs.values()];
}

/** parseRecord parses and validates one record's text; a string is the reason it was skipped. */
function parseRecord(text: string, key: KeyParts): RunRecord | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (truncated?): ${errorMessage(e)}`;
  }
  const validate = compiledSchema(HISTORY_SCHEMA);
  if (!validate(data)) {
    const issues = describeSchemaErrors(validate.errors).slice(0, 3);
    return `does not match schemas/${HISTORY_SCHEMA}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`;
  }
  const record = data as RunRecord;
  if (record.runId !== key.runId || record.shard !== key.shard) return `holds run ${record.runId}${record.shard !== undefined ? ` shard ${record.shard}` : ''}, not the one its name says`;
  return record;
}

/** distinct joins the different values of a field of shards. */
function distinct(values: string[], sep: string): string {
  return [...new Set(values)].join(sep);
}

/** mergeShards makes one record of a run's shards: every entry and RPO violation, the worst exit code, the whole time span. */
function mergeShards(parts: RunRecord[]): RunRecord {
  if (parts.length === 1) return parts[0]!;
  const sorted = [...parts].sort((a, b) => (a.shard ?? '').localeCompare(b.shard ?? ''));
  const first = sorted[0]!;
  const ms = (s: string) => Date.parse(s);
  return {
    schemaVersion: 1,
    runId: first.runId,
    startedAt: sorted.reduce((m, p) => (ms(p.startedAt) < ms(m) ? p.startedAt : m), first.startedAt),
    finishedAt: sorted.reduce((m, p) => (ms(p.finishedAt) > ms(m) ? p.finishedAt : m), first.finishedAt),
    exitCode: Math.max(...sorted.map((p) => p.exitCode)),
    interrupted: sorted.some((p) => p.interrupted),
    provider: { type: distinct(sorted.map((p) => p.provider.type), ', '), source: distinct(sorted.map((p) => p.provider.source), '; ') },
    host: distinct(sorted.map((p) => p.host), ', '),
    errors: sorted.reduce((n, p) => n + p.errors, 0),
    entries: sorted.flatMap((p) => p.entries),
    rpo: sorted.flatMap((p) => p.rpo),
  };
}

/** onlyLineage keeps one lineage's entries of a record, and the RPO violations of the volume of that id. */
function onlyLineage(record: RunRecord, lineage: string): RunRecord {
  return { ...record, entries: record.entries.filter((e) => e.lineage === lineage), rpo: record.rpo.filter((v) => v.volumeId === lineage) };
}

/** readOne fetches, parses and validates one record: what goes wrong is a skipped record, never a throw. */
async function readOne(backend: Backend, key: KeyParts): Promise<RunRecord | SkippedRecord> {
  if (key.size !== undefined && key.size > MAX_RECORD_BYTES) return { key: key.key, reason: `${key.size} bytes, over the ${MAX_RECORD_BYTES / 1024 / 1024} MiB limit of a record` };
  let text: string | { tooLarge: number };
  try {
    text = await backend.read(key.key);
  } catch (e) {
    return { key: key.key, reason: `could not be read: ${errorMessage(e)}` };
  }
  if (typeof text !== 'string') return { key: key.key, reason: `${text.tooLarge} bytes, over the ${MAX_RECORD_BYTES / 1024 / 1024} MiB limit of a record` };
  const r = parseRecord(text, key);
  return typeof r === 'string' ? { key: key.key, reason: r } : r;
}

/** listRecords is HistoryStore.list over a backend. */
async function listRecords(backend: Backend, location: string, opts: ListOptions): Promise<{ records: RunRecord[]; skipped: SkippedRecord[] }> {
  let objects: StoredObject[];
  try {
    objects = await backend.list();
  } catch (e) {
    throw new InfraError('history-list-failed', `could not list the history at ${location}: ${errorMessage(e)}`, { cause: e, remedy: 'check that the location exists and that this user (or role) may read it' });
  }
  const skipped: SkippedRecord[] = [];
  const parts: KeyParts[] = [];
  for (const o of objects) {
    const p = parseKey(o);
    if (p) parts.push(p);
    else skipped.push({ key: o.key, reason: 'not a history record name (runs/<time>-<run id>[~<shard>].json)' });
  }
  let runs = groupRuns(parts).sort(byTime);
  const cutoff = opts.before !== undefined ? cutoffOf(opts.before, runs) : undefined;
  if (cutoff) runs = runs.filter((r) => ('ms' in cutoff ? r.time <= cutoff.time : byTime(r, cutoff.run) < 0));
  const limit = Math.max(0, Math.floor(opts.limit ?? DEFAULT_RUNS));
  const chosen = runs.slice(Math.max(0, runs.length - limit));
  const read = await mapLimit(
    chosen.flatMap((r) => r.parts),
    READ_CONCURRENCY,
    (k) => readOne(backend, k),
  );
  const byRun = new Map<string, RunRecord[]>();
  for (const r of read) {
    if ('reason' in r) skipped.push(r);
    else byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), r]);
  }
  let records = [...byRun.values()].map(mergeShards);
  if (cutoff && 'ms' in cutoff) records = records.filter((r) => Date.parse(r.startedAt) < cutoff.ms);
  if (opts.lineage !== undefined) records = records.map((r) => onlyLineage(r, opts.lineage!));
  records.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  return { records, skipped };
}

/** writeRecord is HistoryStore.write over a backend: validated first, so nothing malformed is ever stored for good. */
async function writeRecord(backend: Backend, record: RunRecord): Promise<string> {
  const validate = compiledSchema(HISTORY_SCHEMA);
  if (!validate(record)) {
    const issues = describeSchemaErrors(validate.errors).slice(0, 3);
    throw new InfraError('history-record-invalid', `refusing to store a history record that does not match schemas/${HISTORY_SCHEMA}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  const key = recordKey(record);
  const where = backend.where(key);
  let written: boolean;
  try {
    written = await backend.putNew(key, `${JSON.stringify(record)}\n`);
  } catch (e) {
    throw new InfraError('history-write-failed', `could not write the history record ${where}: ${errorMessage(e)}`, { cause: e, remedy: 'check that the history location exists and that this user (or role) may write to it' });
  }
  if (!written) throw new HistoryRecordExistsError(where);
  return where;
}

/** parseS3Location splits s3://bucket/prefix; the prefix loses its slashes at both ends. */
export function parseS3Location(location: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/.exec(location);
  if (!m) return undefined;
  if (!m[1]) throw new ConfigError('output.history', `${location} names no bucket`, 'write it as s3://bucket/prefix');
  return { bucket: m[1], prefix: m[2]!.replace(/^\/+|\/+$/g, '') };
}

/** openHistoryStore opens the store at a directory or s3://bucket/prefix (which needs `s3`); nothing is read or created until used. */
export function openHistoryStore(location: string, opts: { s3?: S3Objects } = {}): HistoryStore {
  const s3 = parseS3Location(location);
  if (s3 && !opts.s3) throw new ConfigError('output.history', `${location} is on S3, and no S3 client was given`);
  const backend = s3 ? s3Backend(s3.bucket, s3.prefix, opts.s3!) : localBackend(path.resolve(location));
  return {
    write: (record) => writeRecord(backend, record),
    list: (o = {}) => listRecords(backend, location, o),
  };
}
