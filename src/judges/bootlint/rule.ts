import type { LintContext, LintFinding } from '../../boot/types.js';
import type { BootFacts } from './facts.js';
import type { KnownIds } from './known.js';

/** LintInput is what every rule reads: the check's facts on the root filesystem, what the harness knows, and the identities that resolve. */
export interface LintInput {
  facts: BootFacts;
  context: LintContext;
  ids: KnownIds;
}

/** LintRule is one pre-boot diagnostic: a pure function from the lint input to its findings (none when all is well). */
export interface LintRule {
  /** The rule's name, and the finding ids it can report. */
  name: string;
  ids: string[];
  check(input: LintInput): LintFinding[];
}
