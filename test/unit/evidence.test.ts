import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSnapdrillError } from '../../src/errors.js';
import { canonicalJson, MANIFEST_FILE, packPath, SIGNATURE_FILE, verifyEvidencePack, writeEvidencePack, type EvidenceFile } from '../../src/evidence/manifest.js';
import { REDACTED, redactConfig } from '../../src/evidence/redact.js';
import { ed25519FileSigner, generateEd25519Key, type Signer } from '../../src/evidence/sign.js';
import { tempDir } from '../helpers.js';

const META = { runId: 'run-20250101-000000-abcd', tool: 'snapdrill', version: '0.1.0', createdAt: '2025-01-01T00:05:00.000Z' };

/** newKey writes a fresh key pair into a temp dir and returns its signer and public key PEM. */
function newKey(name: string): { signer: Signer; publicKeyPem: string; keyFile: string } {
  const dir = tempDir('evidence-key');
  const keyFile = path.join(dir, `${name}.key`);
  generateEd25519Key(keyFile, path.join(dir, `${name}.pub`));
  return { signer: ed25519FileSigner(keyFile), publicKeyPem: readFileSync(path.join(dir, `${name}.pub`), 'utf8'), keyFile };
}

/** EXTRA is what a run adds to its report directory: fact logs, tool excerpts, the redacted config. */
const EXTRA: EvidenceFile[] = [
  { path: 'facts/snap-0123/ext4.json', content: '{"key":"ext4.needs_recovery","value":false}\n' },
  { path: 'facts/snap-0123/e2fsck.json', content: Buffer.from('{"key":"ext4.fsck_exit","value":0}\n') },
  { path: 'excerpts/snap-0123/e2fsck -fn.txt', content: 'Pass 1: Checking inodes, blocks, and sizes\n' },
  { path: 'config.json', content: canonicalJson(redactConfig({ provider: { type: 'local', catalog: '/srv/images' } })) },
];

/** reportDir writes what src/report/write.ts leaves in a run's report directory. */
function reportDir(): string {
  const dir = path.join(tempDir('evidence'), META.runId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>snapdrill</title><p>application-consistent</p>\n');
  writeFileSync(path.join(dir, 'report.json'), '{"schemaVersion":1,"snapshots":[{"id":"snap-0123","consistency":"application-consistent"}]}\n');
  writeFileSync(path.join(dir, 'junit.xml'), '<testsuites><testsuite name="snapdrill" tests="1" failures="0"/></testsuites>\n');
  return dir;
}

const key = newKey('signer');
/** GOOD is a known-good pack; every fault is injected into a fresh copy of it. */
const GOOD = reportDir();
await writeEvidencePack(GOOD, EXTRA, key.signer, META);

/** copyOfGood is a fresh copy of the known-good pack. */
function copyOfGood(): string {
  const dir = path.join(tempDir('evidence-copy'), META.runId);
  cpSync(GOOD, dir, { recursive: true });
  return dir;
}

/** flipByte changes one bit of the byte in the middle of a file. */
function flipByte(file: string): void {
  const b = readFileSync(file);
  const i = Math.floor(b.length / 2);
  b[i] = b[i]! ^ 0x01;
  writeFileSync(file, b);
}

describe('evidence pack', () => {
  it('GIVEN a report directory WHEN packed THEN the manifest lists every file, sorted, and the pack verifies with the pinned key', async () => {
    const manifest = JSON.parse(readFileSync(path.join(GOOD, MANIFEST_FILE), 'utf8'));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual([
      'config.json',
      'excerpts/snap-0123/e2fsck_-fn.txt',
      'facts/snap-0123/e2fsck.json',
      'facts/snap-0123/ext4.json',
      'index.html',
      'junit.xml',
      'report.json',
    ]);
    expect(manifest).toMatchObject({ schemaVersion: 1, ...META, algorithm: 'sha256', signer: { type: 'ed25519', algorithm: 'ED25519' } });
    expect(manifest.signer.publicKey).toBe(key.publicKeyPem);
    expect(readFileSync(path.join(GOOD, MANIFEST_FILE), 'utf8')).toBe(canonicalJson(manifest));
    expect(await verifyEvidencePack(GOOD, { publicKeyPem: key.publicKeyPem })).toEqual({ ok: true, problems: [], files: 7, signer: manifest.signer, pinnedBy: 'public-key' });
    // Unpinned it still verifies, and says nothing vouched for the key.
    expect(await verifyEvidencePack(GOOD)).toMatchObject({ ok: true, pinnedBy: undefined });
  });

  /** namesFile: a problem is about the files before its first ": " (one, or several separated by ", "). */
  const namesFile = (problem: string, file: string) => problem.split(': ')[0]!.split(', ').includes(file);

  it.each([
    ['a report file', 'report.json'],
    ['a fact log', 'facts/snap-0123/ext4.json'],
    ['the manifest', MANIFEST_FILE],
    ['the signature', SIGNATURE_FILE],
  ])('GIVEN one byte of %s flipped WHEN verified THEN it fails naming %s', async (_what, file) => {
    const dir = copyOfGood();
    flipByte(path.join(dir, file));
    const r = await verifyEvidencePack(dir, { publicKeyPem: key.publicKeyPem });
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => namesFile(p, file)), r.problems.join('\n')).toBe(true);
  });

  it('GIVEN a manifest edited to match an edited report (still valid JSON) WHEN verified THEN the signature names the manifest', async () => {
    const dir = copyOfGood();
    const edited = '{"schemaVersion":1,"snapshots":[{"id":"snap-0123","consistency":"corrupt"}]}\n';
    writeFileSync(path.join(dir, 'report.json'), edited);
    const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8'));
    const entry = manifest.files.find((f: { path: string }) => f.path === 'report.json');
    Object.assign(entry, { sha256: createHash('sha256').update(edited).digest('hex'), bytes: Buffer.byteLength(edited) });
    writeFileSync(path.join(dir, MANIFEST_FILE), canonicalJson(manifest));
    const r = await verifyEvidencePack(dir, { publicKeyPem: key.publicKeyPem });
    expect(r).toMatchObject({ ok: false, problems: [expect.stringMatching(/^manifest\.json, manifest\.sig: the signature does not verify/)] });
  });

  it('GIVEN a file appended to the pack WHEN verified THEN it is named as added', async () => {
    const dir = copyOfGood();
    writeFileSync(path.join(dir, 'facts/snap-0123/extra.json'), '{}\n');
    const r = await verifyEvidencePack(dir, { publicKeyPem: key.publicKeyPem });
    expect(r).toMatchObject({ ok: false, problems: ['facts/snap-0123/extra.json: not listed in the manifest: added after signing'] });
  });

  it('GIVEN a file deleted WHEN verified THEN it is named as missing', async () => {
    const dir = copyOfGood();
    rmSync(path.join(dir, 'junit.xml'));
    const r = await verifyEvidencePack(dir, { publicKeyPem: key.publicKeyPem });
    expect(r).toMatchObject({ ok: false, problems: ['junit.xml: listed in the manifest but missing'] });
  });

  it('GIVEN a file replaced by a symlink to an identical copy WHEN verified THEN the symlink is refused', async () => {
    const dir = copyOfGood();
    const outside = path.join(tempDir('evidence-outside'), 'report.json');
    cpSync(path.join(dir, 'report.json'), outside);
    rmSync(path.join(dir, 'report.json'));
    symlinkSync(outside, path.join(dir, 'report.json'));
    const r = await verifyEvidencePack(dir, { publicKeyPem: key.publicKeyPem });
    expect(r).toMatchObject({ ok: false, problems: ['report.json: is a symbolic link (the manifest lists a regular file)'] });
  });

  it('GIVEN an edited report re-signed with another key WHEN verified unpinned THEN it passes, AND pinned to the real key THEN it fails naming the signer', async () => {
    const dir = copyOfGood();
    writeFileSync(path.join(dir, 'report.json'), '{"schemaVersion":1,"snapshots":[{"id":"snap-0123","consistency":"corrupt"}]}\n');
    rmSync(path.join(dir, MANIFEST_FILE));
    rmSync(path.join(dir, SIGNATURE_FILE));
    const forger = newKey('forger');
    await writeEvidencePack(dir, [], forger.signer, META);
    expect(await verifyEvidencePack(dir)).toMatchObject({ ok: true, pinnedBy: undefined });
    const r = await verifyEvidencePack(dir, { publicKeyPem: key.publicKeyPem });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.stringMatching(/^manifest\.json: signed by key sha256:[0-9a-f]{64}, not by the pinned key sha256:[0-9a-f]{64}: the pack was re-signed/)]);
  });

  it('GIVEN a symlink in the report directory WHEN packed THEN the pack is refused', async () => {
    const dir = reportDir();
    symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    await expect(writeEvidencePack(dir, [], key.signer, META)).rejects.toMatchObject({ code: 'evidence-path-refused', message: expect.stringContaining('"passwd": is a symbolic link') });
  });

  it('GIVEN added paths that are absolute, escape, or collide WHEN packed THEN each is refused before anything is written', async () => {
    for (const p of ['/etc/cron.d/x', '../outside.json', 'facts/../../x', 'a//b', MANIFEST_FILE, '\\evil']) {
      const dir = reportDir();
      const err = await writeEvidencePack(dir, [{ path: p, content: 'x' }], key.signer, META).catch((e: unknown) => e);
      expect(isSnapdrillError(err) && err.code, p).toBe('evidence-path-refused');
    }
    const dir = reportDir();
    await expect(writeEvidencePack(dir, [{ path: 'a b.txt', content: '1' }, { path: 'a_b.txt', content: '2' }], key.signer, META)).rejects.toMatchObject({ code: 'evidence-path-refused' });
    // Unsafe characters become _ and a subdirectory that is a symlink is never written through.
    expect(packPath('facts/snap-1/ext4:/dev/sda1\u001b[31m.json')).toBe('facts/snap-1/ext4_/dev/sda1__31m.json');
    const linked = reportDir();
    symlinkSync(tempDir('evidence-elsewhere'), path.join(linked, 'facts'));
    await expect(writeEvidencePack(linked, [{ path: 'facts/x.json', content: '{}' }], key.signer, META)).rejects.toMatchObject({ code: 'evidence-path-refused', message: expect.stringContaining('facts is a symbolic link') });
  });

  it('GIVEN a private key file readable by group or others WHEN used THEN it is refused like ssh does', () => {
    const { keyFile } = newKey('loose');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    chmodSync(keyFile, 0o644);
    expect(() => ed25519FileSigner(keyFile)).toThrow(expect.objectContaining({ code: 'evidence-key-permissions', remedy: `chmod 600 ${keyFile}` }));
  });

  it('GIVEN an existing key WHEN keygen would overwrite it THEN it refuses', () => {
    const { keyFile } = newKey('kept');
    expect(() => generateEd25519Key(keyFile, `${keyFile}.pub2`)).toThrow(expect.objectContaining({ code: 'evidence-keygen' }));
  });
});

describe('redactConfig', () => {
  it('GIVEN a realistic config WHEN redacted THEN secrets go, ARNs, ids, paths and SQL stay', () => {
    const awsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n';
    const config = {
      provider: { type: 'aws', region: 'eu-west-1', kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', helper: { ssh: { privateKeyPath: '/etc/snapdrill/id_ed25519' } } },
      snapshots: [{ ids: ['snap-0123456789abcdef0'], tags: { env: 'prod' } }],
      alerts: {
        sns: { topicArn: 'arn:aws:sns:eu-west-1:123456789012:snapdrill-alerts' },
        slack: { url: 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX' },
        teams: { webhookUrl: 'https://example.webhook.office.com/webhookb2/abc' },
        http: { endpoint: 'https://alerts.example.com/v1/ingest?api_key=abc123#frag', plain: 'https://alerts.example.com/v1/status' },
      },
      databases: {
        canaries: [
          { name: 'orders', engine: 'postgresql', query: "select count(*) from users where password = 'x' and token is not null" },
          { name: 'fresh', engine: 'postgresql', query: 'select max(created_at) from orders' },
        ],
        connections: [
          'host=db.internal port=5432 user=app password=s3cr3t dbname=orders',
          "Server=db;Database=orders;User Id=app;Password='p@ss word';",
          'postgres://app:s3cr3t@db.internal:5432/orders?sslmode=require',
        ],
      },
      aws: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: awsSecret, session: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD', blob: awsSecret, key: pem },
      auth: { Authorization: 'Bearer abc', apiToken: 'xyz', password: 42 },
      digest: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    };
    const before = structuredClone(config);
    const r = redactConfig(config) as typeof config;
    expect(config).toEqual(before); // a copy: the input is untouched
    expect(r.provider).toEqual({ ...config.provider, helper: { ssh: { privateKeyPath: REDACTED } } });
    expect(r.snapshots).toEqual(config.snapshots);
    expect(r.alerts).toEqual({
      sns: config.alerts.sns,
      slack: { url: REDACTED },
      teams: { webhookUrl: REDACTED },
      http: { endpoint: `https://alerts.example.com/v1/ingest?${REDACTED}#${REDACTED}`, plain: 'https://alerts.example.com/v1/status' },
    });
    expect(r.databases.canaries).toEqual(config.databases.canaries);
    expect(r.databases.connections).toEqual([
      `host=db.internal port=5432 user=app password=${REDACTED} dbname=orders`,
      `Server=db;Database=orders;User Id=app;Password=${REDACTED};`,
      `postgres://${REDACTED}@db.internal:5432/orders?${REDACTED}`,
    ]);
    expect(r.aws).toEqual({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: REDACTED, session: REDACTED, blob: REDACTED, key: REDACTED });
    expect(r.auth).toEqual({ Authorization: REDACTED, apiToken: REDACTED, password: REDACTED });
    expect(r.digest).toBe(config.digest);
  });
});
