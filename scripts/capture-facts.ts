// Captures the real NDJSON facts every check prints on every fixture image, for the judges' unit tests.
// Usage (root): node --import tsx scripts/capture-facts.ts CATALOG test/golden/facts [--databases]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CheckRegistry } from '../src/checks/registry.js';
import { runCheck, runLibraryCommand, type Fact } from '../src/checks/runner.js';
import { encodeCanaries } from '../src/judges/database.js';
import { Ledger } from '../src/ledger/ledger.js';
import { LocalProvider } from '../src/providers/local/local.js';
import { tmpdir } from 'node:os';

const [catalog, outDir, mode] = process.argv.slice(2);
if (!catalog || !outDir) throw new Error('usage: capture-facts.ts CATALOG OUTDIR [--databases]');
const withDatabases = mode === '--databases';
// The canary the database fixtures are built for: the newest order, for RPO checks.
const canaries = encodeCanaries([{ name: 'orders fresh', engine: 'postgresql', database: 'shop', query: 'select max(created_at) from orders', freshWithinMs: 26 * 3_600_000 }]);
const scratchDir = path.join(tmpdir(), 'snapdrill-capture');
const provider = new LocalProvider({ type: 'local', catalog, scratchDir }, 'capture');
const registry = CheckRegistry.load();
const ledger = Ledger.create(path.join(scratchDir, 'state'), 'capture');
mkdirSync(outDir, { recursive: true });
const signal = new AbortController().signal;
await provider.start(ledger);
for (const snap of await provider.listSnapshots()) {
  if (snap.sizeBytes === 0) continue;
  const ctx = { ledger, owner: snap.id, signal, timeoutMs: 600_000 };
  const restored = await provider.restore(snap, ctx);
  const attached = await provider.attach(restored, ctx);
  const facts: Fact[] = [];
  const discover = await runCheck(registry, registry.get('discover'), provider.shell(), { target: attached.device, scratch: restored.scratch, defaultTimeoutMs: 600_000 });
  facts.push(...discover.facts);
  for (const f of discover.facts) {
    const v = f.value as { device: string; result: { probe: Record<string, string> } };
    const fstype = v.result.probe.TYPE;
    if (!fstype || (f.fact === 'device' && v.result.probe.PTTYPE)) continue;
    let passed = false;
    for (const def of registry.forFilesystem(fstype)) {
      const run = await runCheck(registry, def, provider.shell(), { target: v.device, scratch: restored.scratch, defaultTimeoutMs: 600_000 });
      facts.push(...run.facts);
      const fsck = run.facts.find((x) => x.fact === 'fsck' || x.fact === 'repair')?.value as { exitCode: number } | undefined;
      passed = fsck?.exitCode === 0;
    }
    if (!withDatabases || !passed) continue;
    // Databases: what dbfind and each engine's check print on this filesystem.
    const vars = { SNAPDRILL_FSTYPE: fstype };
    const find = await runCheck(registry, registry.get('dbfind'), provider.shell(), { target: v.device, scratch: restored.scratch, vars, defaultTimeoutMs: 600_000 });
    facts.push(...find.facts);
    for (const db of find.facts.filter((x) => x.fact === 'database').map((x) => x.value as { engine: string; path: string })) {
      for (const def of registry.forEngine(db.engine)) {
        const run = await runCheck(registry, def, provider.shell(), { target: v.device, scratch: restored.scratch, vars: { ...vars, SNAPDRILL_DBPATH: db.path, SNAPDRILL_CANARIES: canaries }, defaultTimeoutMs: 600_000 });
        facts.push(...run.facts.map((x) => ({ ...x, target: `${x.target}#${db.path}` })));
      }
    }
    await runLibraryCommand(registry, provider.shell(), 'fs_unmount', { ...vars, SNAPDRILL_TARGET: v.device, SNAPDRILL_SCRATCH: restored.scratch }, { timeoutMs: 60_000 });
  }
  await ledger.releaseOwner(snap.id);
  // Loop numbers differ from run to run: normalise them so the files are stable.
  const text = facts
    .map((f) => JSON.stringify(f))
    .join('\n')
    .replaceAll(restored.scratch, '/SCRATCH')
    .replaceAll(attached.device, '/dev/loopX');
  const name = path.basename(snap.source).replace(/\.(img|raw)$/, '');
  writeFileSync(path.join(outDir, `${name}.ndjson`), `${text}\n`);
  process.stderr.write(`captured ${name}: ${facts.length} facts\n`);
}
await ledger.releaseAll();
ledger.close();
