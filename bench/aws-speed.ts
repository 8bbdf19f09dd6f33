// snapdrill on AWS with realistic state delays (issue #12), as root after `bash scripts/setup.sh`:
//   node --import tsx bench/aws-speed.ts
// One emulated account (moto behind the fault proxy, test/aws/world.ts, with stateDelays: volume 2 s, instance 3 s,
// status checks 4 s more, attach/detach 1 s, SSM: no invocation for 1 s, then InProgress 0.5 s), 22 snapshots:
// a snapdrill run (default concurrency, production poll caps) and, in the same process and account, a sequential
// per-snapshot script (one volume, one attach, one check at a time) with fixed production-like poll intervals.
// The copies of the fixtures that stand for the restored volumes are made before either is timed (prepareCopies).
// Prints a Markdown table; the figures go in bench/RESULTS.md. Env: BENCH_AWS_SNAPSHOTS (22), BENCH_BASELINE_SNAPSHOTS
// (all of them; fewer to shorten the sequential part, whose per-snapshot time is then extrapolated).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CheckRegistry } from '../src/checks/registry.js';
import { runCheck, runLibraryCommand, type CheckRun } from '../src/checks/runner.js';
import { loadConfig } from '../src/config/load.js';
import { judgeDiscovery } from '../src/judges/discovery.js';
import type { Ec2Api } from '../src/providers/aws/ec2.js';
import { wrapScript, type SsmApi } from '../src/providers/aws/ssm-shell.js';
import { runTags } from '../src/providers/aws/tags.js';
import { executeRun } from '../src/run/run.js';
import type { Shell, ShellResult, ShellRunOptions } from '../src/shells/shell.js';
import { sleep } from '../src/util/sleep.js';
import type { ProxyCall, Rule } from '../test/aws/fault-proxy.js';
import { startAwsWorld, type AwsWorld } from '../test/aws/world.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const ROTATION = ['ext4-clean.img', 'ext4-crash.img', 'xfs-clean.img', 'xfs-crash.img', 'gpt-two.img'];
const SSM_ACTIONS = new Set(['SendCommand', 'GetCommandInvocation', 'DescribeInstanceInformation', 'GetParameter']);
/** The intervals snapdrill polled at before issue #12 (and still its caps): a script's `sleep N` loops. */
const FIXED = { volume: 5000, attach: 3000, helpers: 10_000, ssm: 2000 };

/** CallCount splits recorded proxy calls into EC2 and SSM, by action. */
interface CallCount {
  ec2: number;
  ssm: number;
  byAction: Record<string, number>;
}

function countCalls(calls: ProxyCall[]): CallCount {
  const byAction: Record<string, number> = {};
  for (const c of calls) byAction[c.action] = (byAction[c.action] ?? 0) + 1;
  const ssm = calls.filter((c) => SSM_ACTIONS.has(c.action)).length;
  return { ec2: calls.length - ssm, ssm, byAction };
}

/** FixedSsmShell is what a script does: SendCommand, then GetCommandInvocation every 2 s until the command is done. */
class FixedSsmShell implements Shell {
  readonly kind = 'ssm' as const;
  readonly outputLimit = 24_000;
  constructor(
    private readonly api: SsmApi,
    private readonly instanceId: string,
  ) {}

  async run(script: string, o: ShellRunOptions): Promise<ShellResult> {
    const t0 = performance.now();
    const id = await this.api.sendCommand(this.instanceId, [wrapScript(script)], Math.ceil(o.timeoutMs / 1000));
    for (;;) {
      await sleep(FIXED.ssm);
      const inv = await this.api.getCommandInvocation(id, this.instanceId);
      if (inv && ['Success', 'Failed', 'TimedOut', 'Cancelled'].includes(inv.status)) {
        return { exitCode: inv.responseCode, stdout: inv.stdout, stderr: inv.stderr, durationMs: performance.now() - t0, timedOut: false, truncated: inv.stdout.length >= 24_000 };
      }
    }
  }
}

/** until polls probe every `everyMs` (after a first wait of the same) until it answers true. */
async function until(everyMs: number, probe: () => Promise<boolean>): Promise<void> {
  for (;;) {
    await sleep(everyMs);
    if (await probe()) return;
  }
}

/**
 * sequentialBaseline verifies the snapshots one at a time, as a script would: one helper; per snapshot CreateVolume,
 * wait available, AttachVolume, wait attached, find the device, discover, each filesystem's check, DetachVolume, wait
 * detached, DeleteVolume. Same emulator, same check scripts, same SSM transport; fixed poll intervals.
 */
async function sequentialBaseline(world: AwsWorld, snapshots: string[], ec2: Ec2Api, ssm: SsmApi): Promise<{ wall: number; checks: CheckRun[] }> {
  const registry = CheckRegistry.load();
  const { subnetId, securityGroupId } = await world.network();
  const t0 = performance.now();
  const expires = new Date(Date.now() + 3_600_000);
  const helper = await ec2.runInstance({ imageId: world.imageId, instanceType: 'm6i.large', availabilityZone: 'us-east-1a', subnetId, securityGroupIds: [securityGroupId], tags: runTags('bench-baseline', expires) });
  await until(FIXED.helpers, async () => {
    const [s] = await ec2.describeInstanceStatus([helper]);
    return s?.InstanceState?.Name === 'running' && s.SystemStatus?.Status === 'ok' && s.InstanceStatus?.Status === 'ok' && (await ssm.onlineInstances([helper])).has(helper);
  });
  const shell = new FixedSsmShell(ssm, helper);
  const checks: CheckRun[] = [];
  for (const snap of snapshots) {
    const scratch = `/var/tmp/snapdrill/bench-baseline/${snap}`;
    const vol = await ec2.createVolume({ snapshotId: snap, availabilityZone: 'us-east-1a', volumeType: 'gp3', tags: runTags('bench-baseline', expires, snap) });
    await until(FIXED.volume, async () => (await ec2.describeVolumes({ volumeIds: [vol] }))[0]?.State === 'available');
    await ec2.attachVolume(vol, helper, '/dev/sdf');
    await until(FIXED.attach, async () => Boolean((await ec2.describeVolumes({ volumeIds: [vol] }))[0]?.Attachments?.some((a) => a.State === 'attached')));
    const found = await runLibraryCommand(registry, shell, `find_volume_device '${vol}' /dev/sdf`, {}, { timeoutMs: 120_000 });
    const device = found.stdout.trim().split('\n').pop()!;
    const discover = await runCheck(registry, registry.get('discover'), shell, { target: device, scratch, defaultTimeoutMs: 600_000 });
    checks.push(discover);
    for (const t of judgeDiscovery(discover.facts, (fs) => registry.forFilesystem(fs).length > 0).targets) {
      for (const def of registry.forFilesystem(t.fstype!)) checks.push(await runCheck(registry, def, shell, { target: t.device, scratch, defaultTimeoutMs: 600_000 }));
    }
    await ec2.detachVolume(vol, helper, false);
    await until(FIXED.attach, async () => (await ec2.describeVolumes({ volumeIds: [vol] }))[0]?.State === 'available');
    await ec2.deleteVolume(vol);
  }
  await ec2.terminateInstances([helper]);
  const wall = performance.now() - t0;
  rmSync('/var/tmp/snapdrill/bench-baseline', { recursive: true, force: true });
  return { wall, checks };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const n = Number(process.env.BENCH_AWS_SNAPSHOTS ?? 22);
const nBase = Math.min(n, Number(process.env.BENCH_BASELINE_SNAPSHOTS ?? n));
const work = mkdtempSync(path.join('/var/tmp', 'snapdrill-bench-aws-'));
const fixtures = execFileSync('bash', [path.join(ROOT, 'fixtures/build-fs.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
const world = await startAwsWorld({
  fixtures: Array.from({ length: n }, (_, i) => ROTATION[i % ROTATION.length]!),
  fixturePath: (name) => path.join(fixtures, name),
  stateDelays: true,
  pollMs: FIXED,
  // The fixture copies that stand for the volumes' contents are made before the clock starts, for both runs alike.
  prepareCopies: 2,
});
/** What each SendCommand ran (its check, or the library command), to see where SSM calls go. */
const commandKinds: Record<string, number> = {};
// First in the list: the scripted helper's SendCommand rule answers, and so ends the evaluation.
(world.proxy.rules as Rule[]).unshift({
  action: 'SendCommand',
  when: (req) => {
    const cmd = (req.json as { Parameters: { commands: string[] } }).Parameters.commands[0]!;
    const script = Buffer.from(/echo '([^']+)'/.exec(cmd)?.[1] ?? '', 'base64').toString('utf8');
    const kind = /^(find_volume_device|fs_unmount)\b(?!\(\))/m.exec(script)?.[1] ?? /SNAPDRILL_CHECK='?([a-z0-9_-]+)/.exec(script)?.[1] ?? (/base64 -w0|gzip -c|rm -f/.test(script) ? 'read back output' : 'other');
    commandKinds[kind] = (commandKinds[kind] ?? 0) + 1;
    return false;
  },
});
try {
  const config = loadConfig(world.writeConfig());
  world.proxy.clearCalls();
  const t = performance.now();
  const { report } = await executeRun(config, { stateDir: path.join(work, 'state'), events: {}, signal: new AbortController().signal, providerFactory: (c, id) => world.providerFactory(c, id) });
  const wall = performance.now() - t;
  const run = countCalls(world.proxy.calls);
  const left = await world.liveResources();
  rmSync(`/var/tmp/snapdrill/${report.runId}`, { recursive: true, force: true });
  const byC = Object.entries(report.summary.byConsistency).filter(([, v]) => v).map(([k, v]) => `${v} ${k}`).join(', ');
  const phase = (name: string) => report.snapshots.reduce((a, x) => a + x.phases.filter((p) => p.phase === name).reduce((b, p) => b + p.durationMs, 0), 0) / report.snapshots.length;

  const runKinds = { ...commandKinds };
  world.proxy.clearCalls();
  const retry = { retryMode: 'adaptive', maxAttempts: 10 } as const;
  const base = await sequentialBaseline(world, [...world.snapFixture.keys()].slice(0, nBase), world.ec2Api(retry), world.ssmApi(retry));
  const seq = countCalls(world.proxy.calls);
  const baseWall = (base.wall / nBase) * n;

  console.log(`\n### AWS, ${n} snapshots (${ROTATION.join(', ')} in turn), realistic state delays\n`);
  console.log('| | wall | per snapshot | EC2 calls / snapshot | SSM calls / snapshot | results |\n|---|---|---|---|---|---|');
  console.log(`| snapdrill run (concurrency ${config.concurrency}, default) | ${s(wall)} | ${s(wall / n)} | ${(run.ec2 / n).toFixed(1)} | ${(run.ssm / n).toFixed(1)} | ${byC}; ${report.errors.length} harness errors; left: ${left.length} |`);
  console.log(`| sequential script${nBase < n ? ` (${nBase} measured, ×${(n / nBase).toFixed(1)})` : ''} | ${s(baseWall)} | ${s(base.wall / nBase)} | ${(seq.ec2 / nBase).toFixed(1)} | ${(seq.ssm / nBase).toFixed(1)} | ${base.checks.filter((c) => c.status === 'ran').length}/${base.checks.length} checks ran |`);
  console.log(`\nSpeed-up: **${(baseWall / wall).toFixed(1)}×** (target ≥ 10×). snapdrill mean phase time per snapshot: restore ${s(phase('restore'))}, attach ${s(phase('attach'))}.`);
  console.log(`\nsnapdrill calls by action: ${Object.entries(run.byAction).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`\nsnapdrill SSM commands by what they ran: ${Object.entries(runKinds).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`\nsequential calls by action: ${Object.entries(seq.byAction).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const e of report.errors) console.log(`  harness error: ${e.stage}: ${e.message}`);
  for (const r of left) console.log(`  left behind: ${r}`);
} finally {
  await world.stop();
  rmSync(work, { recursive: true, force: true });
}
