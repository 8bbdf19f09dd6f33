import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckRegistry, parseCheckScript } from '../../src/checks/registry.js';
import { runCheck } from '../../src/checks/runner.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { LocalProvider } from '../../src/providers/local/local.js';
import type { Provider } from '../../src/provider.js';
import { executeRun } from '../../src/run/run.js';
import type { ShellResult, ShellRunOptions } from '../../src/shells/shell.js';
import { LocalShell } from '../../src/shells/local.js';
import { CHECKS_DIR } from '../../src/util/paths.js';
import { catalogOf, tempDir } from '../helpers.js';

/**
 * Verdict integrity (issue 9): a check's output longer than what the transport returns in one answer is read back
 * in pages and judged whole; output that cannot be read back, a database cap, or a snapshot deadline make the
 * result unknown with the reason, never a pass.
 */

/** manyFacts is a check that prints SNAPDRILL_N facts (about 90 bytes each, with multi-byte characters) and exits SNAPDRILL_RC. */
const manyFacts = parseCheckScript(
  '/x/many.sh',
  `#!/usr/bin/env bash\n# ---\n# id: many\n# title: Many facts\n# stage: discover\n# needs: [seq]\n# mutates: false\n# inputs: {SNAPDRILL_N: {encoding: integer, description: how many facts}, SNAPDRILL_RC: {encoding: integer, description: the exit code}}\n# facts: {item: {type: object, required: [i, s]}}\n# ---\nfor i in $(seq 1 "$SNAPDRILL_N"); do printf '{"check":"many","target":"t","fact":"item","value":{"i":%d,"s":"h\u00e9llo w\u00f6rld \u2713 %d"}}\\n' "$i" "$i"; done\nexit "\${SNAPDRILL_RC:-0}"\n`,
);
const registry = () => new CheckRegistry([manyFacts], CheckRegistry.load(CHECKS_DIR, []).library);

/** CuttingShell is a LocalShell with a small output limit whose page reads can be made to fail, as a broken transport would. */
class CuttingShell extends LocalShell {
  calls = 0;
  pageReads = 0;
  /** Output files of the checks whose pages fail. */
  private readonly broken: string[] = [];
  constructor(
    limit: number,
    /** Page reads fail: for every check (true) or for this check only. */
    private readonly breakPages: boolean | string = false,
    private readonly slowCheck?: string,
  ) {
    super({ maxOutputBytes: limit });
  }
  override async run(script: string, opts: ShellRunOptions): Promise<ShellResult> {
    this.calls++;
    const out = /\.snapdrill-out\/([a-z0-9]+-[0-9a-f]+)\.out/.exec(script)?.[1];
    if (typeof this.breakPages === 'string' && out?.startsWith(`${this.breakPages}-`) && script.includes('export SNAPDRILL_CHECK=')) this.broken.push(out);
    const isPage = /^(tail -c|\[ -f )/.test(script);
    if (isPage) this.pageReads++;
    if (isPage && (this.breakPages === true || (out && this.broken.includes(out)))) return { exitCode: 1, stdout: '', stderr: 'connection lost', durationMs: 1, timedOut: false, truncated: false };
    // A check that hangs on this disk (an engine that never finishes starting): it keeps the snapshot busy.
    if (this.slowCheck && script.includes(`export SNAPDRILL_CHECK='${this.slowCheck}'`)) script = `sleep 600\n${script}`;
    return super.run(script, opts);
  }
}

describe('check output larger than the transport returns at once', () => {
  it('is read back in pages and parsed whole (3,000 facts through a 4 KiB transport)', async () => {
    const shell = new CuttingShell(4096);
    const run = await runCheck(registry(), manyFacts, shell, { target: 't', scratch: tempDir('page'), defaultTimeoutMs: 60_000, vars: { SNAPDRILL_N: 3000 } });
    expect(run.status).toBe('ran');
    expect(run.truncated).toBe(false);
    expect(run.facts).toHaveLength(3000);
    expect(run.facts.at(-1)!.value).toEqual({ i: 3000, s: 'héllo wörld ✓ 3000' });
    expect(run.protocolErrors).toEqual([]);
    expect(run.outputBytes).toBeGreaterThan(200_000);
    expect(run.pages).toBeGreaterThan(1);
  });

  it('keeps the exit status of the check when its output is paged', async () => {
    const run = await runCheck(registry(), manyFacts, new CuttingShell(4096), { target: 't', scratch: tempDir('page'), defaultTimeoutMs: 60_000, vars: { SNAPDRILL_N: 500, SNAPDRILL_RC: 3 } });
    expect(run).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(run.facts).toHaveLength(500);
  });

  it('is truncated, with the reason and a remedy, when the pages cannot be read back', async () => {
    const run = await runCheck(registry(), manyFacts, new CuttingShell(4096, true), { target: 't', scratch: tempDir('page'), defaultTimeoutMs: 60_000, vars: { SNAPDRILL_N: 3000 } });
    expect(run.status).toBe('truncated');
    expect(run.truncated).toBe(true);
    expect(run.reason).toMatch(/could not be read back/);
    expect(run.remedy).toBeTruthy();
  });

  it('is truncated when it exceeds the output cap, whatever the transport', async () => {
    const run = await runCheck(registry(), manyFacts, new LocalShell(), { target: 't', scratch: tempDir('page'), defaultTimeoutMs: 60_000, vars: { SNAPDRILL_N: 3000 }, maxOutputBytes: 100_000 });
    expect(run.status).toBe('truncated');
    expect(run.reason).toMatch(/more than 98 KiB/);
  });

  it('a small output comes in the first answer, with no extra request', async () => {
    const shell = new CuttingShell(4096);
    const run = await runCheck(registry(), manyFacts, shell, { target: 't', scratch: tempDir('page'), defaultTimeoutMs: 60_000, vars: { SNAPDRILL_N: 3 } });
    expect(run).toMatchObject({ status: 'ran', truncated: false });
    expect(run.facts).toHaveLength(3);
    expect(shell.calls).toBe(1);
  });
});

/** runWith verifies fixtures on the local provider with this shell and extra config. */
async function runWith(fixtures: string[], extra: string, shell?: () => LocalShell) {
  const dir = tempDir('vi-cfg');
  const cfg = path.join(dir, 'snapdrill.yaml');
  writeFileSync(cfg, `provider: {type: local, catalog: ${catalogOf(fixtures)}, scratchDir: ${tempDir('vi-scratch')}}\noutput: {dir: ${tempDir('vi-out')}, formats: [json]}\nconcurrency: 1\n${extra}`);
  const factory = (config: Config, runId: string): Provider => {
    const p = new LocalProvider(config.provider as never, runId);
    if (shell) {
      const s = shell();
      p.shell = () => s;
    }
    return p;
  };
  return executeRun(loadConfig(cfg), { stateDir: tempDir('vi-state'), events: {}, signal: new AbortController().signal, providerFactory: factory });
}

describe('verdict integrity, end to end on the local provider', () => {
  it('GIVEN check output paged through a transport that returns 1,400 characters at once THEN the verdicts are those of a normal run', async () => {
    const shell = new CuttingShell(1400);
    const { report } = await runWith(['sqlite-clean.img'], '', () => shell);
    expect(shell.pageReads).toBeGreaterThan(10);
    const s = report.snapshots[0]!;
    expect(s.consistency).toBe('application-consistent');
    expect(s.databases.map((d) => [d.path, d.state]).sort()).toEqual([
      ['/srv/app/data/app.db', 'clean-shutdown'],
      ['/srv/app/data/events.db', 'clean-shutdown'],
    ]);
    expect(s.checks.every((c) => c.status === 'ran')).toBe(true);
  });

  it('GIVEN database check output that cannot be read back THEN the databases are unknown with the reason, and the snapshot fails the policy', async () => {
    // Output over 376 bytes needs pages; those of the sqlite checks fail.
    const { report } = await runWith(['sqlite-clean.img'], '', () => new CuttingShell(1400, 'sqlite'));
    const s = report.snapshots[0]!;
    const cut = s.checks.filter((c) => c.status === 'truncated');
    expect(cut.map((c) => c.check)).toEqual(['sqlite', 'sqlite']);
    expect(s.filesystems.every((f) => f.state === 'clean')).toBe(true);
    expect(s.databases.map((d) => d.state)).toEqual(['unknown', 'unknown']);
    expect(s.databases[0]!.summary).toMatch(/sqlite check truncated: output incomplete: its \d+ (bytes|KiB) of output could not be read back/);
    expect(s.consistency).toBe('unknown');
    expect(s.policy.pass).toBe(false);
    expect(report.exitCode).toBe(1);
    expect(JSON.stringify(s)).toMatch(/could not be read back/);
  });

  it('GIVEN more databases than databases.maxPerFilesystem THEN the first ones are checked and the filesystem is unknown, naming the count and the cap', async () => {
    const { report } = await runWith(['sqlite-clean.img'], 'databases: {maxPerFilesystem: 1}\n');
    const s = report.snapshots[0]!;
    expect(s.databases).toHaveLength(1);
    expect(s.databases[0]!.state).toBe('clean-shutdown');
    const fs = s.filesystems.find((f) => f.evidence.some((e) => e.key === 'databases.limit'))!;
    expect(fs.state).toBe('unknown');
    expect(fs.summary).toMatch(/2 databases were found and only the first 1 \(databases.maxPerFilesystem\) were checked/);
    expect(s.consistency).toBe('unknown');
    expect(s.hints.map((h) => h.remedy).join(' ')).toMatch(/databases.maxPerFilesystem/);
  });

  it('GIVEN a database check that hangs past timeouts.snapshot THEN it is aborted, the rest is not started, the snapshot is unknown, and teardown still runs', async () => {
    const t0 = Date.now();
    const { report } = await runWith(['sqlite-clean.img'], 'timeouts: {snapshot: 20s}\n', () => new CuttingShell(4 * 1024 * 1024, false, 'sqlite'));
    expect(Date.now() - t0).toBeLessThan(120_000);
    const s = report.snapshots[0]!;
    expect(s.consistency).toBe('unknown');
    expect(s.summary).toMatch(/snapshot deadline/);
    const sqlite = s.checks.filter((c) => c.check === 'sqlite');
    expect(sqlite.length).toBe(2);
    expect(sqlite.every((c) => /snapshot deadline/.test(c.reason ?? ''))).toBe(true);
    expect(s.databases.every((d) => d.state === 'unknown')).toBe(true);
    expect(s.phases.find((p) => p.phase === 'teardown')?.status).toBe('ok');
    expect(report.exitCode).toBe(1);
  });
});
