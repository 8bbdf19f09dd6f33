import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { InfraError, SnapdrillError } from '../../errors.js';
import type { KmsApi } from '../../evidence/sign.js';

/** KmsOptions say where KMS is reached from: a profile, the region of keys given by id or alias, an endpoint (tests, VPC endpoints). */
export interface KmsOptions {
  profile?: string;
  region?: string;
  endpoint?: string;
}

/** regionOfKey is the region in a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), undefined for a bare id or alias name. */
function regionOfKey(keyId: string): string | undefined {
  return /^arn:[^:]+:kms:([^:]+):/.exec(keyId)?.[1];
}

/** kmsError turns SDK failures into typed errors: a missing key is `kms-key-not-found` (a finding for a verifier), the rest infrastructure. */
function kmsError(e: unknown, keyId: string): Error {
  const err = e as { name?: string; message?: string };
  const name = err.name ?? '';
  const message = err.message ?? String(e);
  if (name === 'NotFoundException') return new SnapdrillError('kms-key-not-found', `KMS key ${keyId} not found: ${message}`, { source: 'user', remedy: 'check the key ARN and the region', cause: e });
  if (name === 'AccessDeniedException') return new InfraError('aws-permission', `not allowed to use KMS key ${keyId}: ${message}`, { remedy: 'grant kms:GetPublicKey (verify) and kms:Sign (sign packs) on the key, in its key policy and in IAM', cause: e });
  if (name === 'DisabledException' || name === 'KMSInvalidStateException') return new SnapdrillError('kms-key-unusable', `KMS key ${keyId} cannot be used: ${message}`, { source: 'user', remedy: 'enable the key, or cancel its deletion', cause: e });
  if (name === 'CredentialsProviderError' || name === 'ExpiredTokenException' || name === 'UnrecognizedClientException') {
    return new InfraError('aws-credentials', `no valid AWS credentials: ${message}`, { remedy: 'configure credentials the standard way (AWS_PROFILE, aws sso login, environment, or an instance role)', cause: e });
  }
  return new InfraError('aws-kms', `${name || 'KMS error'}: ${message}`, { transient: name === 'ThrottlingException' || name === 'KMSInternalException', cause: e });
}

/**
 * createKmsApi builds the KMS calls evidence packs use, with one client per region: the region of a key ARN, else
 * opts.region, else the SDK's default (AWS_REGION, the profile). Standard retries: a pack makes one or two calls.
 */
export function createKmsApi(opts: KmsOptions = {}): KmsApi {
  const clients = new Map<string, KMSClient>();
  return sdkKmsApi((region) => {
    const key = region ?? '';
    let c = clients.get(key);
    if (!c) {
      c = new KMSClient({ ...(opts.profile ? { profile: opts.profile } : {}), ...(region ? { region } : {}), ...(opts.endpoint ? { endpoint: opts.endpoint } : {}) });
      clients.set(key, c);
    }
    return c;
  }, opts.region);
}

/** sdkKmsApi implements KmsApi with SDK clients: one client, or one per region of the keys it is asked about. */
export function sdkKmsApi(clients: KMSClient | ((region: string | undefined) => KMSClient), defaultRegion?: string): KmsApi {
  const clientFor = (keyId: string) => (typeof clients === 'function' ? clients(regionOfKey(keyId) ?? defaultRegion) : clients);
  return {
    async getPublicKey(keyId) {
      try {
        const out = await clientFor(keyId).send(new GetPublicKeyCommand({ KeyId: keyId }));
        // KeySpec is the current field; CustomerMasterKeySpec the deprecated one (all moto 5.2 returns).
        return { keyId: out.KeyId ?? keyId, keySpec: out.KeySpec ?? out.CustomerMasterKeySpec ?? '', keyUsage: out.KeyUsage ?? '', publicKeyDer: out.PublicKey ?? new Uint8Array() };
      } catch (e) {
        throw kmsError(e, keyId);
      }
    },
    async sign({ keyId, message, messageType, algorithm }) {
      try {
        const out = await clientFor(keyId).send(new SignCommand({ KeyId: keyId, Message: message, MessageType: messageType, SigningAlgorithm: algorithm }));
        if (!out.Signature) throw new InfraError('aws-kms', `KMS Sign with ${keyId} returned no signature`);
        return out.Signature;
      } catch (e) {
        throw e instanceof SnapdrillError ? e : kmsError(e, keyId);
      }
    },
  };
}
