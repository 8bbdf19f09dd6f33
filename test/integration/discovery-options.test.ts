import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { executeRun } from '../../src/run/run.js';
import { catalogOf, tempDir } from '../helpers.js';

async function run(catalog: string, databases: string) {
  const dir = tempDir('opt-cfg');
  const cfg = path.join(dir, 'snapdrill.yaml');
  writeFileSync(cfg, `provider: {type: local, catalog: ${catalog}, scratchDir: ${tempDir('opt-scratch')}}\noutput: {dir: ${tempDir('opt-out')}, formats: [json]}\ndatabases:\n${databases}`);
  const { report } = await executeRun(loadConfig(cfg), { stateDir: tempDir('opt-state'), events: {}, signal: new AbortController().signal });
  return report.snapshots[0]!;
}

describe('database discovery options', () => {
  it('excludes paths by glob and checks the rest', async () => {
    const s = await run(catalogOf(['sqlite-clean.img']), '  exclude: [/srv/app/data/events*]\n');
    expect(s.databases.map((d) => d.path)).toEqual(['/srv/app/data/app.db']);
  });

  it('reports a configured path that does not exist as unknown, naming it', async () => {
    const s = await run(catalogOf(['ext4-clean.img']), '  include: [{engine: postgresql, path: /srv/pgdata}]\n');
    expect(s.databases).toMatchObject([{ engine: 'postgresql', path: '/srv/pgdata', state: 'unknown', summary: 'configured postgresql path /srv/pgdata does not exist on disk' }]);
    expect(s.consistency).toBe('unknown');
  });

  it('can turn the SQLite scan off', async () => {
    const s = await run(catalogOf(['sqlite-clean.img']), '  sqliteScan: false\n');
    expect(s.databases).toEqual([]);
  });

  it('can turn database checks off entirely', async () => {
    const s = await run(catalogOf(['pg-crash.img']), '  enabled: false\n');
    expect(s.databases).toEqual([]);
    expect(s.consistency).toBe('application-consistent');
  });

  it('finds a MongoDB dbPath, reports its unclean lock as evidence, and does not pretend to have checked it', async () => {
    // A tiny image built without mounting: mkfs.ext4 -d copies a directory tree into the new filesystem.
    const tree = tempDir('mongo-tree');
    mkdirSync(path.join(tree, 'var/lib/mongodb'), { recursive: true });
    writeFileSync(path.join(tree, 'var/lib/mongodb/mongod.lock'), '4242\n');
    writeFileSync(path.join(tree, 'var/lib/mongodb/WiredTiger'), 'WiredTiger\nWiredTiger 11.2.0\n');
    const catalog = tempDir('mongo-cat');
    execFileSync('truncate', ['-s', '32M', path.join(catalog, 'mongo.img')]);
    execFileSync('mkfs.ext4', ['-q', '-d', tree, path.join(catalog, 'mongo.img')]);
    const s = await run(catalog, '  sqliteScan: true\n');
    expect(s.databases).toMatchObject([{ engine: 'mongodb', path: '/var/lib/mongodb', state: 'not-checked' }]);
    expect(s.databases[0]!.evidence).toContainEqual(expect.objectContaining({ key: 'mongodb.lock_bytes', value: 5 }));
    expect(s.consistency).toBe('application-consistent');
    expect(s.hints.map((h) => h.remedy).join(' ')).toMatch(/validate/);
  });
});
