import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CheckRegistry, parseCheckScript } from '../../src/checks/registry.js';
import { runCheck } from '../../src/checks/runner.js';
import { isSnapdrillError } from '../../src/errors.js';
import { SshShell, fingerprintOfPublicKey, type SshTarget } from '../../src/shells/ssh.js';
import { CHECKS_DIR } from '../../src/util/paths.js';
import { tempDir } from '../helpers.js';
import { startTestSshd, type TestSshd } from '../sshd.js';

/** A real OpenSSH server on loopback, with its own host key and one authorised client key. */
let server: TestSshd;
let dir: string;
let port: number;
let hostFp: string;
const shells: SshShell[] = [];

const target = (extra: Partial<SshTarget> = {}): SshTarget => ({ host: '127.0.0.1', port, user: 'root', privateKeyPath: path.join(dir, 'client'), hostKeySha256: hostFp, ...extra });
const shell = (t: SshTarget, o = {}) => {
  const s = new SshShell(t, { retryForMs: 0, retryDelayMs: 100, readyTimeoutMs: 5000, ...o });
  shells.push(s);
  return s;
};

describe('SSH shell against a real sshd on loopback', () => {
  beforeAll(async () => {
    server = await startTestSshd(tempDir('sshd'));
    ({ dir, port, hostFp } = server);
  }, 60_000);
  afterEach(() => {
    for (const s of shells.splice(0)) s.close();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs a check unchanged and returns its facts', async () => {
    const check = parseCheckScript('/x/echo.sh', `#!/usr/bin/env bash\n# ---\n# id: echo\n# title: Echo\n# stage: discover\n# needs: [id]\n# mutates: false\n# facts: {user: {type: string}, target: {type: string}}\n# ---\nfact user "$(json_str "$(id -un)")"\nfact target "$(json_str "$SNAPDRILL_TARGET")"\n`);
    const reg = new CheckRegistry([check], CheckRegistry.load(CHECKS_DIR, []).library);
    const run = await runCheck(reg, check, shell(target()), { target: "/dev/nvme1n1'; x", scratch: '/tmp', defaultTimeoutMs: 30_000 });
    expect(run.status).toBe('ran');
    expect(run.facts.map((f) => [f.fact, f.value])).toEqual([
      ['user', 'root'],
      ['target', "/dev/nvme1n1'; x"],
    ]);
  });

  it('reports exit codes, and kills a command at its timeout', async () => {
    const s = shell(target());
    expect(await s.run('echo hi; exit 7', { timeoutMs: 10_000 })).toMatchObject({ exitCode: 7, stdout: 'hi\n', timedOut: false });
    const t0 = Date.now();
    expect(await s.run('sleep 30', { timeoutMs: 500 })).toMatchObject({ exitCode: null, timedOut: true });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('GIVEN a host key that does not match the pinned one THEN refuses at once, naming both', async () => {
    const wrong = fingerprintOfPublicKey(readFileSync(path.join(dir, 'stranger.pub'), 'utf8'));
    const err = await shell(target({ hostKeySha256: wrong }), { retryForMs: 10_000 }).run('true', { timeoutMs: 5000 }).catch((e) => e);
    expect(isSnapdrillError(err) && err.code).toBe('ssh-host-key');
    expect((err as Error).message).toContain(wrong);
  });

  it('GIVEN a key the server does not accept THEN an authentication error, not a retry loop', async () => {
    const t0 = Date.now();
    const err = await shell(target({ privateKeyPath: path.join(dir, 'stranger') }), { retryForMs: 10_000 }).run('true', { timeoutMs: 5000 }).catch((e) => e);
    expect(isSnapdrillError(err) && err.code).toBe('ssh-auth');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('GIVEN the host refuses connections while it boots THEN retries until sshd answers', async () => {
    await server.stop();
    const s = shell(target(), { retryForMs: 20_000, retryDelayMs: 200 });
    const pending = s.run('echo up', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 800));
    await server.start();
    expect(await pending).toMatchObject({ exitCode: 0, stdout: 'up\n' });
  });

  it('reaches the target through a jump host', async () => {
    const r = await shell(target({ jump: target() })).run('echo via-bastion', { timeoutMs: 10_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'via-bastion\n' });
  });
});
