/**
 * Signed evidence packs: a run's report directory plus the raw facts, tool excerpts and redacted config behind it, with
 * manifest.json (SHA-256 and size of every file) and manifest.sig (the signature over the exact manifest bytes).
 *
 * A signature proves only that the holder of the key it names signed the pack. The manifest carries its own public key,
 * so checking the signature against that key proves the pack agrees with itself, not that it is the one the drill
 * wrote: anyone can edit a report, rewrite the manifest and re-sign it with a key of their own. Verifiers must pin the
 * key (a public key kept apart from the pack, or the KMS key through KMS itself); unpinned, verification says so.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, isSnapdrillError, SnapdrillError } from '../errors.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import { fingerprintOf, signatureProblem, type KmsApi, type Signer, type SignerInfo } from './sign.js';

/** MANIFEST_FILE and SIGNATURE_FILE sit at the top of a pack; they are the only files the manifest does not list. */
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';

/** EvidenceManifest is manifest.json (schemas/evidence-manifest.schema.json). */
export interface EvidenceManifest {
  schemaVersion: 1;
  runId: string;
  tool: string;
  version: string;
  createdAt: string;
  algorithm: 'sha256';
  files: ManifestEntry[];
  signer: SignerInfo;
}

/** ManifestEntry is one file of a pack. */
export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}

/** EvidenceFile is a file the pack adds to the report directory: a path relative to it, and its content. */
export interface EvidenceFile {
  path: string;
  content: string | Buffer;
}

/** EvidenceMeta names the run and the tool that made a pack. */
export interface EvidenceMeta {
  runId: string;
  tool: string;
  version: string;
  createdAt: string;
}

/** MANIFEST_LIMIT and SIGNATURE_LIMIT bound what a verifier reads into memory from a pack it does not trust. */
const MANIFEST_LIMIT = 64 * 1024 * 1024;
const SIGNATURE_LIMIT = 64 * 1024;

/** UNSAFE_NAME_CHARS are replaced by `_` in the names of added files: anything but letters, digits and `._-+=@,`. */
const UNSAFE_NAME_CHARS = /[^A-Za-z0-9._\-+=@,]/g;

/** refused is the error for an added file whose path cannot be written safely. */
function refused(p: string, why: string): SnapdrillError {
  return new SnapdrillError('evidence-path-refused', `evidence file ${JSON.stringify(p)}: ${why}`, { source: 'user' });
}

/**
 * packPath turns the path of an added file into the one written: relative, `/` between segments, no empty, `.` or `..`
 * segment (refused, never resolved), each segment's unsafe characters replaced by `_`, not the manifest or signature.
 */
export function packPath(p: string): string {
  if (p.startsWith('/') || p.startsWith('\\') || path.isAbsolute(p)) throw refused(p, 'is absolute');
  const segments = p.split(/[/\\]/);
  if (segments.some((s) => s === '..')) throw refused(p, 'escapes the pack (..)');
  if (segments.some((s) => s === '' || s === '.')) throw refused(p, 'has an empty or "." segment');
  const clean = segments.map((s) => s.replace(UNSAFE_NAME_CHARS, '_'));
  if (clean.some((s) => Buffer.byteLength(s) > 255)) throw refused(p, 'has a name longer than 255 bytes');
  const out = clean.join('/');
  if (out === MANIFEST_FILE || out === SIGNATURE_FILE) throw refused(p, 'is the name of the manifest or its signature');
  return out;
}

/** writeAdded writes one added file under dir: its directories made without following a symlink, the file never over an existing one. */
async function writeAdded(dir: string, rel: string, content: string | Buffer): Promise<void> {
  const segments = rel.split('/');
  let at = dir;
  for (const s of segments.slice(0, -1)) {
    at = path.join(at, s);
    const st = await lstat(at).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!st) await mkdir(at);
    else if (!st.isDirectory()) throw refused(rel, `${path.relative(dir, at)} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`);
  }
  try {
    await writeFile(path.join(dir, rel), content, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw refused(rel, 'already exists in the pack (a pack is written once per run)');
    throw e;
  }
}

/** Tree is what lies under a pack: its regular files, and anything else, which may not be there (a symlink, a socket, ...). */
interface Tree {
  files: string[];
  others: { path: string; kind: string }[];
}

/** kindOf names what a directory entry that is not a regular file or directory is. */
function kindOf(d: { isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (d.isSymbolicLink()) return 'a symbolic link';
  if (d.isFIFO()) return 'a named pipe';
  if (d.isSocket()) return 'a socket';
  return d.isBlockDevice() || d.isCharacterDevice() ? 'a device node' : 'not a regular file';
}

/** walk lists every entry under dir, relative with `/`, sorted; never follows a symlink; skips the top-level manifest and signature. */
async function walk(dir: string, rel = '', tree: Tree = { files: [], others: [] }): Promise<Tree> {
  for (const d of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) await walk(dir, p, tree);
    else if (d.isFile()) {
      if (p !== MANIFEST_FILE && p !== SIGNATURE_FILE) tree.files.push(p);
    } else tree.others.push({ path: p, kind: kindOf(d) });
  }
  if (!rel) tree.files.sort(byPath);
  return tree;
}

/** byPath orders paths by their UTF-16 code units: the same order on every machine and locale. */
function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** openRegular opens a file for reading without following a symlink, and refuses anything but a regular file. */
async function openRegular(file: string) {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOTREG' });
  }
  return { fh, size: st.size };
}

/** hashFile is the SHA-256 and size of a regular file, read through one descriptor (it cannot change identity midway). */
async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const { fh } = await openRegular(file);
  try {
    const h = createHash('sha256');
    const buf = Buffer.alloc(1 << 20);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { sha256: h.digest('hex'), bytes };
  } finally {
    await fh.close();
  }
}

/** readBounded reads a whole regular file of at most `limit` bytes, without following a symlink. */
async function readBounded(file: string, limit: number): Promise<Buffer> {
  const { fh, size } = await openRegular(file);
  try {
    if (size > limit) throw Object.assign(new Error(`larger than ${limit} bytes`), { code: 'EFBIG' });
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** canonicalJson serialises with object keys sorted by code unit at every level, two-space indented, newline-terminated: equal values give equal bytes. */
export function canonicalJson(value: unknown): string {
  const render = (v: unknown, indent: string): string => {
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      const inner = `${indent}  `;
      return `[\n${v.map((x) => inner + render(x, inner)).join(',\n')}\n${indent}]`;
    }
    if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort(byPath);
      if (keys.length === 0) return '{}';
      const inner = `${indent}  `;
      return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${render((v as Record<string, unknown>)[k], inner)}`).join(',\n')}\n${indent}}`;
    }
    return JSON.stringify(v);
  };
  return `${render(value, '')}\n`;
}

/** manifestSchemaIssues validates a parsed manifest against schemas/evidence-manifest.schema.json (and what the schema cannot say). */
function manifestSchemaIssues(m: unknown): string[] {
  const validate = compiledSchema('evidence-manifest.schema.json');
  if (!validate(m)) return describeSchemaErrors(validate.errors).map((i) => `${i.path}: ${i.message}`);
  const manifest = m as EvidenceManifest;
  const issues: string[] = [];
  if (manifest.signer.type === 'kms' && !manifest.signer.keyId) issues.push('/signer: a kms signer must have keyId');
  const seen = new Set<string>();
  for (const f of manifest.files) {
    if (seen.has(f.path)) issues.push(`/files: ${f.path} is listed twice`);
    seen.add(f.path);
    if (f.path === MANIFEST_FILE || f.path === SIGNATURE_FILE) issues.push(`/files: lists ${f.path} itself`);
  }
  return issues;
}

/** writeFileAtomic writes a file under a temporary name beside it, then renames it into place. */
async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  await writeFile(tmp, content, { flag: 'w' });
  await rename(tmp, file);
}

/**
 * writeEvidencePack writes the added files into dir (a run's report directory), then hashes every regular file under
 * it, writes manifest.json (canonical JSON, validated against its schema) and manifest.sig (base64 signature over the
 * manifest's exact bytes). A path that is absolute or escapes dir, an existing file, a symlink or any other non-regular
 * file under dir refuses the pack (SnapdrillError code evidence-path-refused) before the manifest is written.
 */
export async function writeEvidencePack(dir: string, extra: EvidenceFile[], signer: Signer, meta: EvidenceMeta): Promise<{ manifest: string; files: number }> {
  const added = extra.map((e) => ({ rel: packPath(e.path), content: e.content }));
  const names = new Set<string>();
  for (const a of added) {
    if (names.has(a.rel)) throw refused(a.rel, 'is added twice (names are compared after unsafe characters became _)');
    names.add(a.rel);
  }
  for (const a of added) await writeAdded(dir, a.rel, a.content);
  const tree = await walk(dir);
  const other = tree.others[0];
  if (other) throw refused(other.path, `is ${other.kind}: a pack holds only regular files`);
  const files: ManifestEntry[] = [];
  for (const rel of tree.files) files.push({ path: rel, ...(await hashFile(path.join(dir, rel))) });
  const { runId, tool, version, createdAt } = meta;
  const manifest: EvidenceManifest = { schemaVersion: 1, runId, tool, version, createdAt, algorithm: 'sha256', files, signer: await signer.info() };
  const issues = manifestSchemaIssues(manifest);
  if (issues.length) throw new SnapdrillError('evidence-manifest-invalid', `the evidence manifest would be invalid: ${issues.join('; ')}`, { source: 'user' });
  const bytes = canonicalJson(manifest);
  const signature = await signer.sign(Buffer.from(bytes));
  const manifestPath = path.join(dir, MANIFEST_FILE);
  await writeFileAtomic(manifestPath, bytes);
  await writeFileAtomic(path.join(dir, SIGNATURE_FILE), `${signature.toString('base64')}\n`);
  return { manifest: manifestPath, files: files.length };
}

/** VerifyOptions pin the key a pack must be signed with; without one, verification proves only that the pack agrees with itself. */
export interface VerifyOptions {
  /** SPKI PEM of the expected signer (`evidence keygen`'s PREFIX.pub, or `aws kms get-public-key` output as PEM). */
  publicKeyPem?: string;
  /** Ask KMS for the public key of the manifest's key id (GetPublicKey); with keyId, the manifest must name that key. */
  kms?: { client: KmsApi; keyId?: string };
}

/** EvidenceVerification is what verifyEvidencePack found: ok when there is no problem, each problem naming its file. */
export interface EvidenceVerification {
  ok: boolean;
  problems: string[];
  /** Files the manifest lists. */
  files: number;
  signer: SignerInfo | undefined;
  /** What vouched for the embedded key: a pinned public key, KMS, or nothing (undefined: anyone could have re-signed). */
  pinnedBy: 'public-key' | 'kms' | undefined;
}

/** readManifest reads, parses and validates manifest.json and reads manifest.sig; problems name the file at fault. */
async function readManifest(dir: string, problems: string[]): Promise<{ manifest: EvidenceManifest; bytes: Buffer; signature: Buffer } | undefined> {
  const read = async (name: string, limit: number) => {
    try {
      return await readBounded(path.join(dir, name), limit);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push(`${name}: ${code === 'ENOENT' ? 'missing' : code === 'ELOOP' ? 'is a symbolic link' : `cannot be read (${errorMessage(e)})`}`);
      return undefined;
    }
  };
  const bytes = await read(MANIFEST_FILE, MANIFEST_LIMIT);
  const sigText = await read(SIGNATURE_FILE, SIGNATURE_LIMIT);
  if (!bytes || !sigText) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    problems.push(`${MANIFEST_FILE}: not valid JSON (${errorMessage(e)}): it was changed after signing`);
    return undefined;
  }
  const issues = manifestSchemaIssues(parsed);
  if (issues.length) {
    problems.push(...issues.map((i) => `${MANIFEST_FILE}: not a valid manifest (changed after signing?): ${i}`));
    return undefined;
  }
  const b64 = sigText.toString('latin1').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    problems.push(`${SIGNATURE_FILE}: not a base64 signature: it was changed after signing`);
    return undefined;
  }
  return { manifest: parsed as EvidenceManifest, bytes, signature: Buffer.from(b64, 'base64') };
}

/** pinProblem checks the embedded signer against the key the caller pinned; undefined when it matches. */
async function pinProblem(signer: SignerInfo, opts: VerifyOptions): Promise<string | undefined> {
  let embedded: string;
  try {
    embedded = fingerprintOf(createPublicKey(signer.publicKey));
  } catch {
    return undefined; // unreadable: the signature check already named it
  }
  if (opts.publicKeyPem !== undefined) {
    let pinned: string;
    try {
      pinned = fingerprintOf(createPublicKey(opts.publicKeyPem));
    } catch (e) {
      throw new SnapdrillError('evidence-key-invalid', `the pinned public key cannot be read: ${errorMessage(e)}`, { source: 'user', remedy: 'give an SPKI PEM public key (PREFIX.pub of "snapdrill evidence keygen")' });
    }
    if (pinned !== embedded) return `${MANIFEST_FILE}: signed by key ${embedded}, not by the pinned key ${pinned}: the pack was re-signed by someone else`;
  }
  if (opts.kms) {
    if (signer.type !== 'kms' || !signer.keyId) return `${MANIFEST_FILE}: signed by a ${signer.type} key file, not by a KMS key: KMS cannot vouch for it`;
    if (opts.kms.keyId && opts.kms.keyId !== signer.keyId) return `${MANIFEST_FILE}: signed by KMS key ${signer.keyId}, not by the pinned ${opts.kms.keyId}`;
    try {
      const pk = await opts.kms.client.getPublicKey(signer.keyId);
      const actual = fingerprintOf(createPublicKey({ key: Buffer.from(pk.publicKeyDer), format: 'der', type: 'spki' }));
      if (actual !== embedded) return `${MANIFEST_FILE}: the embedded key ${embedded} is not the public key of KMS key ${signer.keyId} (${actual}): the pack was re-signed by someone else`;
    } catch (e) {
      if (isSnapdrillError(e) && e.code === 'kms-key-not-found') return `${MANIFEST_FILE}: KMS key ${signer.keyId} does not exist (or is not visible to these credentials)`;
      throw e;
    }
  }
  return undefined;
}

/** fileProblems compares the files under dir with the manifest's list: changed, missing, added, and anything that is not a regular file. */
async function fileProblems(dir: string, listed: ManifestEntry[]): Promise<string[]> {
  const problems: string[] = [];
  const tree = await walk(dir);
  const present = new Set(tree.files);
  const others = new Set(tree.others.map((o) => o.path));
  for (const o of tree.others) problems.push(`${o.path}: is ${o.kind}${listed.some((f) => f.path === o.path) ? ' (the manifest lists a regular file)' : ''}`);
  const inManifest = new Set(listed.map((f) => f.path));
  for (const f of listed) {
    if (others.has(f.path)) continue;
    if (!present.has(f.path)) {
      problems.push(`${f.path}: listed in the manifest but missing`);
      continue;
    }
    const actual = await hashFile(path.join(dir, f.path));
    if (actual.bytes !== f.bytes) problems.push(`${f.path}: ${actual.bytes} bytes, the manifest says ${f.bytes}: changed after signing`);
    else if (actual.sha256 !== f.sha256) problems.push(`${f.path}: SHA-256 ${actual.sha256}, the manifest says ${f.sha256}: changed after signing`);
  }
  for (const p of tree.files) if (!inManifest.has(p)) problems.push(`${p}: not listed in the manifest: added after signing`);
  return problems;
}

/**
 * verifyEvidencePack checks a pack: manifest.json against its schema, manifest.sig against the manifest's exact bytes
 * with the embedded key, that key against the pinned one (publicKeyPem, or KMS's own public key for the manifest's key
 * id), and every file under dir against the manifest (size and SHA-256; none missing, none added, no symlinks). Each
 * problem names the file it is about. Without a pin, `pinnedBy` is undefined: see the module comment.
 */
export async function verifyEvidencePack(dir: string, opts: VerifyOptions = {}): Promise<EvidenceVerification> {
  const problems: string[] = [];
  const read = await readManifest(dir, problems);
  if (!read) return { ok: false, problems, files: 0, signer: undefined, pinnedBy: undefined };
  const { manifest, bytes, signature } = read;
  const bad = signatureProblem(manifest.signer, bytes, signature);
  // Either file may be the one changed: the problem names both, and the file comparisons below rest on an untrusted list.
  if (bad) problems.push(`${MANIFEST_FILE}, ${SIGNATURE_FILE}: ${bad}: one of them was changed after signing, so the manifest cannot be trusted`);
  const pin = await pinProblem(manifest.signer, opts);
  if (pin) problems.push(pin);
  problems.push(...(await fileProblems(dir, manifest.files)));
  const pinnedBy = opts.kms ? 'kms' : opts.publicKeyPem !== undefined ? 'public-key' : undefined;
  return { ok: problems.length === 0, problems, files: manifest.files.length, signer: manifest.signer, pinnedBy };
}
