import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import { FILE_CHUNK_BYTES, deleteStoredFile, readStoredFile, startStoredFile } from '../../src/store';
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
    await openTestStore('stored_files');
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
});
