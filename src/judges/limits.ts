import type { LintResult } from '../boot/types.js';
import type { CheckRun, Fact } from '../checks/runner.js';
import { formatDuration } from '../util/duration.js';
import { dbTargetsFrom, newDbFinding, type DatabaseFinding, type DbTarget } from './database.js';
import type { FsTarget } from './discovery.js';
import { newFsFinding } from './filesystem.js';
import { factReader, type CommonFacts } from './facts.js';
import type { SnapshotVerdict } from './snapshot.js';
import type { Evidence, FilesystemFinding, Hint } from './types.js';

/**
 * Verdict integrity (DESIGN.md section 8: "facts are bounded"). A check whose output was cut, that hit a cap, or
 * whose sandbox was killed has not seen everything: what it would have decided is *unknown*, with the reason and
 * the remedy, never a pass. A failure it did see (corrupt, unreadable) stands: a disk can only make itself look worse.
 */

/** RunLimit is one reason a check run's facts are incomplete. */
export interface RunLimit {
  kind: 'truncated' | 'limit' | 'sandbox';
  /** Stable evidence key suffix, e.g. "output", "databases", "sandbox". */
  what: string;
  text: string;
  remedy: string;
  limit?: number;
}

/** LimitFact is what a check prints when it stopped at one of its caps: `{"fact":"limit","value":{...}}`. */
interface LimitFact {
  what?: unknown;
  limit?: unknown;
  reason?: unknown;
  remedy?: unknown;
}

/** SandboxFact is what a check prints when the sandbox of a tool was killed: `{"fact":"sandbox","value":{"killed":true,...}}`. */
interface SandboxFact {
  killed?: unknown;
  setupFailed?: unknown;
  reason?: unknown;
  exitCode?: unknown;
  tool?: unknown;
  remedy?: unknown;
}

const str = (v: unknown, max = 300): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** LIMIT_REMEDIES say what to do about the caps the harness knows by name. */
const LIMIT_REMEDIES: Record<string, string> = {
  databases: 'raise databases.maxPerFilesystem (and timeouts.snapshot), or leave paths out with databases.exclude',
  output: 'look at what the disk holds where the check stopped; a real disk rarely needs more',
};

/** limitRemedy is the remedy for a cap: the check's own, else the known one, else a generic one. */
function limitRemedy(what: string, own: string | undefined): string {
  return own ?? LIMIT_REMEDIES[what] ?? `the check stopped at its cap on ${what}: look at that part of the disk by hand`;
}

/** runLimits lists why a check run's facts are incomplete: its output was cut, it hit a cap, or a sandbox was killed. */
export function runLimits(run: Pick<CheckRun, 'check' | 'status' | 'reason' | 'remedy' | 'facts'>): RunLimit[] {
  const out: RunLimit[] = [];
  if (run.status === 'truncated') {
    out.push({ kind: 'truncated', what: 'output', text: `the ${run.check} check's ${run.reason ?? 'output was cut'}`, remedy: run.remedy ?? 'look at the helper' });
  }
  for (const f of run.facts) {
    if (f.fact === 'limit') {
      const v = (f.value ?? {}) as LimitFact;
      const what = str(v.what, 60) ?? 'something';
      const limit = num(v.limit);
      const reason = str(v.reason) ?? `more than ${limit ?? 'its cap of'} ${what}`;
      out.push({ kind: 'limit', what, text: `the ${run.check} check stopped at its cap on ${what}${limit !== undefined ? ` (${limit})` : ''}: ${reason}`, remedy: limitRemedy(what, str(v.remedy)), ...(limit !== undefined ? { limit } : {}) });
    } else if (f.fact === 'sandbox') {
      const v = (f.value ?? {}) as SandboxFact;
      const setupFailed = v.setupFailed === true;
      if (v.killed !== true && !setupFailed) continue;
      const code = num(v.exitCode);
      const tool = str(v.tool, 80);
      out.push({
        kind: 'sandbox',
        what: 'sandbox',
        text: `the ${run.check} check's sandbox${tool ? ` (${tool})` : ''} ${setupFailed ? 'could not be set up' : 'was killed'}: ${str(v.reason) ?? 'no reason given'}${code !== undefined ? ` (exit ${code})` : ''}`,
        remedy:
          str(v.remedy) ??
          (setupFailed
            ? 'the helper cannot build the sandbox (util-linux unshare/setpriv/prlimit/pivot_root, mount namespaces): see the check stderr'
            : 'a tool ran out of its time or memory on this disk: raise timeouts.check or databases.startupTimeout if the data is just big, otherwise look at the disk by hand'),
      });
    }
  }
  return out;
}

function limitEvidence(check: string, l: RunLimit): Evidence {
  // Evidence keys are `check.name` (one dot, report schema): the cap's subject joins with an underscore.
  return { key: `${check}.${l.kind === 'limit' ? `limit_${l.what.replace(/[^a-z0-9_-]/g, '_')}` : l.kind}`, value: l.limit ?? true, text: l.text };
}

/** KEEP_FS and KEEP_DB are states a limit does not undo: failures the check did see, or nothing decided anyway. */
const KEEP_FS = new Set<string>(['corrupt', 'unreadable', 'unknown', 'not-checked']);
const KEEP_DB = new Set<string>(['corrupt', 'unknown', 'not-checked']);

/** limitFinding makes a finding unknown (unless its state is one of keep: a failure the check did see) for the limits of a run, adding the evidence and remedies. */
function limitFinding<F extends { state: string; summary: string; evidence: Evidence[]; hints: Hint[] }>(f: F, check: string, limits: RunLimit[], keep: Set<string>): F {
  if (!limits.length) return f;
  const text = limits.map((l) => l.text).join('; ');
  const state = keep.has(f.state) ? f.state : 'unknown';
  return {
    ...f,
    state,
    summary: state === f.state ? `${f.summary}; also, ${text}` : `incomplete: ${text} (the facts it did print said: ${f.state})`,
    evidence: [...f.evidence, ...limits.map((l) => limitEvidence(check, l))],
    hints: [...f.hints, ...limits.map((l): Hint => ({ text: l.text, remedy: l.remedy }))],
  };
}

/** limitFilesystem is limitFinding for a filesystem finding. */
export function limitFilesystem(f: FilesystemFinding, check: string, limits: RunLimit[]): FilesystemFinding {
  return limitFinding(f, check, limits, KEEP_FS);
}

/** limitDatabase is limitFinding for a database finding. */
export function limitDatabase(f: DatabaseFinding, check: string, limits: RunLimit[]): DatabaseFinding {
  return limitFinding(f, check, limits, KEEP_DB);
}

/** unfinishedFsFinding describes a filesystem whose check did not produce a usable result: skipped, timed out, failed, truncated, blocked. */
export function unfinishedFsFinding(t: FsTarget, run: CheckRun): FilesystemFinding {
  return newFsFinding(t, {
    summary: `${run.check} check ${run.status}: ${run.reason ?? 'no result'}`,
    evidence: [{ key: `${run.check}.status`, value: run.status, text: run.reason ?? run.status }],
    hints: run.remedy ? [{ text: `the ${run.check} check could not run to completion`, remedy: run.remedy }] : [],
    excerpts: run.stderrTail ? [{ title: `${run.check} stderr`, exitCode: run.exitCode, text: run.stderrTail }] : [],
  });
}

/** judgeFilesystemRun judges one filesystem check run: unfinished → unknown; else the check's judge, then its limits. */
export function judgeFilesystemRun(t: FsTarget, run: CheckRun, judge: ((t: FsTarget, facts: Fact[]) => FilesystemFinding) | undefined): FilesystemFinding | undefined {
  if (run.status !== 'ran') return unfinishedFsFinding(t, run);
  if (!judge) return undefined;
  return limitFilesystem(judge(t, run.facts), run.check, runLimits(run));
}

/** judgeDatabaseRun judges one database check run: ran or skipped → the engine's judge, then its limits; else unknown with the reason. */
export function judgeDatabaseRun(db: DbTarget, run: CheckRun, judge: (t: DbTarget, facts: Fact[]) => DatabaseFinding): DatabaseFinding {
  // A check that skipped itself says why in a fact; a run skipped from outside (blocked) has none.
  if (run.status === 'ran' || (run.status === 'skipped' && run.facts.some((f) => f.fact === 'skipped'))) return limitDatabase(judge(db, run.facts), run.check, runLimits(run));
  const f = newDbFinding(db);
  f.summary = `${run.check} check ${run.status}: ${run.reason ?? 'no result'}`;
  f.evidence.push({ key: `${run.check}.status`, value: run.status, text: run.reason ?? run.status });
  if (run.remedy) f.hints.push({ text: f.summary, remedy: run.remedy });
  if (run.stderrTail) f.excerpts.push({ title: `${run.check} stderr`, exitCode: run.exitCode, text: run.stderrTail });
  return f;
}

/** DatabaseSearch is what the dbfind run of one filesystem yields: the databases to check, and the filesystem finding updated. */
export interface DatabaseSearch {
  /** False when the filesystem could not be searched at all (not mounted, check unfinished). */
  searched: boolean;
  /** Databases to check: at most `max`, in the order found. */
  targets: DbTarget[];
  /** Every database found (targets plus those over the cap). */
  found: number;
  finding: FilesystemFinding;
}

/**
 * judgeDatabaseSearch reads the dbfind run of a filesystem. The database part of the filesystem is *unknown* (its
 * finding says why) when the search did not finish, its output was cut, it stopped at a cap, or it found more
 * databases than `max` (databases.maxPerFilesystem): then the first `max` are still checked.
 */
export function judgeDatabaseSearch(fs: FilesystemFinding, run: CheckRun, max: number): DatabaseSearch {
  const undecided = (why: string, evidence: Evidence, hint?: Hint): FilesystemFinding => ({
    ...fs,
    state: KEEP_FS.has(fs.state) ? fs.state : 'unknown',
    summary: `${fs.summary}; but ${why}`,
    evidence: [...fs.evidence, evidence],
    hints: hint ? [...fs.hints, hint] : fs.hints,
  });
  const mount = factReader<CommonFacts>(run.facts)('mount');
  if (run.status !== 'ran') {
    const why = `the database search did not complete (${run.check} ${run.status}: ${run.reason ?? 'no result'})`;
    return { searched: false, targets: [], found: 0, finding: undecided(why, { key: 'data.search', value: run.status, text: why }, run.remedy ? { text: why, remedy: run.remedy } : undefined) };
  }
  if (!mount?.ok) {
    const why = 'the filesystem could not be mounted to look for databases';
    return { searched: false, targets: [], found: 0, finding: undecided(why, { key: 'data.mount', value: false, text: `could not mount ${fs.target} to look for databases: ${mount?.output ?? run.reason ?? 'no result'}` }) };
  }
  const all = dbTargetsFrom(run.facts, fs.target);
  let finding = fs;
  const limits = runLimits(run);
  if (limits.length) {
    const why = `the database search is incomplete: ${limits.map((l) => l.text).join('; ')}`;
    finding = { ...undecided(why, limitEvidence(run.check, limits[0]!)), hints: [...fs.hints, ...limits.map((l): Hint => ({ text: l.text, remedy: l.remedy }))] };
  }
  if (all.length > max) {
    const why = `${all.length} databases were found and only the first ${max} (databases.maxPerFilesystem) were checked`;
    const before = finding;
    finding = {
      ...before,
      state: KEEP_FS.has(before.state) ? before.state : 'unknown',
      summary: `${before.summary}; but ${why}`,
      evidence: [...before.evidence, { key: 'databases.limit', value: all.length, text: `${why}; not checked: ${all.slice(max, max + 5).map((d) => `${d.engine} ${d.path}`).join(', ')}${all.length > max + 5 ? `, and ${all.length - max - 5} more` : ''}` }],
      hints: [...before.hints, { text: why, remedy: LIMIT_REMEDIES.databases! }],
    };
  }
  return { searched: true, targets: all.slice(0, max), found: all.length, finding };
}

/** judgeDiscoveryLimits is the finding for a discover run that was cut or stopped at a cap: more may be on the disk than it listed. */
export function judgeDiscoveryLimits(run: CheckRun, device: string, sizeBytes: number): FilesystemFinding | undefined {
  const limits = runLimits(run);
  if (!limits.length) return undefined;
  const text = limits.map((l) => l.text).join('; ');
  return newFsFinding(
    { target: 'disk', device, sizeBytes },
    { summary: `discovery is incomplete: ${text}`, evidence: limits.map((l) => limitEvidence(run.check, l)), hints: limits.map((l) => ({ text: l.text, remedy: l.remedy })) },
  );
}

/** limitLint adds a warning to a lint result whose run was cut or stopped at a cap: its findings are incomplete. */
export function limitLint(res: LintResult, run: CheckRun): LintResult {
  const limits = runLimits(run);
  if (!limits.length) return res;
  return {
    ...res,
    findings: [...res.findings, ...limits.map((l) => ({ id: 'lint-incomplete', severity: 'warning' as const, message: `the pre-boot lint is incomplete: ${l.text}`, remedy: l.remedy, evidence: [] }))],
  };
}

/** SnapshotDeadline says that a snapshot's deadline (timeouts.snapshot) passed, and what it cut short. */
export interface SnapshotDeadline {
  deadlineMs: number;
  /** Checks that were not started, or aborted, because of it. */
  stopped: string[];
}

/** applySnapshotDeadline makes a snapshot whose deadline passed *unknown* (a corrupt one stays corrupt), naming what did not run. */
export function applySnapshotDeadline(v: SnapshotVerdict, d: SnapshotDeadline | undefined): SnapshotVerdict {
  if (!d) return v;
  const what = d.stopped.length ? `${d.stopped.length} check(s) not run or aborted: ${d.stopped.slice(0, 5).join(', ')}${d.stopped.length > 5 ? `, and ${d.stopped.length - 5} more` : ''}` : 'the remaining stages were not run';
  const reason = `snapshot deadline: the verification of this snapshot took longer than timeouts.snapshot (${formatDuration(d.deadlineMs)}); ${what}`;
  const hint: Hint = { text: 'the snapshot deadline passed before every check ran', remedy: 'raise timeouts.snapshot if the disk is just big or slow; otherwise look at what on it keeps the checks busy (e.g. thousands of databases: databases.maxPerFilesystem, databases.exclude)' };
  if (v.consistency === 'corrupt') return { ...v, reasons: [...v.reasons, reason], hints: [...v.hints, hint] };
  return { consistency: 'unknown', summary: `could not decide: ${reason}`, reasons: [reason, ...v.reasons], hints: [hint, ...v.hints] };
}

/** deadlineRun is the check run recorded for a check the snapshot deadline stopped (not started, or aborted). */
export function deadlineRun(check: string, target: string, deadlineMs: number, started: boolean, durationMs = 0): CheckRun {
  return {
    check,
    target,
    status: started ? 'timed-out' : 'skipped',
    reason: started ? `aborted: snapshot deadline (${formatDuration(deadlineMs)}) passed` : 'blocked by: snapshot deadline',
    remedy: 'raise timeouts.snapshot, or look at what keeps this snapshot busy',
    exitCode: null,
    durationMs,
    facts: [],
    protocolErrors: [],
    stderrTail: '',
    truncated: false,
  };
}
