import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/report/types.js';
import { fakeCredentials, startMoto, TEST_REGION, type MotoServer } from '../aws/moto.js';
import { cliAsync, fsCatalog, sha256, tempDir } from '../helpers.js';

const HOUR = 3_600_000;

/** cli runs the real snapdrill, with moto's credentials for the alert channels, without blocking the webhook receiver here. */
function cli(args: string[]) {
  return cliAsync(args, { AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey, AWS_REGION: TEST_REGION, AWS_EC2_METADATA_DISABLED: 'true' });
}

/** place puts one fixture image into a catalog as a snapshot of a volume, taken `ageMs` ago. */
function place(catalog: string, image: string, id: string, volumeId: string, ageMs: number): void {
  symlinkSync(path.join(fsCatalog(), image), path.join(catalog, `${id}.img`));
  writeFileSync(path.join(catalog, `${id}.json`), JSON.stringify({ id, volumeId, startTime: new Date(Date.now() - ageMs).toISOString(), tags: { Name: id } }));
}

/** Hook is a local webhook receiver keeping every body it was sent. */
interface Hook {
  url: string;
  bodies: { text: string; snapdrill: { kind: string; items: { lineage: string }[] } }[];
  server: Server;
}

async function startHook(): Promise<Hook> {
  const hook: Hook = { url: '', bodies: [], server: createServer() };
  hook.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hook.bodies.push(JSON.parse(body));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/services/T000/B000/secret`;
  return hook;
}

let moto: MotoServer;
let hook: Hook;
let sqs: SQSClient;
let queueUrl: string;
let topicArn: string;

/** snsMessages drains the queue subscribed to the topic. */
async function snsMessages(): Promise<{ Subject: string; Message: string }[]> {
  const out: { Subject: string; Message: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    out.push(...(r.Messages ?? []).map((m) => JSON.parse(m.Body!)));
  }
  return out;
}

describe('nightly operations, end to end on real fixture runs (history, RPO, alerts, metrics, evidence)', () => {
  const dir = tempDir('ops');
  const catalog = path.join(dir, 'catalog');
  const out = path.join(dir, 'reports');
  const metrics = path.join(dir, 'snapdrill.prom');
  const config = path.join(dir, 'snapdrill.yaml');
  let first: RunReport;
  let second: RunReport;
  let secondDir: string;

  beforeAll(async () => {
    moto = await startMoto();
    hook = await startHook();
    const cfg = { region: TEST_REGION, endpoint: moto.endpoint, credentials: fakeCredentials };
    sqs = new SQSClient(cfg);
    const sns = new SNSClient(cfg);
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'snapdrill-ops' }))).TopicArn!;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'snapdrill-ops-q' }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn }));
    spawnSync('mkdir', ['-p', catalog]);
    writeFileSync(
      config,
      [
        `provider: {type: local, catalog: ${catalog}, scratchDir: ${path.join(dir, 'scratch')}}`,
        'snapshots: [{volumeIds: [vol-a, vol-b, vol-old, vol-gone], latestPerVolume: 1}]',
        'concurrency: 2',
        'policy: {rpo: 26h}',
        `output: {dir: ${out}, metrics: ${metrics}}`,
        `notify: {sns: {topicArn: '${topicArn}'}, webhook: {url: '${hook.url}'}, endpoint: '${moto.endpoint}', region: ${TEST_REGION}}`,
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await moto?.stop();
    hook?.server.close();
  });

  it('GIVEN a corrupt snapshot, a volume whose last snapshot is 3 days old and one with none WHEN run THEN each fails, and the webhook, SNS and the metrics file all receive the failure', async () => {
    place(catalog, 'ext4-clean.img', 'snap-a1', 'vol-a', 2 * HOUR);
    place(catalog, 'ext4-corrupt.img', 'snap-b1', 'vol-b', 2 * HOUR);
    place(catalog, 'xfs-clean.img', 'snap-old1', 'vol-old', 72 * HOUR);
    const sources = await Promise.all(['ext4-clean.img', 'ext4-corrupt.img', 'xfs-clean.img'].map((f) => sha256(path.join(fsCatalog(), f))));
    const r = await cli(['run', '-c', config, '--state-dir', path.join(dir, 'state')]);
    expect(r.code, r.stderr).toBe(1);
    first = JSON.parse(readFileSync(path.join(out, 'latest', 'report.json'), 'utf8'));
    expect(first.rpo!.map((v) => [v.volumeId, v.lastSnapshotId ?? null])).toEqual([
      ['vol-gone', null],
      ['vol-old', 'snap-old1'],
    ]);
    expect(first.rpo![0]!.reason).toBe('vol-gone has no snapshot newer than 26h00m: no snapshot at all');
    expect(first.rpo![1]!.reason).toMatch(/^vol-old has no snapshot newer than 26h00m: the last one \(snap-old1\) is 3d00h old$/);
    expect(first.snapshots.find((s) => s.id === 'snap-b1')).toMatchObject({ lineage: 'vol-b', consistency: 'corrupt', policy: { pass: false } });
    // The terminal says it too: the failures with their reasons, and where the report is.
    expect(r.stderr).toMatch(/✗ snap-b1 \(vol-b\): corrupt/);
    expect(r.stderr).toMatch(/✗ vol-gone has no snapshot newer than 26h00m: no snapshot at all/);
    expect(r.stderr).toMatch(/history: first run recorded/);
    // Webhook: one policy-failure alert naming the corrupt snapshot's lineage and both RPO volumes; the URL's secret path is never logged.
    const failure = hook.bodies.find((b) => b.snapdrill.kind === 'policy-failure')!;
    expect(failure.text).toMatch(/snap-b1/);
    expect(failure.text).toMatch(/vol-gone/);
    expect(failure.snapdrill.items.map((i) => i.lineage).sort()).toEqual(['vol-b', 'vol-gone', 'vol-old']);
    expect(r.stderr).not.toContain('secret');
    // SNS (moto) delivered it to the subscribed queue.
    const sns = await snsMessages();
    expect(sns.some((m) => /policy/i.test(m.Subject) && /vol-gone/.test(m.Message))).toBe(true);
    // The Prometheus textfile: parsed by promtool, and it counts the failure.
    const prom = readFileSync(metrics, 'utf8');
    expect(spawnSync('promtool', ['check', 'metrics'], { input: prom, encoding: 'utf8' }).status).toBe(0);
    expect(prom).toMatch(/^snapdrill_rpo_violations 2$/m);
    expect(prom).toMatch(/^snapdrill_policy_failures 1$/m);
    expect(prom).toMatch(/^snapdrill_snapshots\{verdict="corrupt"\} 1$/m);
    expect(first.notifications!.map((n) => [n.channel, n.ok])).toEqual(
      expect.arrayContaining([
        ['history', true],
        ['prometheus', true],
        ['sns', true],
        ['webhook', true],
      ]),
    );
    // Never the source: the fixture images are unchanged.
    expect(await Promise.all(['ext4-clean.img', 'ext4-corrupt.img', 'xfs-clean.img'].map((f) => sha256(path.join(fsCatalog(), f))))).toEqual(sources);
  }, 300_000);

  it('GIVEN newer snapshots the next night WHEN run again with --evidence THEN the report opens with what changed (recovery, verdict change) and the webhook hears of the recovery', async () => {
    place(catalog, 'ext4-crash.img', 'snap-a2', 'vol-a', HOUR);
    place(catalog, 'ext4-clean.img', 'snap-b2', 'vol-b', HOUR);
    expect((await cli(['evidence', 'keygen', '--out', path.join(dir, 'evidence')])).code).toBe(0);
    hook.bodies.length = 0;
    const r = await cli(['run', '-c', config, '--state-dir', path.join(dir, 'state'), '--evidence', '--signing-key', path.join(dir, 'evidence.key')]);
    expect(r.code, r.stderr).toBe(1);
    secondDir = path.join(out, 'latest');
    second = JSON.parse(readFileSync(path.join(secondDir, 'report.json'), 'utf8'));
    expect(second.history!.previousRunId).toBe(first.runId);
    const changes = second.history!.changes.map((c) => [c.kind, c.lineage]);
    expect(changes).toEqual(expect.arrayContaining([['recovery', 'vol-b'], ['verdict-change', 'vol-a']]));
    expect(second.history!.changes.find((c) => c.lineage === 'vol-a')!.detail).toMatch(/application-consistent → crash-consistent/);
    // The HTML says it at the top, before the snapshot table.
    const html = readFileSync(path.join(secondDir, 'index.html'), 'utf8');
    const changed = html.search(/[Ww]hat changed/);
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(html.indexOf('snap-a2'));
    expect(r.stderr).toMatch(new RegExp(`since the previous run \\(${first.runId}\\)`));
    expect(r.stderr).toMatch(/recovery: .*vol-b/);
    expect(hook.bodies.some((b) => b.snapdrill.kind === 'recovery' && /vol-b/.test(b.text))).toBe(true);
    expect(r.stderr).toMatch(/evidence pack: \d+ files, signed manifest/);
  }, 300_000);

  it('GIVEN the evidence pack THEN snapdrill evidence verify passes, and fails naming the file after one byte of it changes', async () => {
    const pub = path.join(dir, 'evidence.pub');
    const ok = await cli(['evidence', 'verify', secondDir, '--public-key', pub]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(secondDir, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    const listed = manifest.files.map((f) => f.path);
    expect(listed).toEqual(expect.arrayContaining(['index.html', 'report.json', 'junit.xml', 'config.json', 'facts/snap-a2.ndjson', 'excerpts/snap-a2.txt']));
    // The config in the pack is the one used, with the webhook URL (a secret) redacted.
    expect(readFileSync(path.join(secondDir, 'config.json'), 'utf8')).not.toContain('secret');
    const file = path.join(secondDir, 'report.json');
    const bytes = readFileSync(file);
    bytes[100] = bytes[100]! ^ 1;
    writeFileSync(file, bytes);
    const bad = await cli(['evidence', 'verify', secondDir, '--public-key', pub]);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/report\.json: SHA-256/);
  }, 120_000);

  it('snapdrill history lists both runs, and per lineage the verdicts', async () => {
    const r = await cli(['history', '-c', config, '--lineage', 'vol-a']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(first.runId);
    expect(r.stdout).toContain(second.runId);
    expect(r.stdout).toMatch(/snap-a1.*application-consistent/);
    expect(r.stdout).toMatch(/snap-a2.*crash-consistent/);
  }, 60_000);
});
