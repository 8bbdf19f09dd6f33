import type { LintContext, LintResult } from '../../boot/types.js';
import type { Fact } from '../../checks/runner.js';
import { factValue, readBootFacts, type RootFact } from './facts.js';
import { knownIds } from './known.js';
import { RULES } from './rules/index.js';

/**
 * The pre-boot lint judge: turns the facts checks/bootlint.sh gathered on a restored root filesystem
 * (mounted read-only, never replayed), with what the harness knows (the filesystems restored with it, the
 * target instance type), into the problems that would stop the restored machine from booting, each with a
 * remedy. A list of small rules (rules/); pure: no I/O.
 */

export { parseFstabLine, type FstabEntry } from './fstab.js';
export { RULES } from './rules/index.js';
export type { LintInput, LintRule } from './rule.js';
export { ROOT_MIN_FREE_BYTES } from './rules/space.js';

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** precondition is the lint's outcome when it cannot look at a root filesystem (not run, or not a root), else the root fact. */
function precondition(target: string, facts: Fact[]): LintResult | RootFact {
  const notRun = (reason: string): LintResult => ({ target, status: 'not-run', reason, findings: [] });
  const skipped = factValue<{ reason?: string; remedy?: string }>(facts, 'skipped');
  if (skipped) return notRun(`skipped: ${skipped.reason ?? 'the check could not run'}${skipped.remedy ? ` (${skipped.remedy})` : ''}`);
  if (facts.length === 0) return notRun('the bootlint check printed nothing');
  const mount = factValue<{ ok: boolean; output?: string }>(facts, 'mount');
  if (!mount) return notRun('the bootlint check printed no mount result');
  if (!mount.ok) return notRun(`could not mount the filesystem read-only: ${(mount.output ?? '').trim().split('\n').slice(-1)[0] || 'mount failed'}`);
  const root = factValue<RootFact>(facts, 'root');
  if (!root) return notRun('the bootlint check stopped before it could tell whether this is a root filesystem');
  if (!root.fstab && !root.init) return { target, status: 'not-root', findings: [] };
  return root;
}

/** judgeBootLint lints one restored filesystem from the bootlint check's facts on it and the lint context; errors come first, then warnings, then notes. */
export function judgeBootLint(target: string, facts: Fact[], context: LintContext): LintResult {
  const pre = precondition(target, facts);
  if ('status' in pre) return pre;
  const bootFacts = readBootFacts(facts, pre);
  const input = { facts: bootFacts, context, ids: knownIds(context, bootFacts.identity) };
  const findings = RULES.flatMap((r) => r.check(input));
  findings.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return { target, status: 'linted', findings };
}
