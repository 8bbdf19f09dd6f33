import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** sdkActions lists the EC2/SSM/S3 API actions a source file calls, from the SDK commands and paginators it imports. */
function sdkActions(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-(ec2|ssm|s3)'/g)) {
    const service = m[2]!;
    for (const name of m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
      const cmd = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
      if (cmd) out.push(`${service}:${cmd}`);
    }
  }
  return out;
}

describe('architecture', () => {
  it('keeps @aws-sdk imports inside src/providers/aws', () => {
    const offenders = files(path.join(ROOT, 'src')).filter((f) => !f.includes(`${path.sep}providers${path.sep}aws${path.sep}`) && /from '@aws-sdk\//.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('ships an IAM policy that grants exactly the AWS actions the code calls', () => {
    // Tagging in the create call (TagSpecifications) needs ec2:CreateTags, conditioned on the create action.
    // Launching with an instance profile needs iam:PassRole on the helper role.
    const implied: Record<string, string[]> = {
      'ec2:CreateVolume': ['ec2:CreateTags'],
      'ec2:RunInstances': ['ec2:CreateTags', 'iam:PassRole'],
      'ec2:RegisterImage': ['ec2:CreateTags'],
    };
    const called = files(path.join(ROOT, 'src/providers/aws')).flatMap((f) => sdkActions(readFileSync(f, 'utf8')));
    const used = [...new Set(called.flatMap((a) => [a, ...(implied[a] ?? [])]))].sort();
    const policy = JSON.parse(readFileSync(path.join(ROOT, 'iam/snapdrill-policy.json'), 'utf8')) as { Statement: { Action: string[] }[] };
    const granted = [...new Set(policy.Statement.flatMap((s) => s.Action))].sort();
    expect(used.length).toBeGreaterThan(0);
    expect(granted).toEqual(used);
  });
});
