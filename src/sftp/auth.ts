import { timingSafeEqual } from 'node:crypto';
import { utils, type ParsedKey } from 'ssh2';

/**
 * Public keys of an account: OpenSSH `authorized_keys` lines (options before the key type, such as `from="..."`, are
 * accepted and ignored; a comment after it is kept out of the comparison). Unparsable lines are skipped.
 */
export function parseAuthorizedKeys(lines: readonly string[]): ParsedKey[] {
  const keys: ParsedKey[] = [];
  for (const raw of lines.flatMap((l) => l.split(/\r?\n/))) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const tokens = line.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
    const at = tokens.findIndex((t) => /^(ssh-|ecdsa-|sk-)/.test(t));
    if (at < 0 || !tokens[at + 1]) continue;
    const parsed = utils.parseKey(`${tokens[at]} ${tokens[at + 1]}`);
    if (parsed instanceof Error) continue;
    const k: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
    if (k) keys.push(k);
  }
  return keys;
}

/** True when `line` is a public key this server can verify (the API and CLI refuse others). */
export function isAcceptedPublicKey(line: string): boolean {
  return parseAuthorizedKeys([line]).length === 1;
}

/** The account's key a client offers (type and blob equal), if any. */
export function matchingKey(keys: readonly ParsedKey[], algo: string, data: Buffer): ParsedKey | null {
  for (const k of keys) {
    const blob = k.getPublicSSH();
    if (k.type === algo && blob.length === data.length && timingSafeEqual(blob, data)) return k;
  }
  return null;
}
