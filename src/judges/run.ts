import type { Consistency } from '../config/types.js';
import { ExitCode } from '../errors.js';
import type { RpoViolation } from './history.js';

/** RunVerdict is the run as a whole: counts by verdict and policy, and the exit code they make. */
export interface RunVerdict {
  summary: { total: number; passed: number; failed: number; byConsistency: Record<Consistency, number> };
  exitCode: (typeof ExitCode)[keyof typeof ExitCode];
}

/**
 * judgeRun decides the run's exit code from its parts: a harness problem or an interruption is an infrastructure
 * failure (3) whatever else happened; otherwise a snapshot that fails the policy, or a volume over its RPO, fails the
 * run (1).
 */
export function judgeRun(results: readonly { consistency: Consistency; policy: { pass: boolean } }[], rpo: readonly RpoViolation[], harnessErrors: number, interrupted: boolean): RunVerdict {
  const byConsistency: Record<Consistency, number> = { 'application-consistent': 0, 'crash-consistent': 0, corrupt: 0, unknown: 0 };
  for (const r of results) byConsistency[r.consistency]++;
  const failed = results.filter((r) => !r.policy.pass).length;
  const exitCode = interrupted || harnessErrors ? ExitCode.Infrastructure : failed || rpo.length ? ExitCode.PolicyFailed : ExitCode.Ok;
  return { summary: { total: results.length, passed: results.length - failed, failed, byConsistency }, exitCode };
}
