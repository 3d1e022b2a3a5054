import type { Collection, Document } from 'mongodb';
import type { Model } from 'mongoose';
import { rawCollection } from './collections';
import { storeCapabilities } from './db';
import { GroupCommit, GroupCommits } from './groupCommit';

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
    // The driver's collection, not a mongoose query: these reads are on every request's path, and mongoose's query
    // building and casting cost more than the read's own encoding (the filter is a plain `_id $in` of strings).
    const col = rawCollection(model as unknown as Model<{ _id: string }>);
    for (const [id, d] of await findIdsIn(col, unique, projection)) out.set(id, d as T);
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

/**
 * Documents of a collection by `_id` (`$in`, served from the primary index where `idInFromIndex`), keyed by it. Each
 * chunk comes in its first reply, with the cursor closed by it (a batch one larger than can match: a batch of exactly
 * the matches leaves the cursor open for a getMore that finds nothing; the default of 101 documents costs further
 * getMore round trips, on FerretDB v1 4 more for 1,000 ids).
 */
export async function findIdsIn(
  col: Collection<{ _id: string }>,
  ids: string[],
  projection?: Record<string, 0 | 1>,
): Promise<Map<string, Document>> {
  const out = new Map<string, Document>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += IN_CHUNK) {
    const chunk = unique.slice(i, i + IN_CHUNK);
    for (const d of await col.find({ _id: { $in: chunk } }, { projection, batchSize: chunk.length + 1 }).toArray()) {
      out.set(d._id, d);
    }
  }
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

/**
 * Reads by `_id` of one collection as a group commit (src/store/groupCommit.ts): identity providers push users ten or
 * more requests at a time, each reading its connection, its record and its recipient, and the reads that meet go out
 * as one `_id $in`. Each read is sent after all of its callers asked, so a token rotated or a connection deleted before
 * a request is never accepted by it. A caller gets its own copy of a document another caller in the same read also
 * asked for.
 */
function coalescedReads<T>(model: Model<T>): GroupCommit<string, T | null> {
  return new GroupCommit(async (ids) => {
    const found = await findByIds(model, ids);
    const given = new Set<string>();
    return ids.map((id) => {
      const doc = found.get(id) ?? null;
      if (doc === null || !given.has(id)) {
        given.add(id);
        return doc;
      }
      return structuredClone(doc);
    });
  });
}

const coalescers = new GroupCommits<string, unknown>();

/**
 * One document by `_id`, read together with the concurrent reads of the same collection (see coalescedReads). Stores
 * that scan for `$in` (stock FerretDB v1) read it alone. Documents with binary fields are not read this way (a copy
 * would lose their type).
 */
export function findByIdCoalesced<T>(model: Model<T>, id: string): Promise<T | null> {
  return findByIdsCoalesced(model, [id])[0]!;
}

/** Documents by `_id`, in one read (together with concurrent reads of the collection): one answer per id, in order. */
export function findByIdsCoalesced<T>(model: Model<T>, ids: string[]): Promise<T | null>[] {
  if (!storeCapabilities().idInFromIndex) return ids.map((id) => model.findOne({ _id: id }).lean<T>().exec());
  const reads = coalescers.of(model.collection.collectionName, () => coalescedReads(model) as GroupCommit<string, unknown>);
  return (reads as GroupCommit<string, T | null>).submitAll(ids);
}
