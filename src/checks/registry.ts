import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { InfraError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { CHECKS_DIR } from '../util/paths.js';
import { compiledInlineSchema, compiledSchema, describeSchemaErrors } from '../util/schema.js';

/** CheckStage says when a check runs: once per volume (discover), once per filesystem of a matching type, or once per candidate root filesystem before a boot test (boot). */
export type CheckStage = 'discover' | 'filesystem' | 'data' | 'database' | 'boot';

/** CheckDefinition is a parsed, validated check script. */
export interface CheckDefinition {
  id: string;
  title: string;
  description: string;
  stage: CheckStage;
  fstypes: string[];
  engines: string[];
  needs: string[];
  packages: Record<string, string[]>;
  timeoutMs: number | undefined;
  mutates: boolean;
  /** Names of the facts the check declares (its header's `facts:` map), besides the COMMON_FACTS every check may print. */
  facts: string[];
  /** The value schema of every fact the check may print, declared and common: parseFacts holds each line to it. */
  factSchemas: ReadonlyMap<string, ValidateFunction>;
  /** The SNAPDRILL_* inputs the check reads besides HARNESS_INPUTS (its header's `inputs:`), each with its encoding. */
  inputs: Readonly<Record<string, CheckInputSpec>>;
  file: string;
  /** The script body, without the library preamble. */
  body: string;
}

/** InputEncoding is how a check input travels in its environment variable (schemas/check.schema.json). */
export type InputEncoding = 'plain' | 'base64' | 'integer' | 'flag';

/** CheckInputSpec is one declared input of a check. */
export interface CheckInputSpec {
  encoding: InputEncoding;
  description: string;
}

/** HARNESS_INPUTS are the variables the runner sets for every check (and library command): no check declares them. */
export const HARNESS_INPUTS: Readonly<Record<string, CheckInputSpec>> = {
  SNAPDRILL_CHECK: { encoding: 'plain', description: 'the check id (harness for a library command)' },
  SNAPDRILL_PACKAGES: { encoding: 'plain', description: "the packages that provide the check's tools, for skip remedies" },
  SNAPDRILL_TARGET: { encoding: 'plain', description: 'the block device the check works on' },
  SNAPDRILL_SCRATCH: { encoding: 'plain', description: "the helper's scratch directory for this snapshot" },
  SNAPDRILL_TIMEOUT_S: { encoding: 'integer', description: "wall seconds for the check's sandboxes, inside the harness's deadline" },
};

/** COMMON_FACTS are the protocol facts any check may print (checks/lib/common.sh: skip, sandbox, limits, refused paths), declared once in fact.schema.json. */
export const COMMON_FACTS = ['skipped', 'limit', 'sandbox', 'refused'] as const;

/** commonFactSchemas compiles the value schemas of COMMON_FACTS. */
function commonFactSchemas(): [string, ValidateFunction][] {
  return COMMON_FACTS.map((name) => [name, compiledInlineSchema({ $ref: `fact.schema.json#/definitions/common/properties/${name}` }, ['fact.schema.json'])]);
}

/** compileFactSchemas compiles a header's fact value schemas, naming the check and fact when one is not a valid schema. */
function compileFactSchemas(file: string, facts: Record<string, object>): Map<string, ValidateFunction> {
  const out = new Map(commonFactSchemas());
  for (const [name, schema] of Object.entries(facts)) {
    try {
      out.set(name, compiledInlineSchema(schema, ['fact.schema.json']));
    } catch (e) {
      throw new InfraError('check-header-invalid', `${file}: the schema of fact "${name}" does not compile: ${(e as Error).message}`);
    }
  }
  return out;
}

const HEADER = /^#!.*\n# ---\n((?:#.*\n)*?)# ---\n/;

/** parseCheckScript extracts and validates the YAML header of one check script. */
export function parseCheckScript(file: string, text: string): CheckDefinition {
  const m = HEADER.exec(text);
  if (!m) throw new InfraError('check-header-missing', `${file}: no '# ---' header block after the shebang`);
  const yamlText = m[1]!
    .split('\n')
    .map((l) => l.replace(/^# ?/, ''))
    .join('\n');
  const header = parseYaml(yamlText) as Record<string, any>;
  const validate = compiledSchema('check.schema.json');
  if (!validate(header)) {
    const issues = describeSchemaErrors(validate.errors);
    throw new InfraError('check-header-invalid', `${file}: invalid check header: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
  const expectedId = path.basename(file, '.sh');
  if (header.id !== expectedId) throw new InfraError('check-header-invalid', `${file}: id "${header.id}" must match the file name "${expectedId}"`);
  return {
    id: header.id,
    title: header.title,
    description: (header.description ?? '').trim(),
    stage: header.stage,
    fstypes: header.appliesTo?.fstype ?? [],
    engines: header.appliesTo?.engine ?? [],
    needs: header.needs,
    packages: header.packages ?? {},
    timeoutMs: header.timeout ? parseDuration(header.timeout) : undefined,
    mutates: header.mutates,
    facts: Object.keys(header.facts ?? {}),
    factSchemas: compileFactSchemas(file, header.facts ?? {}),
    inputs: header.inputs ?? {},
    file,
    body: text.slice(m[0].length),
  };
}

/** CheckRegistry holds every check under checks/, keyed by id. */
export class CheckRegistry {
  readonly checks: ReadonlyMap<string, CheckDefinition>;
  readonly library: string;

  constructor(checks: CheckDefinition[], library: string) {
    this.checks = new Map(checks.map((c) => [c.id, c]));
    this.library = library;
  }

  /**
   * load reads and validates every checks/*.sh, failing loudly on a malformed header. Extra directories
   * (SNAPDRILL_EXTRA_CHECKS, colon-separated) add checks; the test suite uses this to hold a mount open.
   */
  static load(dir: string = CHECKS_DIR, extraDirs: string[] = (process.env.SNAPDRILL_EXTRA_CHECKS ?? '').split(':').filter(Boolean)): CheckRegistry {
    const defs: CheckDefinition[] = [];
    for (const d of [dir, ...extraDirs]) {
      for (const f of readdirSync(d).filter((f) => f.endsWith('.sh')).sort()) {
        const def = parseCheckScript(path.join(d, f), readFileSync(path.join(d, f), 'utf8'));
        if (defs.some((x) => x.id === def.id)) throw new InfraError('check-duplicate', `check id ${def.id} is defined twice (${def.file})`);
        defs.push(def);
      }
    }
    return new CheckRegistry(defs, readFileSync(path.join(dir, 'lib', 'common.sh'), 'utf8'));
  }

  /** get returns a check by id or throws. */
  get(id: string): CheckDefinition {
    const c = this.checks.get(id);
    if (!c) throw new InfraError('check-missing', `no check named ${id} in ${CHECKS_DIR}`);
    return c;
  }

  /** forFilesystem lists the filesystem checks that apply to an fs type. */
  forFilesystem(fstype: string): CheckDefinition[] {
    return [...this.checks.values()].filter((c) => c.stage === 'filesystem' && c.fstypes.includes(fstype));
  }

  /** forEngine lists the database checks that apply to an engine. */
  forEngine(engine: string): CheckDefinition[] {
    return [...this.checks.values()].filter((c) => c.stage === 'database' && c.engines.includes(engine));
  }

  /**
   * helperPackages lists what a helper of one distribution family must install for every check: `base` first (what the
   * check library itself calls), then each check's `packages` for that family, in stage order, without repeats. Derived
   * from the headers, so a check that needs a new tool names its package once, where it is used.
   */
  helperPackages(distro: string, base: readonly string[] = []): string[] {
    return [...new Set([...base, ...this.all().flatMap((c) => c.packages[distro] ?? [])])];
  }

  /** all lists every check in the order stages run, then by id. */
  all(): CheckDefinition[] {
    const order: CheckStage[] = ['discover', 'filesystem', 'data', 'database', 'boot'];
    return [...this.checks.values()].sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage) || a.id.localeCompare(b.id));
  }
}
