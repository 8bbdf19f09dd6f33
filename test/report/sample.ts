import type { RunReport, SnapshotResult } from '../../src/report/types.js';

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

/** sampleReport builds a deterministic report for golden-file tests, with hostile strings where a disk or tool could put them. */
export function sampleReport(scenario: 'mixed-exit1' | 'all-pass-exit0' | 'harness-error-exit3' | 'boot-fails-exit1'): RunReport {
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
      : scenario === 'mixed-exit1'
        ? [clean, hostile, unknown, database]
        : scenario === 'boot-fails-exit1'
          ? [booted, unbootable]
          : [clean, { ...unknown, id: 'snap-infra', error: { ...unknown.error!, code: 'attach-failed', source: 'infrastructure' as const, stage: 'attach', message: 'losetup: no free loop device' } }];
  const exitCode = scenario === 'all-pass-exit0' ? 0 : scenario === 'harness-error-exit3' ? 3 : 1;
  return {
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
        'crash-consistent': 0,
        corrupt: snapshots.filter((s) => s.consistency === 'corrupt').length,
        unknown: snapshots.filter((s) => s.consistency === 'unknown').length,
      },
      checkTimeMs: 360,
    },
    errors: scenario === 'harness-error-exit3' ? [{ code: 'attach-failed', message: 'losetup: no free loop device', stage: 'attach', source: 'infrastructure' }] : [],
    snapshots,
  };
}
