import type { Collection } from 'mongodb';
import { findByIdCoalesced } from './batchRead';
import { isDuplicateKeyError } from './errors';
import { LookupKey, type LookupKeyDoc } from './models/lookupKey';

function col(): Collection<LookupKeyDoc> {
  return LookupKey.collection as unknown as Collection<LookupKeyDoc>;
}

/**
 * The entity holding a key, or null. Read together with concurrent key reads (SCIM lookups by userName, which identity
 * providers send ten at a time before their creates): one `_id $in` for all of them.
 */
export async function readLookupKey(id: string): Promise<LookupKeyDoc | null> {
  return findByIdCoalesced<LookupKeyDoc>(LookupKey, id);
}

/**
 * Claims a key for `ref`. Returns null when claimed (or already held by `ref`), else the current holder. Atomic: of
 * concurrent claims of one key exactly one succeeds.
 */
export async function claimLookupKey(key: { _id: string; orgId: string; connectionId: string }, ref: string): Promise<LookupKeyDoc | null> {
  try {
    await col().insertOne({ ...key, ref, createdAt: new Date() });
    return null;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  const holder = await col().findOne({ _id: key._id });
  if (!holder) return claimLookupKey(key, ref);
  return holder.ref === ref ? null : holder;
}

/** Hands a key over from `fromRef` to `toRef`, if `fromRef` still holds it (compare-and-set). */
export async function takeOverLookupKey(id: string, fromRef: string, toRef: string): Promise<boolean> {
  const res = await col().updateOne({ _id: id, ref: fromRef }, { $set: { ref: toRef, createdAt: new Date() } });
  return res.matchedCount === 1;
}

/** Releases a key if `ref` holds it. */
export async function releaseLookupKey(id: string, ref: string): Promise<void> {
  await col().deleteOne({ _id: id, ref });
}
