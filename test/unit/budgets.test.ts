import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Policy } from '../../src/config/types.js';
import { ConfigValidationError } from '../../src/errors.js';
import { evaluatePolicy } from '../../src/judges/policy.js';
import { judgeRpo } from '../../src/judges/rpo.js';
import { judgeRto, restoreToVerifiedMs } from '../../src/judges/rto.js';
import { judgeRun } from '../../src/judges/run.js';
import type { SnapshotInfo } from '../../src/provider.js';
import { renderTerminalSummary } from '../../src/report/terminal.js';
import { coveredVolumes } from '../../src/run/rpo.js';
import { describeScope } from '../../src/run/run.js';
import { sampleReport } from '../report/sample.js';
import { tempDir } from '../helpers.js';

const HOUR = 3_600_000;
const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 3, 0, s)).toISOString();
const phase = (kind: 'restore' | 'attach' | 'check' | 'boot' | 'teardown', start: number, ms: number) => ({ kind, startedAt: at(start), durationMs: ms });

describe('RTO: restore-to-verified time against its budget', () => {
  const phases = [phase('restore', 0, 10_000), phase('attach', 10, 2_000), phase('check', 12, 30_000), phase('check', 12, 50_000), phase('teardown', 62, 20_000)];

  it('counts from the first phase to the end of the last one before teardown: checks side by side count once', () => {
    expect(restoreToVerifiedMs(phases)).toBe(62_000);
    expect(restoreToVerifiedMs([])).toBe(0);
  });

  it('GIVEN a budget it is over THEN it fails naming the phase kind that took the most', () => {
    expect(judgeRto(phases, 60_000)).toMatchObject({ pass: false, measuredMs: 62_000, phase: 'check', phaseMs: 80_000, reason: 'restore-to-verified 1m02s exceeds the RTO of 1m00s; check took 1m20s' });
    expect(judgeRto(phases, 62_000)).toMatchObject({ pass: true, reason: 'restored and verified in 1m02s, within the RTO of 1m02s' });
  });

  it('GIVEN policy.rto or a rule\'s rto THEN evaluatePolicy fails a consistent snapshot over it, and the rule wins', () => {
    const policy: Policy = { minimum: 'crash-consistent', allowUnknown: false, rules: [{ match: { tags: { tier: 'gold' } }, rtoMs: 30_000 }], rtoMs: 120_000 };
    const plain = evaluatePolicy({ id: 's1', tags: {} }, 'application-consistent', policy, [], undefined, phases);
    expect(plain).toMatchObject({ pass: true, minimum: 'crash-consistent', rto: { pass: true, budgetMs: 120_000, measuredMs: 62_000 } });
    const gold = evaluatePolicy({ id: 's2', tags: { tier: 'gold' } }, 'application-consistent', policy, [], undefined, phases);
    expect(gold.pass).toBe(false);
    expect(gold.reason).toBe('restore-to-verified 1m02s exceeds the RTO of 30.0s; check took 1m20s; application-consistent meets crash-consistent (policy.minimum)');
    // A rule with only an RTO does not change the minimum.
    expect(gold.minimum).toBe('crash-consistent');
    expect(evaluatePolicy({ id: 's3', tags: {} }, 'crash-consistent', { ...policy, rtoMs: undefined } as Policy, [], undefined, phases).rto).toBeUndefined();
  });
});

describe('RPO: every covered volume needs a recent snapshot', () => {
  const now = new Date('2026-12-03T03:00:00Z');
  const ago = (h: number) => new Date(now.getTime() - h * HOUR).toISOString();

  it('GIVEN a fresh, a stale, an undated and a volume with no snapshot THEN the last three fail, each saying why', () => {
    const found = judgeRpo(
      [
        { volumeId: 'vol-fresh', snapshots: [{ id: 's-old', startTime: ago(50) }, { id: 's-new', startTime: ago(2) }] },
        { volumeId: 'vol-stale', region: 'eu-west-1', snapshots: [{ id: 's-1', startTime: ago(72) }] },
        { volumeId: 'vol-undated', snapshots: [{ id: 's-2' }] },
        { volumeId: 'vol-none', snapshots: [] },
      ],
      26 * HOUR,
      now,
    );
    expect(found.map((v) => v.reason)).toEqual([
      'vol-none has no snapshot newer than 26h00m: no snapshot at all',
      'vol-stale has no snapshot newer than 26h00m: the last one (s-1) is 3d00h old',
      'vol-undated has no snapshot newer than 26h00m: none of its 1 snapshot(s) has a start time',
    ]);
    expect(found[1]).toMatchObject({ region: 'eu-west-1', lastSnapshotId: 's-1', ageMs: 72 * HOUR, budgetMs: 26 * HOUR });
  });

  it('covers the volumes named by volumeIds (even with no snapshot) and those of the selected snapshots, reading the provider\'s inventory when it has one', async () => {
    const snap = (id: string, volumeId: string, h: number): SnapshotInfo => ({ id, source: id, volumeId, startTime: ago(h), tags: {}, sizeBytes: 1 });
    const all = [snap('a1', 'vol-a', 50), snap('b1', 'vol-b', 1)];
    const selected = [all[0]!];
    const local = await coveredVolumes({}, all, selected, [{ volumeIds: ['vol-gone'] }, { ids: ['a1'] }]);
    expect(local.map((v) => [v.volumeId, v.snapshots.map((s) => s.id)])).toEqual([
      ['vol-a', ['a1']],
      ['vol-gone', []],
    ]);
    // AWS lists only the ids asked for: the newest snapshot of vol-a comes from the inventory call.
    const asked: string[][] = [];
    const aws = await coveredVolumes({ snapshotsOfVolumes: async (ids) => (asked.push(ids), [...all, snap('a2', 'vol-a', 1)]) }, all, selected, [{ ids: ['a1'] }]);
    expect(asked).toEqual([['vol-a']]);
    expect(judgeRpo(aws, 26 * HOUR, now)).toEqual([]);
  });
});

describe('the run as a whole (judges/run.ts)', () => {
  const pass = { consistency: 'application-consistent' as const, policy: { pass: true } };
  const fail = { consistency: 'corrupt' as const, policy: { pass: false } };
  const rpo = [{ volumeId: 'v', budgetMs: 1, reason: 'r' }];

  it('exits 0 when everything passes, 1 for a failed snapshot or an RPO violation alone, 3 for a harness error or an interruption whatever else', () => {
    expect(judgeRun([pass], [], 0, false).exitCode).toBe(0);
    expect(judgeRun([pass, fail], [], 0, false)).toMatchObject({ exitCode: 1, summary: { total: 2, passed: 1, failed: 1, byConsistency: { corrupt: 1, 'application-consistent': 1 } } });
    expect(judgeRun([], rpo, 0, false).exitCode).toBe(1);
    expect(judgeRun([pass], rpo, 1, false).exitCode).toBe(3);
    expect(judgeRun([pass], [], 0, true).exitCode).toBe(3);
  });

  it('describes the scope in the config\'s words', () => {
    expect(describeScope([])).toEqual(['every snapshot the provider lists']);
    expect(describeScope([{ tags: { env: ['prod', 'dr'] }, latestPerVolume: 1 }, { volumeIds: ['vol-1'] }])).toEqual(['tagged env=prod|dr; the latest 1 per volume', 'volumes vol-1']);
  });
});

describe('terminal summary', () => {
  it('shows the verdict table, every failure with its reason, what changed, and where the report is; disk text is made safe', () => {
    const report = sampleReport('mixed-exit1');
    report.rpo = [{ volumeId: 'vol-x', budgetMs: HOUR, reason: 'vol-x has no snapshot newer than 1h00m: no snapshot at all' }];
    report.history = { runs: 1, previousRunId: 'R0', changes: [{ kind: 'new-failure', lineage: 'vol-web', detail: 'vol-web: passed → \u001b[31mfails' }], trends: [] };
    report.notifications = [{ channel: 'webhook', target: 'https://hooks.example', ok: false, error: 'HTTP 500' }];
    const text = renderTerminalSummary(report, { reportFile: '/r/index.html', evidence: { manifest: '/r/manifest.json', files: 12 } });
    expect(text).toMatch(/ {2}verdict {17}snapshots\n {2}application-consistent {2}\d+/);
    for (const s of report.snapshots.filter((x) => !x.policy.pass)) expect(text).toContain(`(${s.lineage}): `);
    expect(text).toContain('✗ vol-x has no snapshot newer than 1h00m: no snapshot at all');
    expect(text).toContain('since the previous run (R0):');
    expect(text).toContain('new-failure: vol-web: passed →');
    expect(text).not.toContain('\u001b[31m');
    expect(text).toContain('webhook https://hooks.example failed: HTTP 500');
    expect(text).toContain('evidence pack: 12 files, signed manifest /r/manifest.json');
    expect(text.trimEnd().split('\n').at(-1)).toBe('report: /r/index.html');
  });
});

describe('config: budgets, history, evidence and alerts', () => {
  const load = (yaml: string) => {
    const file = path.join(tempDir('cfg-ops'), 'c.yaml');
    writeFileSync(file, `provider: {type: local, catalog: /x}\n${yaml}`);
    return loadConfig(file);
  };

  it('reads durations (days too), resolves paths, keeps s3:// and KMS ARNs as they are', () => {
    const c = load(
      'policy: {rto: 45m, rpo: 2d, rules: [{match: {tags: {tier: gold}}, rto: 10m}]}\noutput: {history: s3://b/p, signingKey: arn:aws:kms:eu-west-1:1:key/k, metrics: m.prom}\nnotify: {webhook: {url: "https://h/x"}}\n',
    );
    expect(c.policy).toMatchObject({ rtoMs: 45 * 60_000, rpoMs: 48 * HOUR, rules: [{ match: { tags: { tier: 'gold' } }, rtoMs: 10 * 60_000 }] });
    expect(c.output).toMatchObject({ history: 's3://b/p', signingKey: 'arn:aws:kms:eu-west-1:1:key/k', historyRuns: 90, evidence: false });
    expect(path.isAbsolute(c.output.metrics!)).toBe(true);
    expect(c.notify).toEqual({ on: ['policy-failure', 'harness-error', 'recovery'], webhook: { url: 'https://h/x', timeoutMs: 10_000 } });
  });

  it('GIVEN a rule with neither minimum nor rto, or a webhook that is not http(s) THEN the error names the field', () => {
    expect(() => load('policy: {rules: [{match: {ids: [a]}}]}\n')).toThrow(ConfigValidationError);
    try {
      load('notify: {webhook: {url: "ftp://x"}}\n');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain('/notify/webhook/url');
    }
  });
});
