import mongoose from 'mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { findByIdCoalesced, findByIdsCoalesced } from './batchRead';
import { isDuplicateKeyError } from './errors';
import { SourceRecord, type SourceRecordDoc } from './models';

/**
 * Natural keys claimed by one entity (e.g. `${connectionId}:userName:${lower-cased userName}` → a SCIM id). Inserting
 * one is an atomic uniqueness check on every MongoDB-compatible server (a duplicate `_id` fails), and reading one is an
 * `_id` lookup, which even FerretDB v1 serves from its index.
 *
 * Keys are kept in the source-records collection, as the merge journal's slots are (src/store/mergeJournal.ts), so
 * that a lookup reads a key and the record it probably names in ONE `_id $in` (readKeyWithRecord). Their documents hold
 * everything under `uk`, none of the fields source-record queries select on (`orgId`, `connectionId`, `email`, ...),
 * so no query of source records ever returns one. (Until 2026-12 they had a collection of their own, `lookup_keys`:
 * moveLegacyLookupKeys moves them when the store is connected.)
 */
export interface LookupKeyDoc {
  _id: string;
  orgId: string;
  connectionId: string;
  /** The entity that holds the key (e.g. a SCIM id). */
  ref: string;
  createdAt: Date;
}

/** A key as stored among the source records. */
export interface StoredKey {
  _id: string;
  uk: { orgId: string; connectionId: string; ref: string; at: Date };
}

function col(): Collection<StoredKey> {
  return SourceRecord.collection as unknown as Collection<StoredKey>;
}

function fromStored(doc: unknown): LookupKeyDoc | null {
  const d = doc as Partial<StoredKey> | null;
  if (!d?.uk) return null;
  return { _id: d._id!, orgId: d.uk.orgId, connectionId: d.uk.connectionId, ref: d.uk.ref, createdAt: d.uk.at };
}

/** A key's document as stored (benchmarks write keys in bulk with it). */
export function storedLookupKey(key: LookupKeyDoc): StoredKey {
  return { _id: key._id, uk: { orgId: key.orgId, connectionId: key.connectionId, ref: key.ref, at: key.createdAt } };
}

/**
 * The entity holding a key, or null. Read together with concurrent reads of source records (SCIM lookups by userName,
 * which identity providers send ten at a time before their creates): one `_id $in` for all of them.
 */
export async function readLookupKey(id: string): Promise<LookupKeyDoc | null> {
  return fromStored(await findByIdCoalesced(SourceRecord, id));
}

/** A key and a source record (the one the key probably names), in one read. */
export async function readKeyWithRecord(
  keyId: string,
  recordId: string,
): Promise<{ key: LookupKeyDoc | null; record: SourceRecordDoc | null }> {
  const [key, record] = await Promise.all(findByIdsCoalesced<SourceRecordDoc>(SourceRecord, [keyId, recordId]));
  return { key: fromStored(key), record: record && !('uk' in record) ? record : null };
}

/**
 * Claims a key for `ref`. Returns null when claimed (or already held by `ref`), else the current holder. Atomic: of
 * concurrent claims of one key exactly one succeeds.
 */
export async function claimLookupKey(key: { _id: string; orgId: string; connectionId: string }, ref: string): Promise<LookupKeyDoc | null> {
  const holder = await insertLookupKey(key, ref);
  return holder && holder.ref !== ref ? holder : null;
}

/**
 * Inserts a key for `ref`: null when inserted, else the current holder (also when that is `ref` itself: a caller that
 * derives `ref` cannot tell its own claim from another's). Atomic: of concurrent inserts of one key exactly one succeeds.
 */
export async function insertLookupKey(
  key: { _id: string; orgId: string; connectionId: string },
  ref: string,
): Promise<LookupKeyDoc | null> {
  try {
    await col().insertOne(storedLookupKey({ ...key, ref, createdAt: new Date() }));
    return null;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  const stored = await col().findOne({ _id: key._id });
  if (!stored) return insertLookupKey(key, ref);
  const holder = fromStored(stored);
  if (!holder) throw new Error(`lookup key ${key._id} collides with a document that is not a key`);
  return holder;
}

/** Hands a key over from `fromRef` to `toRef`, if `fromRef` still holds it (compare-and-set). */
export async function takeOverLookupKey(id: string, fromRef: string, toRef: string): Promise<boolean> {
  const res = await col().updateOne({ _id: id, 'uk.ref': fromRef }, { $set: { 'uk.ref': toRef, 'uk.at': new Date() } });
  return res.matchedCount === 1;
}

/** Releases a key if `ref` holds it. */
export async function releaseLookupKey(id: string, ref: string): Promise<void> {
  await col().deleteOne({ _id: id, 'uk.ref': ref });
}

/** Deletes the keys of a connection (with the connection: nothing else can hold them). */
export async function deleteConnectionKeys(connectionId: string): Promise<void> {
  // An `_id` range (the keys' ids start with the connection's), which MongoDB serves from the primary index.
  await col().deleteMany({ _id: { $gte: `${connectionId}:`, $lt: `${connectionId};` }, uk: { $exists: true } });
}

const LEGACY_COLLECTION = 'lookup_keys';
const MOVE_BATCH = 1000;

/**
 * Moves the keys of the former `lookup_keys` collection among the source records (a store written before 2026-12), in
 * batches: each batch is inserted (a key already moved is skipped) before it is deleted from the old collection, so an
 * interrupted move resumes at the next connect. Run with no older instance still writing keys to the old collection.
 */
export async function moveLegacyLookupKeys(logger?: { info(obj: object, msg: string): void }): Promise<number> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the store is not connected');
  const legacy = db.collection<LookupKeyDoc>(LEGACY_COLLECTION);
  let moved = 0;
  for (;;) {
    const batch = await legacy.find({}).limit(MOVE_BATCH).toArray();
    if (batch.length === 0) break;
    const ops: AnyBulkWriteOperation<StoredKey>[] = batch.map((k) => ({
      updateOne: { filter: { _id: k._id }, update: { $setOnInsert: { uk: storedLookupKey(k).uk } }, upsert: true },
    }));
    await col().bulkWrite(ops, { ordered: false });
    await legacy.deleteMany({ _id: { $in: batch.map((k) => k._id) } });
    moved += batch.length;
    logger?.info({ moved }, 'lookup keys moved among the source records');
  }
  return moved;
}
