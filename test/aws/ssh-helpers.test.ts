import { readFileSync } from 'node:fs';
import { ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { hostKeyFingerprints } from '../../src/providers/aws/console.js';
import { fixture, tempDir } from '../helpers.js';
import { startTestSshd, type TestSshd } from '../sshd.js';
import { startAwsWorld, type AwsWorld } from './world.js';

describe('hostKeyFingerprints (console output of a helper)', () => {
  it('reads cloud-init fingerprint and key blocks, with or without the "ec2:" prefix, and nothing else', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHuZgYrM1W8Nx0xC0l4kY1cB6bq8Hc7YyYGQx1qkq0vT root@ip-10-0-0-5';
    const text = [
      '[    5.1] systemd[1]: Started sshd.service',
      'ec2: #############################################################',
      'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
      'ec2: 256 SHA256:zNH9Tbq0l0mXu6XB9mpfz3zJmVrcRh7L7qC0WmWv2wE root@ip-10-0-0-5 (ECDSA)',
      'ec2: 256 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU root@ip-10-0-0-5 (ED25519)',
      'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
      '-----BEGIN SSH HOST KEY KEYS-----',
      key,
      '-----END SSH HOST KEY KEYS-----',
      'an attacker-controlled line: 256 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x (RSA)',
    ].join('\r\n');
    const fps = hostKeyFingerprints(text);
    expect(fps.slice(0, 2)).toEqual(['SHA256:zNH9Tbq0l0mXu6XB9mpfz3zJmVrcRh7L7qC0WmWv2wE', 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU']);
    expect(fps).toHaveLength(3);
    expect(fps[2]).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(hostKeyFingerprints('[    1.0] Linux version 6.1\nlogin: ')).toEqual([]);
    // A block that never ends (console still being written) is not trusted yet.
    expect(hostKeyFingerprints('-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:zNH9Tbq0l0mXu6XB9mpfz3zJmVrcRh7L7qC0WmWv2wE r (ECDSA)\n')).toEqual([]);
  });
});

/**
 * helper.shell: ssh, end to end: the helpers are launched with a key pair, their host keys are pinned from
 * the fingerprints on their console, and the checks run over real SSH (this machine's sshd plays the helper;
 * an attached volume shows up under /dev/disk/by-id like on Nitro).
 */
describe('AWS helpers over SSH (moto + real sshd on loopback)', () => {
  let sshd: TestSshd;
  let world: AwsWorld;
  beforeAll(async () => {
    sshd = await startTestSshd(tempDir('aws-sshd'));
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
    await sshd?.stop();
  });

  const setup = async (fingerprints: string[]) => {
    await world?.stop();
    world = await startAwsWorld({ fixturePath: fixture, fixtures: ['ext4-crash.img', 'xfs-frozen.img'], ssh: { hostKeyFingerprints: fingerprints } });
    await world.direct.send(new ImportKeyPairCommand({ KeyName: 'snapdrill-test', PublicKeyMaterial: readFileSync(`${sshd.clientKey}.pub`) }));
    return loadConfig(world.writeConfig('', '', `, shell: ssh, ssh: {keyName: snapdrill-test, privateKeyPath: ${sshd.clientKey}, user: root, port: ${sshd.port}}`));
  };

  it('pins the host key from the console, runs the checks over SSH, and leaves nothing behind', async () => {
    const config = await setup([sshd.hostFp]);
    const { report } = await world.run(config);
    expect(report.errors).toEqual([]);
    const by = world.byFixture(report);
    expect(by['ext4-crash.img']!.consistency).toBe('crash-consistent');
    expect(by['xfs-frozen.img']!.consistency).toBe('application-consistent');
    // Launched with the key pair; no SSM command was sent, the console was read for the host keys.
    const run = world.proxy.calls.find((c) => c.action === 'RunInstances')!;
    expect(run.params!.get('KeyName')).toBe('snapdrill-test');
    expect(world.proxy.count('SendCommand')).toBe(0);
    expect(world.proxy.count('DescribeInstanceInformation')).toBe(0);
    expect(world.proxy.count('GetConsoleOutput')).toBeGreaterThanOrEqual(1);
    expect(world.devices).toHaveLength(2);
    expect(await world.liveResources()).toEqual([]);
  }, 300_000);

  it('refuses a helper whose host key is not the one its console printed, and cleans up', async () => {
    const config = await setup(['SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU']);
    const { report } = await world.run(config);
    for (const s of report.snapshots) {
      expect(s.consistency).toBe('unknown');
      expect(s.error).toMatchObject({ code: 'ssh-host-key' });
    }
    expect(report.exitCode).toBe(3);
    expect(await world.liveResources()).toEqual([]);
  }, 300_000);
});
