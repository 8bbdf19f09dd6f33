import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { CheckRegistry } from '../checks/registry.js';
import type { Config, Consistency } from '../config/types.js';
import { ExitCode } from '../errors.js';
import { Ledger } from '../ledger/ledger.js';
import { createProvider } from '../providers/factory.js';
import type { Provider } from '../provider.js';
import { writeReports } from '../report/write.js';
import { selectSnapshots } from '../select.js';
import { VERSION } from '../version.js';
import type { RunEvents } from './events.js';
import type { HarnessErrorInfo, RunReport } from '../report/types.js';
import { distinctErrors, teardownFailed } from './harness-errors.js';
import { verifyAll } from './verify.js';

/** newRunId makes a sortable, unique run id: UTC timestamp plus random suffix. */
export function newRunId(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${ts}-${randomBytes(3).toString('hex')}`;
}

/** RunOptions are the per-invocation settings that are not part of the config. */
export interface RunOptions {
  stateDir: string;
  events: RunEvents;
  signal: AbortSignal;
  runId?: string;
  /** Builds the provider; tests use it to point a provider at an emulator. Default: from the config. */
  providerFactory?: (config: Config, runId: string) => Provider;
}

/** RunOutcome is a finished run: its report and where the report files went. */
export interface RunOutcome {
  report: RunReport;
  reportDir: string;
  files: string[];
}

/** executeRun selects, verifies and reports; it creates nothing before the selection and preflight succeed. */
export async function executeRun(config: Config, opts: RunOptions): Promise<RunOutcome> {
  const runId = opts.runId ?? newRunId();
  const startedAt = new Date();
  const provider = (opts.providerFactory ?? createProvider)(config, runId);
  const registry = CheckRegistry.load();
  const all = await provider.listSnapshots();
  const selected = selectSnapshots(all, config.snapshots, provider.describe());
  await provider.preflight();

  // The scratch root is recorded so gc accepts this run's paths (and only paths under it); cloud records are released by this provider.
  const releaseCloud = provider.releaseCloud?.bind(provider);
  const ledger = Ledger.create(opts.stateDir, runId, {
    ...(config.provider.type === 'local' ? { scratchRoot: config.provider.scratchDir } : {}),
    ...(releaseCloud ? { cloud: releaseCloud } : {}),
  });
  let results: RunReport['snapshots'] = [];
  const errors: HarnessErrorInfo[] = [];
  try {
    await provider.start(ledger, selected.length, opts.signal);
    const out = await verifyAll(selected, { config, provider, registry, ledger, events: opts.events, signal: opts.signal });
    results = out.results;
    errors.push(...out.errors);
  } finally {
    try {
      await ledger.releaseAll();
    } catch (e) {
      errors.push(teardownFailed(e));
    }
    ledger.close();
  }

  const interrupted = opts.signal.aborted;
  const byConsistency: Record<Consistency, number> = { 'application-consistent': 0, 'crash-consistent': 0, corrupt: 0, unknown: 0 };
  for (const r of results) byConsistency[r.consistency]++;
  const failed = results.filter((r) => !r.policy.pass).length;
  // One line per distinct problem: an interruption is reported once, not once per snapshot.
  const distinct = distinctErrors(errors);
  const exitCode = interrupted || distinct.length ? ExitCode.Infrastructure : failed ? ExitCode.PolicyFailed : ExitCode.Ok;
  const finishedAt = new Date();
  const report: RunReport = {
    schemaVersion: 1,
    tool: { name: 'snapdrill', version: VERSION },
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    host: os.hostname(),
    provider: { type: provider.type, source: provider.describe() },
    concurrency: config.concurrency,
    policy: { minimum: config.policy.minimum, allowUnknown: config.policy.allowUnknown, rules: config.policy.rules.length },
    interrupted,
    exitCode,
    summary: {
      total: results.length,
      passed: results.length - failed,
      failed,
      byConsistency,
      checkTimeMs: results.reduce((n, r) => n + r.checks.reduce((m, c) => m + c.durationMs, 0), 0),
    },
    errors: distinct,
    snapshots: results,
  };
  const { dir, files } = writeReports(report, config.output.dir, config.output.formats);
  return { report, reportDir: dir, files };
}
