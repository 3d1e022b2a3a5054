import type { AnyBulkWriteOperation, BulkWriteResult, Collection, Document } from 'mongodb';
import { storeCapabilities } from './db';
import { duplicateKeyIndexes, isDuplicateKeyError } from './errors';
import { GroupCommit, GroupCommits, WriteLane, type Gate } from './groupCommit';

/**
 * What a batched write learned of one caller's statements: `confirmed` when the store's reply counts every statement
 * of the batch as applied (matched, upserted or deleted); `unknown` otherwise (a version check that did not match, or
 * a duplicate key that stopped the ordered batch), and the caller reads back what it wrote, as it would after a
 * single command whose counts fall short.
 */
export type BatchedWriteResult = 'confirmed' | 'unknown';

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
    return items.map(() => 'unknown');
  }
  const all: BatchedWriteResult = applied >= ops.length ? 'confirmed' : 'unknown';
  return items.map(() => all);
}

/** Sends `ops` (in order) together with the concurrent callers' writes to the same collection. */
export function batchedBulkWrite<T extends Document>(col: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<BatchedWriteResult> {
  const batcher = batchers.of(`${col.dbName}.${col.collectionName}`, () => new GroupCommit(sendBatch, writeTurn));
  return batcher.submit({ col: col as unknown as Collection<Document>, ops: ops as AnyBulkWriteOperation<Document>[] });
}
