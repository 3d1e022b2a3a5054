import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  applySourceChanges,
  capabilitiesOf,
  countStoreCommands,
  createConnection,
  createOrganization,
  getRecipient,
  overrideStoreCapabilities,
  recipientId,
  restoreStoreCapabilities,
  storeCapabilities,
  type ConnectionRef,
  type SourceChange,
} from '../../src/store';
import mongoose from 'mongoose';
import { closeTestStore, openTestStore } from '../helpers/store';

/** buildInfo of the local store (FerretDB v1.24.2 built by scripts/ferretdb.sh with its patch), as answered. */
const FERRETDB_V1_PATCHED = {
  version: '7.0.42',
  gitVersion: 'audience-sync-idpushdown2-idbatch2-writelock',
  versionArray: [7, 0, 42, 0],
  ferretdbVersion: 'v1.24.2',
  ferretdbFeatures: { aggregationStages: ['$match', '$set', '$skip', '$sort', '$unwind', '$addFields', '$group', '$project', '$count'] },
};
const STANDALONE_HELLO = { isWritablePrimary: true, maxWireVersion: 21, logicalSessionTimeoutMinutes: 30 };

describe('store capabilities: decided from what the server says (issue 15)', () => {
  test('FerretDB v1: no transactions, non-atomic findAndModify, no $merge, updates a few per command', () => {
    const caps = capabilitiesOf(FERRETDB_V1_PATCHED, STANDALONE_HELLO);
    assert.equal(caps.engine, 'ferretdb-v1');
    assert.equal(caps.ferretdb, true);
    assert.equal(caps.serverVersion, 'v1.24.2');
    assert.equal(caps.idInFromIndex, true, 'the patched build serves _id $in from the index');
    assert.deepEqual([caps.transactions, caps.atomicFindAndModify, caps.mergeStage, caps.secondaryIndexes], [false, false, false, false]);
    assert.equal(caps.batchedIdUpdates, true, 'the patched build runs _id updates of one command together');
    assert.equal(caps.updatesPerCommand, 1000);
    assert.equal(caps.serialWrites, false, 'the patched build queues its writers itself');
    const pushdownOnly = capabilitiesOf({ ...FERRETDB_V1_PATCHED, gitVersion: 'audience-sync-idpushdown2' }, STANDALONE_HELLO);
    assert.deepEqual([pushdownOnly.idInFromIndex, pushdownOnly.batchedIdUpdates, pushdownOnly.updatesPerCommand], [true, false, 4]);
    assert.equal(pushdownOnly.serialWrites, true, 'SQLite: one write transaction at a time, the others sleeping');
    const stock = capabilitiesOf({ ...FERRETDB_V1_PATCHED, gitVersion: 'abc123' }, STANDALONE_HELLO);
    assert.equal(stock.idInFromIndex, false, 'stock FerretDB v1 scans for $in');
    assert.deepEqual([stock.batchedIdUpdates, stock.updatesPerCommand], [false, 4], 'stock FerretDB v1 hangs on long update commands');
    assert.equal(stock.serialWrites, true);
  });

  test('a server answering as MongoDB 7 (FerretDB v2 on DocumentDB, MongoDB standalone): one command per bulk write', () => {
    const caps = capabilitiesOf({ version: '7.0.77', versionArray: [7, 0, 77, 0], gitVersion: '0' }, STANDALONE_HELLO);
    assert.equal(caps.engine, 'mongodb');
    assert.equal(caps.serverVersion, '7.0.77');
    assert.deepEqual([caps.idInFromIndex, caps.secondaryIndexes, caps.atomicFindAndModify, caps.mergeStage], [true, true, true, true]);
    assert.equal(caps.transactions, false, 'a standalone server has no transactions');
    assert.equal(caps.updatesPerCommand, null);
    assert.equal(caps.batchedIdUpdates, true);
    assert.equal(caps.serialWrites, false);
    // A FerretDB 2.x that names its version is still a MongoDB-compatible store, not FerretDB v1.
    assert.equal(capabilitiesOf({ version: '7.0.77', ferretdbVersion: 'v2.5.0' }).engine, 'mongodb');
  });

  test('MongoDB replica set: transactions; MongoDB 4.0: no $merge', () => {
    const rs = capabilitiesOf({ version: '7.0.14' }, { setName: 'rs0', maxWireVersion: 21, logicalSessionTimeoutMinutes: 30 });
    assert.equal(rs.transactions, true);
    const old = capabilitiesOf(
      { version: '4.0.28', versionArray: [4, 0, 28, 0] },
      { msg: 'isdbgrid', maxWireVersion: 7, logicalSessionTimeoutMinutes: 30 },
    );
    assert.equal(old.transactions, true);
    assert.equal(old.mergeStage, false);
  });
});

describe('store capabilities: the merge follows the record, with the same result either way', () => {
  let conn: ConnectionRef;
  before(async () => {
    await openTestStore('store_caps', { monitorCommands: true });
    const org = await createOrganization('Caps');
    const c = await createConnection(
      { orgId: org.id, type: 'csv' },
      { publicUrl: 'http://localhost', secretKey: 'caps-secret-key-000000' },
    );
    conn = { _id: c.id, orgId: org.id, type: 'csv' };
  });
  after(closeTestStore);

  const people = (city: string): SourceChange[] =>
    Array.from({ length: 10 }, (_, i) => ({ op: 'upsert', key: `p${i}`, email: `p${i}@caps.io`, active: true, attributes: { city } }));

  /** Updates the 10 people's city and returns the `update` commands sent to recipients. */
  async function updateAll(city: string): Promise<number> {
    const count = countStoreCommands();
    try {
      await applySourceChanges(conn, people(city));
      return count.on('update', 'recipients');
    } finally {
      count.stop();
    }
  }

  test('the record of the connected store is logged-ready and consistent with its buildInfo', async () => {
    const caps = storeCapabilities();
    const info = (await mongoose.connection.db!.admin().command({ buildInfo: 1 })) as { gitVersion?: string };
    assert.ok(caps.serverVersion && caps.serverVersion !== 'unknown');
    assert.equal(caps.ferretdb, caps.engine === 'ferretdb-v1');
    assert.equal(caps.updatesPerCommand, !caps.ferretdb ? null : caps.batchedIdUpdates ? 1000 : 4);
    assert.equal(caps.serialWrites, caps.ferretdb && !/writelock/.test(info.gitVersion ?? ''));
  });

  test('updates go out 4 a command under the FerretDB v1 record and in one command under the MongoDB record', async () => {
    await applySourceChanges(conn, people('Oslo'));
    const prev = overrideStoreCapabilities({ updatesPerCommand: 4 });
    try {
      assert.equal(await updateAll('Lima'), 3, '10 updates, 4 a command');
      overrideStoreCapabilities({ updatesPerCommand: null });
      assert.equal(await updateAll('Kyiv'), 1, '10 updates, one command');
    } finally {
      restoreStoreCapabilities(prev);
    }
    for (let i = 0; i < 10; i++) {
      const r = await getRecipient(recipientId(conn.orgId, `p${i}@caps.io`));
      assert.equal(r?.attributes.city, 'Kyiv');
    }
  });
});
