// Runs the real bootlint check on every scenario image of test/fixtures/bootlint-scenarios.ts and saves the
// facts it printed for the judge's unit tests (test/judges/bootlint.test.ts).
// Usage (root): node --import tsx scripts/capture-bootlint-facts.ts [test/golden/facts-boot]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CheckRegistry } from '../src/checks/registry.js';
import { buildImage, lintDevice, normaliseFacts, SCENARIOS } from '../test/fixtures/bootlint-scenarios.js';

const outDir = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../test/golden/facts-boot'));
mkdirSync(outDir, { recursive: true });
const registry = CheckRegistry.load();
for (const s of SCENARIOS) {
  const work = mkdtempSync(path.join(tmpdir(), 'snapdrill-bootlint-capture-'));
  let dev: string | undefined;
  try {
    const img = path.join(work, `${s.name}.img`);
    buildImage(s, work, img);
    dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
    const scratch = path.join(work, 'scratch');
    mkdirSync(scratch);
    const run = await lintDevice(s, dev, scratch, registry);
    if (run.status !== 'ran' || run.protocolErrors.length) throw new Error(`${s.name}: ${run.status} ${run.reason ?? ''} ${run.protocolErrors.join('\n')} ${run.stderrTail}`);
    writeFileSync(path.join(outDir, `${s.name}.ndjson`), normaliseFacts(run.facts, dev, scratch));
    process.stderr.write(`captured ${s.name}: ${run.facts.length} facts\n`);
  } finally {
    if (dev) execFileSync('losetup', ['-d', dev]);
    rmSync(work, { recursive: true, force: true });
  }
}
