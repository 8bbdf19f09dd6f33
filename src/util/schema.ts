import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { schemaPath } from './paths.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

// strictRequired is off: "anyOf: [{required: [a]}, {required: [b]}]" (one of several keys) is a legitimate pattern.
const OPTIONS = { allErrors: true, discriminator: true, strict: true, strictRequired: false, allowUnionTypes: true } as const;
const ajv = new Ajv(OPTIONS);
(addFormats as unknown as (a: Ajv) => void)(ajv);
// A separate instance fills `default`s into the data it validates (the configuration): on the shared one, the
// draft-07 meta-schema's own defaults would be written into the fact schemas of check headers it validates.
const ajvDefaults = new Ajv({ ...OPTIONS, useDefaults: true });
(addFormats as unknown as (a: Ajv) => void)(ajvDefaults);
const cache = new Map<string, ValidateFunction>();

/**
 * compiledSchema loads and compiles a schema from schemas/ once per process. With `useDefaults`, validating fills
 * every absent property that has a `default` in the schema into the data (ajv useDefaults), so the schema is the
 * one place defaults are written.
 */
export function compiledSchema(name: string, opts: { useDefaults?: boolean } = {}): ValidateFunction {
  const key = opts.useDefaults ? `defaults:${name}` : name;
  let v = cache.get(key);
  if (!v) {
    v = (opts.useDefaults ? ajvDefaults : ajv).compile(JSON.parse(readFileSync(schemaPath(name), 'utf8')));
    cache.set(key, v);
  }
  return v;
}

/** SCHEMA_BASE is the $id prefix of every schema under schemas/: a relative `$ref` (fact.schema.json#/...) resolves against it. */
const SCHEMA_BASE = 'https://github.com/snapdrill/snapdrill/schemas/';

/**
 * compiledInlineSchema compiles a schema that lives outside schemas/ (a check header's fact value schemas), once per
 * distinct text; `$ref`s name schemas/ files relatively (they are loaded first). A malformed schema throws.
 */
export function compiledInlineSchema(schema: object, refs: string[] = []): ValidateFunction {
  for (const name of refs) compiledSchema(name);
  const text = JSON.stringify(schema);
  const key = `inline:${text}`;
  let v = cache.get(key);
  if (!v) {
    const id = `${SCHEMA_BASE}inline-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`;
    v = ajv.compile({ ...schema, $id: id });
    cache.set(key, v);
  }
  return v;
}

/** SchemaIssue is one validation failure: the JSON path of the field and the rule it broke. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/** describeSchemaErrors turns ajv errors into "path: rule" issues a user can act on, most specific first. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined): SchemaIssue[] {
  if (!errors) return [];
  const out: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // oneOf/anyOf summaries repeat what their branches already said.
    if (e.keyword === 'oneOf' && errors.some((o) => o !== e && o.instancePath.startsWith(e.instancePath) && o.keyword !== 'oneOf')) continue;
    const p = e.instancePath || '/';
    let message = e.message ?? 'is invalid';
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') message = `unknown key "${String(params.additionalProperty)}"`;
    else if (e.keyword === 'enum') message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    else if (e.keyword === 'const') message = `must be ${JSON.stringify(params.allowedValue)}`;
    else if (e.keyword === 'pattern' && String(params.pattern).includes('(ms|s|m|h')) message = 'must be a duration such as 500ms, 90s, 5m, 1h or 2d';
    else if (e.keyword === 'discriminator') message = `must name a known provider type (${String(params.tagValue ?? '')} is not one)`;
    const key = `${p}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: p, message });
  }
  return out;
}
