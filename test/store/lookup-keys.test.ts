import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import {
  allScimUsers,
  claimLookupKey,
  connectStore,
  createConnection,
  createOrganization,
  deleteConnection,
  disconnectStore,
  moveLegacyLookupKeys,
  newUuid,
  predictedScimUserId,
  readKeyWithRecord,
  readLookupKey,
  sourceRecordId,
  userNameKey,
  type ConnectionRef,
} from '../../src/store';
import { SourceRecord } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

/** Keys as the store wrote them before they moved among the source records. */
interface LegacyKey {
  _id: string;
  orgId: string;
  connectionId: string;
  ref: string;
  createdAt: Date;
}

describe('lookup keys among the source records', () => {
  let dbName = '';
  before(async () => {
    dbName = await openTestStore('lookup_keys');
  });
  after(closeTestStore);

  const conn: ConnectionRef = { _id: 'aaaaaaaaaaaaaaaaaaaaaaaa', orgId: 'org-keys', type: 'scim' };

  test('keys of the former lookup_keys collection are moved at connect, in batches, without overwriting a newer claim', async () => {
    const db = mongoose.connection.db!;
    const legacy = db.collection<LegacyKey>('lookup_keys');
    const at = new Date('2026-11-01T00:00:00Z');
    const docs: LegacyKey[] = Array.from({ length: 1203 }, (_, i) => ({
      _id: userNameKey(conn._id, `old${i}@keys.example`),
      orgId: conn.orgId,
      connectionId: conn._id,
      ref: `ref-${i}`,
      createdAt: at,
    }));
    await legacy.insertMany(docs);
    // A claim made since (by this version) of one of those userNames wins over the legacy copy.
    assert.equal(await claimLookupKey({ _id: docs[7]!._id, orgId: conn.orgId, connectionId: conn._id }, 'newer'), null);

    const logged: number[] = [];
    const moved = await moveLegacyLookupKeys({ info: (o: object) => logged.push((o as { moved: number }).moved) });
    assert.equal(moved, 1203);
    assert.deepEqual(logged, [1000, 1203], 'progress per batch');
    assert.equal(await legacy.countDocuments({}), 0, 'the old collection is emptied');
    assert.deepEqual(await readLookupKey(docs[0]!._id), docs[0]);
    assert.deepEqual(await readLookupKey(docs[1202]!._id), docs[1202]);
    assert.equal((await readLookupKey(docs[7]!._id))?.ref, 'newer');
    assert.equal(await moveLegacyLookupKeys(), 0, 'nothing left to move');

    // And connecting the store runs it: a key left in the old collection is found after a reconnect.
    await legacy.insertOne({ ...docs[0]!, _id: userNameKey(conn._id, 'late@keys.example'), ref: 'late' });
    await disconnectStore();
    const url = new URL(process.env.MONGODB_URI!);
    url.pathname = `/${dbName}`;
    await connectStore(url.toString());
    assert.equal((await readLookupKey(userNameKey(conn._id, 'late@keys.example')))?.ref, 'late');
  });

  test('no query of source records returns a key', async () => {
    const c2: ConnectionRef = { _id: 'bbbbbbbbbbbbbbbbbbbbbbbb', orgId: 'org-keys-2', type: 'scim' };
    assert.equal(
      await claimLookupKey({ _id: userNameKey(c2._id, 'only-a-key@keys.example'), orgId: c2.orgId, connectionId: c2._id }, 'x'),
      null,
    );
    assert.deepEqual(await allScimUsers(c2), []);
    assert.equal(await SourceRecord.countDocuments({ connectionId: c2._id }).exec(), 0);
    assert.equal(await SourceRecord.countDocuments({ orgId: c2.orgId }).exec(), 0);
    assert.ok((await SourceRecord.countDocuments({}).exec()) > 0, 'the key is there, under `uk`');
  });

  test('deleting a connection deletes its keys, and only its', async () => {
    const org = await createOrganization('keys-delete');
    const env = { publicUrl: 'http://localhost', secretKey: 'test-secret-key-0123456789' };
    const gone = await createConnection({ orgId: org.id, type: 'scim' }, env);
    const kept = await createConnection({ orgId: org.id, type: 'scim' }, env);
    for (const c of [gone, kept]) {
      assert.equal(await claimLookupKey({ _id: userNameKey(c.id, 'same@keys.example'), orgId: org.id, connectionId: c.id }, 'r'), null);
    }
    assert.ok(await deleteConnection(gone.id));
    assert.equal(await readLookupKey(userNameKey(gone.id, 'same@keys.example')), null);
    assert.equal((await readLookupKey(userNameKey(kept.id, 'same@keys.example')))?.ref, 'r');
  });

  test('a key and a record in one read; ids derived from the userName are stable across connects and case', async () => {
    const name = 'Derived@Keys.Example';
    const id = predictedScimUserId(conn._id, name)!;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(predictedScimUserId(conn._id, name.toLowerCase()), id);
    assert.notEqual(predictedScimUserId('cccccccccccccccccccccccc', name), id, 'another connection, another id');
    await disconnectStore();
    const url = new URL(process.env.MONGODB_URI!);
    url.pathname = `/${dbName}`;
    await connectStore(url.toString());
    assert.equal(predictedScimUserId(conn._id, name), id, 'the salt is kept in the store');

    const keyId = userNameKey(conn._id, name);
    assert.equal(await claimLookupKey({ _id: keyId, orgId: conn.orgId, connectionId: conn._id }, id), null);
    const none = await readKeyWithRecord(keyId, sourceRecordId(conn._id, id));
    assert.equal(none.key?.ref, id);
    assert.equal(none.record, null, 'no record written yet');
    const other = await readKeyWithRecord(userNameKey(conn._id, 'nobody@keys.example'), sourceRecordId(conn._id, newUuid()));
    assert.deepEqual(other, { key: null, record: null });
  });
});
