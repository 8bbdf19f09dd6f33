import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { executeRun } from '../../src/run/run.js';
import { bootCatalog, fixture, tempDir } from '../helpers.js';
import { consoleOutput, consoleScreenshot, instanceStatusChecks, JPEG_BASE64 } from './fault-proxy.js';
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
    const { report } = await executeRun(config, { stateDir: tempDir('aws-boot-state'), events: {}, signal: new AbortController().signal, providerFactory: (c, id) => world.providerFactory(c, id) });
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
    execFileSync('bash', ['-c', `rm -rf /var/tmp/snapdrill/${report.runId}`]);
  }, 300_000);
});
