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
  /** Present while the file is being written: when its writer was last heard of. */
  writingAt?: Date;
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
 * A file being written keeps `writingAt` on its files document (the last time its writer was heard of, at most
 * TOUCH_MS old while it writes); a whole file has none. A process that dies mid-upload leaves such a document, and
 * the worker's sweep (`sweepAbandonedStoredFiles`) deletes it and its chunks once it has been silent for
 * ABANDONED_FILE_MS. Without the document, nothing would ever name those chunks again: up to 2 GiB per killed upload,
 * kept forever.
 */
const TOUCH_MS = 60_000;
/**
 * Silence after which a file being written is taken for abandoned: far above TOUCH_MS, and above the SFTP idle
 * timeout (10 minutes by default), which ends a session whose client stopped writing (its upload is then aborted).
 */
export const ABANDONED_FILE_MS = 30 * 60_000;

/**
 * Writes a file's bytes as chunks of FILE_CHUNK_BYTES, one insert each, in order (a write is acknowledged once the
 * chunks it completed are stored, so a slow store slows the writer down). The files document is inserted first,
 * marked `writingAt`, and completed at `end()`: length, upload date, mark removed.
 */
class StoredFileWriter extends Writable {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private length = 0;
  private touchedAt = 0;
  /** Chunks stored so far. */
  stored = 0;
  private aborted = false;
  /** The command under way, if any (an abort waits for it so it can delete what it stored). */
  busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly fileId: ObjectId,
    private filename: string,
    private metadata: Record<string, unknown>,
  ) {
    super();
  }

  /** Runs a command as the one under way. */
  private async track<T>(command: Promise<T>): Promise<T> {
    this.busy = command.catch(() => undefined);
    return await command;
  }

  override _construct(done: (err?: Error | null) => void): void {
    if (this.aborted) return done(new Error('the stored file was aborted'));
    const now = new Date();
    this.touchedAt = now.getTime();
    const doc: FileDoc = {
      _id: this.fileId,
      length: 0,
      chunkSize: FILE_CHUNK_BYTES,
      uploadDate: now,
      filename: this.filename,
      metadata: this.metadata,
      writingAt: now,
    };
    this.track(filesOf().insertOne(doc)).then(() => done(), done);
  }

  private async storeChunk(bytes: number): Promise<void> {
    if (this.aborted) throw new Error('the stored file was aborted');
    const all = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    const data = Buffer.from(all.subarray(0, bytes));
    const rest = all.subarray(bytes);
    this.held = rest.length ? [Buffer.from(rest)] : [];
    this.heldBytes = rest.length;
    const n = this.stored;
    // Counted inside the tracked command, so an abort waiting for it deletes this chunk too.
    await this.track(
      chunksOf()
        .insertOne({ _id: chunkId(this.fileId, n), files_id: this.fileId, n, data: new mongoose.mongo.Binary(data) })
        .then(() => {
          this.stored = n + 1;
        }),
    );
    if (Date.now() - this.touchedAt > TOUCH_MS) {
      this.touchedAt = Date.now();
      const res = await this.track(
        filesOf().updateOne({ _id: this.fileId, writingAt: { $exists: true } }, { $set: { writingAt: new Date() } }),
      );
      if (!res.matchedCount) throw await this.swept();
    }
  }

  /** The file was taken for abandoned and deleted while this writer was silent: drop what it stored since. */
  private async swept(): Promise<Error> {
    this.aborted = true;
    await deleteChunks(this.fileId, this.stored).catch(() => undefined);
    return new Error('the stored file was removed while it was being written (silent too long)');
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
      const res = await this.track(
        filesOf().updateOne(
          { _id: this.fileId, writingAt: { $exists: true } },
          { $set: { length: this.length, uploadDate: new Date() }, $unset: { writingAt: '' } },
        ),
      );
      if (!res.matchedCount) throw await this.swept();
    })().then(() => done(), done);
  }

  /** Stops the writer and deletes what it stored, files document included. */
  async abort(): Promise<void> {
    this.aborted = true;
    await this.busy;
    await deleteChunks(this.fileId, this.stored);
    await filesOf().deleteOne({ _id: this.fileId });
  }
}

/** Starts storing a file; write its bytes in order, then `end()` and wait for 'finish'. */
export function startStoredFile(filename: string, metadata: Record<string, unknown>): StoredFileUpload {
  const writer = new StoredFileWriter(new mongoose.mongo.ObjectId(), filename, metadata);
  return { id: writer.fileId.toHexString(), stream: writer, abort: () => writer.abort().catch(() => undefined) };
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
  if (file.writingAt) throw new Error(`stored file ${id.toHexString()} is still being written`);
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

/** Deletes chunks `from` to `from + count - 1` by derived `_id`, in one command; returns how many were there. */
async function deleteChunks(fileId: ObjectId, count: number, from = 0): Promise<number> {
  if (!count) return 0;
  const ops = Array.from({ length: count }, (_, k) => ({ deleteOne: { filter: { _id: chunkId(fileId, from + k) } } }));
  return (await chunksOf().bulkWrite(ops, { ordered: false })).deletedCount;
}

/** Deletes a file's chunks from 0 until one is missing (they are written in order); returns how many. */
async function deleteChunksInOrder(fileId: ObjectId): Promise<number> {
  const PER_COMMAND = 256;
  let deleted = 0;
  for (;;) {
    const n = await deleteChunks(fileId, PER_COMMAND, deleted);
    deleted += n;
    if (n < PER_COMMAND) return deleted;
  }
}

/**
 * Deletes a stored file (its chunks, then its files document, so an interrupted delete can be run again); a missing
 * file is no error. A whole file's chunks are known by its length; a file being written (or abandoned) is deleted
 * chunk by chunk until one is missing; a file stored with ObjectId chunks is deleted by `files_id`.
 */
export async function deleteStoredFile(id: string): Promise<void> {
  const fileId = new mongoose.mongo.ObjectId(id);
  const file = await filesOf().findOne({ _id: fileId }, { projection: { length: 1, chunkSize: 1, writingAt: 1 } });
  if (!file || file.writingAt) await deleteChunksInOrder(fileId);
  else {
    const count = Math.ceil(Number(file.length) / Number(file.chunkSize));
    if ((await deleteChunks(fileId, count)) < count) await chunksOf().deleteMany({ files_id: fileId });
  }
  if (file) await filesOf().deleteOne({ _id: fileId });
}

/**
 * Deletes the files whose writer has been silent for `ageMs` (at least ABANDONED_FILE_MS): uploads a stopped process
 * left half-written. Returns their ids. The store's sweep runs it (src/store/recovery.ts).
 */
export async function sweepAbandonedStoredFiles(ageMs = ABANDONED_FILE_MS, now = new Date()): Promise<string[]> {
  const before = new Date(now.getTime() - Math.max(ageMs, ABANDONED_FILE_MS));
  const stale = await filesOf()
    .find({ writingAt: { $lt: before } }, { projection: { _id: 1 } })
    .toArray();
  for (const f of stale) await deleteStoredFile(f._id.toHexString());
  return stale.map((f) => f._id.toHexString());
}
