import type { Model } from 'mongoose';
import { storeCapabilities } from './db';

const FERRET_CONCURRENCY = 8;

/**
 * Reads documents by `_id`. MongoDB serves `$in` from the primary index in one round trip; FerretDB v1 scans the
 * collection for `$in`, but serves a single `_id` equality from its index, so there we issue bounded parallel lookups.
 */
export async function findByIds<T>(model: Model<T>, ids: string[]): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const unique = [...new Set(ids)];
  if (unique.length === 0) return out;
  if (!storeCapabilities().ferretdb) {
    const docs = (await model.find({ _id: { $in: unique } }).lean().exec()) as unknown as (T & { _id: string })[];
    for (const d of docs) out.set(d._id, d);
    return out;
  }
  let next = 0;
  const worker = async () => {
    while (next < unique.length) {
      const id = unique[next++]!;
      const doc = (await model.findOne({ _id: id }).lean().exec()) as unknown as T | null;
      if (doc) out.set(id, doc);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FERRET_CONCURRENCY, unique.length) }, worker));
  return out;
}

/** Deletes documents by `_id` (one `$in` on MongoDB; `_id` equalities on FerretDB, which otherwise scans). */
export async function deleteByIds<T>(model: Model<T>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  if (!storeCapabilities().ferretdb) {
    await model.deleteMany({ _id: { $in: ids } } as never).exec();
    return;
  }
  for (const id of ids) await model.deleteOne({ _id: id } as never).exec();
}
