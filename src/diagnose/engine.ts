import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { ConsoleMatch, DiagnosedCause, Diagnosis } from '../boot/types.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';

/** CatalogEntry is one cause of a failed boot, as the catalog file describes it. */
export interface CatalogEntry {
  id: string;
  title: string;
  priority: number;
  signatures: string[];
  require?: number;
  suppresses?: string[];
  explanation: string;
  remedy: string;
  sources: string[];
}

/** Catalog is the loaded catalog with its signatures compiled. */
export interface Catalog {
  entries: (CatalogEntry & { regexes: RegExp[] })[];
}

/** CATALOG_FILE is the shipped catalog (data, not code: one entry per cause). */
export const CATALOG_FILE = path.join(PACKAGE_ROOT, 'data', 'diagnose-catalog.yaml');

let cached: Catalog | undefined;

/** loadCatalog reads and validates a catalog file (default: the shipped one), compiling every signature once. */
export function loadCatalog(file = CATALOG_FILE): Catalog {
  if (file === CATALOG_FILE && cached) return cached;
  const raw = parse(readFileSync(file, 'utf8')) as unknown;
  const validate = compiledSchema('diagnosis-catalog.schema.json');
  if (!validate(raw)) throw new Error(`${file}: ${describeSchemaErrors(validate.errors).map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  const entries = (raw as { causes: CatalogEntry[] }).causes;
  const ids = new Set<string>();
  for (const e of entries) {
    if (ids.has(e.id)) throw new Error(`${file}: cause id ${e.id} appears twice`);
    ids.add(e.id);
  }
  for (const e of entries) for (const s of e.suppresses ?? []) if (!ids.has(s)) throw new Error(`${file}: ${e.id} suppresses unknown cause ${s}`);
  const catalog = { entries: entries.map((e) => ({ ...e, regexes: e.signatures.map((s) => new RegExp(s, 'i')) })) };
  if (file === CATALOG_FILE) cached = catalog;
  return catalog;
}

/** MAX_MATCHES_PER_CAUSE bounds the lines kept per cause (a boot loop repeats the same line thousands of times). */
const MAX_MATCHES_PER_CAUSE = 12;

/** cleanLine removes what a serial console adds around the text: escape sequences (also when published without the ESC byte), carriage returns, NULs. */
export function cleanLine(line: string): string {
  return line
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\x1b[()][A-Za-z0-9]/g, '')
    .replace(/\[[0-9;]{1,12}m/g, '')
    .replace(/[\r\0]/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/**
 * diagnose matches a console transcript (or a launch error message) against the catalog: a cause matches when
 * at least `require` of its signatures match some line. Causes are ranked by priority plus the number of distinct
 * signatures matched; a matched cause drops the generic causes it suppresses. No match → no causes: the
 * transcript is not guessed at.
 */
export function diagnose(text: string, catalog: Catalog = loadCatalog()): Diagnosis {
  const lines = text.split('\n').map(cleanLine);
  const found: DiagnosedCause[] = [];
  for (const e of catalog.entries) {
    const matches: ConsoleMatch[] = [];
    const distinct = new Set<number>();
    lines.forEach((line, i) => {
      e.regexes.forEach((re, k) => {
        if (!re.test(line)) return;
        distinct.add(k);
        if (matches.length < MAX_MATCHES_PER_CAUSE && !matches.some((m) => m.line === i + 1)) matches.push({ line: i + 1, text: line.trim(), signature: e.signatures[k]! });
      });
    });
    if (distinct.size >= (e.require ?? 1)) found.push({ id: e.id, title: e.title, explanation: e.explanation.trim(), remedy: e.remedy.trim(), score: e.priority + distinct.size, matches });
  }
  const suppressed = new Set(found.flatMap((c) => catalog.entries.find((e) => e.id === c.id)!.suppresses ?? []));
  const causes = found.filter((c) => !suppressed.has(c.id)).sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  return { causes, lines: lines.length };
}
