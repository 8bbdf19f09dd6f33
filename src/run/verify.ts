import { restoreToVerifiedMs } from '../judges/rto.js';
import type { CheckRegistry } from '../checks/registry.js';
import { runCheck, runLibraryCommand, type CheckInputValue, type CheckRun, type Fact } from '../checks/runner.js';
import type { Config, Engine } from '../config/types.js';
import { errorMessage, InterruptedError } from '../errors.js';
import { canariesFor, encodeCanaries, evaluateCanaries, judgeMongo, missingCanaries, newDbFinding, refusing, type CanaryResult, type DatabaseFinding, type DbTarget } from '../judges/database.js';
import { applySnapshotDeadline, deadlineRun, judgeDatabaseRun, judgeDatabaseSearch, judgeDiscoveryLimits, judgeFilesystemRun, limitLint, unfinishedFsFinding } from '../judges/limits.js';
import { judgeDiscovery, type FsTarget } from '../judges/discovery.js';
import { judgeExt4 } from '../judges/ext4.js';
import { judgeMariadb } from '../judges/mariadb.js';
import { bootResult, evaluatePolicy } from '../judges/policy.js';
import { isLintable, isMountable } from '../judges/filesystem.js';
import { judgeSet, type SetMember, type SetVerdict } from '../judges/set.js';
import { chooseBootRoot } from '../judges/boot.js';
import { judgePostgres } from '../judges/postgresql.js';
import { judgeSqlite } from '../judges/sqlite.js';
import type { FilesystemFinding } from '../judges/types.js';
import { judgeSnapshot, type SnapshotVerdict as Verdict } from '../judges/snapshot.js';
import { judgeXfs } from '../judges/xfs.js';
import type { Ledger } from '../ledger/ledger.js';
import { processRecord } from '../ledger/resources.js';
import type { AttachedVolume, Provider, RestoredVolume, SnapshotInfo, StageContext } from '../provider.js';
import type { RunEvents } from './events.js';
import { caughtError, harnessError, teardownFailed } from './harness-errors.js';
import type { CheckRunSummary, HarnessErrorInfo, PhaseKind, PhaseTiming, SnapshotResult } from '../report/types.js';
import type { BootOutcome, LintContext, LintResult, RestoredFilesystem } from '../boot/types.js';
import { judgeBootLint } from '../judges/bootlint/index.js';
import { diagnose } from '../diagnose/engine.js';
import { mapLimit, Semaphore } from '../util/concurrency.js';

/** FS_JUDGES maps a filesystem check id to the pure function that judges its facts. */
const FS_JUDGES: Record<string, (t: FsTarget, facts: Fact[]) => FilesystemFinding> = {
  ext4: judgeExt4,
  xfs: judgeXfs,
};

/** DB_JUDGES maps an engine to the pure function that judges its database check's facts. */
const DB_JUDGES: Partial<Record<Engine, (t: DbTarget, facts: Fact[]) => DatabaseFinding>> = {
  postgresql: refusing(judgePostgres),
  mariadb: refusing(judgeMariadb),
  sqlite: refusing(judgeSqlite),
};

/** DBFIND_LISTING_CAP bounds the databases dbfind lists on one filesystem (a hostile disk may hold millions of look-alikes); beyond it the search itself is incomplete. */
const DBFIND_LISTING_CAP = 10_000;


/** VerifyDeps are what verification needs; all of it is injected so tests can use real parts selectively. */
export interface VerifyDeps {
  config: Config;
  provider: Provider;
  registry: CheckRegistry;
  ledger: Ledger;
  events: RunEvents;
  signal: AbortSignal;
  /** Bounds the boot tests in flight across all snapshots (boot.maxConcurrent). */
  bootSlots?: Semaphore;
  /** Receives every check run with its raw facts (the evidence pack's fact logs). */
  factLog?: (snapshotId: string, run: CheckRun) => void;
}

function summarizeRun(r: CheckRun): CheckRunSummary {
  return {
    check: r.check,
    target: r.target,
    status: r.status,
    exitCode: r.exitCode,
    durationMs: r.durationMs,
    protocolErrors: r.protocolErrors,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.remedy ? { remedy: r.remedy } : {}),
  };
}

/** blocked records a check that did not run because an earlier stage failed ("skipped, blocked by: attach"). */
function blocked(check: string, target: string, by: string): CheckRunSummary {
  return { check, target, status: 'skipped', exitCode: null, durationMs: 0, reason: `blocked by: ${by}`, protocolErrors: [] };
}

/**
 * SnapshotClock is the deadline of one snapshot or set (timeouts.snapshot): its signal aborts the checks in flight
 * when the deadline passes (or the run is interrupted), and it records what the deadline stopped.
 */
export class SnapshotClock {
  readonly signal: AbortSignal;
  readonly stopped: string[] = [];
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly deadlineMs: number,
    runSignal: AbortSignal,
  ) {
    this.signal = AbortSignal.any([runSignal, this.controller.signal]);
    this.timer = setTimeout(() => this.controller.abort('snapshot deadline'), deadlineMs);
    this.timer.unref();
  }

  /** expired says whether the deadline has passed. */
  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}

/**
 * Verification is one snapshot's way through the pipeline: restore and attach (prepare), then inspect and judge.
 * Members of a multi-volume set are prepared together, so every volume of the set is attached at once, and share one ledger owner.
 */
class Verification {
  readonly phases: PhaseTiming[] = [];
  readonly checks: CheckRunSummary[] = [];
  readonly errors: HarnessErrorInfo[] = [];
  findings: FilesystemFinding[] = [];
  readonly databases: DatabaseFinding[] = [];
  readonly canaries: CanaryResult[] = [];
  partitionTable: string | undefined;
  allocatedBytes: number | undefined;
  stageError: HarnessErrorInfo | undefined;
  private attachedVol: AttachedVolume | undefined;
  restored: RestoredVolume | undefined;
  /** Filesystems the pre-boot lint looks at: those that passed their check, and corrupt ones. */
  private lintable: FsTarget[] = [];
  /** Every filesystem and partition discovery found: what the restored machine will see, for the lint of any root in the set. */
  private discovered: FsTarget[] = [];
  readonly lint: LintResult[] = [];
  /** Targets the lint recognised as root filesystems. */
  readonly roots: string[] = [];
  boot: BootOutcome | undefined;
  bootNote: string | undefined;

  constructor(
    readonly snap: SnapshotInfo,
    private readonly deps: VerifyDeps,
    private readonly owner: string,
    private readonly clock: SnapshotClock,
  ) {}

  /** phase times one step of this snapshot's verification: `kind` is what it spends its time on, `name` its label. */
  async phase<T>(kind: PhaseKind, name: string, fn: () => Promise<T>): Promise<T> {
    const { signal, events } = this.deps;
    if (signal.aborted) throw new InterruptedError(String(signal.reason ?? 'signal'));
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    events.phaseStart?.(this.snap.id, name);
    try {
      const r = await fn();
      const durationMs = Math.round(performance.now() - t0);
      this.phases.push({ phase: name, kind, startedAt, durationMs, status: 'ok' });
      events.phaseEnd?.(this.snap.id, name, true, durationMs);
      return r;
    } catch (e) {
      const durationMs = Math.round(performance.now() - t0);
      this.phases.push({ phase: name, kind, startedAt, durationMs, status: 'failed', detail: errorMessage(e) });
      events.phaseEnd?.(this.snap.id, name, false, durationMs);
      throw e;
    }
  }

  private ctx(timeoutMs: number): StageContext {
    return { ledger: this.deps.ledger, owner: this.owner, signal: this.deps.signal, timeoutMs };
  }

  /** check runs one check on a target (label: what it checks, for the deadline's record: the device, or a database's path). */
  private async check(id: string, target: string, scratch: string, vars: Record<string, CheckInputValue> = {}, label = target): Promise<CheckRun> {
    const { registry, provider, config, signal, ledger } = this.deps;
    const def = registry.get(id);
    const held: { release(): Promise<void> }[] = [];
    const what = `${id} ${label}`;
    // Past the snapshot deadline nothing more starts; what was in flight is aborted and recorded as such.
    if (this.clock.expired && !signal.aborted) {
      const run = deadlineRun(id, target, this.clock.deadlineMs, false);
      this.clock.stopped.push(what);
      this.checks.push(summarizeRun(run));
      return run;
    }
    try {
      let run = await runCheck(registry, def, provider.shell(this.attachedVol), {
        target,
        scratch,
        vars,
        defaultTimeoutMs: config.timeouts.checkMs,
        signal: this.clock.signal,
        onLocalProcess: (pid) => {
          // Spawned detached: the check leads its own process group, which holds its sandboxes too.
          held.push(ledger.acquire(this.owner, processRecord(pid, `check ${id} on ${target}`, { group: true })));
        },
      });
      if (run.status === 'interrupted' && !signal.aborted && this.clock.expired) {
        run = deadlineRun(id, target, this.clock.deadlineMs, true, run.durationMs);
        this.clock.stopped.push(what);
      }
      this.checks.push(summarizeRun(run));
      this.deps.factLog?.(this.snap.id, run);
      if (run.status === 'interrupted') throw new InterruptedError(String(signal.reason ?? 'signal'));
      return run;
    } finally {
      for (const h of held) await h.release();
    }
  }

  /** fail records the stage error that ends this snapshot's verification. */
  fail(e: unknown): void {
    const stage = this.phases.at(-1)?.phase ?? 'restore';
    this.stageError = caughtError(e, stage, 'internal', { keepSource: true, subject: this.snap.id });
    if (!this.checks.some((c) => c.check === 'discover')) this.checks.push(blocked('discover', '', stage));
    // A snapshot that cannot be restored is a result about the snapshot; anything else is the harness's problem too.
    if (this.stageError.source !== 'user') this.errors.push(this.stageError);
  }

  /** prepare restores the snapshot and attaches the copy to the helper; a failure is recorded, not thrown. */
  async prepare(): Promise<void> {
    const { config, provider } = this.deps;
    try {
      const restored = await this.phase('restore', 'restore', () => provider.restore(this.snap, this.ctx(config.timeouts.restoreMs)));
      this.restored = restored;
      this.allocatedBytes = restored.allocatedBytes;
      const attached = await this.phase('attach', 'attach', () => provider.attach(restored, this.ctx(config.timeouts.attachMs)));
      this.attachedVol = attached;
      this.partitionTable = attached.partitionTable;
    } catch (e) {
      this.fail(e);
    }
  }

  /** inspect discovers the attached volume's filesystems, checks each, then looks for databases; a failure is recorded, not thrown. */
  async inspect(): Promise<void> {
    const { config, registry } = this.deps;
    const restored = this.restored;
    const attached = this.attachedVol;
    if (this.stageError || !restored || !attached) return;
    try {
      const discover = await this.phase('discover', 'discover', () => this.check('discover', attached.device, restored.scratch));
      if (discover.status !== 'ran') {
        this.findings = [unfinishedFsFinding({ target: 'disk', device: attached.device, sizeBytes: this.snap.sizeBytes }, discover)];
        return;
      }
      const d = judgeDiscovery(discover.facts, (fstype) => registry.forFilesystem(fstype).length > 0);
      this.discovered = d.filesystems;
      const findings = [...d.findings];
      const cut = judgeDiscoveryLimits(discover, attached.device, this.snap.sizeBytes);
      if (cut) findings.push(cut);
      this.findings = findings;
      for (const t of d.targets) {
        for (const def of registry.forFilesystem(t.fstype!)) {
          const run = await this.phase('check', `check ${def.id} ${t.target}`, () => this.check(def.id, t.device, restored.scratch));
          const finding = judgeFilesystemRun(t, run, FS_JUDGES[def.id]);
          if (finding) findings.push(finding);
        }
      }
      if (config.databases.enabled) {
        const found: DbTarget[] = [];
        for (const t of d.targets) {
          const i = findings.findIndex((f) => f.target === t.target);
          const fsFinding = findings[i];
          if (!fsFinding || !isMountable(fsFinding.state)) {
            this.checks.push(blocked('dbfind', t.device, `filesystem ${t.target} is ${fsFinding?.state ?? 'unchecked'}`));
            continue;
          }
          const searched = await this.inspectDatabases(t, fsFinding, restored.scratch);
          findings[i] = searched.finding;
          found.push(...searched.targets);
        }
        this.canaries.push(...missingCanaries(config.databases.canaries, found, this.snap.tags));
      }
      // The lint mounts read-only without replay, so a corrupt filesystem can still be linted (and booted: it may start).
      this.lintable = d.targets.filter((t) => isLintable(findings.find((f) => f.target === t.target)?.state));
      for (const w of attached.warnings) {
        for (const f of findings) f.evidence.push({ key: 'attach.warning', value: w, text: w });
      }
      findings.sort((a, b) => a.target.localeCompare(b.target, 'en', { numeric: true }));
    } catch (e) {
      this.fail(e);
    }
  }

  /** inspectDatabases mounts one replayed filesystem, finds its databases, checks each (concurrently, at most databases.maxPerFilesystem) and unmounts it. */
  private async inspectDatabases(t: FsTarget, fsFinding: FilesystemFinding, scratch: string): Promise<{ targets: DbTarget[]; finding: FilesystemFinding }> {
    const { config, registry, provider, signal } = this.deps;
    const fsVars = { SNAPDRILL_FSTYPE: t.fstype ?? 'auto' };
    const dbc = config.databases;
    try {
      const find = await this.phase('discover', `find databases ${t.target}`, () =>
        this.check('dbfind', t.device, scratch, {
          ...fsVars,
          SNAPDRILL_EXCLUDE: dbc.exclude.join('\n'),
          SNAPDRILL_INCLUDE: dbc.include.map((i) => `${i.engine}\t${i.path}`).join('\n'),
          SNAPDRILL_SQLITE_SCAN: dbc.sqliteScan,
          // dbfind lists up to a hard cap; how many of them are checked (maxPerFilesystem) is the judge's decision.
          SNAPDRILL_MAX_DATABASES: DBFIND_LISTING_CAP,
        }),
      );
      const search = judgeDatabaseSearch(fsFinding, find, dbc.maxPerFilesystem);
      if (!search.searched) return { targets: [], finding: search.finding };
      const judged = await mapLimit(search.targets, 4, async (db): Promise<DatabaseFinding> => {
        if (db.missing) {
          const f = newDbFinding(db);
          f.summary = `configured ${db.engine} path ${db.path} does not exist on ${t.target}`;
          return f;
        }
        if (db.engine === 'mongodb') return judgeMongo(db);
        const def = registry.forEngine(db.engine)[0];
        const judge = DB_JUDGES[db.engine];
        if (!def || !judge) {
          const f = newDbFinding(db);
          f.state = 'not-checked';
          f.summary = `no check for ${db.engine}`;
          return f;
        }
        const mine = canariesFor(dbc.canaries, db);
        const run = await this.phase('check', `check ${def.id} ${db.path}`, () =>
          this.check(def.id, t.device, scratch, {
            ...fsVars,
            // The raw bytes dbfind found (names may hold control characters or invalid UTF-8), else the configured path.
            SNAPDRILL_DBPATH: db.pathB64 ? Buffer.from(db.pathB64, 'base64') : db.path,
            // Engines started on the copy (not SQLite) declare the startup timeout.
            ...(def.inputs.SNAPDRILL_DB_TIMEOUT ? { SNAPDRILL_DB_TIMEOUT: Math.ceil(dbc.startupTimeoutMs / 1000) } : {}),
            SNAPDRILL_CANARIES: encodeCanaries(mine),
          }, db.path),
        );
        this.canaries.push(...evaluateCanaries(db, run.facts, mine, this.snap.startTime));
        return judgeDatabaseRun(db, run, judge);
      });
      this.databases.push(...judged);
      return { targets: search.targets, finding: search.finding };
    } finally {
      await this.phase('teardown', `unmount ${t.target}`, () =>
        runLibraryCommand(registry, provider.shell(this.attachedVol), 'fs_unmount', { ...fsVars, SNAPDRILL_TARGET: t.device, SNAPDRILL_SCRATCH: scratch }, { timeoutMs: 120_000, signal }),
      ).catch(() => undefined);
    }
  }

  /** restoredFilesystems are the identities of this snapshot's filesystems and partitions, as discovery found them. */
  restoredFilesystems(): RestoredFilesystem[] {
    return this.discovered.map((t) => ({
      snapshotId: this.snap.id,
      target: t.target,
      ...(t.uuid ? { uuid: t.uuid } : {}),
      ...(t.label ? { label: t.label } : {}),
      ...(t.fstype ? { fstype: t.fstype } : {}),
      ...(t.partuuid ? { partuuid: t.partuuid } : {}),
    }));
  }

  /** lintRoots runs the pre-boot lint on every lintable filesystem; those it recognises as root filesystems are boot candidates. */
  async lintRoots(context: LintContext): Promise<void> {
    const restored = this.restored;
    if (this.stageError || !restored) return;
    for (const t of this.lintable) {
      try {
        const run = await this.phase('lint', `lint ${t.target}`, () =>
          this.check('bootlint', t.device, restored.scratch, { SNAPDRILL_FSTYPE: t.fstype ?? 'auto' }),
        );
        const res: LintResult =
          run.status === 'ran' ? limitLint(judgeBootLint(t.target, run.facts, context), run) : { target: t.target, status: 'not-run', reason: `bootlint check ${run.status}: ${run.reason ?? 'no result'}`, findings: [] };
        if (res.status === 'linted') this.roots.push(t.target);
        if (res.status !== 'not-root') this.lint.push(res);
      } catch (e) {
        this.fail(e);
        return;
      }
    }
  }

  /** bootTest boots this snapshot's restored root (with the set's other volumes as data disks) and diagnoses its console. */
  async bootTest(data: Verification[]): Promise<void> {
    const { provider, config, ledger, signal } = this.deps;
    if (!provider.bootTest) {
      this.bootNote = `the ${provider.type} provider cannot boot-test`;
      return;
    }
    if (this.clock.expired) {
      this.bootNote = 'not boot-tested: the snapshot deadline (timeouts.snapshot) passed';
      this.clock.stopped.push('boot test');
      return;
    }
    const tagMode = this.snap.tags['snapdrill:boot-mode'];
    const mode = tagMode === 'bios' || tagMode === 'uefi' || tagMode === 'direct' ? tagMode : config.boot.mode;
    try {
      const outcome = await this.phase('boot', 'boot', () =>
        provider.bootTest!(
          { snapshot: this.snap, restored: this.restored!, data: data.map((d) => d.snap), dataRestored: data.flatMap((d) => (d.restored ? [d.restored] : [])), options: config.boot, mode },
          { ledger, owner: this.owner, signal, timeoutMs: config.boot.timeoutMs + 120_000 },
        ),
      );
      const text = [outcome.launchError ? `${outcome.launchError.code}: ${outcome.launchError.message}` : '', outcome.console].filter(Boolean).join('\n');
      if (outcome.result !== 'boots') outcome.diagnosis = diagnose(text);
      this.boot = outcome;
      if (outcome.result === 'error') this.errors.push(harnessError({ code: 'boot-error', message: `boot test of ${this.snap.id} could not run: ${outcome.reason ?? 'unknown'}`, stage: 'boot', subject: this.snap.id }));
    } catch (e) {
      this.bootNote = `boot test could not run: ${errorMessage(e)}`;
      this.errors.push(caughtError(e, 'boot', 'boot-error', { describe: (m) => `boot test of ${this.snap.id}: ${m}`, subject: this.snap.id }));
    }
  }

  /** verdict judges this snapshot alone. */
  verdict(): Verdict {
    const e = this.stageError;
    return e
      ? { consistency: 'unknown', summary: `could not verify: ${e.message}`, reasons: [`${e.stage}: ${e.message}`], hints: e.remedy ? [{ text: e.message, remedy: e.remedy }] : [] }
      : applySnapshotDeadline(judgeSnapshot(this.findings, this.snap.tags, this.databases), this.clock.stopped.length ? { deadlineMs: this.clock.deadlineMs, stopped: this.clock.stopped } : undefined);
  }

  /** setMember is what the set judge needs of this member. */
  setMember(): SetMember {
    return { id: this.snap.id, consistency: this.verdict().consistency, filesystems: this.findings, ...(this.snap.startTime ? { startTime: this.snap.startTime } : {}) };
  }

  result(set?: SetVerdict): SnapshotResult {
    const snap = this.snap;
    const verdict = this.verdict();
    const policy = evaluatePolicy(snap, verdict.consistency, this.deps.config.policy, this.canaries, { required: this.deps.config.boot.required, ...(this.boot ? { outcome: this.boot } : {}) }, this.phases);
    const boot = bootResult(this.boot);
    return {
      id: snap.id,
      source: snap.source,
      lineage: set?.key ?? snap.volumeId ?? snap.id,
      ...(snap.account !== undefined ? { account: snap.account } : {}),
      ...(snap.region !== undefined ? { region: snap.region } : {}),
      restoreToVerifiedMs: restoreToVerifiedMs(this.phases),
      tags: snap.tags,
      sizeBytes: snap.sizeBytes,
      consistency: verdict.consistency,
      boot,
      summary: verdict.summary,
      reasons: verdict.reasons,
      hints: verdict.hints,
      filesystems: this.findings,
      databases: this.databases,
      canaries: this.canaries,
      checks: this.checks,
      phases: this.phases,
      policy,
      ...(this.lint.length ? { lint: this.lint } : {}),
      ...(this.boot ? { bootTest: this.boot } : {}),
      ...(this.bootNote ? { bootNote: this.bootNote } : {}),
      ...(snap.volumeId ? { volumeId: snap.volumeId } : {}),
      ...(snap.startTime ? { startTime: snap.startTime } : {}),
      ...(this.allocatedBytes !== undefined ? { allocatedBytes: this.allocatedBytes } : {}),
      ...(this.partitionTable ? { partitionTable: this.partitionTable } : {}),
      ...(set ? { set } : {}),
      ...(this.stageError ? { error: this.stageError } : {}),
    };
  }
}

/** lintGroup runs the pre-boot lint on every member, against what the restored machine will have: every filesystem of the snapshot, or of the whole set. */
async function lintGroup(members: Verification[], deps: VerifyDeps): Promise<void> {
  const bootCfg = deps.config.boot;
  if (!(bootCfg.lint || bootCfg.enabled) || deps.signal.aborted) return;
  const context: LintContext = { filesystems: members.flatMap((m) => m.restoredFilesystems()), targetNvme: bootCfg.targetNvme };
  for (const m of members) await m.lintRoots(context);
}

/** bootGroup boot-tests the group's chosen root (the set's other volumes as its data disks) and notes why the others were not booted. */
async function bootGroup(members: Verification[], deps: VerifyDeps): Promise<void> {
  const bootCfg = deps.config.boot;
  if (!bootCfg.enabled || deps.signal.aborted) return;
  const choice = chooseBootRoot(
    members.map((m) => ({ id: m.snap.id, tags: m.snap.tags, roots: m.roots.length, verified: !m.stageError })),
    bootCfg.match,
  );
  for (const m of members) if (choice.notes[m.snap.id]) m.bootNote = choice.notes[m.snap.id];
  const root = members.find((m) => m.snap.id === choice.root);
  if (root) await (deps.bootSlots ?? new Semaphore(1)).run(() => root.bootTest(members.filter((m) => m !== root)));
}

/** keepAndTearDown keeps a failed group's volumes when its provider keeps them for forensics, then releases everything the group created; failures are recorded on the lead member. */
async function keepAndTearDown(members: Verification[], owner: string, deps: VerifyDeps): Promise<SnapshotResult['kept']> {
  const lead = members[0]!;
  const keepMs = deps.provider.keepOnFailureMs;
  let kept: SnapshotResult['kept'];
  const failed = members.some((m) => !m.result().policy.pass);
  if (keepMs && failed && deps.provider.keepForForensics && !deps.signal.aborted) {
    const until = new Date(Date.now() + keepMs);
    try {
      const ids = await lead.phase('keep', 'keep for forensics', () => deps.provider.keepForForensics!(deps.ledger, owner, until));
      if (ids?.length) kept = { resources: ids, until: until.toISOString() };
    } catch (e) {
      lead.errors.push(harnessError({ code: 'keep-failed', message: `could not keep ${owner} for forensics: ${errorMessage(e)}`, stage: 'teardown', subject: owner }));
    }
  }
  try {
    await lead.phase('teardown', 'teardown', () => deps.ledger.releaseOwner(owner));
  } catch (e) {
    lead.errors.push(teardownFailed(e, owner));
  }
  return kept;
}

/** verifyGroup verifies one snapshot, or one multi-volume set with all its volumes attached at once, and always tears down what it created. */
export async function verifyGroup(snaps: SnapshotInfo[], deps: VerifyDeps): Promise<{ results: SnapshotResult[]; errors: HarnessErrorInfo[] }> {
  const key = snaps.length > 1 ? snaps[0]!.set : undefined;
  const owner = key ? `set:${key}` : snaps[0]!.id;
  // One deadline for the snapshot, or for the whole set (its members are attached and judged together).
  const clock = new SnapshotClock(deps.config.timeouts.snapshotMs, deps.signal);
  const members = snaps.map((s) => new Verification(s, deps, owner, clock));
  let kept: SnapshotResult['kept'];
  try {
    await Promise.all(members.map((m) => m.prepare()));
    for (const m of members) await m.inspect();
    await lintGroup(members, deps);
    await bootGroup(members, deps);
  } finally {
    clock.dispose();
    kept = await keepAndTearDown(members, owner, deps);
  }
  const set = key ? judgeSet(key, members.map((m) => m.setMember())) : undefined;
  const results = members.map((m) => m.result(set));
  if (kept) for (const r of results) r.kept = kept;
  for (const r of results) deps.events.snapshotDone?.(r);
  return { results, errors: members.flatMap((m) => m.errors) };
}

/** groupBySet keeps input order; members of one set become one group, verified together. */
export function groupBySet(snaps: SnapshotInfo[]): SnapshotInfo[][] {
  const groups: SnapshotInfo[][] = [];
  const bySet = new Map<string, SnapshotInfo[]>();
  for (const s of snaps) {
    if (!s.set) {
      groups.push([s]);
      continue;
    }
    let g = bySet.get(s.set);
    if (!g) {
      g = [];
      bySet.set(s.set, g);
      groups.push(g);
    }
    g.push(s);
  }
  return groups;
}

/** verifyAll verifies snapshots with bounded concurrency; results keep the input order. */
export async function verifyAll(snaps: SnapshotInfo[], deps: VerifyDeps): Promise<{ results: SnapshotResult[]; errors: HarnessErrorInfo[] }> {
  for (const s of snaps) deps.events.snapshotQueued?.(s.id);
  const withSlots = { ...deps, bootSlots: deps.bootSlots ?? new Semaphore(deps.config.boot.maxConcurrent) };
  const out = await mapLimit(groupBySet(snaps), deps.config.concurrency, (g) => verifyGroup(g, withSlots));
  return { results: out.flatMap((o) => o.results), errors: out.flatMap((o) => o.errors) };
}
