// Reading the run history (issue #11): 90 nightly runs of 1,000 lineages each, in a local store.
//   node --import tsx bench/history-read.ts [RUNS] [LINEAGES]
// Writes the records in this process, then reads them in a fresh one (so its peak RSS is the read's alone) and times
// `list({limit: 90})` and `historyView`. Target: the read under 1 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openHistoryStore } from '../src/history/store.js';
import { historyView } from '../src/judges/trends.js';
import type { LineageEntry, RunRecord } from '../src/judges/history.js';
import { record } from '../test/history/records.js';

const DAY = 86_400_000;

/** entryOf is lineage i in run n: mostly passing, some flapping, restore times that drift. */
function entryOf(n: number, i: number, start: number): LineageEntry {
  const failing = i % 50 === 0 ? n % 2 === 0 : i % 97 === 0;
  const rto = 60_000 + ((i * 7919 + n * 104_729) % 240_000);
  return {
    lineage: `vol-${i.toString(16).padStart(17, '0')}`,
    snapshotId: `snap-${(n * 100_000 + i).toString(16).padStart(17, '0')}`,
    snapshotStartTime: new Date(start - 3_600_000).toISOString(),
    account: '123456789012',
    region: 'eu-west-1',
    consistency: failing ? 'corrupt' : i % 3 === 0 ? 'crash-consistent' : 'application-consistent',
    boot: 'not-tested',
    policyPass: !failing,
    reason: failing ? 'corrupt: disk p1 (ext4 "root"): e2fsck found errors left uncorrected' : 'application-consistent meets crash-consistent (policy.minimum)',
    restoreToVerifiedMs: rto,
    phases: { restore: Math.round(rto * 0.4), attach: 2100, discover: 3300, check: Math.round(rto * 0.5), teardown: 4100 },
  };
}

/** runOf is nightly run n of `lineages` snapshots. */
function runOf(n: number, lineages: number): RunRecord {
  const start = Date.UTC(2026, 8, 1, 3) + n * DAY;
  const runId = `${new Date(start).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${n.toString(16).padStart(6, '0')}`;
  const entries = Array.from({ length: lineages }, (_, i) => entryOf(n, i, start));
  return record(runId, new Date(start).toISOString(), entries, { finishedAt: new Date(start + 2 * 3_600_000).toISOString(), provider: { type: 'aws', source: 'aws eu-west-1 (eu-west-1a)' }, host: 'snapdrill-runner-1' });
}

/** read times one list and one historyView in this (fresh) process and prints the figures. */
async function read(dir: string): Promise<void> {
  const store = openHistoryStore(dir);
  const [c0, t0] = [process.cpuUsage(), performance.now()];
  const { records, skipped } = await store.list({ limit: 90 });
  const [c1, t1] = [process.cpuUsage(), performance.now()];
  const view = historyView(records.at(-1)!, records.slice(0, -1));
  const [c2, t2] = [process.cpuUsage(), performance.now()];
  // CPU time beside wall time: on a shared machine the wall time also counts waiting for a CPU.
  const cpu = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => `${((b.user + b.system - a.user - a.system) / 1000).toFixed(0)} ms CPU`;
  console.log(`list({limit: 90}): ${records.length} runs, ${records.reduce((n, r) => n + r.entries.length, 0)} entries, ${skipped.length} skipped in ${(t1 - t0).toFixed(0)} ms wall, ${cpu(c0, c1)}`);
  console.log(`historyView: ${view.changes.length} changes, ${view.trends.length} trends (${view.trends.filter((t) => t.flapping).length} flapping) in ${(t2 - t1).toFixed(0)} ms wall, ${cpu(c1, c2)}`);
  console.log(`read total ${(t2 - t0).toFixed(0)} ms wall, ${cpu(c0, c2)}; peak RSS of the reading process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'read') return read(process.argv[3]!);
  const [runs, lineages] = [Number(process.argv[2] ?? 90), Number(process.argv[3] ?? 1000)];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snapdrill-history-bench-'));
  try {
    const store = openHistoryStore(dir);
    const t0 = performance.now();
    for (let n = 0; n < runs; n++) await store.write(runOf(n, lineages));
    const files = readdirSync(path.join(dir, 'runs'));
    const bytes = files.reduce((s, f) => s + statSync(path.join(dir, 'runs', f)).size, 0);
    console.log(`wrote ${files.length} records of ${lineages} lineages (${(bytes / files.length / 1024).toFixed(0)} KB each, ${(bytes / 1024 / 1024).toFixed(1)} MiB) in ${(performance.now() - t0).toFixed(0)} ms`);
    const wall0 = performance.now();
    const r = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, 'read', dir], { stdio: 'inherit' });
    console.log(`reading process wall time (node + tsx start included): ${(performance.now() - wall0).toFixed(0)} ms, exit ${r.status}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
