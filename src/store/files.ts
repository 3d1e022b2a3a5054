import { Readable, type Writable } from 'node:stream';
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

/**
 * Chunks fetched per store reply when a file is read: 4 MiB held at a time. The driver's GridFS download stream uses the
 * cursor's default first batch (101 chunks, 101 MiB here; FerretDB v1 sends all of it in one reply) and has no batch
 * size option, which put a 1,000,000-row file's read at ~150 MB of buffers.
 */
const CHUNKS_PER_READ = 4;

/** Reads a stored file from byte `start` (to `end`, exclusive, when given). */
export function readStoredFile(id: string, start = 0, end?: number): Readable {
  return Readable.from(storedFileChunks(new mongoose.mongo.ObjectId(id), start, end), { objectMode: false });
}

/** The file's bytes from `start` to `end`, chunk by chunk, checked as GridFS readers check them (order, sizes, length). */
async function* storedFileChunks(id: mongoose.mongo.ObjectId, start: number, end?: number): AsyncGenerator<Buffer> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the store is not connected');
  const file = await db.collection(`${BUCKET}.files`).findOne({ _id: id });
  if (!file) throw new Error(`FileNotFound: no stored file with id ${id.toHexString()}`);
  const length = Number(file.length);
  const chunkSize = Number(file.chunkSize);
  const stop = Math.min(end ?? length, length);
  if (start >= stop) return;
  let n = Math.floor(start / chunkSize);
  const last = Math.ceil(stop / chunkSize) - 1;
  const chunks = db
    .collection<{ files_id: mongoose.mongo.ObjectId; n: number; data: mongoose.mongo.Binary }>(`${BUCKET}.chunks`)
    .find({ files_id: id, n: { $gte: n, $lte: last } }, { sort: { n: 1 }, batchSize: CHUNKS_PER_READ });
  try {
    for await (const chunk of chunks) {
      if (chunk.n !== n) throw new Error(`stored file ${id.toHexString()} is missing chunk ${n}`);
      const data = chunk.data.buffer;
      const expected = n === Math.ceil(length / chunkSize) - 1 ? length - n * chunkSize : chunkSize;
      if (data.length !== expected)
        throw new Error(`stored file ${id.toHexString()}: chunk ${n} has ${data.length} bytes, expected ${expected}`);
      const offset = n * chunkSize;
      // A copy of the part wanted: a slice would keep the store's whole reply alive.
      yield Buffer.from(data.subarray(Math.max(0, start - offset), Math.min(chunkSize, stop - offset)));
      if (n === last) return;
      n++;
    }
  } finally {
    await chunks.close();
  }
  throw new Error(`stored file ${id.toHexString()} is missing chunk ${n}`);
}

/** Deletes a stored file (its chunks and its files document); a missing file is no error. */
export async function deleteStoredFile(id: string): Promise<void> {
  try {
    await bucket().delete(new mongoose.mongo.ObjectId(id));
  } catch (err) {
    if (!/not found|FileNotFound/i.test(String((err as Error)?.message))) throw err;
  }
}
