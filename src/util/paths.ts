import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** PACKAGE_ROOT is the directory holding package.json, schemas/ and checks/, from both src/ (tests) and dist/ (built CLI). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** schemaPath locates a JSON Schema shipped in schemas/. */
export function schemaPath(name: string): string {
  return path.join(PACKAGE_ROOT, 'schemas', name);
}

/** CHECKS_DIR holds the check scripts that run on the helper. */
export const CHECKS_DIR = path.join(PACKAGE_ROOT, 'checks');

/** within is true when p is dir itself or lies below it (lexically). */
export function within(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
