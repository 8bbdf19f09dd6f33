import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRecordExistsError, MAX_RECORD_BYTES, openHistoryStore, recordKey, type HistoryStore } from '../../src/history/store.js';
import type { RunRecord } from '../../src/judges/history.js';
import { fmt } from '../../src/judges/rto.js';
import { createHistoryS3Client, s3HistoryObjects } from '../../src/providers/aws/history.js';
import { mapLimit } from '../../src/util/concurrency.js';
import { fakeCredentials, startMoto, TEST_REGION, type MotoServer } from '../aws/moto.js';
import { tempDir } from '../helpers.js';
import { entry, nightly, record } from './records.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BUCKET = 'snapdrill-history';

let moto: MotoServer;
let s3: S3Client;
let prefixes = 0;

beforeAll(async () => {
  moto = await startMoto();
  // Checksums only when required: moto takes a third less time per PutObject, and the paging test puts 1,005.
  s3 = new S3Client({ region: TEST_REGION, endpoint: moto.endpoint, credentials: fakeCredentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

/** Place is a fresh, empty history location with a way to put raw bytes in it (the faults a store must survive). */
interface Place {
  location: string;
  store: HistoryStore;
  putRaw(key: string, body: string | { sparseBytes: number }): Promise<void>;
}

const local = (): Place => {
  const dir = tempDir('history');
  return {
    location: dir,
    store: openHistoryStore(dir),
    async putRaw(key, body) {
      const file = path.join(dir, key);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, typeof body === 'string' ? body : '');
      if (typeof body !== 'string') truncateSync(file, body.sparseBytes);
    },
  };
};

const onS3 = (): Place => {
  const prefix = `drills/t${++prefixes}`;
  const location = `s3://${BUCKET}/${prefix}/`;
  return {
    location,
    store: openHistoryStore(location, { s3: s3HistoryObjects(s3) }),
    async putRaw(key, body) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${key}`, Body: typeof body === 'string' ? body : Buffer.alloc(body.sparseBytes) }));
    },
  };
};

/** nightlyRun is run n of a nightly series, verifying vol-1 and vol-2. */
const nightlyRun = (n: number, over: Partial<RunRecord> = {}) => record(`run-${String(n).padStart(4, '0')}`, nightly(n), [entry('vol-1', { snapshotId: `snap-1-${n}` }), entry('vol-2', { snapshotId: `snap-2-${n}` })], over);

describe.each([
  ['a local directory', local],
  ['S3 (moto)', onS3],
])('history store in %s', (_name, make) => {
  it('writes one object per run under runs/<time>-<run id>.json and lists it back', async () => {
    const p = make();
    const r = nightlyRun(1);
    const where = await p.store.write(r);
    expect(where.endsWith('/runs/20261202T030000Z-run-0001.json')).toBe(true);
    expect(where.startsWith(p.location.replace(/\/$/, ''))).toBe(true);
    expect(await p.store.list()).toEqual({ records: [r], skipped: [] });
  });

  it('lists the newest runs oldest first: 90 by default, or `limit`', async () => {
    const p = make();
    await mapLimit([...Array(95).keys()].reverse(), 8, (n) => p.store.write(nightlyRun(n)));
    const all = await p.store.list();
    expect(all.records.map((r) => r.runId)).toEqual([...Array(90).keys()].map((i) => nightlyRun(i + 5).runId));
    expect((await p.store.list({ limit: 3 })).records.map((r) => r.runId)).toEqual(['run-0092', 'run-0093', 'run-0094']);
  });

  it('filters entries by lineage; a run without it stays, empty', async () => {
    const p = make();
    await p.store.write(nightlyRun(1));
    await p.store.write(record('other', nightly(2), [entry('vol-9')], { rpo: [{ volumeId: 'vol-1', budgetMs: 1, reason: 'no snapshot' }] }));
    const { records } = await p.store.list({ lineage: 'vol-1' });
    expect(records.map((r) => [r.runId, r.entries.map((e) => e.snapshotId), r.rpo.length])).toEqual([
      ['run-0001', ['snap-1-1'], 0],
      ['other', [], 1],
    ]);
  });

  it('merges the shards of a run into one record, counting them as one run', async () => {
    const p = make();
    const start = Date.parse(nightly(2));
    await p.store.write(nightlyRun(1));
    await p.store.write(record('fleet', new Date(start + 5000).toISOString(), [entry('vol-b', { policyPass: false })], { shard: 'eu-west-1', host: 'h2', errors: 1 }));
    await p.store.write(record('fleet', new Date(start).toISOString(), [entry('vol-a')], { shard: 'us-east-1', host: 'h1', finishedAt: new Date(start + 3_600_000).toISOString() }));
    await p.store.write(nightlyRun(3));
    const { records, skipped } = await p.store.list({ limit: 2 });
    expect(skipped).toEqual([]);
    expect(records.map((r) => r.runId)).toEqual(['fleet', 'run-0003']);
    const fleet = records[0]!;
    expect(fleet).not.toHaveProperty('shard');
    expect(fleet).toMatchObject({ startedAt: new Date(start).toISOString(), finishedAt: new Date(start + 3_600_000).toISOString(), exitCode: 1, errors: 1, host: 'h2, h1' });
    expect(fleet.entries.map((e) => e.lineage)).toEqual(['vol-b', 'vol-a']);
  });

  it('refuses to overwrite a record (same run and shard), and keeps the first', async () => {
    const p = make();
    const r = nightlyRun(1);
    await p.store.write(r);
    const again = p.store.write({ ...r, exitCode: 3 });
    await expect(again).rejects.toBeInstanceOf(HistoryRecordExistsError);
    await expect(again).rejects.toMatchObject({ code: 'history-record-exists' });
    await p.store.write({ ...r, shard: 'b' }); // another shard of the same run is another object
    const { records } = await p.store.list();
    expect(records).toHaveLength(1);
    expect(records[0]!.exitCode).toBe(0);
    expect(records[0]!.entries).toHaveLength(4);
  });

  it('skips corrupt, truncated, invalid, misnamed, mislabelled and oversized records with a reason, and returns the rest', async () => {
    const p = make();
    await p.store.write(nightlyRun(1));
    const text = JSON.stringify(nightlyRun(2));
    await p.putRaw(recordKey(nightlyRun(2)), text.slice(0, text.length / 2));
    await p.putRaw(recordKey(nightlyRun(3)), '\u0000\u0001garbage');
    await p.putRaw(recordKey(nightlyRun(4)), JSON.stringify(nightlyRun(4, { entries: [entry('vol-1', { consistency: 'fine' as never })] })));
    await p.putRaw(recordKey(nightlyRun(5)), JSON.stringify(nightlyRun(6)));
    await p.putRaw(recordKey(nightlyRun(7)), { sparseBytes: MAX_RECORD_BYTES + 1 });
    await p.putRaw('runs/notes.txt', 'not a record');
    const { records, skipped } = await p.store.list();
    expect(records.map((r) => r.runId)).toEqual(['run-0001']);
    const why = Object.fromEntries(skipped.map((s) => [s.key, s.reason]));
    expect(Object.keys(why).sort()).toEqual([2, 3, 4, 5, 7].map((n) => recordKey(nightlyRun(n))).concat('runs/notes.txt').sort());
    expect(why[recordKey(nightlyRun(2))]).toMatch(/^not valid JSON \(truncated\?\)/);
    expect(why[recordKey(nightlyRun(3))]).toMatch(/^not valid JSON/);
    expect(why[recordKey(nightlyRun(4))]).toBe('does not match schemas/history.schema.json: /entries/0/consistency: must be one of "application-consistent", "crash-consistent", "corrupt", "unknown"');
    expect(why[recordKey(nightlyRun(5))]).toBe('holds run run-0006, not the one its name says');
    expect(why[recordKey(nightlyRun(7))]).toBe(`${MAX_RECORD_BYTES + 1} bytes, over the 64 MiB limit of a record`);
    expect(why['runs/notes.txt']).toMatch(/^not a history record name/);
  });

  it('before: keeps runs that started before a run id or an ISO time', async () => {
    const p = make();
    for (const n of [1, 2, 3]) await p.store.write(nightlyRun(n));
    const ids = async (before: string) => (await p.store.list({ before })).records.map((r) => r.runId);
    expect(await ids('run-0003')).toEqual(['run-0001', 'run-0002']);
    expect(await ids(nightly(2))).toEqual(['run-0001']);
    expect(await ids(new Date(Date.parse(nightly(2)) + 1).toISOString())).toEqual(['run-0001', 'run-0002']);
    expect(await ids('20261203T030000Z-notwrittenyet')).toEqual(['run-0001']);
    await expect(p.store.list({ before: 'no-such-run' })).rejects.toMatchObject({ code: 'config-invalid' });
  });

  it('lists nothing from an empty location', async () => {
    expect(await make().store.list()).toEqual({ records: [], skipped: [] });
  });
});

describe('local history store', () => {
  it('8 writer processes at once (shards of the same runs, runs of their own, one same record): every record is there once, no temporary file left', async () => {
    const dir = tempDir('history-writers');
    // Each writer loads the store, says "ready", and writes only on "go": node and tsx start slowly, the writes must overlap.
    const code = `
      const { openHistoryStore } = await import(${JSON.stringify(path.join(ROOT, 'src/history/store.ts'))});
      const { entry, record, nightly } = await import(${JSON.stringify(path.join(ROOT, 'test/history/records.ts'))});
      const [dir, w] = process.argv.slice(-2);
      const store = openHistoryStore(dir);
      process.stdout.write('ready\\n');
      await new Promise((go) => process.stdin.once('data', go));
      await Promise.all(Array.from({ length: 20 }, (_, n) => store.write(record('fleet-' + n, nightly(n), [entry('vol-' + w)], { shard: 'w' + w }))));
      await store.write(record('solo-' + w, nightly(30), [entry('vol-' + w)]));
      const clash = await store.write(record('clash', nightly(40), [entry('vol-' + w)])).then(() => 'won', (e) => e.code);
      process.stdout.write(clash + '\\n');
      process.stdin.destroy();
    `;
    const writers = Array.from({ length: 8 }, (_, w) => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, dir, String(w)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
    const exits = writers.map((child) => {
      let [stdout, stderr] = ['', ''];
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (c) => resolve({ code: c, stdout, stderr })));
    });
    await Promise.all(writers.map((child) => new Promise((ready) => child.stdout.once('data', ready))));
    for (const child of writers) child.stdin.end('go\n');
    const done = await Promise.all(exits);
    expect(done.map((d) => [d.code, d.stderr])).toEqual(Array(8).fill([0, '']));
    // All eight wrote the same record at once: exactly one got it, the others were refused.
    expect(done.map((d) => d.stdout.split('\n')[1]).sort()).toEqual([...Array(7).fill('history-record-exists'), 'won']);
    expect(readdirSync(path.join(dir, 'runs'))).toHaveLength(8 * 21 + 1);
    const { records, skipped } = await openHistoryStore(dir).list({ limit: 1000 });
    expect(skipped).toEqual([]);
    expect(records).toHaveLength(29);
    const fleet = records.filter((r) => r.runId.startsWith('fleet-'));
    expect(fleet).toHaveLength(20);
    for (const r of fleet) expect(r.entries.map((e) => e.lineage).sort()).toEqual([...Array(8).keys()].map((w) => `vol-${w}`));
    expect(records.filter((r) => r.runId.startsWith('solo-')).map((r) => r.runId).sort()).toEqual([...Array(8).keys()].map((w) => `solo-${w}`));
  });

  it('does not list a temporary file a writer is still writing', async () => {
    const p = local();
    await p.putRaw('runs/.20261202T030000Z-run-0001.json.123.abcd.tmp', '{"half');
    expect(await p.store.list()).toEqual({ records: [], skipped: [] });
  });
});

describe('S3 history store', () => {
  it('lists past the first page of 1,000 keys', async () => {
    const prefix = 'paged';
    await mapLimit([...Array(1005).keys()], 32, (n) => {
      const r = record(`r${n}`, new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString());
      return s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${recordKey(r)}`, Body: JSON.stringify(r) }));
    });
    const store = openHistoryStore(`s3://${BUCKET}/${prefix}`, { s3: s3HistoryObjects(s3) });
    // The newest keys sort last, on the second page: seeing them means every page was read.
    expect((await store.list({ limit: 3 })).records.map((r) => r.runId)).toEqual(['r1002', 'r1003', 'r1004']);
  });

  it('a client built from the environment (AWS_ENDPOINT_URL) reaches the bucket', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: TEST_REGION, AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey });
    try {
      const store = openHistoryStore(`s3://${BUCKET}/env`, { s3: s3HistoryObjects(createHistoryS3Client()) });
      await store.write(nightlyRun(1));
      expect((await store.list()).records.map((r) => r.runId)).toEqual(['run-0001']);
    } finally {
      process.env = saved;
    }
  });

  it('a bucket that does not exist is a typed error, not an empty history', async () => {
    const store = openHistoryStore('s3://no-such-bucket/x', { s3: s3HistoryObjects(s3) });
    await expect(store.list()).rejects.toMatchObject({ code: 'history-list-failed' });
  });
});

describe('snapdrill history', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/bin.ts'), 'history', ...args], { cwd: ROOT, env: { ...process.env, CI: '1', ...env }, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  /** filled is a local history of three runs, the last failing vol-2, plus one truncated record. */
  async function filled(): Promise<string> {
    const p = local();
    await p.store.write(nightlyRun(1));
    await p.store.write(record('run-0002', nightly(2), [entry('vol-1', { snapshotId: 'snap-1-2' })]));
    await p.store.write(nightlyRun(3, { exitCode: 1, entries: [entry('vol-1', { snapshotId: 'snap-1-3', restoreToVerifiedMs: 150_000 }), entry('vol-2', { snapshotId: 'snap-2-3', consistency: 'unknown', policyPass: false, reason: 'losetup: no free loop device' })] }));
    await p.putRaw(recordKey(nightlyRun(4)), '{"schemaVersion":1,');
    return p.location;
  }

  it('--json prints the records, oldest first, and warns about what it skipped', async () => {
    const dir = await filled();
    const r = cli(['--store', dir, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as RunRecord[]).map((x) => x.runId)).toEqual(['run-0001', 'run-0002', 'run-0003']);
    expect(r.stderr).toMatch(/^warning: skipped runs\/20261205T030000Z-run-0004\.json: not valid JSON \(truncated\?\)/);
  });

  it('text: one line per run (time, run id, snapshots, failures, unknowns, exit code); --runs keeps the newest', async () => {
    const dir = await filled();
    const r = cli(['--store', dir, '--runs', '3']); // the newest three: run-0004 is the truncated one, skipped
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'started                run                       snapshots  failed  unknown  exit',
      '2026-12-03 03:00:00Z   run-0002                          1       0        0     0',
      '2026-12-04 03:00:00Z   run-0003                          2       1        1     1',
      '',
    ]);
  });

  it('text --lineage: one line per run for that lineage (time, run id, snapshot, verdict, RTO, policy)', async () => {
    const dir = await filled();
    const r = cli(['--store', dir, '--lineage', 'vol-2']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'started                run                       snapshot                verdict                       RTO  policy',
      `2026-12-02 03:00:00Z   run-0001                  snap-2-1                application-consistent  ${fmt(10_000).padStart(9)}  pass`,
      '2026-12-03 03:00:00Z   run-0002                  (not verified in this run)',
      `2026-12-04 03:00:00Z   run-0003                  snap-2-3                unknown                 ${fmt(10_000).padStart(9)}  fail: losetup: no free loop device`,
      '',
    ]);
  });

  it('reads an S3 store through AWS_ENDPOINT_URL', async () => {
    const p = onS3();
    await p.store.write(nightlyRun(1));
    const r = cli(['--store', p.location, '--json'], { AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: TEST_REGION, AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/^warning: skipped/m);
    expect((JSON.parse(r.stdout) as RunRecord[]).map((x) => x.runId)).toEqual(['run-0001']);
  });

  it("with --config: reads <output.dir>/history, or output.history (relative to the config file) for output.historyRuns runs", async () => {
    const out = tempDir('history-out');
    await openHistoryStore(path.join(out, 'history')).write(nightlyRun(1));
    for (const n of [2, 3]) await openHistoryStore(path.join(out, 'elsewhere')).write(nightlyRun(n));
    const ids = (yaml: string) => {
      writeFileSync(path.join(out, 'snapdrill.yaml'), `provider: {type: local, catalog: ${out}}\n${yaml}\n`);
      const r = cli(['--config', path.join(out, 'snapdrill.yaml'), '--json']);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as RunRecord[]).map((x) => x.runId);
    };
    expect(ids(`output: {dir: ${out}}`)).toEqual(['run-0001']);
    expect(ids('output: {dir: reports, history: elsewhere, historyRuns: 1}')).toEqual(['run-0003']);
  });

  it('says so when there is no history yet, and exits 2 on a bad --runs', () => {
    const dir = tempDir('history-empty');
    expect(cli(['--store', dir])).toMatchObject({ code: 0, stdout: `no runs recorded in ${dir}\n` });
    expect(cli(['--store', dir, '--runs', '0'])).toMatchObject({ code: 2 });
  });
});
