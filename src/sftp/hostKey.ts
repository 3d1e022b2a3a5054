import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { utils, type ParsedKey } from 'ssh2';

export interface HostKey {
  /** The private key as read from SFTP_HOST_KEY (OpenSSH format). */
  key: Buffer;
  /** `SHA256:...`, as `ssh-keygen -lf` and OpenSSH clients show it. */
  fingerprint: string;
  algorithm: string;
}

/** The SHA256 fingerprint of an SSH public key blob (base64 without padding, as OpenSSH prints it). */
export function sshFingerprint(publicBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * A new ed25519 key pair in OpenSSH format. ssh2's `generateKeyPairSync` drops a public key's leading zero byte, so
 * about one key in 256 comes out malformed (a 31-byte public key that neither ssh2 nor OpenSSH will load): a key is
 * kept only once ssh2 parses it back, and generated again otherwise.
 */
export function generateEd25519KeyPair(comment: string): { private: string; public: string } {
  for (let attempt = 1; ; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
    if (attempt >= 20) throw new Error('could not generate a well-formed ed25519 key');
  }
}

/**
 * Loads the host key kept at `path`, creating an ed25519 key there on first start (OpenSSH format, mode 600, with its
 * `.pub` beside it). Generated in-process: production images need not ship ssh-keygen.
 */
export function loadOrCreateHostKey(path: string): HostKey {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const pair = generateEd25519KeyPair('audience-sync sftp host key');
    writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  }
  const key = readFileSync(path);
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`SFTP_HOST_KEY ${path} is not a usable private key: ${parsed.message}`);
  const k: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (!k) throw new Error(`SFTP_HOST_KEY ${path} holds no key`);
  return { key, fingerprint: sshFingerprint(k.getPublicSSH()), algorithm: k.type };
}
