import { readFileSync, statSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { errorMessage, ExitCode, SnapdrillError } from '../errors.js';
import { verifyEvidencePack, type EvidenceVerification } from '../evidence/manifest.js';
import { generateEd25519Key } from '../evidence/sign.js';
import { createKmsApi } from '../providers/kms.js';
import { jsonForTerminal, terminalSafe } from '../util/sanitize.js';
import type { ArgsOf } from './common.js';

/** EVIDENCE_EXIT_CODES is the exit-code table of `snapdrill evidence`: a pack that fails verification exits 1, like a snapshot that fails the policy. */
const EVIDENCE_EXIT_CODES = `Exit codes:
  0  the pack verifies (verify), or the key pair was written (keygen)
  1  verify found a problem; each is listed, naming its file
  2  usage error: no such directory, an unreadable key, keygen would overwrite a key
  3  KMS could not be asked (credentials, permissions, network)`;

const PINNING = 'The manifest carries the public key that signed it, so without --public-key or --kms verification proves only that the pack agrees with itself: anyone can edit a report, rewrite the manifest and re-sign it with a key of their own. Pin the key.';

function verifyBuilder(y: Argv) {
  return y
    .positional('dir', { type: 'string', demandOption: true, describe: "The pack: a run's report directory holding manifest.json and manifest.sig" })
    .option('public-key', { type: 'string', describe: 'SPKI PEM public key the pack must be signed with (PREFIX.pub of "evidence keygen")' })
    .option('kms', { type: 'boolean', default: false, describe: "Ask KMS for the public key of the manifest's KMS key (kms:GetPublicKey) and require the pack to be signed with it" })
    .option('kms-key-id', { type: 'string', describe: 'With --kms implied: the KMS key ARN the manifest must name' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the outcome as JSON' })
    .epilogue(`${EVIDENCE_EXIT_CODES}\n\n${PINNING}`);
}

/** EvidenceVerifyArgs are the options of `snapdrill evidence verify`. */
export type EvidenceVerifyArgs = ArgsOf<typeof verifyBuilder>;

/** readPinnedKey reads the --public-key file. */
function readPinnedKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new SnapdrillError('evidence-key-invalid', `cannot read the public key ${file}: ${errorMessage(e)}`, { source: 'user' });
  }
}

/** printVerification prints the outcome: each problem on its own line, or what was verified and by which key; a warning when no key was pinned. */
function printVerification(r: EvidenceVerification, json: boolean): void {
  if (!r.pinnedBy) process.stderr.write(`warning: no key pinned (--public-key or --kms). ${PINNING}\n`);
  if (json) {
    process.stdout.write(`${jsonForTerminal({ ok: r.ok, files: r.files, problems: r.problems, signer: r.signer ? { ...r.signer, publicKey: undefined } : null, pinnedBy: r.pinnedBy ?? null }, 2)}\n`);
    return;
  }
  for (const p of r.problems) process.stdout.write(`problem: ${terminalSafe(p)}\n`);
  const who = r.signer ? `${r.signer.type}${r.signer.keyId ? ` ${terminalSafe(r.signer.keyId)}` : ''} key ${r.signer.fingerprint}` : 'an unknown key';
  if (r.ok) process.stdout.write(`ok: ${r.files} files match manifest.json, signed by ${who}${r.pinnedBy ? ` (pinned by ${r.pinnedBy === 'kms' ? 'KMS' : '--public-key'})` : ' (not pinned)'}\n`);
  else process.stdout.write(`FAILED: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in the pack signed by ${who}\n`);
}

/** verifyPack is `snapdrill evidence verify`: exit 0 when the pack verifies, 1 (ExitCode.PolicyFailed) on any problem. */
async function verifyPack(argv: ArgumentsCamelCase<EvidenceVerifyArgs>): Promise<void> {
  if (!statSync(argv.dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new SnapdrillError('evidence-dir', `${argv.dir} is not a directory`, { source: 'user', remedy: "give the run's report directory, <output.dir>/<runId>" });
  }
  const useKms = argv.kms || argv.kmsKeyId !== undefined;
  const r = await verifyEvidencePack(argv.dir, {
    ...(argv.publicKey !== undefined ? { publicKeyPem: readPinnedKey(argv.publicKey) } : {}),
    ...(useKms ? { kms: { client: createKmsApi(), ...(argv.kmsKeyId ? { keyId: argv.kmsKeyId } : {}) } } : {}),
  });
  printVerification(r, argv.json);
  process.exitCode = r.ok ? ExitCode.Ok : ExitCode.PolicyFailed;
}

function keygenBuilder(y: Argv) {
  return y
    .option('out', { type: 'string', demandOption: true, describe: 'Writes PREFIX.key (private, mode 0600) and PREFIX.pub (public, to pin with verify --public-key)' })
    .epilogue(EVIDENCE_EXIT_CODES);
}

/** EvidenceKeygenArgs are the options of `snapdrill evidence keygen`. */
export type EvidenceKeygenArgs = ArgsOf<typeof keygenBuilder>;

/** keygen is `snapdrill evidence keygen`: a new Ed25519 key pair, never over an existing file. */
async function keygen(argv: ArgumentsCamelCase<EvidenceKeygenArgs>): Promise<void> {
  const { fingerprint } = generateEd25519Key(`${argv.out}.key`, `${argv.out}.pub`);
  process.stdout.write(`wrote ${argv.out}.key (private, 0600) and ${argv.out}.pub\nfingerprint ${fingerprint}\n`);
}

/** evidenceCommand is `snapdrill evidence verify|keygen`. */
export const evidenceCommand: CommandModule = {
  command: 'evidence',
  describe: 'Verify a signed evidence pack (run --evidence), or make the Ed25519 key that signs one',
  builder: (y) =>
    y
      .command({ command: 'verify <dir>', describe: 'Check every file of a pack against its signed manifest; list each problem', builder: verifyBuilder, handler: verifyPack })
      .command({ command: 'keygen', describe: 'Write a new Ed25519 key pair for signing packs', builder: keygenBuilder, handler: keygen })
      .demandCommand(1, 'name an evidence command: verify or keygen')
      .epilogue(EVIDENCE_EXIT_CODES),
  handler: () => {},
};
