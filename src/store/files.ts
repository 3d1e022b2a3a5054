import { Readable, Writable } from 'node:stream';
import mongoose from 'mongoose';

/**
 * File bytes kept in the store: GridFS's layout (`files.files` and `files.chunks`) in the same database, so no process
 * keeps state another instance needs on its local disk. An upload is durable once its stream has finished (the files
 * document is written after the last chunk).
 *
 * One departure from the drivers' GridFS writer: a chunk's `_id` is derived from its file and its number
 * (`chunkId`), not a fresh ObjectId, so a reader fetches each chunk by `_id`. FerretDB v1 answers the usual
 * `{files_id, n}` range query by scanning every stored chunk of every file: reading a 20 MB file took 0.5 s with
 * nothing else stored and 4.5 s with 200 MB stored, and an SFTP account's archive only grows. By `_id` it took
 * 0.65 s either way. The documents keep `files_id` and `n`, so any GridFS reader still reads them, and files stored
 * before this (ObjectId chunks) are read by the range query as before.
 */
const BUCKET = 'files';
/** 1 MiB chunks: fewer, larger inserts than GridFS's 255 KiB default (a 200 MB file is 200 inserts). */
export const FILE_CHUNK_BYTES = 1024 * 1024;

type ObjectId = mongoose.mongo.ObjectId;
interface ChunkDoc {
  /** `chunkId(files_id, n)`, or an ObjectId in files stored before derived ids. */
  _id: string | ObjectId;
  files_id: ObjectId;
  n: number;
  data: mongoose.mongo.Binary;
}
interface FileDoc {
  _id: ObjectId;
  length: number;
  chunkSize: number;
  uploadDate: Date;
  filename: string;
  metadata?: Record<string, unknown>;
}

function db(): mongoose.mongo.Db {
  const d = mongoose.connection.db;
  if (!d) throw new Error('the store is not connected');
  return d;
}
const chunksOf = () => db().collection<ChunkDoc>(`${BUCKET}.chunks`);
const filesOf = () => db().collection<FileDoc>(`${BUCKET}.files`);

/** A chunk's `_id`: its file's id and its number. */
export function chunkId(fileId: ObjectId, n: number): string {
  return `${fileId.toHexString()}:${n}`;
}

/** The indexes GridFS readers and tools expect (the drivers' writer creates the same on first use). */
export async function ensureStoredFileIndexes(): Promise<void> {
  await filesOf().createIndex({ filename: 1, uploadDate: 1 });
  await chunksOf().createIndex({ files_id: 1, n: 1 }, { unique: true });
}

export interface StoredFileUpload {
  /** The file's id (an ObjectId's hex). */
  id: string;
  stream: Writable;
  /** Drops what was written so far (an upload that will not be completed). */
  abort(): Promise<void>;
}

/**
 * Writes a file's bytes as chunks of FILE_CHUNK_BYTES, one insert each, in order (a write is acknowledged once the
 * chunks it completed are stored, so a slow store slows the writer down), then the files document at `end()`.
 */
class StoredFileWriter extends Writable {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private length = 0;
  /** Chunks stored so far. */
  stored = 0;
  /** The files document was (or is being) written: the file is whole. */
  filed = false;
  private aborted = false;
  /** The insert under way, if any (an abort waits for it so it can delete what it stored). */
  busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly fileId: ObjectId,
    private filename: string,
    private metadata: Record<string, unknown>,
  ) {
    super();
  }

  private async storeChunk(bytes: number): Promise<void> {
    if (this.aborted) throw new Error('the stored file was aborted');
    const all = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    const data = Buffer.from(all.subarray(0, bytes));
    const rest = all.subarray(bytes);
    this.held = rest.length ? [Buffer.from(rest)] : [];
    this.heldBytes = rest.length;
    const n = this.stored;
    const stored = chunksOf()
      .insertOne({ _id: chunkId(this.fileId, n), files_id: this.fileId, n, data: new mongoose.mongo.Binary(data) })
      .then(() => {
        this.stored = n + 1;
      });
    this.busy = stored.catch(() => undefined);
    await stored;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.aborted) return done(new Error('the stored file was aborted'));
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    this.length += chunk.length;
    void (async () => {
      while (this.heldBytes >= FILE_CHUNK_BYTES) await this.storeChunk(FILE_CHUNK_BYTES);
    })().then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    void (async () => {
      if (this.heldBytes) await this.storeChunk(this.heldBytes);
      if (this.aborted) throw new Error('the stored file was aborted');
      this.filed = true;
      const filed = filesOf().insertOne({
        _id: this.fileId,
        length: this.length,
        chunkSize: FILE_CHUNK_BYTES,
        uploadDate: new Date(),
        filename: this.filename,
        metadata: this.metadata,
      });
      this.busy = filed.catch(() => undefined);
      await filed;
    })().then(() => done(), done);
  }

  abort(): void {
    this.aborted = true;
  }
}

/** Starts storing a file; write its bytes in order, then `end()` and wait for 'finish'. */
export function startStoredFile(filename: string, metadata: Record<string, unknown>): StoredFileUpload {
  const writer = new StoredFileWriter(new mongoose.mongo.ObjectId(), filename, metadata);
  const id = writer.fileId.toHexString();
  return {
    id,
    stream: writer,
    abort: async () => {
      writer.abort();
      await writer.busy;
      // A file whose files document was written is deleted whole; otherwise its chunks are known by number.
      if (writer.filed) await deleteStoredFile(id).catch(() => undefined);
      else await deleteChunks(writer.fileId, writer.stored).catch(() => undefined);
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
  return Readable.from(storedFileChunks(new mongoose.mongo.ObjectId(id), start, end), { objectMode: false });
}

/**
 * Chunks fetched per store reply when a file stored with ObjectId chunks is read: 4 MiB held at a time. The driver's
 * GridFS download stream uses the cursor's default first batch (101 chunks, 101 MiB here; FerretDB v1 sends all of it in
 * one reply) and has no batch size option, which put a 1,000,000-row file's read at ~150 MB of buffers.
 */
const CHUNKS_PER_READ = 4;

/**
 * Chunks `first` to `last` of a file in order, each fetched by its derived `_id` with the next one already asked for
 * (2 MiB held at most). A file stored with ObjectId chunks (its first chunk is not found by `_id`) is read by range.
 * A missing chunk ends the sequence early; the caller names it.
 */
async function* chunkDocs(fileId: ObjectId, first: number, last: number): AsyncGenerator<ChunkDoc> {
  const chunks = chunksOf();
  const fetch = (n: number) => chunks.findOne({ _id: chunkId(fileId, n) });
  let next = fetch(first);
  for (let n = first; n <= last; n++) {
    const doc = await next;
    if (!doc) {
      if (n === first) yield* rangeChunkDocs(fileId, first, last);
      return;
    }
    if (n < last) next = fetch(n + 1);
    yield doc;
  }
}

async function* rangeChunkDocs(fileId: ObjectId, first: number, last: number): AsyncGenerator<ChunkDoc> {
  const cursor = chunksOf().find({ files_id: fileId, n: { $gte: first, $lte: last } }, { sort: { n: 1 }, batchSize: CHUNKS_PER_READ });
  try {
    yield* cursor;
  } finally {
    await cursor.close();
  }
}

/** The file's bytes from `start` to `end`, chunk by chunk, checked as GridFS readers check them (order, sizes, length). */
async function* storedFileChunks(id: ObjectId, start: number, end?: number): AsyncGenerator<Buffer> {
  const file = await filesOf().findOne({ _id: id });
  if (!file) throw new Error(`FileNotFound: no stored file with id ${id.toHexString()}`);
  const length = Number(file.length);
  const chunkSize = Number(file.chunkSize);
  const stop = Math.min(end ?? length, length);
  if (start >= stop) return;
  let n = Math.floor(start / chunkSize);
  const last = Math.ceil(stop / chunkSize) - 1;
  for await (const chunk of chunkDocs(id, n, last)) {
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
  throw new Error(`stored file ${id.toHexString()} is missing chunk ${n}`);
}

/** Deletes chunks 0 to count-1 by `_id`, in one command; returns how many were there. */
async function deleteChunks(fileId: ObjectId, count: number): Promise<number> {
  if (!count) return 0;
  const ops = Array.from({ length: count }, (_, n) => ({ deleteOne: { filter: { _id: chunkId(fileId, n) } } }));
  const res = await chunksOf().bulkWrite(ops, { ordered: false });
  return res.deletedCount;
}

/**
 * Deletes a stored file (its chunks, then its files document, so an interrupted delete can be run again); a missing
 * file is no error. Chunks that are not where their derived `_id` says (a file stored with ObjectId chunks, or an
 * upload that never got its files document) are deleted by `files_id`.
 */
export async function deleteStoredFile(id: string): Promise<void> {
  const fileId = new mongoose.mongo.ObjectId(id);
  const file = await filesOf().findOne({ _id: fileId }, { projection: { length: 1, chunkSize: 1 } });
  const count = file ? Math.ceil(Number(file.length) / Number(file.chunkSize)) : 0;
  if (!file || (await deleteChunks(fileId, count)) < count) await chunksOf().deleteMany({ files_id: fileId });
  if (file) await filesOf().deleteOne({ _id: fileId });
}
