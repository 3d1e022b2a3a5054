import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Collection } from 'mongodb';
import mongoose from 'mongoose';
import { applySourceChanges, CommandCounter, getRecipient, recipientId, type CommandCounts, type ConnectionRef } from '../../src/store';
import { CACHE_WINDOW, recipientCache } from '../../src/store/writeBaseCache';
import { closeTestStore, csvConnection, openTestStore } from '../helpers/store';
import { fromStored, toStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

function recipients(): Collection<StoredRecipient> {
  return mongoose.connection.db!.collection<StoredRecipient>('recipients');
}

/** One person's record written alone (the SCIM request's path), with the store commands it sent. */
async function writeOne(conn: ConnectionRef, key: string, email: string, firstName: string): Promise<CommandCounts> {
  const counter = new CommandCounter().start();
  try {
    const [res] = await applySourceChanges(conn, [{ op: 'upsert', key, email, active: true, attributes: { first_name: firstName } }]);
    assert.notEqual(res?.outcome, 'conflict');
    return counter.snapshot();
  } finally {
    counter.stop();
  }
}

/** What another instance's write does to a recipient this process holds a copy of: a new version. */
async function changeElsewhere(id: string): Promise<void> {
  await recipients().updateOne({ _id: id }, { $inc: { v: 1 }, $set: { 'attributes.last_name': 'Elsewhere' } });
}

describe('the recipient cache: a person written last by this process is written again without a read, never over a newer version', () => {
  before(() => openTestStore('recipientcache', { monitorCommands: true }));
  after(closeTestStore);

  test('the second write of a person sends no recipient read', async () => {
    const conn = await csvConnection('cache first');
    await writeOne(conn, 'k1', 'ada@cache.example', 'Ada');
    const counts = await writeOne(conn, 'k1', 'ada@cache.example', 'Augusta');
    assert.equal(counts.byType['find:recipients'] ?? 0, 0, JSON.stringify(counts.byType));
    assert.equal((await getRecipient(recipientId(conn.orgId, 'ada@cache.example')))?.firstName, 'Augusta');
  });

  test('a copy made stale by another writer fails its condition; the merge reads the recipient and keeps both changes', async () => {
    const conn = await csvConnection('cache stale');
    const id = recipientId(conn.orgId, 'grace@cache.example');
    await writeOne(conn, 'k1', 'grace@cache.example', 'Grace');
    await changeElsewhere(id);
    const counts = await writeOne(conn, 'k1', 'grace@cache.example', 'Gracie');
    // The failed write is read back (which of a batch's writes were stored), then the recipient is read to retry.
    assert.ok((counts.byType['find:recipients'] ?? 0) >= 1, 'read once the cached copy failed its condition');
    const r = await getRecipient(id);
    assert.equal(r?.v, 3, 'written on the version the other writer made');
    assert.equal(r?.firstName, 'Gracie');
  });

  test('a recipient deleted and created again elsewhere (its version starts over) is told from the cached one', async () => {
    const conn = await csvConnection('cache incarnation');
    const id = recipientId(conn.orgId, 'mary@cache.example');
    await writeOne(conn, 'k1', 'mary@cache.example', 'Mary');
    const doc = fromStored((await recipients().findOne({ _id: id }))!);
    // The same `_id` and `v` as the copy cached here, a later `createdAt`, and a contribution of another source.
    const other = { ...doc.contribs[0]!, sid: `${conn._id}:other`, at: { first_name: 'Other' } };
    await recipients().deleteOne({ _id: id });
    await recipients().insertOne(
      toStored({ ...doc, contribs: [...doc.contribs, other], createdAt: new Date(doc.createdAt.getTime() + 1000) }),
    );
    await writeOne(conn, 'k1', 'mary@cache.example', 'Maria');
    const r = (await getRecipient(id))!;
    assert.deepEqual(
      r.contribs.map((c) => c.sid),
      [`${conn._id}:k1`, `${conn._id}:other`],
      'the other contribution is kept: the write was not made on the cached copy',
    );
  });

  test('when most cached copies are stale (another instance writes the same people), the cache stands aside', async () => {
    const conn = await csvConnection('cache pause');
    const id = recipientId(conn.orgId, 'alan@cache.example');
    await writeOne(conn, 'k1', 'alan@cache.example', 'Alan');
    for (let i = 0; i < CACHE_WINDOW && !recipientCache.paused(); i++) {
      await changeElsewhere(id);
      await writeOne(conn, 'k1', 'alan@cache.example', `Alan ${i}`);
    }
    assert.ok(recipientCache.paused(), `paused after ${CACHE_WINDOW} stale copies`);
    await changeElsewhere(id);
    const counts = await writeOne(conn, 'k1', 'alan@cache.example', 'Alan again');
    assert.equal(counts.byType['find:recipients'], 1, 'read first');
    assert.equal(counts.byType['update:recipients'], 1, 'and written once, with no failed write first');
  });
});
