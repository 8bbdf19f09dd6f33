import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { writeEvidencePack } from '../../src/evidence/manifest.js';
import { ed25519FileSigner, kmsSigner } from '../../src/evidence/sign.js';
import { sdkKmsApi } from '../../src/providers/aws/kms.js';
import { fakeCredentials, startMoto, TEST_REGION } from '../aws/moto.js';
import { cli, tempDir } from '../helpers.js';


/** reportDirWith writes a small run report directory to pack. */
function reportDirWith(): string {
  const dir = path.join(tempDir('evidence-cli'), 'run-1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'report.json'), '{"schemaVersion":1,"snapshots":[{"id":"snap-1","consistency":"crash-consistent"}]}\n');
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><p>crash-consistent</p>\n');
  return dir;
}

const META = { runId: 'run-1', tool: 'snapdrill', version: '0.1.0', createdAt: '2025-01-01T00:00:00.000Z' };

describe('snapdrill evidence', () => {
  it('keygen writes a 0600 key and its public key, and never overwrites one', () => {
    const prefix = path.join(tempDir('evidence-keys'), 'drill');
    const r = cli(['evidence', 'keygen', '--out', prefix]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fingerprint sha256:[0-9a-f]{64}/);
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${prefix}.pub`, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const again = cli(['evidence', 'keygen', '--out', prefix]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('never overwrites a key');
  });

  it('verify: exit 0 on a good pack, 1 naming the file when one byte changed, 2 when there is no directory', async () => {
    const prefix = path.join(tempDir('evidence-keys'), 'drill');
    expect(cli(['evidence', 'keygen', '--out', prefix]).code).toBe(0);
    const dir = reportDirWith();
    await writeEvidencePack(dir, [{ path: 'facts/snap-1/ext4.json', content: '{"key":"ext4.needs_recovery","value":true}\n' }], ed25519FileSigner(`${prefix}.key`), META);

    const ok = cli(['evidence', 'verify', dir, '--public-key', `${prefix}.pub`]);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 3 files match manifest.json, signed by ed25519 key sha256:[0-9a-f]{64} \(pinned by --public-key\)\n$/);
    expect(ok.stderr).toBe('');

    const unpinned = cli(['evidence', 'verify', dir, '--json']);
    expect(unpinned.code).toBe(0);
    expect(JSON.parse(unpinned.stdout)).toMatchObject({ ok: true, files: 3, problems: [], signer: { type: 'ed25519', algorithm: 'ED25519' }, pinnedBy: null });
    expect(unpinned.stderr).toContain('warning: no key pinned');

    const tampered = path.join(tempDir('evidence-tampered'), 'run-1');
    cpSync(dir, tampered, { recursive: true });
    const fact = path.join(tampered, 'facts/snap-1/ext4.json');
    writeFileSync(fact, readFileSync(fact, 'utf8').replace('true', 'fals'));
    const bad = cli(['evidence', 'verify', tampered, '--public-key', `${prefix}.pub`]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^problem: facts\/snap-1\/ext4\.json: SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}: changed after signing$/m);
    expect(bad.stdout).toMatch(/^FAILED: 1 problem in the pack signed by ed25519 key/m);

    const missing = cli(['evidence', 'verify', path.join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is not a directory');
  });

  it('documents its exit codes and why to pin the key in --help', () => {
    const r = cli(['evidence', 'verify', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1  verify found a problem');
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('anyone can edit a report, rewrite the manifest and re-sign it');
  });

  it('verify --kms asks KMS for the key the manifest names (endpoint from AWS_ENDPOINT_URL_KMS)', async () => {
    const moto = await startMoto();
    const client = new KMSClient({ region: TEST_REGION, endpoint: moto.endpoint, credentials: fakeCredentials });
    try {
      const arn = (await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;
      const dir = reportDirWith();
      await writeEvidencePack(dir, [], kmsSigner(arn, sdkKmsApi(client)), META);
      const env = { AWS_ENDPOINT_URL_KMS: moto.endpoint, AWS_ACCESS_KEY_ID: fakeCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fakeCredentials.secretAccessKey, AWS_REGION: TEST_REGION, AWS_EC2_METADATA_DISABLED: 'true' };
      const ok = cli(['evidence', 'verify', dir, '--kms-key-id', arn], env);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain(`signed by kms ${arn} key sha256:`);
      expect(ok.stdout).toContain('(pinned by KMS)');
      writeFileSync(path.join(dir, 'index.html'), '<!doctype html><p>application-consistent</p>\n');
      const bad = cli(['evidence', 'verify', dir, '--kms'], env);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/^problem: index\.html: /m);
    } finally {
      client.destroy();
      await moto.stop();
    }
  });
});
