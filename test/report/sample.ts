import type { Consistency } from '../../src/config/types.js';
import type { Change, HistoryView, LineageTrend, TrendPoint } from '../../src/judges/history.js';
import type { RunReport, SnapshotResult } from '../../src/report/types.js';
import { seededRandom } from '../aws/fault-proxy.js';

const phases = (n: number): SnapshotResult['phases'] =>
  (
    [
      ['restore', 'restore'],
      ['attach', 'attach'],
      ['discover', 'discover'],
      ['check ext4 disk', 'check'],
      ['teardown', 'teardown'],
    ] as const
  ).slice(0, n).map(([phase, kind], i) => ({
    phase,
    kind,
    startedAt: `2026-11-24T03:00:0${i}.000Z`,
    durationMs: 100 * (i + 1),
    status: 'ok' as const,
  }));

/** Scenario names a sample report: what it shows and the exit code it ends with. */
export type Scenario = 'mixed-exit1' | 'all-pass-exit0' | 'harness-error-exit3' | 'boot-fails-exit1' | 'history-exit1';

/** sampleReport builds a deterministic report for golden-file tests, with hostile strings where a disk or tool could put them. */
export function sampleReport(scenario: Scenario): RunReport {
  const clean: SnapshotResult = {
    id: 'snap-0123456789abcdef0',
    source: '/catalog/web-root.img',
    lineage: 'vol-web',
    restoreToVerifiedMs: 1000,
    volumeId: 'vol-web',
    startTime: '2026-11-24T02:00:00.000Z',
    tags: { Name: 'web root', AppConsistent: 'true' },
    sizeBytes: 67108864,
    allocatedBytes: 9437184,
    consistency: 'application-consistent',
    boot: 'not-tested',
    summary: 'application-consistent: disk (ext4 "root") clean',
    reasons: ['disk (ext4 "root"): clean'],
    hints: [],
    filesystems: [
      {
        target: 'disk',
        device: '/dev/loop3',
        fstype: 'ext4',
        uuid: '11111111-2222-3333-4444-555555555555',
        label: 'root',
        sizeBytes: 67108864,
        state: 'clean',
        summary: 'clean: no journal recovery needed',
        evidence: [{ key: 'ext4.needs_recovery', value: false, text: 'no needs_recovery flag' }],
        hints: [],
        excerpts: [{ title: 'e2fsck -fn', command: 'e2fsck -fn /dev/loop3', exitCode: 0, text: 'Pass 1: Checking inodes, blocks, and sizes\nroot: 11/16384 files' }],
      },
    ],
    databases: [],
    canaries: [],
    checks: [{ check: 'ext4', target: '/dev/loop3', status: 'ran', exitCode: 0, durationMs: 180, protocolErrors: [] }],
    phases: phases(5),
    policy: { pass: true, minimum: 'crash-consistent', reason: 'application-consistent meets crash-consistent (policy.minimum)' },
  };
  const hostile: SnapshotResult = {
    ...clean,
    id: 'snap-<b>bold</b>&"quoted"',
    source: '/catalog/evil.img',
    tags: { Name: '<script>alert("tag")</script>' },
    consistency: 'corrupt',
    summary: 'corrupt: disk (ext4 "<img src=x onerror=alert(1)>"): e2fsck found errors',
    reasons: ['disk: e2fsck found errors'],
    hints: [{ text: 'metadata damage', remedy: 'restore from an earlier snapshot' }],
    filesystems: [
      {
        ...clean.filesystems[0]!,
        label: '<img src=x onerror=alert(1)>',
        state: 'corrupt',
        summary: 'e2fsck found errors: errors left uncorrected',
        evidence: [{ key: 'ext4.fsck_exit', value: 4, text: 'e2fsck -fn exited 4: errors left uncorrected' }],
        excerpts: [{ title: 'e2fsck -fn', exitCode: 4, text: 'Entry \'</pre><script>x()</script>\' in / (2) has deleted/unused inode 12.\u0001\u0007 Clear? no' }],
      },
    ],
    policy: { pass: false, minimum: 'crash-consistent', reason: 'corrupt' },
  };
  const database: SnapshotResult = {
    ...clean,
    id: 'snap-db-walgap',
    source: '/catalog/pg-walgap.img',
    consistency: 'corrupt',
    summary: 'corrupt: postgresql /var/lib/postgresql/15/main on disk: silent data loss',
    reasons: ['postgresql /var/lib/postgresql/15/main on disk: silent data loss: WAL breaks at 0/3A0B2F8 but later segments hold committed records'],
    hints: [{ text: 'WAL after 0/3A0B2F8 is unreachable', remedy: 'restore an earlier snapshot plus archived WAL (PITR)' }],
    databases: [
      {
        engine: 'postgresql',
        path: '/var/lib/postgresql/15/main',
        filesystem: 'disk',
        version: '15',
        state: 'corrupt',
        summary: 'silent data loss: WAL breaks at 0/3A0B2F8 but later segments hold committed records',
        evidence: [
          { key: 'postgresql.cluster_state', value: 'in production', text: 'pg_controldata: Database cluster state: in production' },
          { key: 'postgresql.wal_beyond_end', value: '00000001000000000000003B', text: 'valid WAL records exist after the break, in segment 00000001000000000000003B' },
        ],
        hints: [],
        excerpts: [{ title: 'server log on the copy (key lines)', text: 'LOG:  redo done at 0/3A0B2F8 <not markup>' }],
      },
    ],
    canaries: [
      { name: 'orders <fresh>', engine: 'postgresql', path: '/var/lib/postgresql/15/main', query: "select max(created_at) from orders where note <> '<b>'", expectation: 'newer than 26h00m before the snapshot', value: '2026-11-16 02:00:00', pass: false, detail: 'newest data is 4d01h older than the snapshot (RPO 26h00m)' },
    ],
    policy: { pass: false, minimum: 'crash-consistent', reason: 'corrupt' },
  };
  const unknown: SnapshotResult = {
    ...clean,
    id: 'empty',
    source: '/catalog/empty.img',
    tags: {},
    consistency: 'unknown',
    summary: 'could not verify: image /catalog/empty.img is empty (0 bytes)',
    reasons: ['restore: image /catalog/empty.img is empty (0 bytes)'],
    filesystems: [],
    checks: [],
    phases: [{ phase: 'restore', kind: 'restore', startedAt: '2026-11-24T03:00:00.000Z', durationMs: 0, status: 'failed', detail: 'image is empty' }],
    policy: { pass: false, minimum: 'crash-consistent', reason: 'consistency could not be determined (set policy.allowUnknown to accept)' },
    error: { code: 'image-empty', message: 'image /catalog/empty.img is empty (0 bytes)', stage: 'restore', source: 'user', remedy: 'check how it was exported' },
  };
  const console = [
    '[    0.000000] Linux version 6.1.0-50-amd64',
    '[   19.1] systemd[1]: Mounting data.mount - /data...',
    '[ TIME ] Timed out waiting for device dev-xvdf.device - /dev/xvdf.',
    '[DEPEND] Dependency failed for data.mount - /data.',
    'You are in emergency mode. After logging in, type "journalctl -xb" to view',
    '<script>alert("console")</script>',
  ].join('\n');
  const booted: SnapshotResult = {
    ...clean,
    id: 'snap-boot-good',
    boot: 'boots',
    lint: [{ target: 'p2', status: 'linted', findings: [] }],
    bootTest: { result: 'boots', mode: 'bios', platform: 'qemu tcg', durationMs: 26710, overheadMs: 48, milestones: [{ name: 'firmware', atMs: 210 }, { name: 'bootloader', atMs: 411 }, { name: 'kernel', atMs: 7040 }, { name: 'initramfs', atMs: 8476 }, { name: 'init', atMs: 14290 }, { name: 'login', atMs: 26660 }], console: 'snapdrill-boot login: ' },
    set: { key: 'i-0abc/2026-11-24T02:00:00Z', members: ['snap-boot-good', 'snap-boot-data'], consistency: 'application-consistent', summary: 'set i-0abc/2026-11-24T02:00:00Z (2 volumes) is application-consistent', skewMs: 0, notes: [] },
  };
  const unbootable: SnapshotResult = {
    ...clean,
    id: 'snap-boot-fstab',
    boot: 'fails-to-boot',
    policy: { pass: false, minimum: 'crash-consistent', reason: 'fails to boot (An /etc/fstab entry names a device this instance does not have [fstab-missing-device]); application-consistent meets crash-consistent' },
    lint: [{ target: 'p2', status: 'linted', findings: [{ id: 'fstab-device-missing', severity: 'error', message: '/etc/fstab line 2 mounts /dev/xvdf on /data without nofail; NVMe instance types have no /dev/xvdf', remedy: 'use UUID= and add nofail', evidence: ['/dev/xvdf /data ext4 defaults 0 2'] }] }],
    bootTest: {
      result: 'fails-to-boot',
      mode: 'bios',
      platform: 'qemu tcg',
      durationMs: 48957,
      overheadMs: 51,
      milestones: [{ name: 'firmware', atMs: 210 }, { name: 'kernel', atMs: 12505 }, { name: 'init', atMs: 24185 }],
      reason: 'stopped at: You are in emergency mode.',
      console,
      screenshotJpegBase64: '/9j/AA==',
      diagnosis: {
        lines: 6,
        causes: [
          {
            id: 'fstab-missing-device',
            title: 'An /etc/fstab entry names a device this instance does not have',
            explanation: 'systemd waited for a device listed in /etc/fstab <and> it never appeared.',
            remedy: 'Use UUID= and "nofail".',
            score: 82,
            matches: [
              { line: 3, text: '[ TIME ] Timed out waiting for device dev-xvdf.device - /dev/xvdf.', signature: 'Timed out waiting for device' },
              { line: 4, text: '[DEPEND] Dependency failed for data.mount - /data.', signature: 'Dependency failed for' },
            ],
          },
        ],
      },
    },
    kept: { resources: ['vol-0kept'], until: '2026-11-25T03:00:00.000Z' },
  };
  const snapshots =
    scenario === 'all-pass-exit0'
      ? [clean]
      : scenario === 'history-exit1'
        ? historySnapshots(clean, hostile, unknown, database)
        : scenario === 'mixed-exit1'
          ? [clean, hostile, unknown, database]
          : scenario === 'boot-fails-exit1'
            ? [booted, unbootable]
            : [clean, { ...unknown, id: 'snap-infra', error: { ...unknown.error!, code: 'attach-failed', source: 'infrastructure' as const, stage: 'attach', message: 'losetup: no free loop device' } }];
  const exitCode = scenario === 'all-pass-exit0' ? 0 : scenario === 'harness-error-exit3' ? 3 : 1;
  const report: RunReport = {
    schemaVersion: 1,
    tool: { name: 'snapdrill', version: '0.0.0-test' },
    runId: '20261124T030000Z-abcdef',
    startedAt: '2026-11-24T03:00:00.000Z',
    finishedAt: '2026-11-24T03:00:05.000Z',
    durationMs: 5000,
    host: 'helper-1',
    provider: { type: 'local', source: 'local catalog /catalog' },
    concurrency: 2,
    policy: { minimum: 'crash-consistent', allowUnknown: false, rules: 0 },
    interrupted: false,
    exitCode,
    summary: {
      total: snapshots.length,
      passed: snapshots.filter((s) => s.policy.pass).length,
      failed: snapshots.filter((s) => !s.policy.pass).length,
      byConsistency: {
        'application-consistent': snapshots.filter((s) => s.consistency === 'application-consistent').length,
        'crash-consistent': snapshots.filter((s) => s.consistency === 'crash-consistent').length,
        corrupt: snapshots.filter((s) => s.consistency === 'corrupt').length,
        unknown: snapshots.filter((s) => s.consistency === 'unknown').length,
      },
      checkTimeMs: 360,
    },
    errors: scenario === 'harness-error-exit3' ? [{ code: 'attach-failed', message: 'losetup: no free loop device', stage: 'attach', source: 'infrastructure' }] : [],
    snapshots,
  };
  return scenario === 'history-exit1' ? withHistory(report) : report;
}

/** HOSTILE_LINEAGE is a lineage (a volume id or set key from the provider) that tries to be markup. */
const HOSTILE_LINEAGE = 'vol-<script>alert("lineage")</script>';

/** historySnapshots are the mixed scenario's snapshots, each its own lineage, spread over two accounts, plus a crash-consistent one. */
function historySnapshots(clean: SnapshotResult, hostile: SnapshotResult, unknown: SnapshotResult, database: SnapshotResult): SnapshotResult[] {
  const a = { account: '111111111111', region: 'eu-west-1' };
  const b = { account: '222222222222', region: 'us-east-1' };
  const crash: SnapshotResult = {
    ...clean,
    ...b,
    id: 'snap-api-crash',
    lineage: 'vol-api',
    volumeId: 'vol-api',
    tags: { Name: 'api data', env: 'prod' },
    consistency: 'crash-consistent',
    summary: 'crash-consistent: disk (ext4) journal replayed',
    hints: [{ text: 'crash-consistent only', remedy: 'add fsfreeze pre/post scripts' }],
    filesystems: [{ ...clean.filesystems[0]!, state: 'replayed', summary: 'journal replayed, then clean' }],
    policy: { pass: true, minimum: 'crash-consistent', reason: 'crash-consistent meets crash-consistent (policy.minimum)' },
  };
  return [
    { ...clean, ...a, tags: { ...clean.tags, env: 'prod' } },
    { ...hostile, ...b, lineage: HOSTILE_LINEAGE, volumeId: HOSTILE_LINEAGE },
    { ...unknown, lineage: 'empty' },
    { ...database, ...a, lineage: 'vol-db', volumeId: 'vol-db', tags: { Name: 'orders db', env: 'staging' }, restoreToVerifiedMs: 2400 },
    crash,
  ];
}

/** trend builds a lineage's points from a string of verdict letters, oldest first: a(pplication), c(rash), x (corrupt), u(nknown). */
function trend(lineage: string, verdicts: string, rto: (i: number) => number, start = Date.parse('2026-11-13T03:00:00.000Z')): LineageTrend {
  const letter: Record<string, Consistency> = { a: 'application-consistent', c: 'crash-consistent', x: 'corrupt', u: 'unknown' };
  const points: TrendPoint[] = [...verdicts].map((v, i) => {
    const consistency = letter[v]!;
    const t = new Date(start + i * 86_400_000).toISOString();
    return { runId: `run-${i}`, startedAt: t, snapshotId: `snap-${lineage}-${i}`, consistency, policyPass: consistency === 'application-consistent' || consistency === 'crash-consistent', restoreToVerifiedMs: rto(i) };
  });
  const flips = points.slice(1).filter((p, i) => p.policyPass !== points[i]!.policyPass).length;
  return { lineage, points, flips, flapping: flips >= 3 };
}

/** withHistory adds what a run with a history store, RPO and RTO budgets and notifications carries, hostile where a provider or a webhook could put text. */
function withHistory(r: RunReport): RunReport {
  const changes: Change[] = [
    { kind: 'new-failure', lineage: 'vol-db', snapshotId: 'snap-db-walgap', previousSnapshotId: 'snap-db-old', before: 'application-consistent', after: 'corrupt', detail: 'vol-db: passed → failed: corrupt (snap-db-walgap)' },
    { kind: 'new-unknown', lineage: 'empty', snapshotId: 'empty', before: 'application-consistent', after: 'unknown', detail: 'empty: application-consistent → unknown (empty)' },
    { kind: 'verdict-change', lineage: 'vol-api', snapshotId: 'snap-api-crash', before: 'application-consistent', after: 'crash-consistent', detail: 'vol-api: application-consistent → crash-consistent (snap-api-crash)' },
    { kind: 'rpo-violation', lineage: 'vol-0old', detail: 'vol-0old: newest snapshot is 3d02h old (RPO 26h00m)' },
    { kind: 'rpo-recovered', lineage: 'vol-0back', detail: 'vol-0back: has a snapshot within the RPO again' },
    { kind: 'rto-regression', lineage: 'vol-web', snapshotId: 'snap-0123456789abcdef0', before: '700', after: '1000', detail: 'vol-web: restore to verified 700ms → 1.0s (+43%)' },
    { kind: 'recovery', lineage: 'vol-web', snapshotId: 'snap-0123456789abcdef0', before: 'corrupt', after: 'application-consistent', detail: 'vol-web: failed → passed (snap-0123456789abcdef0)' },
    { kind: 'new-lineage', lineage: HOSTILE_LINEAGE, snapshotId: 'snap-<b>bold</b>&"quoted"', detail: `${HOSTILE_LINEAGE}: first verified in this run` },
    { kind: 'missing-lineage', lineage: 'vol-gone', previousSnapshotId: 'snap-gone', detail: 'vol-gone: verified last run, absent now' },
  ];
  const history: HistoryView = {
    runs: 11,
    previousRunId: '20261123T030000Z-fedcba',
    previousStartedAt: '2026-11-23T03:00:00.000Z',
    changes,
    trends: [
      trend('vol-web', 'aaaaaaaaaaxa', (i) => (i === 11 ? 1000 : 700 + (i % 3) * 20)),
      trend('vol-db', 'axaxaaxaaaax', (i) => 1800 + i * 50),
      trend('vol-api', 'aaaaaaaaaaac', () => 1000),
      trend('empty', 'aaaaaaaaaaau', (i) => (i === 11 ? 0 : 900)),
      trend(HOSTILE_LINEAGE, 'x', () => 1000, Date.parse('2026-11-24T03:00:00.000Z')),
    ],
  };
  return {
    ...r,
    scope: ['snapshots tagged Backup=daily in accounts 111111111111 and 222222222222', 'ids: snap-<i>not-markup</i>'],
    policy: { ...r.policy, rtoMs: 1500, rpoMs: 93_600_000 },
    rpo: [
      { volumeId: 'vol-0old', account: '111111111111', region: 'eu-west-1', lastSnapshotId: 'snap-0old', lastSnapshotTime: '2026-11-21T01:00:00.000Z', ageMs: 266_400_000, budgetMs: 93_600_000, reason: 'newest snapshot is 3d02h old (RPO 26h00m)' },
      { volumeId: 'vol-0none<b>', budgetMs: 93_600_000, reason: 'no completed snapshot at all' },
    ],
    history,
    notifications: [
      { channel: 'sns', target: 'arn:aws:sns:eu-west-1:111111111111:drills', ok: true },
      { channel: 'webhook', target: 'https://hooks.example/drill?<x>', ok: false, error: '502 <b>Bad Gateway</b>' },
    ],
  };
}

const SYNTH_START = Date.parse('2026-11-24T03:00:00.000Z');
const ACCOUNTS = ['111111111111', '222222222222', '333333333333'];
const REGIONS = ['eu-west-1', 'us-east-1'];
const ROLES = ['web', 'api', 'db', 'cache', 'queue', 'batch'];

function pickVerdict(r: number): Consistency {
  return r < 0.7 ? 'application-consistent' : r < 0.85 ? 'crash-consistent' : r < 0.93 ? 'corrupt' : 'unknown';
}

const passes = (c: Consistency) => c === 'application-consistent' || c === 'crash-consistent';

/** syntheticSnapshot is one plausible snapshot of a large fleet: filesystems, sometimes a database or a boot test, timings and checks. */
function syntheticSnapshot(i: number, rand: () => number, template: SnapshotResult, bootFail: SnapshotResult): SnapshotResult {
  const consistency = pickVerdict(rand());
  const role = ROLES[i % ROLES.length]!;
  const hex = (i * 2654435761).toString(16).padStart(8, '0').slice(-8);
  const durations = [4000 + rand() * 60_000, 300 + rand() * 900, 200 + rand() * 500, 2000 + rand() * 40_000, 500 + rand() * 1000].map(Math.round);
  const kinds = ['restore', 'attach', 'discover', 'check', 'teardown'] as const;
  let at = SYNTH_START + i * 1000;
  const phases = kinds.map((kind, k) => {
    const p = { phase: kind === 'check' ? `check ${i % 2 ? 'xfs' : 'ext4'} disk` : kind, kind, startedAt: new Date(at).toISOString(), durationMs: durations[k]!, status: 'ok' as const };
    at += durations[k]!;
    return p;
  });
  const fsState = consistency === 'application-consistent' ? 'clean' : consistency === 'crash-consistent' ? 'replayed' : consistency === 'corrupt' ? 'corrupt' : 'unknown';
  const boot = i % 10 === 3 ? (rand() < 0.25 ? bootFail : { ...template, boot: 'boots' as const, bootTest: { result: 'boots' as const, mode: 'uefi', platform: 'ec2 t3.small', durationMs: 40_000, milestones: [{ name: 'status-checks', atMs: 38_000 }], console: 'login:' } }) : undefined;
  const failed = !passes(consistency) || boot?.boot === 'fails-to-boot';
  return {
    ...template,
    id: `snap-0${hex}${String(i).padStart(8, '0')}`,
    source: `aws:${ACCOUNTS[i % 3]}/${REGIONS[(i >> 1) % 2]}/snap-0${hex}`,
    lineage: `vol-0${hex}`,
    volumeId: `vol-0${hex}`,
    account: ACCOUNTS[i % 3],
    region: REGIONS[(i >> 1) % 2],
    startTime: new Date(SYNTH_START - Math.round(rand() * 86_400_000)).toISOString(),
    tags: { Name: `${role}-${String(i).padStart(4, '0')}`, env: ['prod', 'staging', 'dev'][i % 3]!, team: `team-${i % 7}` },
    consistency,
    boot: boot?.boot ?? 'not-tested',
    bootTest: boot?.bootTest,
    lint: boot?.lint,
    summary: `${consistency}: disk (${i % 2 ? 'xfs' : 'ext4'}) ${fsState}`,
    hints: consistency === 'application-consistent' ? [] : [{ text: `${consistency} snapshot of ${role}`, remedy: consistency === 'crash-consistent' ? 'add fsfreeze / pg_backup_start pre-scripts' : 'restore an earlier snapshot and check the source volume' }],
    filesystems: [{ ...template.filesystems[0]!, fstype: i % 2 ? 'xfs' : 'ext4', state: fsState, summary: `${fsState} after the check`, excerpts: [{ title: 'fsck', exitCode: consistency === 'corrupt' ? 4 : 0, text: Array.from({ length: 12 }, (_, k) => `Pass ${k}: checking ${role} inode table ${k * 4096}`).join('\n') }] }],
    checks: [{ check: 'discover', target: 'disk', status: 'ran', exitCode: 0, durationMs: durations[2]!, protocolErrors: [] }, { check: i % 2 ? 'xfs' : 'ext4', target: '/dev/nvme1n1', status: 'ran', exitCode: 0, durationMs: durations[3]!, protocolErrors: [] }],
    phases,
    restoreToVerifiedMs: durations.slice(0, 4).reduce((a, b) => a + b, 0),
    policy: { pass: !failed, minimum: 'crash-consistent', reason: failed ? (boot?.boot === 'fails-to-boot' ? boot.policy.reason : consistency) : `${consistency} meets crash-consistent (policy.minimum)` },
    ...(consistency === 'unknown' && i % 2 ? { error: { code: 'attach-timeout', message: 'volume did not attach within 5m', stage: 'attach', source: 'infrastructure' as const, remedy: 'check the helper instance limits' } } : {}),
  };
}

/** syntheticTrend is a lineage over `runs` runs ending with the current snapshot: stable mostly, flapping for one lineage in twenty. */
function syntheticTrend(s: SnapshotResult, runs: number, rand: () => number): LineageTrend {
  const flappy = rand() < 0.05;
  const base = s.restoreToVerifiedMs;
  const points: TrendPoint[] = Array.from({ length: runs }, (_, k) => {
    const last = k === runs - 1;
    const consistency = last ? s.consistency : flappy && k % 3 === 0 ? 'corrupt' : pickVerdict(rand() * 0.8);
    return {
      runId: `run-${String(k).padStart(3, '0')}`,
      startedAt: new Date(SYNTH_START - (runs - 1 - k) * 86_400_000).toISOString(),
      snapshotId: last ? s.id : `${s.id}-r${k}`,
      consistency,
      policyPass: last ? s.policy.pass : passes(consistency),
      restoreToVerifiedMs: last ? base : Math.round(base * (0.7 + rand() * 0.5)),
    };
  });
  const flips = points.slice(1).filter((p, k) => p.policyPass !== points[k]!.policyPass).length;
  return { lineage: s.lineage, points, flips, flapping: flips >= 3 };
}

/** syntheticChanges compares each lineage's last two points, the way the history module does. */
function syntheticChanges(trends: LineageTrend[]): Change[] {
  return trends.flatMap((t): Change[] => {
    const [prev, cur] = t.points.slice(-2);
    if (!prev || !cur) return [];
    const base = { lineage: t.lineage, snapshotId: cur.snapshotId, previousSnapshotId: prev.snapshotId, before: prev.consistency, after: cur.consistency };
    const out: Change[] = [];
    if (prev.policyPass && !cur.policyPass) out.push({ ...base, kind: 'new-failure', detail: `${t.lineage}: passed → failed: ${cur.consistency} (${cur.snapshotId})` });
    else if (!prev.policyPass && cur.policyPass) out.push({ ...base, kind: 'recovery', detail: `${t.lineage}: failed → passed (${cur.snapshotId})` });
    else if (prev.consistency !== cur.consistency) out.push({ ...base, kind: cur.consistency === 'unknown' ? 'new-unknown' : 'verdict-change', detail: `${t.lineage}: ${prev.consistency} → ${cur.consistency} (${cur.snapshotId})` });
    if (cur.restoreToVerifiedMs > prev.restoreToVerifiedMs * 1.25) out.push({ ...base, kind: 'rto-regression', before: String(prev.restoreToVerifiedMs), after: String(cur.restoreToVerifiedMs), detail: `${t.lineage}: restore to verified grew by ${Math.round((cur.restoreToVerifiedMs / prev.restoreToVerifiedMs - 1) * 100)}%` });
    return out;
  });
}

/** syntheticReport is a deterministic fleet run of n snapshots with historyRuns runs of history: for the browser test and the render bench. */
export function syntheticReport(n: number, historyRuns: number): RunReport {
  const rand = seededRandom(0x5eed);
  const sample = sampleReport('boot-fails-exit1');
  const [template, bootFail] = [sampleReport('all-pass-exit0').snapshots[0]!, sample.snapshots[1]!];
  const snapshots = Array.from({ length: n }, (_, i) => syntheticSnapshot(i, rand, template, bootFail));
  const trends = historyRuns > 1 ? snapshots.map((s) => syntheticTrend(s, historyRuns, rand)) : [];
  const rpo = Array.from({ length: Math.floor(n / 100) }, (_, k) => ({ volumeId: `vol-0rpo${k}`, account: ACCOUNTS[k % 3], region: REGIONS[k % 2], ageMs: 100_000_000 + k * 3_600_000, budgetMs: 93_600_000, reason: `newest snapshot is ${27 + k}h old (RPO 26h)` }));
  const count = (c: Consistency) => snapshots.filter((s) => s.consistency === c).length;
  const failed = snapshots.filter((s) => !s.policy.pass).length;
  return {
    ...sample,
    runId: `20261124T030000Z-${n.toString(16).padStart(6, '0').slice(-6)}`,
    durationMs: 3_600_000,
    finishedAt: new Date(SYNTH_START + 3_600_000).toISOString(),
    provider: { type: 'aws', source: `${ACCOUNTS.length} accounts, ${REGIONS.join(', ')}` },
    concurrency: 16,
    policy: { ...sample.policy, rtoMs: 90_000, rpoMs: 93_600_000 },
    scope: ['snapshots tagged Backup=daily', `accounts ${ACCOUNTS.join(', ')}`],
    exitCode: failed || rpo.length ? 1 : 0,
    summary: {
      total: n,
      passed: n - failed,
      failed,
      byConsistency: { 'application-consistent': count('application-consistent'), 'crash-consistent': count('crash-consistent'), corrupt: count('corrupt'), unknown: count('unknown') },
      checkTimeMs: snapshots.reduce((t, s) => t + s.checks.reduce((u, c) => u + c.durationMs, 0), 0),
    },
    errors: [],
    snapshots,
    rpo,
    ...(historyRuns > 1 ? { history: { runs: historyRuns - 1, previousRunId: trends[0]!.points.at(-2)!.runId, previousStartedAt: trends[0]!.points.at(-2)!.startedAt, changes: syntheticChanges(trends), trends } } : {}),
    notifications: [
      { channel: 'sns', target: 'arn:aws:sns:eu-west-1:111111111111:drills', ok: true },
      { channel: 'cloudwatch', target: 'Snapdrill/Drills', ok: true },
      { channel: 'webhook', target: 'https://hooks.example/drill', ok: false, error: 'timeout after 10s' },
    ],
  };
}
