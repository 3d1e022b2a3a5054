import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import { storeCapabilities } from '../../src/store';
import { groupMembersQuery, scimGroupUserKeys } from '../../src/store/scimGroups';
import { scimUserQuery } from '../../src/store/scimUsers';
import { ofConnection } from '../../src/store/models';
import { ensureIndexes } from '../../src/store/db';
import { closeTestStore, openTestStore } from '../helpers/store';

const PARTIAL = [
  'records_org_email',
  'records_group_members',
  'records_scim_userName',
  'records_scim_externalId',
  'records_scim_emails.value',
];

type IndexInfo = { name: string; key: Record<string, unknown>; partialFilterExpression?: Record<string, unknown> };

async function indexesOf(collection: string): Promise<Map<string, IndexInfo>> {
  const list = (await mongoose.connection.db!.collection(collection).indexes()) as IndexInfo[];
  return new Map(list.map((ix) => [ix.name, ix]));
}

describe('source record indexes (issue 15)', () => {
  before(async () => {
    await openTestStore('store_indexes');
    // The collection exists with its first record (and the indexes the connect created).
    await mongoose.connection.db!.collection('source_records').insertOne({ _id: 'c:seed' } as never);
  });
  after(closeTestStore);

  test('indexes an earlier version created (whole-collection, named by mongoose) are dropped at connect', async () => {
    const col = mongoose.connection.db!.collection('source_records');
    await col.createIndex({ connectionId: 1, 'lookup.userName': 1 });
    await col.createIndex({ orgId: 1, email: 1 });
    // (partial on connectionId where it was made; FerretDB v1 takes no partial index, and the name is what is dropped)
    await col.createIndex({ connectionId: 1, groups: 1 }, { name: 'records_connection_groups' });
    await col.createIndex({ connectionId: 1, key: 1 }, { name: 'records_connection_key' });
    assert.ok((await indexesOf('source_records')).has('connectionId_1_lookup.userName_1'));
    await ensureIndexes();
    const after = await indexesOf('source_records');
    assert.equal(after.has('connectionId_1_lookup.userName_1'), false);
    assert.equal(after.has('orgId_1_email_1'), false);
    assert.equal(after.has('records_connection_groups'), false);
    assert.equal(after.has('records_connection_key'), false);
    // Again: nothing left to drop, nothing fails.
    await ensureIndexes();
  });

  test('where the store answers queries from secondary indexes they are partial; FerretDB v1 gets none', async () => {
    const have = await indexesOf('source_records');
    if (!storeCapabilities().secondaryIndexes) {
      for (const name of PARTIAL) assert.equal(have.has(name), false, `${name} on a store that scans anyway`);
      return;
    }
    for (const name of PARTIAL) {
      const ix = have.get(name);
      assert.ok(ix, `${name} exists`);
      const [field] = Object.keys(ix.partialFilterExpression ?? {});
      assert.ok(
        field && field.replace(/\.\d+$/, '') in ix.key,
        `${name} is partial on one of its own fields (${JSON.stringify(ix.partialFilterExpression)})`,
      );
    }
    // A query by an indexed field's value is answered from its partial index (with enough records that a cost-based
    // planner, DocumentDB's, prefers the index to reading the whole table).
    await mongoose.connection.db!.collection('source_records').insertMany(
      Array.from({ length: 2000 }, (_, i) => ({
        _id: `c:u${i}`,
        connectionId: 'c',
        key: `u${i}`,
        lookup: { userName: `u${i}@b.c` },
      })) as never[],
    );
    const plan = JSON.stringify(
      await mongoose.connection.db!.collection('source_records').find({ connectionId: 'c', 'lookup.userName': 'a@b.c' }).explain(),
    );
    assert.match(plan, /records_scim_userName/);

    // A group's members: records in no group (most of them) are not in the group index, and the query that lists a
    // group's members is answered from it.
    await mongoose.connection.db!.collection('source_records').insertMany(
      Array.from({ length: 2000 }, (_, i) => ({
        _id: `c:g${i}`,
        connectionId: 'c',
        key: `g${i}`,
        deleted: false,
        groups: i % 100 ? [] : ['grp'],
      })) as never[],
    );
    const members = await scimGroupUserKeys('c', 'grp');
    assert.equal(members.length, 20);
    const groupPlan = JSON.stringify(
      await mongoose.connection
        .db!.collection('source_records')
        .find(groupMembersQuery('c', ['grp']))
        .explain(),
    );
    assert.match(groupPlan, /records_group_members/);

    // A connection's records are an `_id` range of the primary index: no secondary index lists them again.
    const recordsCol = mongoose.connection.db!.collection<{ _id: string }>('source_records');
    assert.equal(await recordsCol.countDocuments(ofConnection('c')), 4000);
    const rangePlan = JSON.stringify(await recordsCol.find({ ...ofConnection('c'), deleted: false }).explain());
    assert.match(rangePlan, /_id_/);
    assert.doesNotMatch(rangePlan, /records_/);
    // A SCIM search by an indexed lookup field keeps its index (a planner would take the range over it, as
    // DocumentDB's does); any other search is scoped by the range.
    const conn = { _id: 'c', orgId: 'o', type: 'scim' };
    // (records of an organization, which has an index of its own, by email)
    await recordsCol.updateMany({ connectionId: 'c' }, [{ $set: { orgId: 'o', email: '$key', deleted: false } }]);
    const byName = JSON.stringify(await recordsCol.find(scimUserQuery(conn, { 'lookup.userName': 'u5@b.c' })).explain());
    assert.match(byName, /records_scim_userName/);
    const byOther = scimUserQuery(conn, { $or: [{ 'attributes.title': 'x' }, { active: false }] });
    assert.match(JSON.stringify(await recordsCol.find(byOther).explain()), /_id_/);
    assert.deepEqual(scimUserQuery(conn, undefined), { ...ofConnection('c'), deleted: false });
  });

  test("a connection's records are its `_id` range, on every engine; its userName keys are not records", async () => {
    const recordsCol = mongoose.connection.db!.collection<{ _id: string }>('source_records');
    await recordsCol.insertMany([
      { _id: 'd:u1', connectionId: 'd', key: 'u1', deleted: false },
      { _id: 'd:u2', connectionId: 'd', key: 'u2', deleted: true },
      { _id: 'd:k:u1@b.c', uk: { connectionId: 'd', ref: 'u1' } },
      { _id: 'd;', connectionId: 'd', key: '' },
      { _id: 'd', connectionId: 'd', key: '' },
      { _id: 'dd:u1', connectionId: 'dd', key: 'u1', deleted: false },
    ] as never[]);
    assert.deepEqual(
      (await recordsCol.find({ ...ofConnection('d'), deleted: false }).toArray()).map((d) => d._id),
      ['d:u1'],
    );
    assert.equal(await recordsCol.countDocuments(ofConnection('d')), 2);
  });
});
