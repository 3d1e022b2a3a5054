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

interface Waiter<T> {
  resolve: (doc: T | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for reads by `_id`, per collection: a read goes out at once when none of its collection is in flight;
 * readers arriving meanwhile wait for it to return and then go out together, as one `_id $in` read. Identity providers
 * push users ten or more requests at a time, each reading its connection, its record and its recipient: under such
 * load this turns those reads into about one command per collection per round trip, and alone it costs nothing.
 *
 * Every read starts after all of its callers asked, so none is answered with a state older than its request (a token
 * rotated or a connection deleted before a request is never accepted by it). A caller gets its own copy of a document
 * another caller in the same read also asked for.
 */
class CoalescedReads<T> {
  private waiting = new Map<string, Waiter<T>[]>();
  private busy = false;

  constructor(private readonly model: Model<T>) {}

  get(id: string): Promise<T | null> {
    return new Promise<T | null>((resolve, reject) => {
      const list = this.waiting.get(id);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(id, [{ resolve, reject }]);
      if (!this.busy) this.flush();
    });
  }

  private flush(): void {
    if (this.waiting.size === 0) {
      this.busy = false;
      return;
    }
    this.busy = true;
    const batch = this.waiting;
    this.waiting = new Map();
    findByIds(this.model, [...batch.keys()]).then(
      (found) => {
        for (const [id, list] of batch) {
          const doc = found.get(id) ?? null;
          list.forEach((w, i) => w.resolve(i === 0 || doc === null ? doc : structuredClone(doc)));
        }
        this.flush();
      },
      (err: unknown) => {
        for (const list of batch.values()) for (const w of list) w.reject(err);
        this.flush();
      },
    );
  }
}

const coalescers = new Map<string, CoalescedReads<unknown>>();

/**
 * One document by `_id`, read together with the concurrent reads of the same collection (see CoalescedReads). Stores
 * that scan for `$in` (stock FerretDB v1) read it alone. Documents with binary fields are not read this way (a copy
 * would lose their type).
 */
export function findByIdCoalesced<T>(model: Model<T>, id: string): Promise<T | null> {
  if (!storeCapabilities().idInFromIndex) return model.findOne({ _id: id }).lean<T>().exec();
  let c = coalescers.get(model.collection.collectionName) as CoalescedReads<T> | undefined;
  if (!c) {
    c = new CoalescedReads(model);
    coalescers.set(model.collection.collectionName, c as CoalescedReads<unknown>);
  }
  return c.get(id);
}
