import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const LIB = path.resolve(import.meta.dirname, '../../checks/lib/common.sh');

/** sbx runs a bash snippet that defines `probe` and calls `sandbox OPTS -- probe ARGS` with the check library loaded. */
function sbx(scratch: string, body: string, call: string): { stdout: string; stderr: string; status: number | null; facts: { fact: string; value: unknown }[] } {
  const script = `export SNAPDRILL_CHECK=sbxtest SNAPDRILL_TARGET=/dev/null SNAPDRILL_SCRATCH=${scratch}\nsource ${LIB}\n${body}\n${call}\necho "rc=$?"\n`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  const facts = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { fact: string; value: unknown });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, facts };
}

describe('the sandbox (checks/lib/common.sh)', () => {
  let scratch: string;
  let data: string;
  let secret: string;
  let server: net.Server;
  let port = 0;
  let connections = 0;

  beforeAll(async () => {
    scratch = tempDir('sbx');
    data = path.join(scratch, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'ok.txt'), 'inside\n');
    // A root-only host file with a token: nothing in a sandbox may read it, by path or through a symlink.
    secret = path.join(tempDir('sbx-secret'), 'secret.txt');
    writeFileSync(secret, 'TOKEN-7f3a9c\n', { mode: 0o600 });
    symlinkSync(secret, path.join(data, 'abs-link'));
    symlinkSync('../../../../../../../../../../../etc/hostname', path.join(data, 'rel-link'));
    execFileSync('mkfifo', [path.join(data, 'fifo')]);
    server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => server.close());

  it('GIVEN a command in the sandbox THEN it runs as a throwaway unprivileged uid with no capabilities and no supplementary groups', () => {
    const r = sbx(scratch, `probe() { id -u; id -G; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; }`, `sandbox -w ${data} -- probe`);
    const [uid, groups] = r.stdout.split('\n');
    expect(Number(uid)).toBeGreaterThanOrEqual(2_000_000_000);
    expect(groups!.trim().split(' ')).toEqual([uid]);
    expect(r.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
  });

  it('GIVEN host files and a symlink to one THEN the sandbox sees neither: only its own directory and the tools', () => {
    const r = sbx(scratch, `probe() { cat "$1" 2>&1; cat "$2/abs-link" 2>&1; ls /root 2>&1; ls /var/lib 2>&1; cat /etc/shadow 2>&1; cat "$2/ok.txt"; }`, `sandbox -w ${data} -- probe ${secret} ${data}`);
    expect(r.stdout).not.toContain('TOKEN-7f3a9c');
    expect(r.stdout).toContain('inside');
    expect(r.stdout).toMatch(/No such file or directory/);
  });

  it('GIVEN a symlink that leaves the tree or a FIFO THEN inside refuses it with a fact naming the reason', () => {
    const r = sbx(scratch, `probe() { inside "$1" "$1/abs-link" || echo refused-abs; inside "$1" "$1/fifo" || echo refused-fifo; inside "$1" "$1/ok.txt" && echo accepted; }`, `sandbox -w ${data} -- probe ${data}`);
    expect(r.stdout).toContain('accepted');
    expect(r.stdout).toContain('refused-fifo');
    const refused = r.facts.filter((f) => f.fact === 'refused').map((f) => (f.value as { reason: string }).reason);
    expect(refused).toContain('special file (device, FIFO or socket)');
    // The absolute link resolves into the sandbox's own (empty) tree: it does not exist there, or it leaves the snapshot.
    expect(r.stdout).toContain('refused-abs');
  });

  it('GIVEN a listener on the host loopback THEN the sandbox cannot connect to it (no network at all)', () => {
    const before = connections;
    const r = sbx(scratch, `probe() { (exec 3<>/dev/tcp/127.0.0.1/$1) 2>&1 && echo CONNECTED; ip -o link 2>/dev/null | grep -c UP || true; }`, `sandbox -w ${data} -- probe ${port}`);
    expect(r.stdout).not.toContain('CONNECTED');
    expect(connections).toBe(before);
    // The control: the same connection from outside a sandbox does reach the listener.
    sbx(scratch, `probe() { (exec 3<>/dev/tcp/127.0.0.1/$1) && echo CONNECTED; }`, `probe ${port}`);
    return new Promise<void>((r2) => setTimeout(() => (expect(connections).toBe(before + 1), r2()), 200));
  });

  it('GIVEN a process left running in the background THEN it dies with the sandbox (own PID namespace)', () => {
    const marker = `snapdrill-sbx-orphan-${process.pid}`;
    const r = sbx(scratch, `probe() { bash -c "exec -a ${marker} sleep 300" & disown; echo started; }`, `sandbox -w ${data} -- probe`);
    expect(r.stdout).toContain('started');
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps).not.toContain(marker);
  });

  it('GIVEN the check process group is killed (an interrupted run, or gc acting on the recorded group) THEN every process in the sandbox dies too', async () => {
    const marker = `snapdrill-sbx-group-${process.pid}`;
    // Its own scratch: the killed shell cannot remove its sandbox directory (the run's teardown or gc removes the scratch).
    const own = tempDir('sbx-kill');
    const script = `export SNAPDRILL_CHECK=sbxtest SNAPDRILL_TARGET=/dev/null SNAPDRILL_SCRATCH=${own}\nsource ${LIB}\nprobe() { exec -a ${marker} sleep 300; }\nsandbox -w ${own} -- probe\n`;
    const child = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore' });
    const alive = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(marker);
    for (let i = 0; i < 50 && !alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(true);
    process.kill(-child.pid!, 'SIGKILL');
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  });

  it('GIVEN a command past its wall deadline THEN it is killed and a sandbox fact says so (never a silent pass)', () => {
    const t0 = Date.now();
    const r = sbx(scratch, `probe() { sleep 30; echo finished; }`, `sandbox -t 2 -w ${data} -- probe`);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.stdout).not.toContain('finished');
    expect(r.stdout).toContain('rc=137');
    const f = r.facts.find((x) => x.fact === 'sandbox')?.value as { killed: boolean; reason: string };
    expect(f.killed).toBe(true);
    expect(f.reason).toMatch(/deadline of 2s/);
  });

  it('GIVEN more output than the cap THEN the rest is dropped and a limit fact names the cap', () => {
    const r = sbx(scratch, `probe() { head -c 100000 /dev/zero | tr '\\0' x; }`, `sandbox -o 1000 -w ${data} -- probe`);
    const limit = r.facts.find((x) => x.fact === 'limit')?.value as { what: string; limit: number };
    expect(limit).toEqual(expect.objectContaining({ what: 'output', limit: 1000 }));
    expect(r.stdout.replace(/\{.*\}\n?/g, '').replace(/rc=\d+\n?/, '').length).toBeLessThanOrEqual(1001);
  });

  it('GIVEN a read-only bind THEN nothing can be written there, and a read-write bind is writable only where the uid owns it', () => {
    const ro = sbx(scratch, `probe() { touch "$1/new" 2>&1 || echo ro-refused; }`, `sandbox -r ${data} -c read -- probe ${data}`);
    expect(ro.stdout).toContain('ro-refused');
    expect(existsSync(path.join(data, 'new'))).toBe(false);
    const owned = path.join(scratch, 'owned');
    mkdirSync(owned);
    const id = 2_012_345_678;
    execFileSync('chown', [`${id}:${id}`, owned]);
    const rw = sbx(scratch, `probe() { touch "$1/written" && echo wrote; touch "$1/../escape" 2>&1 || echo parent-refused; }`, `sandbox -u ${id} -w ${owned} -- probe ${owned}`);
    expect(rw.stdout).toContain('wrote');
    expect(existsSync(path.join(owned, 'written'))).toBe(true);
    expect(existsSync(path.join(scratch, 'escape'))).toBe(false);
  });

  it('GIVEN the read capability THEN a tree owned by other users can be walked, and a file the sandbox wrote to its /tmp never reaches the host', () => {
    const priv = path.join(scratch, 'private');
    mkdirSync(priv, { mode: 0o700 });
    writeFileSync(path.join(priv, 'f'), 'private-data\n', { mode: 0o600 });
    chmodSync(priv, 0o700);
    const r = sbx(scratch, `probe() { cat "$1/f"; echo leak >/tmp/host-leak-${process.pid}; }`, `sandbox -r ${priv} -c read -- probe ${priv}`);
    expect(r.stdout).toContain('private-data');
    expect(existsSync(`/tmp/host-leak-${process.pid}`)).toBe(false);
    const denied = sbx(scratch, `probe() { cat "$1/f" 2>&1; }`, `sandbox -r ${priv} -- probe ${priv}`);
    expect(denied.stdout).toMatch(/Permission denied/);
  });

  it('GIVEN a sandbox that cannot be set up THEN a sandbox fact says so instead of an empty result', () => {
    // A bind of a directory that does not exist fails during set-up.
    const r = sbx(scratch, `probe() { echo ran; }`, `sandbox -w ${path.join(scratch, 'missing-dir')} -- probe`);
    expect(r.stdout).not.toContain('ran\n');
    const f = r.facts.find((x) => x.fact === 'sandbox')?.value as { setupFailed?: boolean };
    expect(f?.setupFailed).toBe(true);
  });

  it('leaves nothing behind in the scratch directory', () => {
    sbx(scratch, `probe() { true; }`, `sandbox -w ${data} -- probe`);
    const left = execFileSync('find', [scratch, '-maxdepth', '1', '-name', 'sbx.*'], { encoding: 'utf8' });
    expect(left.trim()).toBe('');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${scratch}/sbx.`);
  });
});
