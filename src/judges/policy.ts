import type { BootOutcome } from '../boot/types.js';
import type { Consistency, Policy } from '../config/types.js';
import { judgeRto, type PhaseTiming } from './rto.js';

/** PolicyResult says whether one snapshot passes the run's policy, and why. */
export interface PolicyResult {
  pass: boolean;
  minimum: 'application-consistent' | 'crash-consistent';
  reason: string;
  /** The RTO budget applied (policy.rto or a rule's rto), when there is one. */
  rto?: { pass: boolean; budgetMs: number; measuredMs: number; phase?: string; phaseMs?: number };
}

const RANK: Record<Consistency, number> = { 'application-consistent': 2, 'crash-consistent': 1, corrupt: -1, unknown: 0 };

/** BootResult is the bootability axis (boot.enabled): the details are in SnapshotResult.bootTest. */
export type BootResult = 'boots' | 'fails-to-boot' | 'not-tested';

/** BootEvidence is what the policy reads of a boot test: how it ended (none: not tested), and whether booting is required (boot.required). */
export interface BootEvidence {
  outcome?: Pick<BootOutcome, 'result' | 'reason' | 'diagnosis'>;
  required: boolean;
}

/** bootResult is the bootability axis of a boot outcome: a test that could not run (error) or did not happen is not-tested. */
export function bootResult(outcome: Pick<BootOutcome, 'result'> | undefined): BootResult {
  return outcome?.result === 'boots' ? 'boots' : outcome?.result === 'fails-to-boot' ? 'fails-to-boot' : 'not-tested';
}

/**
 * evaluatePolicy applies the first matching rule (or the default minimum) to one snapshot's consistency, then its
 * canaries; a snapshot that fails to boot fails too when booting is required (boot.required), naming the first diagnosed
 * cause; and one whose restore-to-verified time is over its RTO budget fails, naming the phase that took the most.
 */
export function evaluatePolicy(
  snapshot: { id: string; tags: Record<string, string> },
  consistency: Consistency,
  policy: Policy,
  canaries: { name: string; pass: boolean; detail: string }[] = [],
  boot?: BootEvidence,
  phases?: readonly Pick<PhaseTiming, 'kind' | 'startedAt' | 'durationMs'>[],
): PolicyResult {
  let result = evaluateConsistency(snapshot, consistency, policy, canaries);
  const outcome = boot?.outcome;
  if (boot?.required && outcome && bootResult(outcome) === 'fails-to-boot') {
    const cause = outcome.diagnosis?.causes[0];
    result = { ...result, pass: false, reason: `fails to boot (${cause ? `${cause.title} [${cause.id}]` : (outcome.reason ?? 'no diagnosis')}); ${result.reason}` };
  }
  const budget = matchingRule(snapshot, policy)?.rtoMs ?? policy.rtoMs;
  if (budget === undefined || !phases) return result;
  const rto = judgeRto(phases, budget);
  const applied = { pass: rto.pass, budgetMs: budget, measuredMs: rto.measuredMs, ...(rto.phase ? { phase: rto.phase, phaseMs: rto.phaseMs! } : {}) };
  return rto.pass ? { ...result, rto: applied } : { ...result, pass: false, reason: `${rto.reason}; ${result.reason}`, rto: applied };
}

/** matchingRule is the first policy rule matching a snapshot's id and tags. */
function matchingRule(snapshot: { id: string; tags: Record<string, string> }, policy: Policy): Policy['rules'][number] | undefined {
  return policy.rules.find(
    (r) =>
      (!r.match.ids || r.match.ids.includes(snapshot.id)) &&
      (!r.match.tags || Object.entries(r.match.tags).every(([k, v]) => snapshot.tags[k] === v)),
  );
}

/** evaluateConsistency is the policy on consistency and canaries alone. */
function evaluateConsistency(snapshot: { id: string; tags: Record<string, string> }, consistency: Consistency, policy: Policy, canaries: { name: string; pass: boolean; detail: string }[]): PolicyResult {
  // The first matching rule that sets a minimum (a rule may set only an RTO budget).
  const rule = policy.rules.find((r) => r.minimum !== undefined && matchingRule(snapshot, { ...policy, rules: [r] }));
  const minimum = rule?.minimum ?? policy.minimum;
  const source = rule ? `policy rule ${policy.rules.indexOf(rule) + 1}` : 'policy.minimum';
  if (consistency === 'unknown') {
    return policy.allowUnknown
      ? { pass: true, minimum, reason: 'unknown, allowed by policy.allowUnknown' }
      : { pass: false, minimum, reason: 'consistency could not be determined (set policy.allowUnknown to accept)' };
  }
  if (consistency === 'corrupt') return { pass: false, minimum, reason: 'corrupt' };
  const pass = RANK[consistency] >= RANK[minimum];
  if (!pass) return { pass, minimum, reason: `${consistency} is below ${minimum} required by ${source}` };
  // Consistent but stale or missing data still fails: canaries prove the data came back.
  const failed = canaries.filter((c) => !c.pass);
  if (failed.length) return { pass: false, minimum, reason: `canary failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}` };
  return { pass, minimum, reason: `${consistency} meets ${minimum} (${source})${canaries.length ? `; ${canaries.length} canary quer${canaries.length === 1 ? 'y' : 'ies'} passed` : ''}` };
}
