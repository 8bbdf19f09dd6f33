import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_ITEMS, alertDetail, alertsFor, type Alert } from '../../src/notify/alerts.js';
import { notifyAfterRun } from '../../src/notify/index.js';
import { cloudWatchData } from '../../src/notify/cloudwatch.js';
import { escapeLabelValue, renderPrometheus, writePrometheusTextfile } from '../../src/notify/prometheus.js';
import { subjectOf } from '../../src/notify/sns.js';
import { sendWebhook, type WebhookBody } from '../../src/notify/webhook.js';
import type { RunReport, SnapshotResult } from '../../src/report/types.js';
import { compiledSchema } from '../../src/util/schema.js';
import { tempDir } from '../helpers.js';
import { sampleReport } from '../report/sample.js';

const FINISHED = Date.parse('2026-11-24T03:00:05.000Z') / 1000;

/** withRpoAndRecovery is the all-pass run plus one RPO violation and a history with a recovery, an ended RPO violation and a verdict change. */
function withRpoAndRecovery(): RunReport {
  const r = sampleReport('all-pass-exit0');
  r.exitCode = 1;
  r.rpo = [{ volumeId: 'vol-stale', lastSnapshotId: 'snap-old', ageMs: 3 * 86_400_000, budgetMs: 86_400_000, reason: 'newest snapshot snap-old is 3d old (RPO 1d)' }];
  r.history = {
    runs: 3,
    previousRunId: 'prev',
    trends: [],
    changes: [
      { kind: 'recovery', lineage: 'vol-web', snapshotId: 'snap-0123456789abcdef0', previousSnapshotId: 'snap-prev', detail: 'vol-web: corrupt → application-consistent (snap-0123456789abcdef0)' },
      { kind: 'rpo-recovered', lineage: 'vol-db', detail: 'vol-db: has a snapshot newer than policy.rpo again' },
      { kind: 'verdict-change', lineage: 'vol-x', detail: 'vol-x: application- → crash-consistent' },
    ],
  };
  return r;
}

/** manyFailures is a run in which `n` snapshots fail the policy. */
function manyFailures(n: number): RunReport {
  const r = sampleReport('mixed-exit1');
  const corrupt = r.snapshots.find((s) => s.consistency === 'corrupt')!;
  r.snapshots = Array.from({ length: n }, (_, i): SnapshotResult => ({ ...corrupt, id: `snap-${i}`, lineage: `vol-${i}` }));
  return r;
}

describe('alertsFor', () => {
  it('GIVEN a run where every snapshot passes WHEN listing alerts THEN there are none', () => {
    expect(alertsFor(sampleReport('all-pass-exit0'))).toEqual([]);
  });

  it('GIVEN a mixed run (exit 1) WHEN listing alerts THEN a policy failure for the 3 failing snapshots and a harness error for the one that ended in an error', () => {
    const alerts = alertsFor(sampleReport('mixed-exit1'), { reportPath: '/reports/r1/report.json' });
    expect(alerts.map((a) => a.kind)).toEqual(['policy-failure', 'harness-error']);
    const [policy, harness] = alerts as [Alert, Alert];
    expect(policy.title).toBe('snapdrill: 3 of 4 snapshots fail the policy');
    expect(policy.items.map((i) => i.snapshotId)).toEqual(['snap-<b>bold</b>&"quoted"', 'empty', 'snap-db-walgap']);
    expect(policy.items[2]).toEqual({ snapshotId: 'snap-db-walgap', lineage: 'vol-web', consistency: 'corrupt', reason: 'corrupt' });
    expect(policy.body.split('\n')).toEqual([
      'run 20261124T030000Z-abcdef on helper-1 (local), exit code 1',
      'report: /reports/r1/report.json',
      '- snap-<b>bold</b>&"quoted" (vol-web, corrupt): corrupt',
      '- empty (vol-web, unknown): consistency could not be determined (set policy.allowUnknown to accept)',
      '- snap-db-walgap (vol-web, corrupt): corrupt',
    ]);
    expect(harness.items).toEqual([{ snapshotId: 'empty', lineage: 'vol-web', consistency: 'unknown', reason: 'restore: image-empty: image /catalog/empty.img is empty (0 bytes)' }]);
    for (const a of alerts) expect(a.title).not.toContain('\n');
  });

  it('GIVEN a run that exited 3 WHEN listing alerts THEN the harness error names the run error and the snapshot error', () => {
    const harness = alertsFor(sampleReport('harness-error-exit3')).find((a) => a.kind === 'harness-error')!;
    expect(harness.title).toBe('snapdrill: harness error, exit code 3 (2 errors)');
    expect(harness.items.map((i) => [i.snapshotId, i.reason])).toEqual([
      [null, 'attach: attach-failed: losetup: no free loop device'],
      ['snap-infra', 'attach: attach-failed: losetup: no free loop device'],
    ]);
  });

  it('GIVEN a run that exited 4 without a recorded error WHEN listing alerts THEN a harness error still says so', () => {
    const r = { ...sampleReport('all-pass-exit0'), exitCode: 4 };
    expect(alertsFor(r)).toEqual([expect.objectContaining({ kind: 'harness-error', items: [{ snapshotId: null, lineage: null, consistency: null, reason: 'run exited with code 4' }] })]);
  });

  it('GIVEN an RPO violation and a history with recoveries WHEN listing alerts THEN the violation is a policy failure and only recovery / rpo-recovered changes are recoveries', () => {
    const alerts = alertsFor(withRpoAndRecovery());
    expect(alerts.map((a) => [a.kind, a.title])).toEqual([
      ['policy-failure', 'snapdrill: 1 RPO violation'],
      ['recovery', 'snapdrill: 2 lineages recovered'],
    ]);
    expect(alerts[0]!.items).toEqual([{ snapshotId: 'snap-old', lineage: 'vol-stale', consistency: null, reason: 'newest snapshot snap-old is 3d old (RPO 1d)' }]);
    expect(alerts[1]!.items).toEqual([
      { snapshotId: 'snap-0123456789abcdef0', lineage: 'vol-web', consistency: 'application-consistent', reason: 'vol-web: corrupt → application-consistent (snap-0123456789abcdef0)' },
      { snapshotId: null, lineage: 'vol-db', consistency: null, reason: 'vol-db: has a snapshot newer than policy.rpo again' },
    ]);
    expect(alerts[1]!.body).toContain('- vol-db: vol-db: has a snapshot newer than policy.rpo again');
  });

  it('GIVEN 125 failing snapshots WHEN listing alerts THEN the body lists 20 and "…and 105 more", the detail 100 with the counts', () => {
    const r = manyFailures(125);
    const [policy] = alertsFor(r);
    const lines = policy!.body.split('\n');
    expect(lines.filter((l) => l.startsWith('- '))).toHaveLength(BODY_ITEMS);
    expect(lines.at(-1)).toBe('…and 105 more');
    const detail = alertDetail(policy!, r);
    expect(detail.items).toHaveLength(100);
    expect(detail.counts).toMatchObject({ items: 125, omitted: 25, snapshots: r.summary.total });
    expect(compiledSchema('event.schema.json')(detail)).toBe(true);
  });

  it('GIVEN reasons with terminal escapes and line breaks WHEN listing alerts THEN every body line and reason is one clean line', () => {
    const r = manyFailures(1);
    r.snapshots[0]!.policy = { ...r.snapshots[0]!.policy, reason: 'bad\u001b[31m red\u001b[0m\nsecond line\u202e' };
    const [policy] = alertsFor(r);
    expect(policy!.items[0]!.reason).toBe('bad red second line');
    expect(policy!.body).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
  });

  it('GIVEN every sample scenario WHEN building the structured detail THEN it validates against schemas/event.schema.json', () => {
    const validate = compiledSchema('event.schema.json');
    const reports = [sampleReport('mixed-exit1'), sampleReport('harness-error-exit3'), sampleReport('boot-fails-exit1'), withRpoAndRecovery()];
    for (const r of reports) {
      for (const a of alertsFor(r, { reportPath: '/r/report.json' })) {
        expect(validate(alertDetail(a, r)), JSON.stringify(validate.errors)).toBe(true);
      }
    }
  });

  it('GIVEN a long title with non-ASCII characters WHEN making an SNS subject THEN it is printable ASCII under 100 characters', () => {
    const subject = subjectOf(`snapdrill: ${'é'.repeat(50)} ${'x'.repeat(200)}`);
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+\.\.\.$/);
  });
});

/** Sample is one parsed exposition line. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** parseExposition reads the text format back: families (TYPE, HELP) and samples, and fails on any line it cannot read. */
function parseExposition(text: string): { types: Map<string, string>; help: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const map = meta[1] === 'TYPE' ? types : help;
      expect(map.has(meta[2]!), `second ${meta[1]} for ${meta[2]}`).toBe(false);
      map.set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `unreadable line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    const pairs = m![2] ?? '';
    const consumed = [...pairs.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)];
    expect(consumed.map((c) => c[0]).join('')).toBe(pairs);
    for (const [, k, v] of consumed) labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m![3] === '+Inf' ? Infinity : Number(m![3]);
    expect(Number.isNaN(value), line).toBe(false);
    samples.push({ name: m![1]!, labels, value });
  }
  return { types, help, samples };
}

/** valueOf finds one sample by name and labels. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
}

/** promtoolCheck runs `promtool check metrics` on the text (stdin); a missing promtool fails the test. */
function promtoolCheck(text: string): void {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  expect(res.error, 'promtool must be installed (Debian package prometheus)').toBeUndefined();
  expect(`${res.stdout}${res.stderr}`.trim()).toBe('');
  expect(res.status).toBe(0);
}

describe('renderPrometheus', () => {
  it('GIVEN a mixed run WHEN rendering THEN every family has HELP and TYPE, verdicts include zeros, and promtool accepts it', () => {
    const text = renderPrometheus(sampleReport('mixed-exit1'));
    const { types, help, samples } = parseExposition(text);
    expect(Object.fromEntries(types)).toEqual({
      snapdrill_snapshots: 'gauge',
      snapdrill_policy_failures: 'gauge',
      snapdrill_harness_errors: 'gauge',
      snapdrill_phase_seconds: 'histogram',
      snapdrill_restore_to_verified_seconds: 'histogram',
      snapdrill_rpo_violations: 'gauge',
      snapdrill_last_run_timestamp_seconds: 'gauge',
      snapdrill_last_run_exit_code: 'gauge',
    });
    expect([...help.keys()]).toEqual([...types.keys()]);
    for (const s of samples) expect(types.has(s.name.replace(/_(bucket|sum|count)$/, ''))).toBe(true);
    expect(samples.filter((s) => s.name === 'snapdrill_snapshots').map((s) => [s.labels.verdict, s.value])).toEqual([
      ['application-consistent', 1],
      ['crash-consistent', 0],
      ['corrupt', 2],
      ['unknown', 1],
    ]);
    expect(valueOf(samples, 'snapdrill_policy_failures')).toBe(3);
    expect(valueOf(samples, 'snapdrill_harness_errors')).toBe(1);
    expect(valueOf(samples, 'snapdrill_rpo_violations')).toBe(0);
    expect(valueOf(samples, 'snapdrill_last_run_timestamp_seconds')).toBe(FINISHED);
    expect(valueOf(samples, 'snapdrill_last_run_exit_code')).toBe(1);
    expect(valueOf(samples, 'snapdrill_last_success_timestamp_seconds')).toBeUndefined();
    promtoolCheck(text);
  });

  it('GIVEN snapshots of several accounts and regions WHEN rendering THEN per-place verdict and policy-failure series, promtool-valid; CloudWatch gets them with Account and Region', () => {
    const mixed = sampleReport('mixed-exit1');
    const places = [['111111111111', 'us-east-1'], ['111111111111', 'eu-west-1'], ['222222222222', 'us-east-1'], ['222222222222', 'us-east-1']];
    const report = { ...mixed, snapshots: mixed.snapshots.map((s, i) => ({ ...s, account: places[i % 4]![0]!, region: places[i % 4]![1]! })) };
    const text = renderPrometheus(report);
    const { samples } = parseExposition(text);
    const by = (name: string) => samples.filter((s) => s.name === name && s.value > 0).map((s) => `${s.labels.account}/${s.labels.region}${s.labels.verdict ? `/${s.labels.verdict}` : ''}=${s.value}`);
    const expected = report.snapshots.map((s) => `${s.account}/${s.region}/${s.consistency}`);
    const counted = by('snapdrill_place_snapshots').flatMap((e) => Array.from({ length: Number(e.split('=')[1]) }, () => e.split('=')[0]));
    expect(counted.sort()).toEqual(expected.sort());
    expect(samples.filter((s) => s.name === 'snapdrill_place_policy_failures').reduce((n, s) => n + s.value, 0)).toBe(report.snapshots.filter((s) => !s.policy.pass).length);
    promtoolCheck(text);
    const cw = cloudWatchData(report, {}).filter((d) => d.Dimensions!.some((x) => x.Name === 'Account'));
    expect(cw.filter((d) => d.MetricName === 'Snapshots').reduce((n, d) => n + d.Value!, 0)).toBe(report.snapshots.length);
    expect(new Set(cw.map((d) => d.Dimensions!.map((x) => x.Name).join(',')))).toEqual(new Set(['Account,Region,Verdict', 'Account,Region']));
    // A run without accounts (local images) has no per-place series.
    expect(renderPrometheus(mixed)).not.toContain('snapdrill_place_');
  });

  it('GIVEN a mixed run WHEN rendering THEN the histograms are cumulative and count every phase of every snapshot', () => {
    const { samples } = parseExposition(renderPrometheus(sampleReport('mixed-exit1')));
    // Three snapshots have 5 phases (restore 0.1 s, attach 0.2 s, ...), the empty image one restore phase of 0 s.
    expect(valueOf(samples, 'snapdrill_phase_seconds_count', { phase: 'restore' })).toBe(4);
    expect(valueOf(samples, 'snapdrill_phase_seconds_sum', { phase: 'restore' })).toBe(0.3);
    expect(valueOf(samples, 'snapdrill_phase_seconds_bucket', { phase: 'attach', le: '0.1' })).toBe(0);
    expect(valueOf(samples, 'snapdrill_phase_seconds_bucket', { phase: 'attach', le: '0.5' })).toBe(3);
    expect(valueOf(samples, 'snapdrill_phase_seconds_count', { phase: 'boot' })).toBe(0);
    expect(valueOf(samples, 'snapdrill_restore_to_verified_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(valueOf(samples, 'snapdrill_restore_to_verified_seconds_bucket', { le: '1' })).toBe(4);
    expect(valueOf(samples, 'snapdrill_restore_to_verified_seconds_sum')).toBe(4);
    const buckets = samples.filter((s) => s.name === 'snapdrill_phase_seconds_bucket' && s.labels.phase === 'teardown');
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)).toMatchObject({ labels: { phase: 'teardown', le: '+Inf' }, value: 3 });
  });

  it('GIVEN a phase kind with a quote, a backslash and a line break WHEN rendering THEN its label value is escaped, parses back and promtool accepts it', () => {
    const r = sampleReport('all-pass-exit0');
    const odd = 'we"ird\\kind\nx';
    r.snapshots[0]!.phases.push({ ...r.snapshots[0]!.phases[0]!, kind: odd as never });
    expect(escapeLabelValue(odd)).toBe('we\\"ird\\\\kind\\nx');
    const text = renderPrometheus(r);
    const { samples } = parseExposition(text);
    expect(valueOf(samples, 'snapdrill_phase_seconds_count', { phase: odd })).toBe(1);
    promtoolCheck(text);
  });

  it('GIVEN a successful run, then a failed one WHEN rendering THEN last_success is the first run finish, carried over the failure', () => {
    const ok = renderPrometheus(sampleReport('all-pass-exit0'));
    expect(valueOf(parseExposition(ok).samples, 'snapdrill_last_success_timestamp_seconds')).toBe(FINISHED);
    const failed = { ...sampleReport('mixed-exit1'), finishedAt: '2026-11-25T03:00:05.000Z' };
    const after = renderPrometheus(failed, ok);
    expect(valueOf(parseExposition(after).samples, 'snapdrill_last_success_timestamp_seconds')).toBe(FINISHED);
    expect(valueOf(parseExposition(after).samples, 'snapdrill_last_run_timestamp_seconds')).toBe(FINISHED + 86_400);
    promtoolCheck(after);
    // An unreadable earlier file carries nothing over.
    expect(renderPrometheus(failed, 'garbage\nsnapdrill_last_success_timestamp_seconds oops\n')).not.toContain('snapdrill_last_success');
  });
});

describe('writePrometheusTextfile', () => {
  it('GIVEN a textfile directory and a umask of 077 WHEN writing twice THEN the file is 0644, carries last_success over and no temp file is left', () => {
    const dir = tempDir('prom');
    const file = path.join(dir, 'snapdrill.prom');
    const umask = process.umask(0o077);
    try {
      expect(writePrometheusTextfile(sampleReport('all-pass-exit0'), file)).toEqual({ channel: 'prometheus', target: file, ok: true });
      expect(writePrometheusTextfile(sampleReport('mixed-exit1'), file)).toEqual({ channel: 'prometheus', target: file, ok: true });
    } finally {
      process.umask(umask);
    }
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['snapdrill.prom']);
    const { samples } = parseExposition(readFileSync(file, 'utf8'));
    expect(valueOf(samples, 'snapdrill_last_run_exit_code')).toBe(1);
    expect(valueOf(samples, 'snapdrill_last_success_timestamp_seconds')).toBe(FINISHED);
  });

  it('GIVEN a directory that does not exist WHEN writing THEN the outcome fails with the reason and nothing throws', () => {
    const file = path.join(tempDir('prom'), 'missing', 'snapdrill.prom');
    const out = writePrometheusTextfile(sampleReport('all-pass-exit0'), file);
    expect(out).toMatchObject({ channel: 'prometheus', target: file, ok: false });
    expect(out.error).toContain('ENOENT');
  });

  it('GIVEN the target path is a directory WHEN writing THEN the outcome fails and the temp file is removed', () => {
    const dir = tempDir('prom');
    const file = path.join(dir, 'snapdrill.prom');
    writeFileSync(path.join(dir, 'keep'), '');
    spawnSync('mkdir', [file]);
    const out = writePrometheusTextfile(sampleReport('all-pass-exit0'), file);
    expect(out.ok).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['keep', 'snapdrill.prom']);
  });
});

/** Received is one request a local receiver got. */
interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Receiver is a local HTTP server on 127.0.0.1 that records requests and answers with `answer` (or never). */
interface Receiver {
  origin: string;
  received: Received[];
  close(): Promise<void>;
}

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

/** startReceiver starts a receiver; `answer` undefined means it reads the request and never answers. */
async function startReceiver(answer?: { status: number; body: string }): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (answer) res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver = {
    origin: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  receivers.push(receiver);
  return receiver;
}

/** unusedPort is a loopback port nothing listens on (bound, read, closed). */
async function unusedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** SECRET_PATH is what a chat webhook URL hides in its path and query: it must never reach an outcome or a log. */
const SECRET_PATH = '/services/T000/B000/XXSECRETXX?token=QQSECRETQQ';

describe('sendWebhook', () => {
  it('GIVEN a receiver that answers 200 WHEN sending a mixed run THEN one Slack-compatible POST per alert, with the headers and the structured detail', async () => {
    const rx = await startReceiver({ status: 200, body: 'ok' });
    const report = sampleReport('mixed-exit1');
    const alerts = alertsFor(report);
    const out = await sendWebhook(alerts, report, { url: `${rx.origin}${SECRET_PATH}`, headers: { authorization: 'Bearer t0k' } });
    expect(out).toEqual({ channel: 'webhook', target: rx.origin, ok: true });
    expect(rx.received).toHaveLength(2);
    const [first] = rx.received;
    expect(first).toMatchObject({ method: 'POST', url: SECRET_PATH });
    expect(first!.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer t0k', 'user-agent': 'snapdrill/0.0.0-test' });
    const body = JSON.parse(first!.body) as WebhookBody;
    expect(Object.keys(body).sort()).toEqual(['blocks', 'snapdrill', 'text']);
    expect(body.text.split('\n')[0]).toBe('snapdrill: 3 of 4 snapshots fail the policy');
    // Ids from disks cannot become Slack links or mentions.
    expect(body.text).toContain('snap-&lt;b&gt;bold&lt;/b&gt;&amp;"quoted"');
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'snapdrill: 3 of 4 snapshots fail the policy' } });
    expect(body.blocks[1]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
    expect(compiledSchema('event.schema.json')(body.snapdrill)).toBe(true);
    expect(body.snapdrill).toMatchObject({ runId: report.runId, kind: 'policy-failure', exitCode: 1, counts: { items: 3 } });
    expect(JSON.parse(rx.received[1]!.body).snapdrill.kind).toBe('harness-error');
  });

  it('GIVEN a receiver that answers 500 WHEN sending THEN the outcome fails with the status and an excerpt, and hides the URL path', async () => {
    const rx = await startReceiver({ status: 500, body: `internal oops ${'x'.repeat(1000)}` });
    const report = sampleReport('all-pass-exit0');
    const alerts = alertsFor({ ...report, exitCode: 3 });
    const out = await sendWebhook(alerts, report, { url: `${rx.origin}${SECRET_PATH}` });
    expect(out).toMatchObject({ channel: 'webhook', target: rx.origin, ok: false });
    expect(out.error).toMatch(/^harness-error: HTTP 500: internal oops x+…$/);
    expect(out.error!.length).toBeLessThan(300);
    expect(JSON.stringify(out)).not.toMatch(/SECRET/);
  });

  it('GIVEN a receiver that never answers WHEN sending with timeoutMs 300 THEN the outcome fails after about 300 ms', async () => {
    const rx = await startReceiver();
    const report = sampleReport('harness-error-exit3');
    const started = Date.now();
    const out = await sendWebhook(alertsFor(report).slice(0, 1), report, { url: `${rx.origin}${SECRET_PATH}`, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(out).toEqual({ channel: 'webhook', target: rx.origin, ok: false, error: 'policy-failure: no answer within 300 ms' });
    expect(rx.received).toHaveLength(1);
  });

  it('GIVEN a port nothing listens on WHEN sending THEN the outcome fails with the connection error, without the URL path', async () => {
    const port = await unusedPort();
    const report = sampleReport('mixed-exit1');
    const out = await sendWebhook(alertsFor(report), report, { url: `http://127.0.0.1:${port}${SECRET_PATH}`, timeoutMs: 2_000 });
    expect(out).toMatchObject({ channel: 'webhook', target: `http://127.0.0.1:${port}`, ok: false });
    expect(out.error).toContain('ECONNREFUSED');
    expect(out.error).not.toMatch(/SECRET/);
  });

  it('GIVEN a URL that does not parse WHEN sending THEN the outcome fails and names no part of it', async () => {
    const report = sampleReport('mixed-exit1');
    const out = await sendWebhook(alertsFor(report), report, { url: 'not a url XXSECRETXX' });
    expect(out).toEqual({ channel: 'webhook', target: '(invalid URL)', ok: false, error: 'the webhook URL does not parse' });
  });
});

describe('notifyAfterRun (local channels)', () => {
  it('GIVEN a metrics file, a webhook and SNS without a client WHEN a mixed run ends THEN metrics and webhook succeed, SNS fails, and the log never shows the webhook path', async () => {
    const rx = await startReceiver({ status: 204, body: '' });
    const file = path.join(tempDir('prom'), 'snapdrill.prom');
    const lines: string[] = [];
    const outcomes = await notifyAfterRun(
      sampleReport('mixed-exit1'),
      { metricsFile: file, webhook: { url: `${rx.origin}${SECRET_PATH}` }, sns: { topicArn: 'arn:aws:sns:us-east-1:123456789012:t' }, on: ['policy-failure'] },
      { log: (l) => lines.push(l) },
    );
    expect(outcomes).toEqual([
      { channel: 'prometheus', target: file, ok: true },
      { channel: 'sns', target: 'arn:aws:sns:us-east-1:123456789012:t', ok: false, error: 'sns is configured but no sns client was given' },
      { channel: 'webhook', target: rx.origin, ok: true },
    ]);
    // `on` keeps only the policy failure.
    expect(rx.received.map((r) => JSON.parse(r.body).snapdrill.kind)).toEqual(['policy-failure']);
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toMatch(/SECRET|\/services/);
    expect(lines).toContain(`notify webhook ${rx.origin}: ok`);
  });

  it('GIVEN a run with nothing to say WHEN notifying THEN metrics are written and no alert is sent', async () => {
    const rx = await startReceiver({ status: 200, body: 'ok' });
    const file = path.join(tempDir('prom'), 'snapdrill.prom');
    const outcomes = await notifyAfterRun(sampleReport('all-pass-exit0'), { metricsFile: file, webhook: { url: rx.origin } }, { log: () => {} });
    expect(outcomes).toEqual([{ channel: 'prometheus', target: file, ok: true }]);
    expect(rx.received).toEqual([]);
    expect(readFileSync(file, 'utf8')).toContain('snapdrill_last_run_exit_code 0');
  });

  it('GIVEN a webhook that never answers and a channel timeout of 300 ms WHEN notifying THEN that channel fails on the timeout and nothing throws, even from the log', async () => {
    const rx = await startReceiver();
    const outcomes = await notifyAfterRun(
      sampleReport('mixed-exit1'),
      { webhook: { url: `${rx.origin}${SECRET_PATH}`, timeoutMs: 60_000 }, timeoutMs: 300 },
      {
        log: () => {
          throw new Error('log is broken');
        },
      },
    );
    expect(outcomes).toEqual([{ channel: 'webhook', target: rx.origin, ok: false, error: 'no result within 300 ms' }]);
  });
});
