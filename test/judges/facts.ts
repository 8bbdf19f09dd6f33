/**
 * Captured facts for the judge tests, written once: the facts the real checks printed on the real fixture images
 * (test/golden/facts*, one NDJSON file per fixture or scenario), and copies of them with exactly one fault injected.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Fact } from '../../src/checks/runner.js';

/**
 * The captures: `facts` from the filesystem checks (scripts/capture-facts.ts), `facts-db` from the database engines
 * (scripts/capture-facts.ts --databases), `facts-boot` from the bootlint check (scripts/capture-bootlint-facts.ts).
 */
export type Capture = 'facts' | 'facts-db' | 'facts-boot';

/** parseFacts reads NDJSON as the checks print it: one fact a line, blank lines ignored. */
export function parseFacts(ndjson: string): Fact[] {
  return ndjson
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Fact);
}

/** captured names the directory of one capture and loads `<name>.ndjson` from it. */
export function captured(capture: Capture): { dir: string; load: (name: string) => Fact[] } {
  const dir = path.resolve(import.meta.dirname, '../golden', capture);
  return { dir, load: (name) => parseFacts(readFileSync(path.join(dir, `${name}.ndjson`), 'utf8')) };
}

/** A fault: a new value computed from a copy of the captured one (undefined when the fact is added), or 'remove'. `any`: a fault edits one field of whatever shape the fact has. */
export type FactChange = ((value: any) => unknown) | 'remove';

export interface FaultOptions {
  /** Facts of these checks are never changed nor removed (e.g. dbfind, whose facts share names with the engines'). */
  keep?: string[];
  /** When no fact of that name was captured, a changed one is added with this check and target; by default nothing is added. */
  addAs?: Pick<Fact, 'check' | 'target'>;
}

/**
 * faultInjector returns withFault(facts, fact, change): a copy of `facts` in which every fact named `fact` has
 * its value changed (or is removed), to inject exactly one fault into a known-good capture. The capture is not touched.
 */
export function faultInjector(opts: FaultOptions = {}): (facts: Fact[], fact: string, change: FactChange) => Fact[] {
  return (facts, fact, change) => {
    if (opts.addAs && change !== 'remove' && !facts.some((f) => f.fact === fact)) return [...facts, { ...opts.addAs, fact, value: change(undefined) }];
    return facts.flatMap((f) => (f.fact !== fact || opts.keep?.includes(f.check) ? [f] : change === 'remove' ? [] : [{ ...f, value: change(structuredClone(f.value)) }]));
  };
}

/** withFault changes (or removes) every fact of that name; it adds nothing. */
export const withFault = faultInjector();
