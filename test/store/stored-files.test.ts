import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import type { CommandStartedEvent } from 'mongodb';
import {
  ABANDONED_FILE_MS,
  FILE_CHUNK_BYTES,
  chunkId,
  deleteStoredFile,
  readStoredFile,
  startStoredFile,
  sweepAbandonedStoredFiles,
  sweepStore,
} from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';

/** Stored files (GridFS) read back whole and by range, a chunk at a time, with a damaged file refused. */
async function store(bytes: Buffer): Promise<string> {
  const up = startStoredFile('f.csv', {});
  await new Promise<void>((resolve, reject) => {
    up.stream.once('error', reject);
    up.stream.end(bytes, () => resolve());
  });
  return up.id;
}

async function read(id: string, start?: number, end?: number): Promise<{ bytes: Buffer; pieces: number; largest: number }> {
  const parts: Buffer[] = [];
  for await (const b of readStoredFile(id, start, end)) parts.push(b as Buffer);
  return { bytes: Buffer.concat(parts), pieces: parts.length, largest: Math.max(0, ...parts.map((p) => p.length)) };
}

describe('stored files', () => {
  // Two and a half chunks, so ranges cross chunk boundaries and the last chunk is short.
  const data = randomBytes(FILE_CHUNK_BYTES * 2 + FILE_CHUNK_BYTES / 2);
  let id = '';
  before(async () => {
    await openTestStore('stored_files', { monitorCommands: true });
    id = await store(data);
  });
  after(closeTestStore);

  test('a file reads back whole, one chunk at a time', async () => {
    const r = await read(id);
    assert.ok(r.bytes.equals(data));
    assert.equal(r.pieces, 3);
    assert.equal(r.largest, FILE_CHUNK_BYTES);
  });

  test('ranges start and end inside chunks, across boundaries, and past the end', async () => {
    const cases: [number, number | undefined][] = [
      [0, 10],
      [FILE_CHUNK_BYTES - 3, FILE_CHUNK_BYTES + 5],
      [FILE_CHUNK_BYTES, undefined],
      [FILE_CHUNK_BYTES + 17, FILE_CHUNK_BYTES * 2 + 100],
      [data.length - 1, undefined],
      [10, data.length + 1000],
      [data.length, undefined],
    ];
    for (const [start, end] of cases) {
      const r = await read(id, start, end);
      assert.ok(r.bytes.equals(data.subarray(start, end)), `range ${start}-${end}`);
    }
  });

  test('an empty file reads as nothing', async () => {
    const empty = await store(Buffer.alloc(0));
    assert.equal((await read(empty)).bytes.length, 0);
  });

  test('a file with a missing chunk or a missing files document is refused, not read short', async () => {
    const damaged = await store(data);
    const chunks = mongoose.connection.db!.collection('files.chunks');
    await chunks.deleteOne({ files_id: new mongoose.mongo.ObjectId(damaged), n: 1 });
    await assert.rejects(read(damaged), /missing chunk 1/);
    const cut = await store(data);
    await chunks.deleteOne({ files_id: new mongoose.mongo.ObjectId(cut), n: 2 });
    await assert.rejects(read(cut), /missing chunk 2/);
    await deleteStoredFile(cut);
    await assert.rejects(read(cut), /FileNotFound/);
  });

  test('chunks are stored under ids derived from the file, and a read fetches each by _id, never by range', async () => {
    const fileId = new mongoose.mongo.ObjectId(id);
    const chunks = mongoose.connection.db!.collection('files.chunks');
    const ids = (await chunks.find({ files_id: fileId }, { projection: { _id: 1, n: 1 } }).toArray()).map((c) => [c.n, c._id]);
    assert.deepEqual(
      ids.sort((a, b) => a[0] - b[0]),
      [0, 1, 2].map((n) => [n, chunkId(fileId, n)]),
    );
    const filters: unknown[] = [];
    const client = mongoose.connection.getClient();
    const seen = (ev: CommandStartedEvent) => {
      if (ev.commandName === 'find' && ev.command.find === 'files.chunks') filters.push(ev.command.filter);
    };
    client.on('commandStarted', seen);
    try {
      assert.ok((await read(id, FILE_CHUNK_BYTES + 1)).bytes.equals(data.subarray(FILE_CHUNK_BYTES + 1)));
    } finally {
      client.off('commandStarted', seen);
    }
    assert.deepEqual(filters, [{ _id: chunkId(fileId, 1) }, { _id: chunkId(fileId, 2) }]);
  });

  test('a file stored by the driver with ObjectId chunks (before derived ids) still reads, by range, and deletes whole', async () => {
    const bucket = new mongoose.mongo.GridFSBucket(mongoose.connection.db!, { bucketName: 'files', chunkSizeBytes: FILE_CHUNK_BYTES });
    const up = bucket.openUploadStream('old.csv');
    await new Promise<void>((resolve, reject) => {
      up.once('error', reject);
      up.end(data, () => resolve());
    });
    const old = up.id.toHexString();
    const chunks = mongoose.connection.db!.collection('files.chunks');
    assert.equal(await chunks.countDocuments({ files_id: up.id, _id: { $type: 'objectId' } }), 3);
    assert.ok((await read(old)).bytes.equals(data));
    assert.ok(
      (await read(old, FILE_CHUNK_BYTES - 3, FILE_CHUNK_BYTES + 5)).bytes.equals(data.subarray(FILE_CHUNK_BYTES - 3, FILE_CHUNK_BYTES + 5)),
    );
    await deleteStoredFile(old);
    assert.equal(await chunks.countDocuments({ files_id: up.id }), 0);
    assert.equal(await mongoose.connection.db!.collection('files.files').countDocuments({ _id: up.id }), 0);
    await assert.rejects(read(old), /FileNotFound/);
  });

  test('deleting a file removes every chunk and its files document; an aborted upload leaves nothing', async () => {
    const chunks = mongoose.connection.db!.collection('files.chunks');
    const files = mongoose.connection.db!.collection('files.files');
    const doomed = await store(data);
    await deleteStoredFile(doomed);
    assert.equal(await chunks.countDocuments({ files_id: new mongoose.mongo.ObjectId(doomed) }), 0);
    assert.equal(await files.countDocuments({ _id: new mongoose.mongo.ObjectId(doomed) }), 0);
    await deleteStoredFile(doomed); // a missing file is no error

    const up = startStoredFile('partial.csv', {});
    up.stream.on('error', () => undefined); // the write after the abort fails; its callback says so
    await new Promise<void>((resolve, reject) =>
      up.stream.write(data.subarray(0, FILE_CHUNK_BYTES + 10), (err) => (err ? reject(err) : resolve())),
    );
    assert.equal(await chunks.countDocuments({ files_id: new mongoose.mongo.ObjectId(up.id) }), 1);
    await up.abort();
    assert.equal(await chunks.countDocuments({ files_id: new mongoose.mongo.ObjectId(up.id) }), 0);
    assert.equal(await files.countDocuments({ _id: new mongoose.mongo.ObjectId(up.id) }), 0);
    await assert.rejects(
      new Promise<void>((resolve, reject) => up.stream.write(Buffer.from('more'), (err) => (err ? reject(err) : resolve()))),
    );
  });

  test('a file being written is marked, cannot be read, and is swept with its chunks only once silent for long', async () => {
    const files = mongoose.connection.db!.collection('files.files');
    const chunks = mongoose.connection.db!.collection('files.chunks');
    const write = (up: ReturnType<typeof startStoredFile>, bytes: Buffer) =>
      new Promise<void>((resolve, reject) => up.stream.write(bytes, (err) => (err ? reject(err) : resolve())));
    const whole = await store(data);
    const cut = startStoredFile('cut.csv', {});
    cut.stream.on('error', () => undefined);
    await write(cut, data);
    const cutId = new mongoose.mongo.ObjectId(cut.id);
    const doc = await files.findOne({ _id: cutId });
    assert.ok(doc?.writingAt instanceof Date);
    assert.equal(await chunks.countDocuments({ files_id: cutId }), 2);
    await assert.rejects(read(cut.id), /still being written/);

    // Moments old, or silent for less than the floor whatever age the sweep is given: left alone.
    assert.deepEqual(await sweepAbandonedStoredFiles(0), []);
    assert.deepEqual(await sweepAbandonedStoredFiles(0, new Date(Date.now() + ABANDONED_FILE_MS - 60_000)), []);
    // Silent past it: the file and its chunks go; whole files stay.
    assert.deepEqual(await sweepAbandonedStoredFiles(0, new Date(Date.now() + ABANDONED_FILE_MS + 60_000)), [cut.id]);
    assert.equal(await files.countDocuments({ _id: cutId }), 0);
    assert.equal(await chunks.countDocuments({ files_id: cutId }), 0);
    assert.ok((await read(whole)).bytes.equals(data));
    // Its writer, back after the sweep, fails instead of completing a file with missing chunks, and leaves nothing.
    await assert.rejects(
      new Promise<void>((resolve, reject) => cut.stream.end(data.subarray(0, 10), (err?: Error | null) => (err ? reject(err) : resolve()))),
    );
    assert.equal(await files.countDocuments({ _id: cutId }), 0);
    assert.equal(await chunks.countDocuments({ files_id: cutId }), 0);

    // The store's sweep runs it.
    const left = startStoredFile('left.csv', {});
    left.stream.on('error', () => undefined);
    await write(left, data.subarray(0, FILE_CHUNK_BYTES + 1));
    await files.updateOne(
      { _id: new mongoose.mongo.ObjectId(left.id) },
      { $set: { writingAt: new Date(Date.now() - ABANDONED_FILE_MS - 1000) } },
    );
    assert.deepEqual((await sweepStore(0)).abandonedFiles, [left.id]);
    assert.equal(await chunks.countDocuments({ files_id: new mongoose.mongo.ObjectId(left.id) }), 0);
  });
});
