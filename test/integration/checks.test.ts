import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckRegistry, parseCheckScript } from '../../src/checks/registry.js';
import { buildCheckScript, parseFacts, runCheck } from '../../src/checks/runner.js';
import { InfraError } from '../../src/errors.js';
import { LocalShell } from '../../src/shells/local.js';
import { CHECKS_DIR } from '../../src/util/paths.js';
import { tempDir } from '../helpers.js';

function extraCheck(name: string, header: string, body: string): string {
  const dir = tempDir('checks');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.sh`), `#!/usr/bin/env bash\n# ---\n${header.trim().split('\n').map((l) => `# ${l}`).join('\n')}\n# ---\n${body}\n`);
  return dir;
}

const shell = new LocalShell();
const opts = { target: '/dev/null', scratch: '/tmp', defaultTimeoutMs: 20_000 };

describe('check registry', () => {
  it('loads every shipped check with a valid header', () => {
    const reg = CheckRegistry.load();
    expect(reg.all().map((c) => c.id)).toEqual(['discover', 'ext4', 'xfs', 'dbfind', 'mariadb', 'postgresql', 'sqlite', 'bootlint']);
    expect(reg.forEngine('postgresql').map((c) => c.id)).toEqual(['postgresql']);
    expect(reg.forFilesystem('ext4').map((c) => c.id)).toEqual(['ext4']);
    expect(reg.get('xfs').needs).toContain('xfs_repair');
    expect(reg.get('xfs').mutates).toBe(true);
  });

  it('rejects a malformed header, naming the file and the field', () => {
    const dir = extraCheck('bad', 'id: bad\ntitle: Bad\nstage: sometimes\nneeds: []\nmutates: false', 'true');
    expect(() => CheckRegistry.load(CHECKS_DIR, [dir])).toThrow(InfraError);
    expect(() => CheckRegistry.load(CHECKS_DIR, [dir])).toThrow(/bad\.sh: invalid check header: \/stage: must be one of "discover", "filesystem"/);
  });

  it('requires the id to match the file name', () => {
    expect(() => parseCheckScript('/x/ext5.sh', '#!/bin/bash\n# ---\n# id: ext4\n# title: t\n# stage: discover\n# needs: []\n# mutates: false\n# ---\n')).toThrow(/must match the file name/);
  });
});

describe('running checks through the local shell', () => {
  it('GIVEN a tool missing on the helper THEN the check is skipped with the reason and the package to install', async () => {
    const dir = extraCheck('needy', 'id: needy\ntitle: Needs a tool\nstage: filesystem\nappliesTo: {fstype: [ext4]}\nneeds: [no-such-tool-xyz]\npackages: {debian: [xyz-tools]}\nmutates: false\nfacts: {ran: {type: boolean}}', 'fact ran true');
    const reg = CheckRegistry.load(CHECKS_DIR, [dir]);
    const run = await runCheck(reg, reg.get('needy'), shell, opts);
    expect(run.status).toBe('skipped');
    expect(run.reason).toBe('missing on helper: no-such-tool-xyz');
    expect(run.remedy).toBe('install xyz-tools (debian) on the helper');
    expect(run.facts.map((f) => f.fact)).toEqual(['skipped']);
  });

  it('GIVEN a check that hangs THEN it is killed at its timeout and reported timed-out', async () => {
    const dir = extraCheck('hang', 'id: hang\ntitle: Hangs\nstage: discover\nneeds: [sleep]\ntimeout: 1s\nmutates: false', 'sleep 30');
    const reg = CheckRegistry.load(CHECKS_DIR, [dir]);
    const t0 = Date.now();
    const run = await runCheck(reg, reg.get('hang'), shell, opts);
    expect(run.status).toBe('timed-out');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(run.remedy).toMatch(/timeouts.check/);
  });

  it('GIVEN a check that exits non-zero THEN failed, with its stderr', async () => {
    const dir = extraCheck('boom', 'id: boom\ntitle: Fails\nstage: discover\nneeds: []\nmutates: false', 'echo "disk on fire" >&2; exit 7');
    const reg = CheckRegistry.load(CHECKS_DIR, [dir]);
    const run = await runCheck(reg, reg.get('boom'), shell, opts);
    expect(run.status).toBe('failed');
    expect(run.reason).toBe('check script exited 7: disk on fire');
  });

  it('escapes hostile strings into valid JSON facts', async () => {
    const dir = extraCheck('strings', 'id: strings\ntitle: Strings\nstage: discover\nneeds: []\nmutates: false\nfacts: {s: {type: string}}', `fact s "$(json_str $'quote " backslash \\\\ tab \\t nl \\n bell \\a </pre>')"`);
    const reg = CheckRegistry.load(CHECKS_DIR, [dir]);
    const run = await runCheck(reg, reg.get('strings'), shell, opts);
    expect(run.protocolErrors).toEqual([]);
    expect(run.facts[0]!.value).toBe('quote " backslash \\ tab \t nl \n bell  </pre>');
  });

  it('keeps lines that are not facts as protocol errors instead of trusting them', () => {
    const out = '{"check":"x","target":"t","fact":"a","value":1}\nnot json\n{"check":"other","target":"t","fact":"a","value":1}\n{"check":"x","fact":"a"}\n';
    const x = parseCheckScript('/x/x.sh', '#!/bin/bash\n# ---\n# id: x\n# title: t\n# stage: discover\n# needs: []\n# mutates: false\n# facts: {a: {type: integer}}\n# ---\n');
    const { facts, protocolErrors } = parseFacts(x, out);
    expect(facts).toHaveLength(1);
    expect(protocolErrors.map((e) => e.split(':')[0])).toEqual(['not JSON', 'a fact of check "other", not x', 'not a fact line']);
  });

  it('quotes variables so a hostile target cannot inject commands', () => {
    const reg = CheckRegistry.load();
    const script = buildCheckScript(reg, reg.get('discover'), { SNAPDRILL_TARGET: "/dev/x'; touch /tmp/pwned; '" });
    expect(script).toContain(`export SNAPDRILL_TARGET='/dev/x'\\''; touch /tmp/pwned; '\\'''`);
  });
});
