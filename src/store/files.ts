import type { Readable, Writable } from 'node:stream';
import mongoose from 'mongoose';

/**
 * File bytes kept in the store: GridFS in the same database (bucket `files`), so no process keeps state another
 * instance needs on its local disk. An upload is durable once its stream has finished (the files document is written
 * after the last chunk).
 */
const BUCKET = 'files';
/** 1 MiB chunks: fewer, larger inserts than GridFS's 255 KiB default (a 200 MB file is 200 inserts). */
export const FILE_CHUNK_BYTES = 1024 * 1024;

function bucket(): mongoose.mongo.GridFSBucket {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the store is not connected');
  return new mongoose.mongo.GridFSBucket(db, { bucketName: BUCKET, chunkSizeBytes: FILE_CHUNK_BYTES });
}

export interface StoredFileUpload {
  /** The file's id (an ObjectId's hex). */
  id: string;
  stream: Writable;
  /** Drops what was written so far (an upload that will not be completed). */
  abort(): Promise<void>;
}

/** Starts storing a file; write its bytes in order, then `end()` and wait for 'finish'. */
export function startStoredFile(filename: string, metadata: Record<string, unknown>): StoredFileUpload {
  const stream = bucket().openUploadStream(filename, { metadata });
  const id = stream.id.toHexString();
  return {
    id,
    stream,
    abort: async () => {
      await stream.abort().catch(() => undefined);
      await deleteStoredFile(id).catch(() => undefined);
    },
  };
}

/** Stores a small file (a result) in one go; returns its id. */
export async function storeSmallFile(filename: string, content: Buffer, metadata: Record<string, unknown>): Promise<string> {
  const up = startStoredFile(filename, metadata);
  await new Promise<void>((resolve, reject) => {
    up.stream.once('error', reject);
    up.stream.end(content, () => resolve());
  });
  return up.id;
}

/** Reads a stored file from byte `start` (to `end`, exclusive, when given). */
export function readStoredFile(id: string, start = 0, end?: number): Readable {
  const opts: { start?: number; end?: number } = {};
  if (start > 0) opts.start = start;
  if (end !== undefined) opts.end = end;
  return bucket().openDownloadStream(new mongoose.mongo.ObjectId(id), opts);
}

/** Deletes a stored file (its chunks and its files document); a missing file is no error. */
export async function deleteStoredFile(id: string): Promise<void> {
  try {
    await bucket().delete(new mongoose.mongo.ObjectId(id));
  } catch (err) {
    if (!/not found|FileNotFound/i.test(String((err as Error)?.message))) throw err;
  }
}
