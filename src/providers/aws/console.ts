import { fingerprintOfPublicKey } from '../../shells/ssh.js';

/**
 * hostKeyFingerprints reads the SSH host keys an instance printed on its console at first boot (cloud-init
 * writes them between "-----BEGIN SSH HOST KEY FINGERPRINTS-----" and "-----END ...", and the keys themselves
 * between "-----BEGIN SSH HOST KEY KEYS-----" and "-----END ..."). Lines may carry a prefix ("ec2: ").
 * Returns OpenSSH "SHA256:..." fingerprints; empty when the console does not (yet) show them.
 */
export function hostKeyFingerprints(consoleText: string): string[] {
  const out = new Set<string>();
  const lines = consoleText.split(/\r?\n/).map((l) => l.replace(/^.*?(?=-----|\d+ SHA256:|ssh-|ecdsa-)/, ''));
  const block = (name: string) => {
    const start = lines.findIndex((l) => l.startsWith(`-----BEGIN ${name}-----`));
    if (start < 0) return [];
    const end = lines.findIndex((l, i) => i > start && l.startsWith(`-----END ${name}-----`));
    return end < 0 ? [] : lines.slice(start + 1, end);
  };
  for (const l of block('SSH HOST KEY FINGERPRINTS')) {
    const m = /^\d+ (SHA256:[A-Za-z0-9+/]{43})\b/.exec(l.trim());
    if (m) out.add(m[1]!);
  }
  for (const l of block('SSH HOST KEY KEYS')) {
    if (/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( |$)/.test(l.trim())) out.add(fingerprintOfPublicKey(l));
  }
  return [...out];
}
