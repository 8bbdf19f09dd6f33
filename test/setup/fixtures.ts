import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    fsCatalog: string;
    dbCatalog: string;
    bootCatalog: string;
    hostileCatalog: string;
  }
}

/** Builds (or reuses from the cache outside the repo) the filesystem fixture images once per test run. */
export default function setup(project: TestProject): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the snapdrill test suite needs root: it builds filesystem images and attaches loop devices (run as root, as CI does)');
  }
  const build = (name: string) => {
    const script = path.resolve(import.meta.dirname, `../../fixtures/${name}`);
    const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
    return out.trim().split('\n').at(-1)!;
  };
  project.provide('fsCatalog', build('build-fs.sh'));
  project.provide('dbCatalog', build('build-db.sh'));
  project.provide('bootCatalog', build('build-boot.sh'));
  project.provide('hostileCatalog', build('build-hostile.sh'));
}
