import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CheckRegistry, parseCheckScript } from '../../src/checks/registry.js';
import { runCheck } from '../../src/checks/runner.js';
import { SSM_STDOUT_LIMIT, SsmShell } from '../../src/providers/aws/ssm-shell.js';
import { CHECKS_DIR } from '../../src/util/paths.js';
import { ssmError, ssmJson, ssmSequence, type FaultProxy } from './fault-proxy.js';
import { fakeCredentials } from './moto.js';
import { useEmulator } from './use-emulator.js';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Reader } from '../../src/providers/aws/s3.js';
import type { AwsProviderConfig } from '../../src/config/types.js';

const emu = useEmulator();
const INSTANCE = 'i-0123456789abcdef0';

/** asHelper answers GetCommandInvocation with what the command SendCommand carried really prints when bash runs it here. */
function asHelper(proxy: FaultProxy, opts: { before?: object[]; s3?: S3Client; lose?: (script: string) => boolean } = {}) {
  let output = '';
  let code = 0;
  proxy.addRule(
    ssmJson('SendCommand', async (req) => {
      const body = req.json as { InstanceIds: string[]; DocumentName: string; Parameters: { commands: string[] }; OutputS3BucketName?: string; OutputS3KeyPrefix?: string };
      expect(body.DocumentName).toBe('AWS-RunShellScript');
      expect(body.InstanceIds).toEqual([INSTANCE]);
      const script = Buffer.from(/echo '([^']+)'/.exec(body.Parameters.commands[0]!)?.[1] ?? '', 'base64').toString('utf8');
      try {
        // A command the agent loses (the helper ran out of memory, a network blip): it fails with no output.
        if (opts.lose?.(script)) throw Object.assign(new Error('lost'), { status: 1, stdout: '' });
        output = execFileSync('bash', ['-c', body.Parameters.commands.join('\n')], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        code = 0;
      } catch (e) {
        const err = e as { status: number; stdout: string };
        output = err.stdout;
        code = err.status;
      }
      // Like the SSM agent: the whole output goes to the bucket named in the command, under its prefix.
      if (body.OutputS3BucketName && opts.s3) {
        await opts.s3.send(new PutObjectCommand({ Bucket: body.OutputS3BucketName, Key: `${body.OutputS3KeyPrefix}/cmd-1/${body.InstanceIds[0]}/awsrunShellScript/0.awsrunShellScript/stdout`, Body: output }));
      }
      return { Command: { CommandId: 'cmd-1', Status: 'Pending' } };
    }),
  );
  for (const b of opts.before ?? []) proxy.addRule(ssmJson('GetCommandInvocation', b, { times: 1 }));
  proxy.addRule(ssmJson('GetCommandInvocation', () => ({ Status: code === 0 ? 'Success' : 'Failed', ResponseCode: code, StandardOutputContent: output.slice(0, SSM_STDOUT_LIMIT), StandardErrorContent: '' })));
}

const shell = () => new SsmShell(emu.ssmApi(), INSTANCE, { pollMs: 20, registrationGraceMs: 5000 });

describe('SSM shell, against moto behind the fault proxy', () => {
  it('runs a check unchanged: facts come back through SendCommand and GetCommandInvocation, after InvocationDoesNotExist and InProgress', async () => {
    emu.proxy.addRule(ssmError('GetCommandInvocation', 'InvocationDoesNotExist', 'no such invocation', 400, { times: 1 }));
    asHelper(emu.proxy, { before: [{ Status: 'InProgress', ResponseCode: -1 }] });
    const check = parseCheckScript('/x/echo.sh', `#!/usr/bin/env bash\n# ---\n# id: echo\n# title: Echo\n# stage: discover\n# needs: [base64]\n# mutates: false\n# facts: {quote: {type: string}}\n# ---\nfact quote "$(json_str $'it\\'s "quoted" $HOME \`x\`')"\n`);
    const reg = new CheckRegistry([check], CheckRegistry.load(CHECKS_DIR, []).library);
    const run = await runCheck(reg, check, shell(), { target: '/dev/nvme1n1', scratch: '/tmp', defaultTimeoutMs: 60_000 });
    expect(run.status).toBe('ran');
    expect(run.facts).toEqual([{ check: 'echo', target: '/dev/nvme1n1', fact: 'quote', value: 'it\'s "quoted" $HOME `x`' }]);
    expect(emu.proxy.count('GetCommandInvocation')).toBe(3);
  });

  it('reports a non-zero exit (Failed) with its ResponseCode', async () => {
    asHelper(emu.proxy);
    const r = await shell().run('echo out; exit 4', { timeoutMs: 60_000 });
    expect(r).toMatchObject({ exitCode: 4, stdout: 'out\n', timedOut: false });
  });

  it('reports TimedOut as a timeout with no exit code', async () => {
    emu.proxy.addRule(ssmJson('SendCommand', { Command: { CommandId: 'cmd-2' } }));
    emu.proxy.addRule(...ssmSequence('GetCommandInvocation', [{ Status: 'InProgress', ResponseCode: -1 }, { Status: 'TimedOut', ResponseCode: -1 }]));
    const r = await shell().run('sleep 999', { timeoutMs: 1000 });
    expect(r).toMatchObject({ exitCode: null, timedOut: true });
  });

  it('detects output cut at 24,000 characters instead of trusting it', async () => {
    asHelper(emu.proxy);
    const r = await shell().run(`head -c 30000 /dev/zero | tr '\\0' x`, { timeoutMs: 60_000 });
    expect(r.stdout.length).toBe(SSM_STDOUT_LIMIT);
    expect(r.truncated).toBe(true);
    const small = await shell().run('echo small', { timeoutMs: 60_000 });
    expect(small.truncated).toBe(false);
  });

  it('reads the whole output from the S3 output bucket when the API cut it, and still flags a cut it cannot repair', async () => {
    const s3 = new S3Client({ region: 'us-east-1', endpoint: emu.moto.endpoint, forcePathStyle: true, credentials: fakeCredentials });
    await s3.send(new CreateBucketCommand({ Bucket: 'ssm-output' }));
    asHelper(emu.proxy, { s3 });
    // The reader takes credentials from the standard chain, as in production: here, the environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', fakeCredentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', fakeCredentials.secretAccessKey);
    const reader = createS3Reader({ region: 'us-east-1', endpoint: emu.moto.endpoint } as AwsProviderConfig);
    const withBucket = new SsmShell(emu.ssmApi(), INSTANCE, { pollMs: 20, output: { bucket: 'ssm-output', prefix: 'snapdrill', reader } });
    const r = await withBucket.run(`head -c 30000 /dev/zero | tr '\\0' x; echo; echo last-line`, { timeoutMs: 60_000 });
    expect(r.truncated).toBe(false);
    expect(r.stdout.length).toBe(30000 + 11);
    expect(r.stdout.endsWith('\nlast-line\n')).toBe(true);
    const sent = emu.proxy.calls.filter((c) => c.action === 'SendCommand');
    expect(sent).toHaveLength(1);
    // The bucket exists but the agent could not write there (no s3:PutObject): flagged, not trusted.
    const elsewhere = new SsmShell(emu.ssmApi(), INSTANCE, { pollMs: 20, output: { bucket: 'ssm-output', prefix: 'other', reader: { getText: async () => undefined } } });
    const cut = await elsewhere.run(`head -c 30000 /dev/zero | tr '\\0' x`, { timeoutMs: 60_000 });
    expect(cut.truncated).toBe(true);
    expect(cut.stdout.length).toBe(SSM_STDOUT_LIMIT);
    vi.unstubAllEnvs();
  });

  it('GIVEN check output over 24,000 characters and no output bucket THEN it is read back in pages and judged whole', async () => {
    asHelper(emu.proxy);
    const check = parseCheckScript('/x/many.sh', `#!/usr/bin/env bash\n# ---\n# id: many\n# title: Many\n# stage: discover\n# needs: [seq]\n# mutates: false\n# facts: {db: {type: object, required: [i]}}\n# ---\nfor i in $(seq 1 2000); do printf '{"check":"many","target":"t","fact":"db","value":{"i":%d,"path":"/srv/app/data/\u00e9v\u00e9nements-%d.sqlite"}}\\n' "$i" "$i"; done\n`);
    const reg = new CheckRegistry([check], CheckRegistry.load(CHECKS_DIR, []).library);
    const run = await runCheck(reg, check, shell(), { target: 't', scratch: mkdtempSync(path.join(os.tmpdir(), 'snapdrill-ssm-')), defaultTimeoutMs: 60_000 });
    expect(run.status).toBe('ran');
    expect(run.facts).toHaveLength(2000);
    expect(run.facts.at(-1)!.value).toEqual({ i: 2000, path: '/srv/app/data/événements-2000.sqlite' });
    expect(run.outputBytes).toBeGreaterThan(5 * 24_000);
    // Every answer stayed within SSM's limit, so nothing was cut.
    expect(emu.proxy.count('SendCommand')).toBeGreaterThan(2);
  });

  it('GIVEN output over 24,000 characters whose pages cannot be read back THEN the run is truncated, naming helper.ssmOutput', async () => {
    asHelper(emu.proxy, { lose: (script) => script.startsWith('[ -f ') || script.startsWith('tail -c') });
    const check = parseCheckScript('/x/many.sh', `#!/usr/bin/env bash\n# ---\n# id: many\n# title: Many\n# stage: discover\n# needs: [seq]\n# mutates: false\n# facts: {db: {type: object, required: [i]}}\n# ---\nfor i in $(seq 1 2000); do printf '{"check":"many","target":"t","fact":"db","value":{"i":%d}}\\n' "$i"; done\n`);
    const reg = new CheckRegistry([check], CheckRegistry.load(CHECKS_DIR, []).library);
    const run = await runCheck(reg, check, shell(), { target: 't', scratch: mkdtempSync(path.join(os.tmpdir(), 'snapdrill-ssm-')), defaultTimeoutMs: 60_000 });
    expect(run.status).toBe('truncated');
    expect(run.reason).toMatch(/could not be read back/);
    expect(run.remedy).toMatch(/provider\.helper\.ssmOutput/);
  });

  it('GIVEN the command never reaches the instance THEN a clear error after the grace period, not a hang', async () => {
    emu.proxy.addRule(ssmJson('SendCommand', { Command: { CommandId: 'cmd-3' } }));
    emu.proxy.addRule(ssmError('GetCommandInvocation', 'InvocationDoesNotExist', 'no such invocation'));
    const s = new SsmShell(emu.ssmApi(), INSTANCE, { pollMs: 20, registrationGraceMs: 300 });
    await expect(s.run('true', { timeoutMs: 60_000 })).rejects.toThrow(/never reached instance i-0123456789abcdef0/);
  });
});
