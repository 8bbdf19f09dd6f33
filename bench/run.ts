// snapdrill benchmarks for the local provider (issue 2 targets). Run as root after `bash scripts/setup.sh`:
//   node --import tsx bench/run.ts [restore|concurrency|memory|databases|aws|boot ...]
// Prints a Markdown table per benchmark; numbers go in the closing notes and bench/RESULTS.md.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { Ledger } from '../src/ledger/ledger.js';
import { LocalProvider } from '../src/providers/local/local.js';
import { executeRun } from '../src/run/run.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join('/var/tmp', 'snapdrill-bench-'));
// Database engines run as their own users and must be able to reach the copies.
chmodSync(work, 0o711);
const fixtures = execFileSync('bash', [path.join(ROOT, 'fixtures/build-fs.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
const ROTATION = ['ext4-clean.img', 'ext4-crash.img', 'xfs-clean.img', 'xfs-crash.img', 'gpt-two.img'];

function catalogOf(n: number): string {
  const dir = mkdtempSync(path.join(work, 'cat-'));
  for (let i = 0; i < n; i++) symlinkSync(path.join(fixtures, ROTATION[i % ROTATION.length]!), path.join(dir, `s${String(i).padStart(3, '0')}.img`));
  return dir;
}

function ms(n: number): string {
  return `${(n / 1000).toFixed(2)} s`;
}

async function benchRestore(): Promise<void> {
  // A 16 GiB sparse image with 200 MiB of data spread over it, versus copying 200 MiB of dense data.
  const img = path.join(work, 'big.img');
  execFileSync('truncate', ['-s', '16G', img]);
  for (let i = 0; i < 20; i++) execFileSync('dd', ['if=/dev/urandom', `of=${img}`, 'bs=1M', 'count=10', `seek=${i * 800}`, 'conv=notrunc', 'status=none']);
  const dense = path.join(work, 'dense.img');
  execFileSync('dd', ['if=/dev/urandom', `of=${dense}`, 'bs=1M', 'count=200', 'status=none']);
  execFileSync('sync');
  const cat = mkdtempSync(path.join(work, 'cat-'));
  symlinkSync(img, path.join(cat, 'big.img'));
  const provider = new LocalProvider({ type: 'local', catalog: cat, scratchDir: path.join(work, 'scratch') }, 'bench');
  const ledger = Ledger.create(path.join(work, 'state'), 'bench-restore');
  await provider.start(ledger);
  const [snap] = await provider.listSnapshots();
  const rows: string[] = [];
  for (let rep = 0; rep < 3; rep++) {
    execFileSync('bash', ['-c', 'echo 3 > /proc/sys/vm/drop_caches || true']);
    let t = performance.now();
    const restored = await provider.restore(snap!, { ledger, owner: `r${rep}`, signal: new AbortController().signal, timeoutMs: 600_000 });
    const restoreMs = performance.now() - t;
    execFileSync('bash', ['-c', 'echo 3 > /proc/sys/vm/drop_caches || true']);
    t = performance.now();
    execFileSync('cp', [dense, path.join(work, 'dense-copy.img')]);
    const cpMs = performance.now() - t;
    rows.push(`| ${rep + 1} | ${ms(restoreMs)} | ${(restored.allocatedBytes! / 2 ** 20).toFixed(0)} MiB | ${ms(cpMs)} | ${(restoreMs / cpMs).toFixed(2)} |`);
    await ledger.releaseOwner(`r${rep}`);
    rmSync(path.join(work, 'dense-copy.img'));
  }
  await ledger.releaseAll();
  ledger.close();
  console.log('\n### Restore: 16 GiB sparse image holding 200 MiB, vs cp of 200 MiB dense\n');
  console.log('| rep | restore (sparse 16 GiB) | restored bytes | cp 200 MiB dense | ratio |\n|---|---|---|---|---|');
  rows.forEach((r) => console.log(r));
}

async function runOnce(n: number, concurrency: number) {
  const config = loadConfig(undefined, { provider: 'local', catalog: catalogOf(n), scratchDir: path.join(work, 'scratch'), out: path.join(work, 'reports'), concurrency });
  const t = performance.now();
  const { report } = await executeRun(config, { stateDir: path.join(work, 'state'), events: {}, signal: new AbortController().signal });
  const wall = performance.now() - t;
  const phase = (p: (name: string) => boolean) => report.snapshots.reduce((a, s) => a + s.phases.filter((x) => p(x.phase)).reduce((b, x) => b + x.durationMs, 0), 0);
  return {
    wall,
    checkMs: report.summary.checkTimeMs,
    restoreMs: phase((x) => x === 'restore'),
    attachMs: phase((x) => x === 'attach'),
    teardownMs: phase((x) => x === 'teardown'),
    phasesMs: phase(() => true),
  };
}

async function benchConcurrency(): Promise<void> {
  const n = 20;
  const def = Math.max(2, os.availableParallelism());
  console.log(`\n### ${n} fixture snapshots: concurrency 1 vs default (${def})\n`);
  console.log('| concurrency | wall | time in check tools | restore+attach+teardown | harness overhead (wall − check tools) | target (10% of wall + 1 s/snapshot) |\n|---|---|---|---|---|---|');
  for (const c of [1, def]) {
    const r = await runOnce(n, c);
    // With concurrency > 1 tool time overlaps; the serial row is the honest overhead measure.
    const overhead = c === 1 ? r.wall - r.checkMs : NaN;
    const target = 0.1 * r.wall + 1000 * n;
    console.log(`| ${c} | ${ms(r.wall)} | ${ms(r.checkMs)} | ${ms(r.restoreMs + r.attachMs + r.teardownMs)} | ${c === 1 ? `${ms(overhead)} (${((overhead / r.wall) * 100).toFixed(0)}%)` : 'n/a (overlapping)'} | ${ms(target)} |`);
  }
}

async function benchMemory(): Promise<void> {
  const n = 50;
  const cat = catalogOf(n);
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/snapdrill.js'), 'run', '--provider', 'local', '--catalog', cat, '--scratch-dir', path.join(work, 'scratch'), '--state-dir', path.join(work, 'state'), '--out', path.join(work, 'reports'), '--quiet', '-j', '4'], { stdio: 'ignore' });
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 25);
  const t = performance.now();
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearInterval(poll);
  console.log(`\n### Memory: ${n} snapshots, concurrency 4 (built CLI)\n`);
  console.log(`| snapshots | wall | exit | peak RSS (VmHWM) | target |\n|---|---|---|---|---|\n| ${n} | ${ms(performance.now() - t)} | ${code} | ${(peakKb / 1024).toFixed(0)} MB | < 200 MB |`);
}

/** engineMs sums the time a database check spent inside the engine and its tools, from the facts it printed. */
function engineMs(facts: { fact: string; value: any }[]): number {
  let ms = 0;
  for (const f of facts) {
    if (f.fact === 'startup') ms += (f.value.seconds ?? 0) * 1000;
    else if (typeof f.value?.ms === 'number') ms += f.value.ms;
  }
  return ms;
}

async function benchDatabases(): Promise<void> {
  const dbCatalog = execFileSync('bash', [path.join(ROOT, 'fixtures/build-db.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
  const { CheckRegistry } = await import('../src/checks/registry.js');
  const { runCheck } = await import('../src/checks/runner.js');
  const registry = CheckRegistry.load();
  const provider = new LocalProvider({ type: 'local', catalog: dbCatalog, scratchDir: path.join(work, 'scratch') }, 'bench-db');
  const ledger = Ledger.create(path.join(work, 'state'), 'bench-db');
  await provider.start(ledger);
  const signal = new AbortController().signal;
  const perEngine = new Map<string, { n: number; wall: number; engine: number }>();
  for (const snap of await provider.listSnapshots()) {
    const ctx = { ledger, owner: snap.id, signal, timeoutMs: 600_000 };
    const restored = await provider.restore(snap, ctx);
    const attached = await provider.attach(restored, ctx);
    const opts = { target: attached.device, scratch: restored.scratch, defaultTimeoutMs: 600_000 };
    await runCheck(registry, registry.get('ext4'), provider.shell(), opts);
    const find = await runCheck(registry, registry.get('dbfind'), provider.shell(), { ...opts, vars: { SNAPDRILL_FSTYPE: 'ext4' } });
    for (const db of find.facts.filter((f) => f.fact === 'database').map((f) => f.value as { engine: string; path: string })) {
      const def = registry.forEngine(db.engine)[0];
      if (!def) continue;
      const run = await runCheck(registry, def, provider.shell(), { ...opts, vars: { SNAPDRILL_FSTYPE: 'ext4', SNAPDRILL_DBPATH: db.path } });
      const e = perEngine.get(db.engine) ?? { n: 0, wall: 0, engine: 0 };
      e.n++;
      e.wall += run.durationMs;
      e.engine += engineMs(run.facts);
      perEngine.set(db.engine, e);
    }
    await ledger.releaseOwner(snap.id);
  }
  await ledger.releaseAll();
  ledger.close();
  console.log('\n### Database checks on the fixtures: time per engine, and what the harness adds beyond the engine\n');
  console.log('| engine | databases | mean check time | mean time inside engine and its tools | mean overhead (scripting, discovery of files, waiting) |\n|---|---|---|---|---|');
  for (const [engine, e] of perEngine) console.log(`| ${engine} | ${e.n} | ${ms(e.wall / e.n)} | ${ms(e.engine / e.n)} | ${ms((e.wall - e.engine) / e.n)} |`);
  const def = Math.max(2, os.availableParallelism());
  console.log(`\n| whole database catalog | wall |\n|---|---|`);
  for (const c of [1, def]) {
    const config = loadConfig(undefined, { provider: 'local', catalog: dbCatalog, scratchDir: path.join(work, 'scratch'), out: path.join(work, 'reports'), concurrency: c });
    const t = performance.now();
    await executeRun(config, { stateDir: path.join(work, 'state'), events: {}, signal: new AbortController().signal });
    console.log(`| concurrency ${c} | ${ms(performance.now() - t)} |`);
  }
}

/**
 * benchAws: 100 snapshots at concurrency 20 against moto behind the fault proxy (test/aws/world.ts: the proxy
 * plays the helpers, running each SSM command here on a loop device of the fixture), with API latency
 * injected and production-like poll intervals; once clean, once with 20% of all calls throttled.
 */
async function benchAws(): Promise<void> {
  const { startAwsWorld } = await import('../test/aws/world.js');
  const n = Number(process.env.BENCH_AWS_SNAPSHOTS ?? 100);
  const latencyMs = Number(process.env.BENCH_AWS_LATENCY_MS ?? 50);
  console.log(`\n| AWS, moto + ${latencyMs} ms per call, ${n} snapshots, concurrency 20 | wall | EC2 calls / snapshot | SSM calls / snapshot | throttled answers | results |\n|---|---|---|---|---|---|`);
  for (const throttle of [0, 0.2]) {
    const world = await startAwsWorld({
      fixtures: Array.from({ length: n }, (_, i) => ROTATION[i % ROTATION.length]!),
      fixturePath: (name) => path.join(fixtures, name),
      latencyMs,
      ...(throttle ? { throttle } : {}),
      pollMs: { volume: 2000, attach: 1000, helpers: 2000, ssm: 500 },
    });
    try {
      const config = loadConfig(world.writeConfig('concurrency: 20\n', '', ', volumesPerHelper: 20'));
      const t = performance.now();
      const { report } = await executeRun(config, { stateDir: path.join(work, 'state'), events: {}, signal: new AbortController().signal, providerFactory: (c, id) => world.providerFactory(c, id) });
      const wall = performance.now() - t;
      const ssmActions = ['SendCommand', 'GetCommandInvocation', 'DescribeInstanceInformation', 'GetParameter'];
      const answered = world.proxy.calls.filter((c) => c.outcome !== 'injected' || !/^(503|400)$/.test(String(c.status)) || ssmActions.includes(c.action));
      const ec2 = answered.filter((c) => c.outcome === 'forwarded' && !ssmActions.includes(c.action)).length;
      const ssm = world.proxy.calls.filter((c) => ssmActions.includes(c.action) && c.status === 200).length;
      const throttled = world.proxy.calls.filter((c) => c.outcome === 'injected' && (c.status === 503 || (c.status === 400 && ssmActions.includes(c.action)))).length;
      const byC = Object.entries(report.summary.byConsistency).filter(([, v]) => v).map(([k, v]) => `${v} ${k}`).join(', ');
      console.log(`| ${throttle ? '20% throttled' : 'no throttling'} | ${ms(wall)} | ${(ec2 / n).toFixed(1)} | ${(ssm / n).toFixed(1)} | ${throttled} | ${byC}; ${report.errors.length} harness errors; left: ${(await world.liveResources()).length} |`);
      for (const e of report.errors) console.log(`  harness error: ${e.stage}: ${e.message}`);
      for (const r of await world.liveResources()) console.log(`  left behind: ${r}`);
      rmSync(`/var/tmp/snapdrill/${report.runId}`, { recursive: true, force: true });
    } finally {
      await world.stop();
    }
  }
}

/**
 * benchBoot: time from the restored copy to "booted" for the bootable fixture under QEMU (TCG here), per boot
 * mode, and the harness's own time on top of QEMU's boot: overlay creation, console polling, SSH probing,
 * killing the VM (wall time of bootQemu minus the moment the SSH banner answered through the forward: the proof of a boot).
 */
async function benchBoot(): Promise<void> {
  const { bootQemu } = await import('../src/boot/qemu.js');
  const boot = execFileSync('bash', [path.join(ROOT, 'fixtures/build-boot.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
  const runs = Number(process.env.BENCH_BOOT_RUNS ?? 2);
  console.log(`\n| boot-good under QEMU (${runs} runs each) | power-on → kernel | kernel → init | to booted (SSH banner) | bootQemu wall | harness set-up + teardown | wall − booted |\n|---|---|---|---|---|---|---|`);
  for (const mode of ['bios', 'uefi', 'direct'] as const) {
    for (let i = 0; i < runs; i++) {
      const work = mkdtempSync(path.join(os.tmpdir(), 'snapdrill-bench-boot-'));
      try {
        const t = performance.now();
        const out = await bootQemu({
          disk: path.join(boot, 'boot-good.img'),
          workDir: work,
          mode,
          kernel: path.join(boot, 'boot-kernel/vmlinuz'),
          initrd: path.join(boot, 'boot-kernel/initrd'),
          append: readFileSync(path.join(boot, 'boot-kernel/cmdline'), 'utf8').trim(),
          memoryMiB: 1024,
          cpus: 1,
          timeoutMs: 300_000,
          accel: 'auto',
          ssh: true,
          settleMs: 3000,
        });
        const wall = performance.now() - t;
        const at = (n: string) => out.milestones.find((m) => m.name === n)?.atMs;
        const booted = out.milestones.find((m) => m.name === 'ssh');
        const k = at('kernel');
        const init = at('init');
        console.log(`| ${mode} (${out.platform.split(' (')[0]}) | ${k !== undefined ? ms(k) : '-'} | ${k !== undefined && init !== undefined ? ms(init - k) : '-'} | ${booted ? `${ms(booted.atMs)} (${booted.name})` : out.result} | ${ms(wall)} | ${ms(out.overheadMs ?? 0)} | ${booted ? ms(wall - booted.atMs) : '-'} |`);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
  }
}

const which = process.argv.slice(2);
const all = which.length === 0;
try {
  mkdirSync(path.join(work, 'scratch'), { recursive: true });
  if (all || which.includes('restore')) await benchRestore();
  if (all || which.includes('concurrency')) await benchConcurrency();
  if (all || which.includes('memory')) await benchMemory();
  if (all || which.includes('databases')) await benchDatabases();
  if (all || which.includes('aws')) await benchAws();
  if (all || which.includes('boot')) await benchBoot();
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeFileSync('/dev/null', '');
