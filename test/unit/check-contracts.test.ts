import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMON_FACTS, CheckRegistry, parseCheckScript } from '../../src/checks/registry.js';
import { parseFacts } from '../../src/checks/runner.js';
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
