import type { Collection } from 'mongodb';
import type { Model } from 'mongoose';
import { rawCollection } from './collections';
import { storeCapabilities } from './db';

const FERRET_CONCURRENCY = 8;

const IN_CHUNK = 1000; // the patched FerretDB pushes down `$in` of at most 1000 ids

/**
 * Reads documents by `_id`. MongoDB (and our patched FerretDB build) serve `$in` from the primary index in one round
 * trip; stock FerretDB v1 scans the collection for `$in` but serves a single `_id` equality from its index, so there we
 * issue bounded parallel lookups. With `projection`, only those fields are read.
 */
export async function findByIds<T>(model: Model<T>, ids: string[], projection?: Record<string, 0 | 1>): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const unique = [...new Set(ids)];
  if (unique.length === 0) return out;
  if (storeCapabilities().idInFromIndex) {
    for (let i = 0; i < unique.length; i += IN_CHUNK) {
      const chunk = unique.slice(i, i + IN_CHUNK);
      // All of them in the first reply, and the cursor closed with it (one more than can match: a batch of exactly
      // the matches leaves the cursor open for a getMore that finds nothing). The default first batch, 101 documents,
      // costs further getMore round trips (on FerretDB v1, 4 more for 1,000 ids).
      const docs = (await model
        .find({ _id: { $in: chunk } }, projection)
        .batchSize(chunk.length + 1)
        .lean()
        .exec()) as unknown as (T & { _id: string })[];
      for (const d of docs) out.set(d._id, d);
    }
    return out;
  }
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const id = unique[next++]!;
      const doc = (await model.findOne({ _id: id }, projection).lean().exec()) as unknown as T | null;
      if (doc) out.set(id, doc);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FERRET_CONCURRENCY, unique.length) }, worker));
  return out;
}

/** Deletes documents by `_id` (`$in` where the index serves it; `_id` equalities on stock FerretDB, which otherwise scans). */
export async function deleteByIds<T extends { _id: string }>(model: Model<T>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const col = rawCollection(model) as unknown as Collection<{ _id: string }>;
  if (storeCapabilities().idInFromIndex) {
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      await col.deleteMany({ _id: { $in: ids.slice(i, i + IN_CHUNK) } });
    }
    return;
  }
  for (const id of ids) await col.deleteOne({ _id: id });
}
