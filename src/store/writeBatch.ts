import type { AnyBulkWriteOperation, BulkWriteResult, Collection, Document } from 'mongodb';
import { findIdsIn } from './batchRead';
import { storeCapabilities } from './db';
import { duplicateKeyIndexes, isDuplicateKeyError } from './errors';
import { GroupCommit, GroupCommits, WriteLane, type Gate } from './groupCommit';

/**
 * What a batched write learned of one caller's statements: `confirmed` when the store's reply counts every statement
 * of the batch as applied (matched, upserted or deleted); `unknown` otherwise (a version check that did not match, or
 * a duplicate key that stopped the ordered batch), with the documents the batch's statements name as they stood right
 * after it (`stored`, by `_id`; absent: no such document). They are read before this process sends the next batch of
 * the collection: a caller that read back on its own could see a later batch's write on top of its own and take its
 * applied write for a lost one (it would then apply it again). Only a write of another process landing within the
 * read's round trip can still come between.
 */
export type BatchedWriteResult = { outcome: 'confirmed' } | { outcome: 'unknown'; stored: Map<string, Document> };

/**
 * Concurrent requests' small writes to one collection, sent together (a group commit, src/store/groupCommit.ts) as
 * one ordered `bulkWrite`: each caller's statements stay in its order and contiguous, so a statement that must reach
 * the store before another (the journal slot before its source record, src/store/mergeJournal.ts) still does.
 *
 * Used only where `storeCapabilities().batchedIdUpdates`: on MongoDB one command is one round trip, and on the patched
 * FerretDB v1 build statements that each name a document by `_id` run as one query and one write transaction, so N
 * concurrent PATCHes cost about one write instead of N (issue 15). A caller alone goes out at once, as before.
 */
const lane = new WriteLane();
const open: Gate = () => Promise.resolve(() => undefined);

/**
 * The turn of a batched write: this process's writes one at a time where the store serializes them anyway
 * (`serialWrites`, FerretDB v1), at once elsewhere. Shared by every batched write (records, recipients, the feed).
 */
export const writeTurn: Gate = () => (storeCapabilities().serialWrites ? lane.enter() : open());

interface Submitted {
  col: Collection<Document>;
  ops: AnyBulkWriteOperation<Document>[];
}
const batchers = new GroupCommits<Submitted, BatchedWriteResult>();

function appliedCount(res: BulkWriteResult): number {
  return res.matchedCount + res.upsertedCount + res.deletedCount;
}

/** The `_id` a statement names in its filter, when it names one string `_id`. */
function idOf(op: AnyBulkWriteOperation<Document>): string | undefined {
  const o = op as { replaceOne?: { filter: Document }; updateOne?: { filter: Document }; deleteOne?: { filter: Document } };
  const id = (o.replaceOne ?? o.updateOne ?? o.deleteOne)?.filter._id as unknown;
  return typeof id === 'string' ? id : undefined;
}

async function sendBatch(items: Submitted[]): Promise<BatchedWriteResult[]> {
  // One collection per batcher; the newest caller's handle (a reconnect replaces the client).
  const col = items[items.length - 1]!.col;
  const ops = items.flatMap((i) => i.ops);
  const perCommand = storeCapabilities().updatesPerCommand ?? ops.length;
  let applied = 0;
  try {
    for (let i = 0; i < ops.length; i += perCommand) {
      applied += appliedCount(await col.bulkWrite(ops.slice(i, i + perCommand), { ordered: true }));
    }
  } catch (err) {
    // A duplicate key stops an ordered batch: the callers read back which of their writes landed. Anything else fails
    // every caller of the batch, as it would have failed each alone.
    if (!isDuplicateKeyError(err) && !duplicateKeyIndexes(err)) throw err;
    applied = -1;
  }
  if (applied >= ops.length) return items.map(() => ({ outcome: 'confirmed' }));
  // Read back before the next batch of this collection can go (the group commit sends it after this returns).
  const stored = await findIdsIn(
    col as unknown as Collection<{ _id: string }>,
    ops.map(idOf).filter((id): id is string => id !== undefined),
  );
  return items.map(() => ({ outcome: 'unknown', stored }));
}

/**
 * Sends `ops` (in order) together with the concurrent callers' writes to the same collection; when the batch's counts
 * fall short, the documents it names come back as they stood right after it (BatchedWriteResult).
 */
export function batchedBulkWrite<T extends Document>(col: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<BatchedWriteResult> {
  const batcher = batchers.of(`${col.dbName}.${col.collectionName}`, () => new GroupCommit(sendBatch, writeTurn));
  return batcher.submit({ col: col as unknown as Collection<Document>, ops: ops as AnyBulkWriteOperation<Document>[] });
}
