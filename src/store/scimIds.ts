import { createHmac, randomBytes } from 'node:crypto';
import { serviceValue } from './serviceInfo';

/**
 * The SCIM id a new user is given: derived from its connection and userName, so that a lookup by userName can read the
 * user's record in the same `_id` read as its key, before the key says who holds it (src/store/scimUsers.ts).
 *
 * A keyed hash (HMAC-SHA-256 under a random salt this deployment keeps in `service_info`), shaped as a UUID (version
 * 8, RFC 9562 §5.8): who sees ids (an identity provider, a log line) cannot tell from one which email it belongs to.
 * Only a hint: a user keeps its id when renamed, a deleted user's id is never reused (the create then takes a random
 * one), users created before this existed have random ids, and a lookup checks the key's `ref` in every case. So a
 * different salt (another store, a lost document) only costs lookups their fast path, never a wrong answer.
 */
const SALT_DOC = 'scim_id_salt';

let salt: Buffer | null = null;

/** Reads (creating it on first use) the deployment's salt; part of connecting to the store. */
export async function loadScimIdSalt(): Promise<void> {
  const value = (await serviceValue(SALT_DOC, () => ({ salt: randomBytes(32).toString('base64') })))?.salt;
  salt = typeof value === 'string' && value.length > 0 ? Buffer.from(value, 'base64') : null;
}

/** Forgets the salt (the store was disconnected). */
export function resetScimIdSalt(): void {
  salt = null;
}

/** The id a user of this connection with this userName is created with, or undefined before the salt is read. */
export function predictedScimUserId(connectionId: string, userName: string): string | undefined {
  if (!salt) return undefined;
  const b = createHmac('sha256', salt).update(`${connectionId}\n${userName.toLowerCase()}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8: custom
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
