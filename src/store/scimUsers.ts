import {
  claimLookupKey,
  insertLookupKey,
  readKeyWithRecord,
  readLookupKey,
  releaseLookupKey,
  takeOverLookupKey,
  type LookupKeyDoc,
} from './lookupKeys';
import { newUuid, sourceRecordId } from './ids';
import type { MongoQuery } from '../filter';
import type { ConnectionRef } from './merge';
import { indexedLookupFields, liveOfConnection, SourceRecord, type SourceRecordDoc } from './models';
import { findSourceRecord } from './sourceRecords';

/**
 * Storage of SCIM users: a SCIM user is a source record of a `scim` connection (its key is the SCIM id, its `raw` the
 * resource as received), and its userName is claimed as a lookup key (src/store/lookupKeys.ts) so that uniqueness holds
 * without transactions and the lookups identity providers make before every create are `_id` reads. externalId is
 * the client's own identifier and unique nowhere (RFC 7643 §3.1): it has no key. The protocol (what a resource means,
 * which errors to answer) is src/scim/users.ts. A new user's SCIM id is derived from its userName (src/store/scimIds.ts),
 * so that a lookup reads the key and the record it names in one `_id $in` (findScimUserByKey).
 *
 * A key is released eagerly only when the write it was claimed for fails. A DELETE or a rename leaves its old key in
 * place, pointing at a record that no longer asserts it: the next claim of that value takes it over (claimScimKey),
 * and lookups through a key check that the record still has the userName.
 */

/** A claimed key whose user never got written (a crash between the two) is taken over after this long. */
export const SCIM_KEY_STALE_MS = 30_000;

export function userNameKey(connectionId: string, userName: string): string {
  return `${connectionId}:userName:${userName.toLowerCase()}`;
}

/** A live (not deleted) user of this SCIM connection, or null. */
export async function findScimUser(conn: ConnectionRef, id: string): Promise<SourceRecordDoc | null> {
  return liveScimUser(conn, await findSourceRecord(conn._id, id));
}

/** A source record read by `_id` as the connection's live SCIM user, or null (what findScimUser checks). */
export function liveScimUser(conn: ConnectionRef, rec: SourceRecordDoc | null): SourceRecordDoc | null {
  if (!rec || rec.deleted || rec.orgId !== conn.orgId || rec.connectionType !== 'scim') return null;
  return rec;
}

/** The stored user (live, inactive or a tombstone) a lookup key points at, or null. */
export async function scimUserHoldingKey(connectionId: string, keyId: string): Promise<SourceRecordDoc | null> {
  const ref = (await readLookupKey(keyId))?.ref;
  return ref ? findSourceRecord(connectionId, ref) : null;
}

/**
 * userName key → the id of the user this process last saw asserting that userName, bounded. Only a hint, checked on
 * every use: a live record that still asserts the userName is the one user holding it (a write asserting a userName
 * must claim its key first, and a claim is refused while a live record asserts it), so a lookup that finds its hint
 * confirmed needs no key read. A hint that no longer holds (renamed, deleted, here or in another process) is dropped and
 * the key read as usual.
 */
const seenHolders = new Map<string, string>();
const SEEN_HOLDERS_MAX = 50_000;

/** Notes that the user `ref` asserts the userName of `keyId` (after a write or a read of it). */
export function rememberScimUserName(keyId: string, ref: string): void {
  seenHolders.delete(keyId);
  seenHolders.set(keyId, ref);
  if (seenHolders.size > SEEN_HOLDERS_MAX) {
    const oldest = seenHolders.keys().next();
    if (!oldest.done) seenHolders.delete(oldest.value);
  }
}

/**
 * The live user holding the userName key `keyId`, or null: the user last seen holding it when `asserts` confirms it
 * still has that userName (one `_id` read); else the key together with the record of `likelyRef` (the id a user with
 * that userName is created with, src/store/scimIds.ts), one `_id $in`, which answers when the key names that record;
 * else the record the key names (a second read: a user renamed to that userName, or created before ids were derived).
 */
export async function findScimUserByKey(
  connectionId: string,
  keyId: string,
  asserts: (rec: SourceRecordDoc) => boolean,
  likelyRef?: string,
): Promise<SourceRecordDoc | null> {
  const seen = seenHolders.get(keyId);
  if (seen !== undefined) {
    const rec = await findSourceRecord(connectionId, seen);
    if (rec && !rec.deleted && asserts(rec)) return rec;
    seenHolders.delete(keyId);
  }
  let rec: SourceRecordDoc | null;
  if (likelyRef !== undefined && likelyRef !== seen) {
    const read = await readKeyWithRecord(keyId, sourceRecordId(connectionId, likelyRef));
    if (!read.key) return null;
    rec = read.key.ref === likelyRef ? read.record : await findSourceRecord(connectionId, read.key.ref);
  } else {
    rec = await scimUserHoldingKey(connectionId, keyId);
  }
  if (!rec || rec.deleted || !asserts(rec)) return null;
  rememberScimUserName(keyId, rec.key);
  return rec;
}

/** A claim: made (the key is `target`'s now), or refused with the stored user still holding it (null: a create in flight). */
export type KeyClaim = { ok: true } | { ok: false; holder: SourceRecordDoc | null };

/**
 * Claims a lookup key for `target`. Refused with the stored user that still `holds` the key's value; a holder that no
 * longer does (changed it, deleted, never written) is taken over. A key claimed moments ago by a create still in
 * flight stays with that create (refused, holder null). Part of the store's recovery: a key left by a crash between
 * claim and write is taken over once SCIM_KEY_STALE_MS old, by the next claim.
 */
export async function claimScimKey(
  conn: ConnectionRef,
  key: string,
  target: string,
  holds: (rec: SourceRecordDoc) => boolean,
  /** The holder an insert of the key just found (claimNewScimUserKey): the first attempt starts from it. */
  found?: LookupKeyDoc,
): Promise<KeyClaim> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const holder = attempt === 0 && found ? found : await claimLookupKey({ _id: key, orgId: conn.orgId, connectionId: conn._id }, target);
    if (!holder) return { ok: true };
    const rec = await findSourceRecord(conn._id, holder.ref);
    if (rec && holds(rec)) return { ok: false, holder: rec };
    if (rec || Date.now() - holder.createdAt.getTime() > SCIM_KEY_STALE_MS) {
      if (await takeOverLookupKey(key, holder.ref, target)) return { ok: true };
      continue;
    }
    break;
  }
  return { ok: false, holder: null };
}

/**
 * Claims the userName key of a new user, and the user's id: the id derived from the userName (scimIds.ts) when the key
 * is new, so that lookups read key and record together; otherwise (someone holds the key, or held it: a deleted or
 * renamed user, a create in flight) a random id through claimScimKey, which decides from the holder found. A key that
 * exists is never claimed for the derived id: a concurrent create of the same userName derives the same id, and could
 * not tell that claim from its own. `derived`: undefined before the store's salt is read.
 */
export async function claimNewScimUserKey(
  conn: ConnectionRef,
  key: string,
  derived: string | undefined,
  holds: (rec: SourceRecordDoc) => boolean,
): Promise<{ id: string; claim: KeyClaim }> {
  let found: LookupKeyDoc | undefined;
  if (derived !== undefined) {
    const holder = await insertLookupKey({ _id: key, orgId: conn.orgId, connectionId: conn._id }, derived);
    if (!holder) return { id: derived, claim: { ok: true } };
    found = holder;
  }
  const id = newUuid();
  return { id, claim: await claimScimKey(conn, key, id, holds, found) };
}

/** Releases a key if `ref` holds it. */
export const releaseScimKey = releaseLookupKey;

const indexedLookupPaths = new Set<string>(indexedLookupFields.map((f) => `lookup.${f}`));

/** True when a query names, anywhere in it, a SCIM lookup field with an index of its own. */
function namesIndexedLookup(q: unknown): boolean {
  if (Array.isArray(q)) return q.some(namesIndexedLookup);
  if (!q || typeof q !== 'object') return false;
  return Object.entries(q).some(([k, v]) => indexedLookupPaths.has(k) || namesIndexedLookup(v));
}

/**
 * The live users of a connection matching a query: scoped by the connection's `_id` range, unless the query names an
 * indexed lookup field, whose index narrows it better (ofConnection).
 */
export function scimUserQuery(conn: ConnectionRef, query: MongoQuery | undefined): MongoQuery {
  // (No `orgId`: the connection names it, and a planner may take the organization's email index, all its records.)
  const scope = query && namesIndexedLookup(query) ? { connectionId: conn._id, deleted: false } : liveOfConnection(conn._id);
  return query ? { ...scope, $and: [query] } : scope;
}

/** A page of a SCIM connection's live users matching a query (from the filter translator), with the total. */
export async function searchScimUsers(
  conn: ConnectionRef,
  query: MongoQuery | undefined,
  page: { sort: Record<string, 1 | -1>; skip: number; limit: number },
): Promise<{ total: number; docs: SourceRecordDoc[] }> {
  const q = scimUserQuery(conn, query);
  const [total, docs] = await Promise.all([
    SourceRecord.countDocuments(q).exec(),
    page.limit === 0
      ? Promise.resolve([])
      : SourceRecord.find(q).sort(page.sort).skip(page.skip).limit(page.limit).lean<SourceRecordDoc[]>().exec(),
  ]);
  return { total, docs };
}

/** Every live user of a SCIM connection (for filters evaluated in memory, where the store cannot serve them). */
export async function allScimUsers(conn: ConnectionRef): Promise<SourceRecordDoc[]> {
  return SourceRecord.find(scimUserQuery(conn, undefined)).lean<SourceRecordDoc[]>().exec();
}
