import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ReportFormat } from '../config/types.js';
import type { RunReport } from './types.js';
import { renderHtml } from './html.js';
import { renderJsonReport } from './json.js';
import { renderJunit } from './junit.js';

/** REPORT_FILES names the file each format is written to inside a run's report directory. */
export const REPORT_FILES: Record<ReportFormat, string> = { html: 'index.html', json: 'report.json', junit: 'junit.xml' };

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** writeReports renders every requested format into OUT/RUNID/ and points OUT/latest at it (unless told not to). */
export function writeReports(report: RunReport, outDir: string, formats: ReportFormat[], opts: { latest?: boolean } = {}): { dir: string; files: string[] } {
  const dir = path.join(outDir, report.runId);
  mkdirSync(dir, { recursive: true });
  // Validate first: the JSON schema check guards every format against a malformed report.
  const json = renderJsonReport(report);
  const files: string[] = [];
  for (const f of formats) {
    const file = path.join(dir, REPORT_FILES[f]);
    writeAtomic(file, f === 'json' ? json : f === 'html' ? renderHtml(report) : renderJunit(report));
    files.push(file);
  }
  if (opts.latest === false) return { dir, files };
  const latest = path.join(outDir, 'latest');
  try {
    rmSync(latest, { force: true });
    symlinkSync(report.runId, latest);
  } catch {
    /* a convenience only */
  }
  return { dir, files };
}
