import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Import is one module a source file imports (static, dynamic or type-only): a package name, or a file under src/ relative to it. */
interface Import {
  from: string;
  /** The package ("@aws-sdk/client-ec2"), or the imported file relative to src/ ("providers/aws/ec2.ts"). */
  to: string;
}

let read: Import[] | undefined;

/** imports lists every import of every file under src/, as TypeScript's own pre-processor reads them (dynamic imports included). */
function imports(): Import[] {
  return (read ??= files(SRC).flatMap((f) =>
    ts.preProcessFile(readFileSync(f, 'utf8'), true, true).importedFiles.map(({ fileName }) => ({
      from: path.relative(SRC, f),
      to: fileName.startsWith('.') ? path.relative(SRC, path.resolve(path.dirname(f), fileName)).replace(/\.js$/, '.ts') : fileName,
    })),
  ));
}

/** folderOf is the node of the folder graph a file under src/ belongs to: its top folder, or the file itself when it lies directly in src/. */
function folderOf(file: string): string {
  const [top, ...rest] = file.split(path.sep);
  return rest.length ? `${top}/` : top!;
}

/** cycles finds the strongly connected components (more than one node) of a graph: each is an import cycle. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** folderGraph is which folder imports which, with the file imports that make each edge (for the failure message). */
function folderGraph(): { graph: Map<string, Set<string>>; why: Map<string, string[]> } {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, string[]>();
  for (const i of imports().filter((x) => !path.isAbsolute(x.to) && !x.to.startsWith('..') && x.to.endsWith('.ts'))) {
    const [a, b] = [folderOf(i.from), folderOf(i.to)];
    if (a === b) continue;
    graph.set(a, (graph.get(a) ?? new Set()).add(b));
    if (!graph.has(b)) graph.set(b, new Set());
    why.set(`${a} -> ${b}`, [...(why.get(`${a} -> ${b}`) ?? []), `${i.from} -> ${i.to}`]);
  }
  return { graph, why };
}

/** IAM_PREFIX is the IAM service prefix of each SDK client package snapdrill uses. */
const IAM_PREFIX: Record<string, string> = { ec2: 'ec2', ssm: 'ssm', s3: 's3', kms: 'kms', sns: 'sns', eventbridge: 'events', cloudwatch: 'cloudwatch', sts: 'sts', organizations: 'organizations' };

/** IAM_NAME maps the API actions whose IAM action has another name. */
const IAM_NAME: Record<string, string> = { 's3:ListObjectsV2': 's3:ListBucket' };

/** sdkActions lists the AWS API actions (as IAM names them) a source file calls, from the SDK commands and paginators it imports. */
function sdkActions(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
    const prefix = IAM_PREFIX[m[2]!];
    if (!prefix) throw new Error(`no IAM prefix known for @aws-sdk/client-${m[2]}: add it to IAM_PREFIX`);
    for (const name of m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
      const cmd = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
      if (cmd) out.push(IAM_NAME[`${prefix}:${cmd}`] ?? `${prefix}:${cmd}`);
    }
  }
  return out;
}

/** AWS_FOLDERS are where @aws-sdk may be imported: the provider of the snapshots, and the alert channels (AWS services by nature). */
const AWS_FOLDERS = [`providers${path.sep}aws${path.sep}`, `notify${path.sep}`];


/** MAX_FUNCTION_LINES is the length past which a function in src/ must be split (issue #10: "no function over ~120 lines"). */
const MAX_FUNCTION_LINES = 120;

/** longFunctions lists the functions (declarations, methods, arrows) of src/ longer than MAX_FUNCTION_LINES, by a TypeScript AST walk. */
function longFunctions(): string[] {
  const out: string[] = [];
  for (const f of files(SRC)) {
    // No parent pointers (setParentNodes false): the walk passes sf wherever TypeScript would climb to the source file, and the parse is cheaper.
    const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, false);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const lines = sf.getLineAndCharacterOfPosition(n.getEnd()).line - sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
        const name = 'name' in n && n.name ? n.name.getText(sf) : '(anonymous)';
        if (lines > MAX_FUNCTION_LINES) out.push(`${path.relative(SRC, f)}: ${name} (${lines} lines)`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

describe('architecture', () => {
  it(`has no function in src/ over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(longFunctions()).toEqual([]);
  });

  it('keeps @aws-sdk imports inside src/providers/aws and src/notify (history and evidence reach S3 and KMS through narrow interfaces)', () => {
    const offenders = imports().filter((i) => i.to.startsWith('@aws-sdk/') && !AWS_FOLDERS.some((f) => i.from.startsWith(f)));
    expect(offenders).toEqual([]);
  });

  it('reaches the AWS provider only through the Provider interface: nothing outside src/providers imports providers/aws', () => {
    const aws = `providers${path.sep}aws${path.sep}`;
    const outside = imports().filter((i) => i.to.startsWith(aws) && !i.from.startsWith(`providers${path.sep}`));
    expect(outside).toEqual([]);
    // Said on its own for the CLI and the planner: they get a provider from the factory and use only the interface.
    expect(imports().filter((i) => (i.from.startsWith(`cli${path.sep}`) || i.from === 'plan.ts') && i.to.startsWith(aws))).toEqual([]);
  });

  it('keeps the providers apart: an implementation imports nothing else under providers/ (the interface is src/provider.ts), so providers/ and its subfolders form no cycle', () => {
    const impl = (f: string) => /^providers[\\/](aws|local)[\\/]/.exec(f)?.[1];
    const crossing = imports().filter((i) => impl(i.from) && i.to.startsWith(`providers${path.sep}`) && impl(i.to) !== impl(i.from));
    expect(crossing).toEqual([]);
    expect(imports().some((i) => impl(i.from) && i.to === 'provider.ts')).toBe(true);
  });

  it('has no import cycle between folders of src/ (each file directly in src/ counts as a folder of its own)', () => {
    const { graph, why } = folderGraph();
    expect(graph.get('run/')?.has('report/')).toBe(true); // the graph is really read
    const found = cycles(graph).map((c) => ({ cycle: c, edges: [...why].filter(([e]) => c.includes(e.split(' -> ')[0]!) && c.includes(e.split(' -> ')[1]!)) }));
    expect(found).toEqual([]);
  });

  it('ships an IAM policy that grants exactly the AWS actions the code calls', () => {
    // Tagging in the create call (TagSpecifications) needs ec2:CreateTags, conditioned on the create action.
    // Launching with an instance profile needs iam:PassRole on the helper role.
    const implied: Record<string, string[]> = {
      'ec2:CreateVolume': ['ec2:CreateTags'],
      'ec2:RunInstances': ['ec2:CreateTags', 'iam:PassRole'],
      'ec2:RegisterImage': ['ec2:CreateTags'],
    };
    const central = path.join(ROOT, 'src/providers/aws/central');
    const called = [...files(path.join(ROOT, 'src/providers/aws')).filter((f) => !f.startsWith(central)), ...files(path.join(ROOT, 'src/notify'))].flatMap((f) => sdkActions(readFileSync(f, 'utf8')));
    const used = [...new Set(called.flatMap((a) => [a, ...(implied[a] ?? [])]))].sort();
    const policy = JSON.parse(readFileSync(path.join(ROOT, 'iam/snapdrill-policy.json'), 'utf8')) as { Statement: { Action: string[] }[] };
    const granted = [...new Set(policy.Statement.flatMap((s) => s.Action))].sort();
    expect(used.length).toBeGreaterThan(0);
    expect(granted).toEqual(used);
  });

  it('ships the central account\'s policy (fleet runs: roles, the Organization, the run bucket) with exactly what src/providers/aws/central calls', () => {
    const called = files(path.join(ROOT, 'src/providers/aws/central')).flatMap((f) => sdkActions(readFileSync(f, 'utf8')));
    const used = [...new Set(called)].sort();
    const policy = JSON.parse(readFileSync(path.join(ROOT, 'iam/snapdrill-central-policy.json'), 'utf8')) as { Statement: { Action: string[] }[] };
    expect(used).toContain('sts:AssumeRole');
    expect([...new Set(policy.Statement.flatMap((s) => s.Action))].sort()).toEqual(used);
  });
});
