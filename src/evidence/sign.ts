/**
 * Signers of evidence packs: an Ed25519 key in a file (Node crypto) or an asymmetric AWS KMS key. Both sign the exact
 * bytes of manifest.json, and either signature is checked offline with Node crypto from the public key the manifest
 * carries; see manifest.ts for why that key has to be pinned by whoever verifies.
 */
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { errorMessage, InfraError, SnapdrillError } from '../errors.js';

/** SignatureAlgorithm is how a pack was signed: pure Ed25519, or the KMS signing algorithm used. */
export type SignatureAlgorithm = 'ED25519' | KmsSigningAlgorithm;

/** KmsSigningAlgorithm is a KMS SigningAlgorithm evidence packs use (they are verified offline by Node crypto). */
export type KmsSigningAlgorithm = 'ECDSA_SHA_256' | 'ECDSA_SHA_384' | 'ECDSA_SHA_512' | 'RSASSA_PSS_SHA_256';

/** SignerInfo is the signer as manifest.json records it. */
export interface SignerInfo {
  type: 'ed25519' | 'kms';
  /** The KMS key ARN (kms only). */
  keyId?: string;
  /** `sha256:` and the hex SHA-256 of the public key's SPKI DER: what `evidence keygen` prints and what to pin. */
  fingerprint: string;
  algorithm: SignatureAlgorithm;
  /** The public key, SPKI PEM. */
  publicKey: string;
}

/** Signer signs the bytes of a manifest and says who it is before that (the manifest embeds its SignerInfo). */
export interface Signer {
  info(): Promise<SignerInfo>;
  sign(data: Buffer): Promise<Buffer>;
}

/** fingerprintOf is the fingerprint of a public key: `sha256:` and the hex SHA-256 of its SPKI DER. */
export function fingerprintOf(key: KeyObject): string {
  return `sha256:${createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/** spkiPem renders a public key as SPKI PEM, the form manifests and .pub files hold. */
function spkiPem(key: KeyObject): string {
  return String(key.export({ type: 'spki', format: 'pem' }));
}

/** ALGORITHMS maps each algorithm to the key it needs and how Node crypto verifies it. */
const ALGORITHMS: Record<SignatureAlgorithm, { keyType: string; curve?: string; hash: string | null }> = {
  ED25519: { keyType: 'ed25519', hash: null },
  ECDSA_SHA_256: { keyType: 'ec', curve: 'prime256v1', hash: 'sha256' },
  ECDSA_SHA_384: { keyType: 'ec', curve: 'secp384r1', hash: 'sha384' },
  ECDSA_SHA_512: { keyType: 'ec', curve: 'secp521r1', hash: 'sha512' },
  RSASSA_PSS_SHA_256: { keyType: 'rsa', hash: 'sha256' },
};

/**
 * signatureProblem checks a signature over data with the public key and algorithm a SignerInfo names; it returns the
 * reason when it does not verify (a key of the wrong type for the algorithm, a fingerprint that is not the key's, a
 * bad signature), undefined when it does. RSA-PSS accepts any salt length: KMS uses the digest length, moto the maximum.
 */
export function signatureProblem(info: Pick<SignerInfo, 'algorithm' | 'publicKey' | 'fingerprint'>, data: Buffer, signature: Buffer): string | undefined {
  const algo = ALGORITHMS[info.algorithm];
  let key: KeyObject;
  try {
    key = createPublicKey(info.publicKey);
  } catch (e) {
    return `the embedded public key cannot be read: ${errorMessage(e)}`;
  }
  if (fingerprintOf(key) !== info.fingerprint) return `the embedded fingerprint ${info.fingerprint} is not that of the embedded public key (${fingerprintOf(key)})`;
  if (key.asymmetricKeyType !== algo.keyType || (algo.curve && key.asymmetricKeyDetails?.namedCurve !== algo.curve)) {
    return `the embedded public key (${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}) cannot make ${info.algorithm} signatures`;
  }
  const options = algo.keyType === 'rsa' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO } : { key, dsaEncoding: 'der' as const };
  let ok = false;
  try {
    ok = cryptoVerify(algo.hash, data, options, signature);
  } catch {
    // A malformed signature (wrong length, bad DER) is just a signature that does not verify.
  }
  return ok ? undefined : `the signature does not verify with the ${info.algorithm} key ${info.fingerprint}`;
}

/** KEY_MODE_MASK are the permission bits that must be clear on a private key file: any access by group or others. */
const KEY_MODE_MASK = 0o077;

/**
 * ed25519FileSigner signs with an unencrypted PKCS#8 PEM Ed25519 private key. Like ssh, it refuses a key file that
 * group or others may read or write: a key others can read proves nothing about who signed.
 */
export function ed25519FileSigner(pemPath: string): Signer {
  let st;
  try {
    st = statSync(pemPath);
  } catch (e) {
    throw new SnapdrillError('evidence-key-invalid', `private key ${pemPath} cannot be read: ${errorMessage(e)}`, { source: 'user', remedy: 'give the path of the key "snapdrill evidence keygen" wrote (PREFIX.key)' });
  }
  if ((st.mode & KEY_MODE_MASK) !== 0) {
    throw new SnapdrillError('evidence-key-permissions', `private key ${pemPath} is accessible by group or others (mode 0${(st.mode & 0o777).toString(8)}): a signing key others can read proves nothing`, {
      source: 'user',
      remedy: `chmod 600 ${pemPath}`,
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: readFileSync(pemPath), format: 'pem' });
  } catch (e) {
    throw new SnapdrillError('evidence-key-invalid', `private key ${pemPath} cannot be read: ${errorMessage(e)}`, { source: 'user', remedy: 'give an unencrypted PKCS#8 PEM Ed25519 key, as "snapdrill evidence keygen" writes' });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SnapdrillError('evidence-key-invalid', `private key ${pemPath} is ${key.asymmetricKeyType ?? 'not asymmetric'}, not Ed25519`, { source: 'user', remedy: 'create one with "snapdrill evidence keygen --out PREFIX"' });
  }
  const pub = createPublicKey(key);
  const info: SignerInfo = { type: 'ed25519', fingerprint: fingerprintOf(pub), algorithm: 'ED25519', publicKey: spkiPem(pub) };
  return {
    info: async () => info,
    sign: async (data) => cryptoSign(null, data, key),
  };
}

/** generateEd25519Key writes a new Ed25519 key pair: the private key PKCS#8 PEM (mode 0600, never over an existing file), the public key SPKI PEM; returns the fingerprint. */
export function generateEd25519Key(privatePath: string, publicPath: string): { fingerprint: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const existing = [privatePath, publicPath].find((p) => existsSync(p));
  if (existing) throw new SnapdrillError('evidence-keygen', `cannot write the key pair: ${existing} exists`, { source: 'user', remedy: 'choose another --out prefix: keygen never overwrites a key' });
  try {
    writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(publicPath, spkiPem(publicKey), { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapdrillError('evidence-keygen', `cannot write the key pair: ${errorMessage(e)}`, { source: 'user', remedy: code === 'EEXIST' ? 'choose another --out prefix: keygen never overwrites a key' : 'check the directory exists and is writable', cause: e });
  }
  return { fingerprint: fingerprintOf(publicKey) };
}

/** KmsPublicKey is what KMS GetPublicKey says about a key. */
export interface KmsPublicKey {
  /** The key ARN when KMS gave one, else the id asked for. */
  keyId: string;
  keySpec: string;
  keyUsage: string;
  publicKeyDer: Uint8Array;
}

/**
 * KmsApi lists the only KMS calls evidence packs make (providers/aws/kms.ts implements it with the SDK). A key that does
 * not exist is a SnapdrillError with code `kms-key-not-found`; other failures are InfraErrors.
 */
export interface KmsApi {
  getPublicKey(keyId: string): Promise<KmsPublicKey>;
  sign(input: { keyId: string; message: Uint8Array; messageType: 'RAW' | 'DIGEST'; algorithm: KmsSigningAlgorithm }): Promise<Uint8Array>;
}

/**
 * KMS_ALGORITHMS picks the signing algorithm from a KMS key spec. KMS Ed25519 keys (ECC_NIST_EDWARDS25519) are left out:
 * ED25519_SHA_512 signs at most 4096 raw bytes (a manifest of a few dozen files is larger) and ED25519_PH_SHA_512 (pre-hashed) cannot be
 * verified offline by Node crypto; moto 5.2 does not know the key spec either.
 */
const KMS_ALGORITHMS: Record<string, KmsSigningAlgorithm> = {
  ECC_NIST_P256: 'ECDSA_SHA_256',
  ECC_NIST_P384: 'ECDSA_SHA_384',
  ECC_NIST_P521: 'ECDSA_SHA_512',
  RSA_2048: 'RSASSA_PSS_SHA_256',
  RSA_3072: 'RSASSA_PSS_SHA_256',
  RSA_4096: 'RSASSA_PSS_SHA_256',
};

/** KMS_RAW_LIMIT is the largest message KMS Sign takes raw; above it the signer sends the digest (same signature). */
const KMS_RAW_LIMIT = 4096;

/** kmsSignerInfo reads a KMS key's public key and checks it can sign evidence packs. */
async function kmsSignerInfo(keyId: string, kms: KmsApi): Promise<SignerInfo & { keyId: string; algorithm: KmsSigningAlgorithm }> {
  const pk = await kms.getPublicKey(keyId);
  const algorithm = KMS_ALGORITHMS[pk.keySpec];
  if (pk.keyUsage !== 'SIGN_VERIFY' || !algorithm) {
    throw new SnapdrillError('evidence-kms-key-unsupported', `KMS key ${keyId} (${pk.keySpec}, ${pk.keyUsage}) cannot sign evidence packs`, {
      source: 'user',
      remedy: `use an asymmetric key with KeyUsage SIGN_VERIFY and a key spec of ${Object.keys(KMS_ALGORITHMS).join(', ')}`,
    });
  }
  const pub = createPublicKey({ key: Buffer.from(pk.publicKeyDer), format: 'der', type: 'spki' });
  return { type: 'kms', keyId: pk.keyId.startsWith('arn:') ? pk.keyId : keyId, fingerprint: fingerprintOf(pub), algorithm, publicKey: spkiPem(pub) };
}

/**
 * kmsSigner signs with an asymmetric KMS key: the algorithm follows the key spec (ECC_NIST_P256 → ECDSA_SHA_256, RSA_* →
 * RSASSA_PSS_SHA_256), messages up to 4096 bytes go RAW, larger ones as their digest (KMS's limit; the signature is the
 * same). Every signature is checked against the key's public key before it is returned, so a pack is never written with
 * one that would not verify.
 */
export function kmsSigner(keyId: string, kms: KmsApi): Signer {
  let info: ReturnType<typeof kmsSignerInfo> | undefined;
  const describe = () => (info ??= kmsSignerInfo(keyId, kms));
  return {
    info: describe,
    async sign(data) {
      const i = await describe();
      const hash = ALGORITHMS[i.algorithm].hash!;
      const raw = data.length <= KMS_RAW_LIMIT;
      const message = raw ? data : createHash(hash).update(data).digest();
      const signature = Buffer.from(await kms.sign({ keyId: i.keyId, message, messageType: raw ? 'RAW' : 'DIGEST', algorithm: i.algorithm }));
      const problem = signatureProblem(i, data, signature);
      if (problem) throw new InfraError('evidence-kms-bad-signature', `KMS key ${i.keyId} returned a signature that does not verify: ${problem}`, { remedy: 'check the key is the one GetPublicKey describes; an emulator may not implement MessageType DIGEST (manifests over 4096 bytes)' });
      return signature;
    },
  };
}
