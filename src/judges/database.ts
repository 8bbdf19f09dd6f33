import type { Fact } from '../checks/runner.js';
import type { Canary, Engine } from '../config/types.js';
import { formatDuration } from '../util/duration.js';
import { displayBytes, terminalSafe } from '../util/sanitize.js';
import type { Evidence, Excerpt, Hint } from './types.js';
import { factReader, factsNamed, type CommonFacts } from './facts.js';

/** DbState is the closed set of database verdicts (DESIGN.md section 4), plus what could not be decided. */
export type DbState = 'clean-shutdown' | 'backup-mode' | 'recovered' | 'corrupt' | 'skipped' | 'unknown' | 'not-checked';

/** CanaryResult is one configured canary query evaluated on one database. */
export interface CanaryResult {
  name: string;
  engine: Engine;
  /** The database it ran against (path within its filesystem), or null when no matching database was found. */
  path: string | null;
  query: string;
  expectation: string;
  value: string | null;
  pass: boolean;
  detail: string;
}

/** DatabaseFinding is the judged state of one database found on a restored filesystem. */
export interface DatabaseFinding {
  engine: Engine;
  /** Path within its filesystem: a data directory, or an SQLite file. */
  path: string;
  /** The filesystem it lives on ("disk", "p2", ...). */
  filesystem: string;
  version?: string;
  state: DbState;
  summary: string;
  evidence: Evidence[];
  hints: Hint[];
  excerpts: Excerpt[];
}

/** DbTarget is a database discovery found: engine, path, filesystem. */
export interface DbTarget {
  engine: Engine;
  /** Path within its filesystem, for display: safe on a terminal, unambiguous (other bytes as \xNN). */
  path: string;
  /** The path's raw bytes, base64: what the checks use to find it (never rewritten). */
  pathB64?: string;
  filesystem: string;
  version?: string;
  lockBytes?: number;
  missing?: boolean;
}

const ENGINES: Engine[] = ['postgresql', 'mariadb', 'sqlite', 'mongodb'];

/** dbTargetsFrom reads the dbfind check's `database` facts; with the raw bytes of a path (pathB64) the display path is made from them. */
export function dbTargetsFrom(facts: Fact[], filesystem: string): DbTarget[] {
  return facts
    .filter((f) => f.fact === 'database')
    .flatMap((f): DbTarget[] => {
      const v = (f.value ?? {}) as { engine?: Engine; path?: unknown; pathB64?: unknown; version?: unknown; lockBytes?: unknown; missing?: unknown };
      const raw = typeof v.pathB64 === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v.pathB64) ? Buffer.from(v.pathB64, 'base64') : undefined;
      const shown = raw ? displayBytes(raw) : typeof v.path === 'string' ? terminalSafe(v.path) : undefined;
      if (!v.engine || !ENGINES.includes(v.engine) || !shown) return [];
      return [
        {
          engine: v.engine,
          path: shown,
          ...(raw ? { pathB64: raw.toString('base64') } : {}),
          filesystem,
          ...(typeof v.version === 'string' && v.version ? { version: terminalSafe(v.version).slice(0, 40) } : {}),
          ...(typeof v.lockBytes === 'number' ? { lockBytes: v.lockBytes } : {}),
          ...(v.missing ? { missing: true } : {}),
        },
      ];
    });
}

/** newDbFinding starts a finding for a target, state unknown until a judge decides. */
export function newDbFinding(t: DbTarget): DatabaseFinding {
  return {
    engine: t.engine,
    path: t.path,
    filesystem: t.filesystem,
    ...(t.version ? { version: t.version } : {}),
    state: 'unknown',
    summary: '',
    evidence: [],
    hints: [],
    excerpts: [],
  };
}


/** skippedFinding turns a check's "skipped" fact into a finding that says why and what to install. */
export function applySkipped(f: DatabaseFinding, facts: Fact[]): boolean {
  const s = factReader<CommonFacts>(facts)('skipped');
  if (!s) return false;
  f.state = 'skipped';
  f.summary = `skipped: ${s.reason}`;
  f.evidence.push({ key: `${f.engine}.skipped`, value: s.reason, text: s.reason });
  if (s.remedy) f.hints.push({ text: `${f.engine} at ${f.path} was not checked: ${s.reason}`, remedy: s.remedy });
  return true;
}

/** noteAside records the configuration files the check moved aside on the copy (the engine ran with snapdrill's settings only), with what they would have set. */
export function noteAside(f: DatabaseFinding, facts: Fact[]): void {
  const aside = factReader<CommonFacts>(facts)('aside');
  if (!aside?.length) return;
  f.evidence.push({
    key: `${f.engine}.config_aside`,
    value: aside.map((a) => a.file),
    text: `moved aside on the copy, not read by the engine (it ran with snapdrill's settings only): ${aside.map((a) => a.file).join(', ')}`,
  });
  const set = aside.filter((a) => a.settings).map((a) => `${a.file}:\n${a.settings}`).join('\n');
  if (set) f.excerpts.push({ title: 'configuration in the data directory (not applied)', exitCode: null, text: set });
}

/** refusing wraps a database judge: a file of the database that the check refused to read (a symlink leading off the snapshot, a special file) makes it unknown, whatever else the facts say, because the disk pointed the check away from itself. */
export function refusing(judge: (t: DbTarget, facts: Fact[]) => DatabaseFinding): (t: DbTarget, facts: Fact[]) => DatabaseFinding {
  return (t, facts) => {
    const f = judge(t, facts);
    const refused = factsNamed<CommonFacts, 'refused'>(facts, 'refused');
    if (!refused.length) return f;
    for (const r of refused.slice(0, 20)) f.evidence.push({ key: `${t.engine}.refused`, value: r.path, text: `${r.path}: ${r.reason}; not read` });
    const first = refused[0]!;
    f.state = 'unknown';
    f.summary = `${refused.length} file(s) of this database were refused (${first.path}: ${first.reason}); the verdict would rest on what the disk pointed at, not on the disk`;
    f.hints.push({
      text: 'a file of the data directory leads outside the snapshot (or is a device/FIFO): on the source machine it may be another volume (pg_wal, a tablespace) or a planted link',
      remedy: 'verify the volumes it points at together with this one (a snapshot set); if nothing should be there, treat the disk as tampered with',
    });
    return f;
  };
}

/** judgeMongo reports a MongoDB dbPath as found but not checked, with what the lock file says. */
export function judgeMongo(t: DbTarget): DatabaseFinding {
  const f = newDbFinding(t);
  f.state = 'not-checked';
  const unclean = (t.lockBytes ?? 0) > 0;
  f.summary = `MongoDB dbPath found; not checked by snapdrill${unclean ? ' (mongod.lock is non-empty: unclean shutdown or fsyncLock)' : ''}`;
  f.evidence.push({ key: 'mongodb.lock_bytes', value: t.lockBytes ?? 0, text: unclean ? `mongod.lock holds ${t.lockBytes} bytes: mongod did not shut down cleanly (also true after db.fsyncLock())` : 'mongod.lock is empty: clean shutdown' });
  f.hints.push({ text: 'MongoDB consistency is not verified by this release', remedy: 'start mongod on a copy and run validate({full: true}) on every collection' });
  return f;
}

/** parseCanaryTimestamp reads timestamps as PostgreSQL, MariaDB and SQLite print them; naive ones are UTC. */
export function parseCanaryTimestamp(v: string): number {
  let s = v.trim().replace(' ', 'T');
  if (/[+-]\d{2}$/.test(s)) s += ':00';
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(s)) s += 'Z';
  return Date.parse(s);
}

/** canariesFor lists the configured canaries that apply to one database. */
export function canariesFor(canaries: Canary[], t: DbTarget): Canary[] {
  return canaries.filter((c) => c.engine === t.engine && (!c.path || c.path === t.path));
}

/** evaluateCanary compares a canary's printed value with its expectation; the snapshot's start time anchors freshness. */
export function evaluateCanary(c: Canary, path: string | null, fact: { exitCode: number; output: string } | undefined, snapshotStart: string | undefined): CanaryResult {
  const expectation = [
    c.freshWithinMs !== undefined ? `newer than ${formatDuration(c.freshWithinMs)} before the snapshot` : '',
    c.atLeast !== undefined ? `at least ${c.atLeast}` : '',
    c.equals !== undefined ? `equal to ${JSON.stringify(c.equals)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const base = { name: c.name, engine: c.engine, path, query: c.query, expectation };
  if (path === null) return { ...base, value: null, pass: false, detail: `no ${c.engine} database${c.path ? ` at ${c.path}` : ''} found in this snapshot, which the canary's match says must hold one` };
  if (!fact) return { ...base, value: null, pass: false, detail: 'the query did not run (the engine did not start or the check was skipped)' };
  if (fact.exitCode !== 0) return { ...base, value: null, pass: false, detail: `the query failed: ${fact.output.split('\n')[0]}` };
  const value = fact.output.split('\n')[0]!.trim();
  const problems: string[] = [];
  if (value === '') problems.push('the query returned no value');
  if (c.freshWithinMs !== undefined && value !== '') {
    const t = parseCanaryTimestamp(value);
    const anchor = snapshotStart ? Date.parse(snapshotStart) : Date.now();
    if (Number.isNaN(t)) problems.push(`"${value}" is not a timestamp`);
    else if (anchor - t > c.freshWithinMs) problems.push(`newest data is ${formatDuration(anchor - t)} older than the snapshot (RPO ${formatDuration(c.freshWithinMs)})`);
  }
  if (c.atLeast !== undefined && value !== '') {
    const n = Number(value);
    if (Number.isNaN(n)) problems.push(`"${value}" is not a number`);
    else if (n < c.atLeast) problems.push(`${n} is below ${c.atLeast}`);
  }
  if (c.equals !== undefined && value !== c.equals) problems.push(`"${value}" is not "${c.equals}"`);
  return { ...base, value, pass: problems.length === 0, detail: problems.length ? problems.join('; ') : 'as expected' };
}

/** evaluateCanaries evaluates every canary that applies to a database against the facts its check printed. */
export function evaluateCanaries(t: DbTarget, facts: Fact[], canaries: Canary[], snapshotStart: string | undefined): CanaryResult[] {
  const printed = factsNamed<CommonFacts, 'canary'>(facts, 'canary');
  return canariesFor(canaries, t).map((c) => evaluateCanary(c, t.path, printed.find((p) => p.name === c.name), snapshotStart));
}

/** missingCanaries fails the canaries whose match says this snapshot must hold their database, when none was found. */
export function missingCanaries(canaries: Canary[], found: DbTarget[], tags: Record<string, string>): CanaryResult[] {
  return canaries
    .filter((c) => c.match && Object.entries(c.match.tags ?? {}).every(([k, v]) => tags[k] === v))
    .filter((c) => !found.some((t) => canariesFor([c], t).length > 0))
    .map((c) => evaluateCanary(c, null, undefined, undefined));
}

/** encodeCanaries passes a database's canaries to a check: one line per canary, base64 fields separated by ':' (not in base64's alphabet, and not whitespace, which `read` would merge); the input itself travels in base64 (checks' inputs:). */
export function encodeCanaries(canaries: Canary[]): string {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return canaries.map((c) => [c.name, c.database ?? '', c.query].map(b64).join(':')).join('\n');
}
