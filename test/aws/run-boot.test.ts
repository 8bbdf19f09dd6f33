import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeImagesCommand, DescribeSnapshotsCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { bootCatalog, fixture, tempDir } from '../helpers.js';
import { consoleOutput, consoleScreenshot, instanceStatusChecks, JPEG_BASE64 } from './fault-proxy.js';
import { AwsProvider } from '../../src/providers/aws/aws.js';
import { toSnapshotInfo } from '../../src/providers/aws/snapshots.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { useEmulator } from './use-emulator.js';
import { startAwsWorld, type AwsWorld } from './world.js';

const CAPTURED = path.resolve(import.meta.dirname, '../golden/console/boot-fstab-missing.txt');

/**
 * The AWS boot path end to end: the restored root is linted on the helper (the real bootlint check, over SSM), an
 * image is registered from the snapshot and launched; the fault layer makes that instance fail its instance status
 * check and serves the console captured from a real failing boot of the same fixture. The diagnosis must name the
 * fstab entry, and the image, instance and volumes must be gone afterwards.
 */
describe('boot test on AWS (moto + fault layer)', () => {
  let world: AwsWorld;
  afterAll(async () => world?.stop());

  it('lints the root before paying for a boot, boots it in quarantine, reads the console and screenshot, diagnoses, and cleans up', async () => {
    world = await startAwsWorld({ fixtures: ['boot-fstab-missing.img'], fixturePath: (n) => (n.startsWith('boot-') ? path.join(bootCatalog(), n) : fixture(n)) });
    const bootInstances = new Set<string>();
    // Instances launched from anything but the helper image are boot tests.
    world.proxy.addRule({
      action: 'RunInstances',
      transform: (body, req) => {
        if (req.params.get('ImageId') !== world.imageId) for (const m of body.matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g)) bootInstances.add(m[1]!);
        return body;
      },
    });
    const isBoot = (req: { params: URLSearchParams }) => bootInstances.has(req.params.get('InstanceId.1') ?? req.params.get('InstanceId') ?? '');
    world.proxy.addRule(instanceStatusChecks({ instance: 'impaired' }, { when: isBoot }));
    world.proxy.addRule(consoleOutput(readFileSync(CAPTURED, 'utf8'), { when: isBoot }));
    world.proxy.addRule(consoleScreenshot(JPEG_BASE64, { when: isBoot }));

    const config = loadConfig(world.writeConfig('boot: {enabled: true, timeout: 1m, instanceType: t3.small}\n'));
    const { report } = await world.run(config);
    const s = report.snapshots[0]!;
    expect(s.lint!.flatMap((l) => l.findings.map((f) => f.id))).toContain('fstab-device-missing');
    expect(s.boot).toBe('fails-to-boot');
    expect(s.bootTest).toMatchObject({ mode: 'ec2', platform: 't3.small', result: 'fails-to-boot', screenshotJpegBase64: JPEG_BASE64 });
    expect(s.bootTest!.reason).toMatch(/instance status check impaired/);
    expect(s.bootTest!.diagnosis!.causes[0]!.id).toBe('fstab-missing-device');
    expect(s.policy.pass).toBe(false);
    // The image was registered from the snapshot itself, then deregistered; the instance and its volumes are gone.
    const reg = world.proxy.calls.find((c) => c.action === 'RegisterImage')!;
    expect(reg.params!.get('BlockDeviceMapping.1.Ebs.SnapshotId')).toBe(s.id);
    expect(world.proxy.count('DeregisterImage')).toBe(1);
    const images = (await world.direct.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];
    expect(images.filter((i) => i.Name?.startsWith('snapdrill-'))).toEqual([]);
    expect(await world.liveResources()).toEqual([]);
    expect(bootInstances.size).toBe(1);
  }, 300_000);
});

describe('the boot test takes the image settings from the source AMI', () => {
  const emu = useEmulator();

  it('reads architecture, boot mode, ENA and root device from the AMI named in the snapshot description; the config wins over it', async () => {
    const { direct, proxy } = emu;
    const { volumeId: vol, snapshotId: base } = await emu.snapshot();
    const ami = (await direct.send(new RegisterImageCommand({ Name: 'source', Architecture: 'arm64', BootMode: 'uefi', EnaSupport: false, RootDeviceName: '/dev/sda1', VirtualizationType: 'hvm', BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: base } }] }))).ImageId!;
    // What CreateImage writes on the snapshots it makes.
    const { snapshotId: snap } = await emu.snapshot({ volumeId: vol, description: `Created by CreateImage(i-0123456789abcdef0) for ${ami}` });
    const [s] = (await direct.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots!;
    const info = toSnapshotInfo(s!, 'us-east-1');
    expect(info.sourceImageId).toBe(ami);
    const run = async (bootYaml: string) => {
      const config = loadConfig(emu.configFile(`boot: {enabled: true, timeout: 30s${bootYaml}}\n`, { providerExtra: ', allowDefaultNetwork: true' }));
      const provider = new AwsProvider(config.provider as never, 'run-ami', [], { ec2: emu.ec2Api(), imageId: 'ami-00000000', waits: { helpers: { timeoutMs: 10_000, pollMs: 20, reason: 'test' } } });
      const ledger = Ledger.create(tempDir('ami-state'), `run-ami-${Date.now()}`, { cloud: (r, o) => provider.releaseCloud(r, o) });
      proxy.reset();
      proxy.addRule(consoleScreenshot(JPEG_BASE64));
      // moto keeps BootMode and RootDeviceName of a registered image but not its Architecture and EnaSupport: the proxy answers as EC2 would.
      proxy.addRule({ action: 'DescribeImages', transform: (body) => body.replace(/<architecture>[^<]*<\/architecture>|<enaSupport>[^<]*<\/enaSupport>/g, '').replace('<rootDeviceName>', '<architecture>arm64</architecture><enaSupport>false</enaSupport><rootDeviceName>') });
      const out = await provider.bootTest({ snapshot: info, restored: { snapshot: info, handle: 'vol-x', scratch: '/tmp' }, data: [], dataRestored: [], options: config.boot, mode: 'bios' }, { ledger, owner: info.id, signal: new AbortController().signal, timeoutMs: 60_000 });
      await ledger.releaseAll();
      ledger.close();
      return { out, reg: proxy.calls.find((c) => c.action === 'RegisterImage')!.params! };
    };
    const fromAmi = await run('');
    expect(fromAmi.out.result).toBe('boots');
    expect([fromAmi.reg.get('Architecture'), fromAmi.reg.get('BootMode'), fromAmi.reg.get('EnaSupport'), fromAmi.reg.get('RootDeviceName')]).toEqual(['arm64', 'uefi', 'false', '/dev/sda1']);
    const overridden = await run(', bootMode: legacy-bios, enaSupport: true');
    expect([overridden.reg.get('BootMode'), overridden.reg.get('EnaSupport'), overridden.reg.get('Architecture')]).toEqual(['legacy-bios', 'true', 'arm64']);
  }, 120_000);
});
