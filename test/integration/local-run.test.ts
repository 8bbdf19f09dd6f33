import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Ledger, listLedgers } from '../../src/ledger/ledger.js';
import { executeRun, type RunOutcome } from '../../src/run/run.js';
import type { SnapshotResult } from '../../src/report/types.js';
import { compiledSchema } from '../../src/util/schema.js';
import { fsCatalog, leftovers, sha256, tempDir } from '../helpers.js';

/** EXPECTED is what each fixture must be judged, and the evidence that must decide it. */
const EXPECTED: Record<string, { consistency: SnapshotResult['consistency']; fs: Record<string, string>; evidence?: Record<string, unknown> }> = {
  'snap-ext4-clean': { consistency: 'application-consistent', fs: { disk: 'clean' }, evidence: { 'ext4.needs_recovery': false, 'ext4.fsck_exit': 0 } },
  'snap-ext4-frozen': { consistency: 'application-consistent', fs: { disk: 'clean' }, evidence: { 'ext4.needs_recovery': false } },
  'snap-ext4-crash': { consistency: 'crash-consistent', fs: { disk: 'replayed' }, evidence: { 'ext4.needs_recovery': true, 'ext4.replay_exit': 0, 'ext4.fsck_exit': 0 } },
  'snap-ext4-idle': { consistency: 'crash-consistent', fs: { disk: 'replayed' }, evidence: { 'ext4.needs_recovery': true, 'ext4.journal_start': 0, 'ext4.fsck_exit': 0 } },
  'snap-ext4-corrupt': { consistency: 'corrupt', fs: { disk: 'corrupt' }, evidence: { 'ext4.fsck_exit': 4 } },
  'snap-xfs-clean': { consistency: 'application-consistent', fs: { disk: 'clean' }, evidence: { 'xfs.log_state': 'CLEAN', 'xfs.repair_exit': 0 } },
  'snap-xfs-frozen': { consistency: 'application-consistent', fs: { disk: 'frozen' }, evidence: { 'xfs.log_state': 'DIRTY', 'xfs.replay_exit': 0, 'xfs.repair_exit': 0 } },
  'snap-xfs-crash': { consistency: 'crash-consistent', fs: { disk: 'replayed' }, evidence: { 'xfs.log_state': 'DIRTY', 'xfs.replay_exit': 0, 'xfs.repair_exit': 0 } },
  'snap-xfs-corrupt': { consistency: 'corrupt', fs: { disk: 'corrupt' }, evidence: { 'xfs.repair_exit': 1 } },
  'snap-gpt-two': { consistency: 'application-consistent', fs: { p1: 'clean', p2: 'clean' } },
  'snap-mbr-ext4': { consistency: 'application-consistent', fs: { p1: 'clean' } },
  random: { consistency: 'unknown', fs: { disk: 'unknown' }, evidence: { 'discover.blkid-exit': 2 } },
  empty: { consistency: 'unknown', fs: {} },
};

describe('local provider, end to end on the fixture catalog', () => {
  let outcome: RunOutcome;
  let before: Map<string, string>;
  let scratch: string;
  let stateDir: string;
  const byId = (id: string) => outcome.report.snapshots.find((s) => s.id === id)!;

  beforeAll(async () => {
    const images = readdirSync(fsCatalog()).filter((f) => f.endsWith('.img'));
    before = new Map(await Promise.all(images.map(async (f) => [f, await sha256(path.join(fsCatalog(), f))] as [string, string])));
    scratch = tempDir('scratch');
    stateDir = tempDir('state');
    const config = loadConfig(undefined, { provider: 'local', catalog: fsCatalog(), scratchDir: scratch, out: tempDir('reports') });
    outcome = await executeRun(config, { stateDir, events: {}, signal: new AbortController().signal });
  });

  it('judges every fixture as expected, with the evidence that decides it', () => {
    const ids = outcome.report.snapshots.map((s) => s.id);
    for (const [id, want] of Object.entries(EXPECTED)) {
      expect(ids, `fixture ${id} was not verified`).toContain(id);
      const s = byId(id);
      expect(s.consistency, `${id}: ${s.summary}`).toBe(want.consistency);
      expect(Object.fromEntries(s.filesystems.map((f) => [f.target, f.state])), id).toEqual(want.fs);
      const evidence = Object.fromEntries(s.filesystems.flatMap((f) => f.evidence.map((e) => [e.key, e.value])));
      for (const [k, v] of Object.entries(want.evidence ?? {})) expect(evidence[k], `${id} ${k}`).toEqual(v);
    }
  });

  it('tells a log with only superblock records from one with metadata transactions, in words', () => {
    const frozen = byId('snap-xfs-frozen').filesystems[0]!.evidence.find((e) => e.key === 'xfs.log_contents')!;
    const crash = byId('snap-xfs-crash').filesystems[0]!.evidence.find((e) => e.key === 'xfs.log_contents')!;
    expect(frozen.text).toMatch(/only superblock records/);
    expect(crash.text).toMatch(/real metadata transactions/);
  });

  it('attaches a remedy to what is not application-consistent', () => {
    expect(byId('snap-ext4-crash').hints.map((h) => h.remedy).join(' ')).toMatch(/fsfreeze/);
    expect(byId('snap-xfs-crash').hints.map((h) => h.remedy).join(' ')).toMatch(/freeze/);
    expect(byId('snap-ext4-corrupt').hints.map((h) => h.remedy).join(' ')).toMatch(/earlier snapshot/);
  });

  it('reports an empty image as unknown with its reason, not a crash, and its checks as blocked', () => {
    const e = byId('empty');
    expect(e.error).toMatchObject({ code: 'image-empty', stage: 'restore', source: 'user' });
    expect(e.summary).toMatch(/empty \(0 bytes\)/);
    expect(e.checks).toEqual([{ check: 'discover', target: '', status: 'skipped', exitCode: null, durationMs: 0, reason: 'blocked by: restore', protocolErrors: [] }]);
  });

  it('does not look for databases on a corrupt filesystem, and says so', () => {
    expect(byId('snap-ext4-corrupt').checks.find((c) => c.check === 'dbfind')).toMatchObject({ status: 'skipped', reason: 'blocked by: filesystem disk is corrupt' });
  });

  it('exits 1 (policy failed) because corrupt and unknown snapshots fail the default policy, and no harness error occurred', () => {
    expect(outcome.report.errors).toEqual([]);
    expect(outcome.report.exitCode).toBe(1);
    expect(byId('snap-ext4-crash').policy.pass).toBe(true);
    expect(byId('snap-ext4-corrupt').policy.pass).toBe(false);
  });

  it('never writes the source images', async () => {
    for (const [f, hash] of before) expect(await sha256(path.join(fsCatalog(), f)), f).toBe(hash);
  });

  it('leaves no loop device, mount, scratch file or ledger behind', async () => {
    expect(await leftovers(scratch)).toEqual([]);
    expect(readdirSync(scratch)).toEqual([]);
    expect(listLedgers(stateDir)).toEqual([]);
  });

  it('records per-phase timings for every snapshot', () => {
    const s = byId('snap-gpt-two');
    expect(s.phases.map((p) => p.phase)).toEqual(['restore', 'attach', 'discover', 'check ext4 p1', 'check xfs p2', 'find databases p1', 'unmount p1', 'find databases p2', 'unmount p2', 'lint p1', 'lint p2', 'teardown']);
    expect(s.phases.every((p) => p.status === 'ok')).toBe(true);
  });

  it('writes a report.json that matches the published schema, an HTML page and JUnit XML', () => {
    const json = JSON.parse(readFileSync(path.join(outcome.reportDir, 'report.json'), 'utf8'));
    expect(compiledSchema('report.schema.json')(json)).toBe(true);
    const html = readFileSync(path.join(outcome.reportDir, 'index.html'), 'utf8');
    expect(html).toContain('snap-xfs-frozen');
    const junit = readFileSync(path.join(outcome.reportDir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase [^>]*name="snap-ext4-corrupt"[^>]*>\s*<failure /);
  });

  it('leaves the ledger class usable for a second run in the same state directory', () => {
    const l = Ledger.create(stateDir, 'probe');
    expect(l.close()).toBe(true);
  });
});
