import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigValidationError, loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

function writeConfig(text: string, name = 'snapdrill.yaml'): string {
  const dir = tempDir('cfg');
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function issuesOf(text: string): { path: string; message: string }[] {
  try {
    loadConfig(writeConfig(text));
  } catch (e) {
    if (e instanceof ConfigValidationError) return e.issues;
    throw e;
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfig', () => {
  it('GIVEN a full YAML config WHEN loaded THEN values are typed, durations parsed and paths resolved against the file', () => {
    const file = writeConfig(`
provider: {type: local, catalog: ./images, scratchDir: /var/tmp/x}
snapshots:
  - ids: [snap-a]
  - tags: {env: [prod, staging], team: "*"}
    latestPerVolume: 2
concurrency: 3
timeouts: {check: 90s, restore: 5m}
output: {dir: out, formats: [json]}
policy:
  minimum: application-consistent
  rules: [{match: {tags: {tier: scratch}}, minimum: crash-consistent}]
`);
    const cfg = loadConfig(file);
    expect(cfg.provider).toEqual({ type: 'local', catalog: path.join(path.dirname(file), 'images'), scratchDir: '/var/tmp/x' });
    expect(cfg.snapshots).toHaveLength(2);
    expect(cfg.concurrency).toBe(3);
    expect(cfg.timeouts).toEqual({ checkMs: 90_000, restoreMs: 300_000, attachMs: 120_000, snapshotMs: 2 * 3_600_000 });
    expect(cfg.output).toEqual({ dir: path.join(path.dirname(file), 'out'), formats: ['json'], history: path.join(path.dirname(file), 'out', 'history'), historyRuns: 90, evidence: false });
    expect(cfg.policy.minimum).toBe('application-consistent');
    expect(cfg.policy.allowUnknown).toBe(false);
  });

  it('GIVEN JSON text WHEN loaded THEN it is accepted like YAML', () => {
    const cfg = loadConfig(writeConfig('{"provider": {"type": "local", "catalog": "/data"}}', 'c.json'));
    expect(cfg.provider.catalog).toBe('/data');
    expect(cfg.output.formats).toEqual(['html', 'json', 'junit']);
    expect(cfg.concurrency).toBeGreaterThanOrEqual(2);
  });

  it('names the JSON path and the rule for a wrongly typed field', () => {
    expect(issuesOf('provider: {type: local, catalog: /x}\nsnapshots: [{tags: [a, b]}]\n')).toContainEqual({ path: '/snapshots/0/tags', message: 'must be object' });
  });

  it('rejects unknown keys by name, at every level', () => {
    expect(issuesOf('provider: {type: local, catalog: /x, catalogue: /y}\n')).toContainEqual({ path: '/provider', message: 'unknown key "catalogue"' });
    expect(issuesOf('provider: {type: local, catalog: /x}\nconcurency: 3\n')).toContainEqual({ path: '/', message: 'unknown key "concurency"' });
  });

  it('reads the AWS volume settings, and names the field when they do not fit the volume type', () => {
    const aws = 'provider: {type: aws, region: eu-west-1, availabilityZone: eu-west-1a';
    const cfg = loadConfig(writeConfig(`${aws}, volumeType: gp3, iops: 4000, throughput: 250, kmsKeyId: alias/restore, keepOnFailure: 24h}\n`));
    expect(cfg.provider).toMatchObject({ volumeType: 'gp3', iops: 4000, throughput: 250, kmsKeyId: 'alias/restore', keepOnFailureMs: 86_400_000 });
    const err = (text: string) => {
      try {
        loadConfig(writeConfig(text));
      } catch (e) {
        return e instanceof ConfigError ? `${e.path}: ${e.message}` : String(e);
      }
      return 'accepted';
    };
    expect(err(`${aws}, volumeType: st1, iops: 500}\n`)).toMatch(/\/provider\/iops: .*iops applies to gp3, io1 and io2 volumes, not st1/);
    expect(err(`${aws}, volumeType: io2}\n`)).toMatch(/\/provider\/iops: .*io2 volumes need provider.iops/);
    expect(err(`${aws}, volumeType: gp2, throughput: 300}\n`)).toMatch(/\/provider\/throughput: .*throughput applies to gp3 volumes only, not gp2/);
    expect(issuesOf(`${aws}, kmsKeyId: my-key}\n`)[0]!.path).toBe('/provider/kmsKeyId');
  });

  it('explains a malformed duration', () => {
    expect(issuesOf('provider: {type: local, catalog: /x}\ntimeouts: {check: 5 minutes}\n')).toContainEqual({
      path: '/timeouts/check',
      message: 'must be a duration such as 500ms, 90s, 5m, 1h or 2d',
    });
  });

  it('lists the allowed values of an enum', () => {
    expect(issuesOf('provider: {type: local, catalog: /x}\npolicy: {minimum: perfect}\n')).toContainEqual({
      path: '/policy/minimum',
      message: 'must be one of "application-consistent", "crash-consistent"',
    });
    expect(issuesOf('provider: {type: gcp, catalog: /x}\n').map((i) => i.path)).toContain('/provider/type');
  });

  it('requires a provider and a catalog', () => {
    expect(issuesOf('concurrency: 2\n')).toContainEqual({ path: '/', message: "must have required property 'provider'" });
    expect(issuesOf('provider: {type: local}\n')).toContainEqual({ path: '/provider', message: "must have required property 'catalog'" });
  });

  it('reports every problem at once, not only the first', () => {
    const issues = issuesOf('provider: {type: local, catalog: /x}\nconcurrency: 0\noutput: {formats: [pdf]}\n');
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['/concurrency', '/output/formats/0']));
  });

  it('points at the line of a YAML syntax error', () => {
    const file = writeConfig('provider:\n  type: local\n  catalog: [unclosed\n');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not valid YAML`));
  });

  it('names the file it cannot read', () => {
    expect(() => loadConfig('/nonexistent/snapdrill.yaml')).toThrow(/cannot read config file \/nonexistent\/snapdrill.yaml: ENOENT/);
  });

  it('builds a config from flags alone, with flags resolved against the working directory', () => {
    const cfg = loadConfig(undefined, { provider: 'local', catalog: 'imgs', out: 'r', concurrency: 1, ids: ['a'] });
    expect(cfg.provider.catalog).toBe(path.resolve('imgs'));
    expect(cfg.output.dir).toBe(path.resolve('r'));
    expect(cfg.snapshots).toEqual([{ ids: ['a'] }]);
  });

  it('refuses to guess a provider when neither file nor flags name one', () => {
    expect(() => loadConfig(undefined, {})).toThrow(/no provider/);
  });
});
