import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMON_FACTS, CheckRegistry, HARNESS_INPUTS, parseCheckScript } from '../../src/checks/registry.js';
import { buildCheckScript, parseFacts } from '../../src/checks/runner.js';
import { FACT_NAMES } from '../../src/judges/facts.js';
import { InfraError } from '../../src/errors.js';
import { CHECKS_DIR } from '../../src/util/paths.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const registry = CheckRegistry.load(CHECKS_DIR, []);
const GOLDEN = ['test/golden/facts', 'test/golden/facts-boot', 'test/golden/facts-db'].flatMap((d) =>
  readdirSync(path.join(ROOT, d))
    .filter((f) => f.endsWith('.ndjson'))
    .map((f) => path.join(d, f)),
);

/** linesByCheck groups a capture's lines by the check that printed them (a capture may hold several checks). */
function linesByCheck(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(path.join(ROOT, file), 'utf8').split('\n').filter(Boolean)) {
    const check = (JSON.parse(line) as { check: string }).check;
    out.set(check, `${out.get(check) ?? ''}${line}\n`);
  }
  return out;
}

describe('fact schemas', () => {
  it('has captures to hold the schemas to', () => {
    expect(GOLDEN.length).toBeGreaterThan(30);
  });

  it.each(GOLDEN)('GIVEN the captured facts %s THEN every line is a declared fact whose value matches its schema', (file) => {
    for (const [check, text] of linesByCheck(file)) {
      const { facts, protocolErrors } = parseFacts(registry.get(check), text);
      expect(protocolErrors).toEqual([]);
      expect(facts.length).toBe(text.trim().split('\n').length);
    }
  });

  it('declares every fact a check script prints by name (fact NAME / fact_run NAME)', () => {
    for (const check of registry.all()) {
      const body = readFileSync(check.file, 'utf8');
      const printed = new Set([...body.matchAll(/\bfact(?:_run)? ([a-z][a-z0-9-]*) /g)].map((m) => m[1]!));
      // Library functions that print a fact of the check that calls them (checks/lib/common.sh).
      if (/\brun_canaries\b/.test(body)) printed.add('canary');
      if (/\bstop_engine\b/.test(body)) printed.add('stop');
      const declared = new Set([...check.facts, ...COMMON_FACTS]);
      expect([...printed].filter((f) => !declared.has(f)), check.id).toEqual([]);
      expect(check.facts.filter((f) => !printed.has(f)), `${check.id} declares facts it never prints`).toEqual([]);
    }
  });

  it('types the judges read facts by are named after facts the check declares (judges/facts.ts)', () => {
    for (const [check, names] of Object.entries(FACT_NAMES)) expect(names.filter((n) => !registry.get(check).facts.includes(n)), check).toEqual([]);
  });

  it('GIVEN a fact the check does not declare THEN it is a protocol error, not a fact', () => {
    const line = JSON.stringify({ check: 'ext4', target: '/dev/loop0', fact: 'verdict', value: 'clean' });
    const { facts, protocolErrors } = parseFacts(registry.get('ext4'), `${line}\n`);
    expect(facts).toEqual([]);
    expect(protocolErrors).toEqual([`fact "verdict" is not declared by check ext4: ${line}`]);
  });

  it('GIVEN a declared fact whose value breaks its schema THEN it is a protocol error naming the field', () => {
    const line = JSON.stringify({ check: 'ext4', target: '/dev/loop0', fact: 'fsck', value: { command: 'e2fsck -fn', exitCode: '0', output: '' } });
    const { facts, protocolErrors } = parseFacts(registry.get('ext4'), `${line}\n`);
    expect(facts).toEqual([]);
    expect(protocolErrors[0]).toMatch(/^fact "fsck" does not match its schema \(\/exitCode: must be integer\)/);
  });

  it('GIVEN a protocol fact (skipped, limit, sandbox, refused) THEN every check may print it, held to its one schema', () => {
    const skipped = JSON.stringify({ check: 'xfs', target: '/dev/loop0', fact: 'skipped', value: { reason: 'missing on helper: xfs_repair', remedy: 'install xfsprogs' } });
    const limit = JSON.stringify({ check: 'discover', target: '/dev/loop0', fact: 'limit', value: { what: 'output' } });
    expect(parseFacts(registry.get('xfs'), `${skipped}\n`).protocolErrors).toEqual([]);
    expect(parseFacts(registry.get('discover'), `${limit}\n`).protocolErrors[0]).toMatch(/^fact "limit" does not match its schema/);
  });

  it('GIVEN a header fact schema that is not a JSON Schema THEN loading fails, naming the check and the fact', () => {
    const header = (facts: string) => `#!/bin/bash\n# ---\n# id: odd\n# title: t\n# stage: discover\n# needs: []\n# mutates: false\n# facts: ${facts}\n# ---\n`;
    expect(() => parseCheckScript('/x/odd.sh', header('{n: {type: whole}}'))).toThrow(InfraError);
    expect(() => parseCheckScript('/x/odd.sh', header('{n: {type: object, properties: {a: {typo: 1}}}}'))).toThrow(/odd\.sh: the schema of fact "n" does not compile/);
    expect(() => parseCheckScript('/x/odd.sh', header('{skipped: {type: string}}'))).toThrow(/invalid check header/);
  });
});

/** LIBRARY_READS are the inputs functions of checks/lib/common.sh read for the check that calls them. */
const LIBRARY_READS: Record<string, string[]> = {
  fs_mount: ['SNAPDRILL_FSTYPE'],
  run_canaries: ['SNAPDRILL_CANARIES'],
  wait_engine: ['SNAPDRILL_DB_TIMEOUT'],
  db_rel: ['SNAPDRILL_DBPATH'],
  db_shown: ['SNAPDRILL_DBPATH'],
};

describe('check inputs', () => {
  it('declares every SNAPDRILL_* variable a check reads (itself or through a library function), and reads every one it declares', () => {
    for (const check of registry.all()) {
      const body = readFileSync(check.file, 'utf8').replace(/^#.*$/gm, '');
      const read = new Set([...body.matchAll(/\bSNAPDRILL_[A-Z0-9_]+/g)].map((m) => m[0]));
      for (const [fn, vars] of Object.entries(LIBRARY_READS)) if (new RegExp(`\\b${fn}\\b`).test(body)) vars.forEach((v) => read.add(v));
      const declared = Object.keys(check.inputs);
      expect([...read].filter((v) => !(v in HARNESS_INPUTS) && !declared.includes(v)), `${check.id} reads undeclared inputs`).toEqual([]);
      expect(declared.filter((v) => !read.has(v)), `${check.id} declares inputs it never reads`).toEqual([]);
    }
  });

  it('GIVEN an input the check does not declare THEN building its script fails, naming the check and the variable', () => {
    expect(() => buildCheckScript(registry, registry.get('ext4'), { SNAPDRILL_DBPATH: '/x' })).toThrow(/ext4 does not declare the input SNAPDRILL_DBPATH/);
  });

  it('GIVEN a value its encoding cannot carry THEN it is refused; base64 inputs carry any bytes', () => {
    const pg = registry.get('postgresql');
    expect(() => buildCheckScript(registry, pg, { SNAPDRILL_DB_TIMEOUT: '60; rm -rf /' })).toThrow(/SNAPDRILL_DB_TIMEOUT \(integer\) must be a non-negative integer/);
    expect(() => buildCheckScript(registry, pg, { SNAPDRILL_FSTYPE: 'ext4\nrm' })).toThrow(/must be printable ASCII/);
    const raw = Buffer.from([0x2f, 0x64, 0x0a, 0xff, 0x27]);
    const script = buildCheckScript(registry, pg, { SNAPDRILL_DBPATH: raw });
    expect(script).toContain(`export SNAPDRILL_DBPATH='${raw.toString('base64')}'`);
  });
});

describe('helper packages', () => {
  it('derives what an Amazon Linux helper installs from the check headers: the sandbox, initramfs readers and every tool', () => {
    const pkgs = registry.helperPackages('al2023', ['nvme-cli']);
    expect(pkgs[0]).toBe('nvme-cli');
    for (const p of ['util-linux', 'xfsprogs', 'e2fsprogs', 'sqlite', 'postgresql15-server', 'postgresql15-contrib', 'mariadb105-server', 'cpio', 'zstd', 'lz4', 'xz']) expect(pkgs).toContain(p);
    expect(new Set(pkgs).size).toBe(pkgs.length);
  });

  it('names util-linux for every check that runs the sandbox (unshare, setpriv, prlimit)', () => {
    for (const c of registry.all().filter((c) => /\bsandbox (-|--)/.test(c.body))) {
      expect(c.packages.al2023, c.id).toContain('util-linux');
      expect(c.packages.debian, c.id).toContain('util-linux');
    }
  });
});
