import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LintResult } from '../boot/types.js';
import type { Config } from '../config/types.js';
import { SnapshotUnusableError } from '../errors.js';
import { executeRun } from './run.js';

/**
 * lintSnapshot restores one snapshot the usual way (copy or volume, attach, filesystem checks, everything in the
 * ledger and removed afterwards) and runs only the pre-boot lint on it: no databases, no boot, no report kept.
 */
export async function lintSnapshot(cfg: Config, id: string, stateDir: string, signal: AbortSignal): Promise<LintResult[]> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'snapdrill-diagnose-'));
  try {
    const c: Config = {
      ...cfg,
      snapshots: [{ ids: [id] }],
      databases: { ...cfg.databases, enabled: false, canaries: [] },
      boot: { ...cfg.boot, enabled: false, lint: true },
      output: { ...cfg.output, dir: out, formats: ['json'], history: path.join(out, 'history'), evidence: false },
      notify: { on: [] },
    };
    const { report } = await executeRun(c, { stateDir, events: {}, signal, record: false });
    const s = report.snapshots[0]!;
    if (s.error) throw new SnapshotUnusableError(s.error.code, `snapshot ${id} could not be linted: ${s.error.message}`, s.error.remedy);
    if (s.lint?.length) return s.lint;
    const states = s.filesystems.map((f) => `${f.target}: ${f.fstype ?? '?'} ${f.state}`).join(', ');
    return [{ target: 'disk', status: 'not-root', reason: `no root filesystem found on ${id} (${states || 'no filesystem'})`, findings: [] }];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
