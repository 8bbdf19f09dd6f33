import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/common.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas/config.schema.json'), 'utf8'));

type Node = Record<string, any>;
const deref = (n: Node): Node => (n.$ref ? { ...schema.definitions[n.$ref.split('/').pop()], ...n, $ref: undefined } : n);

/** keyPaths lists every configurable key of the schema as README spells it: a.b, a[].b. */
function keyPaths(node: Node, prefix: string): string[] {
  const n = deref(node);
  const out: string[] = [];
  for (const branch of n.oneOf ?? []) out.push(...keyPaths(branch, prefix));
  for (const [k, v] of Object.entries<Node>(n.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (!out.includes(p)) out.push(p);
    const child = deref(v);
    if (child.properties || child.oneOf) out.push(...keyPaths(child, p).filter((x) => !out.includes(x)));
    if (child.items) {
      const item = deref(child.items);
      if (item.properties) out.push(...keyPaths(item, `${p}[]`));
    }
  }
  return out;
}

/** keyDefaults maps every key path (as keyPaths spells it) to the default the schema gives it, where it gives one. */
function keyDefaults(node: Node, prefix: string, out = new Map<string, unknown>()): Map<string, unknown> {
  const n = deref(node);
  for (const branch of n.oneOf ?? []) keyDefaults(branch, prefix, out);
  for (const [k, v] of Object.entries<Node>(n.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    if ('default' in v) out.set(p, v.default);
    const child = deref(v);
    if (child.properties || child.oneOf) keyDefaults(child, p, out);
    if (child.items && deref(child.items).properties) keyDefaults(deref(child.items), `${p}[]`, out);
  }
  return out;
}

describe('README', () => {
  it('opens with the demo and test commands', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(firstBlock).toContain('scripts/demo.sh');
    expect(firstBlock).toContain('scripts/test.sh');
  });

  it('documents every configuration key of the schema, and no key the schema lacks', () => {
    const keys = [...new Set(keyPaths(schema, ''))];
    expect(keys.length).toBeGreaterThan(20);
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Leaving nothing behind'));
    const documented = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...keys].sort());
  });

  it('states each scalar default as the schema gives it (the schema is where defaults live)', () => {
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Leaving nothing behind'));
    const rows = new Map([...section.matchAll(/^\| `([^`]+)` \| (.*) \|$/gm)].map((m) => [m[1]!, m[2]!]));
    const scalars = [...keyDefaults(schema, '')].filter(([, v]) => v !== null && typeof v !== 'object');
    expect(scalars.length).toBeGreaterThan(20);
    const wrong = scalars.filter(([k, v]) => {
      const cell = rows.get(k) ?? '';
      const said = new RegExp(`(^|[\\s\`(])${String(v).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\w/-]|\\.\\d)`).test(cell);
      return !/default/i.test(cell) || !said;
    });
    expect(wrong.map(([k, v]) => `${k}: ${JSON.stringify(v)}`)).toEqual([]);
  });

  it('quotes the exit codes exactly as --help prints them', () => {
    expect(readme).toContain(EXIT_CODES);
  });
});
