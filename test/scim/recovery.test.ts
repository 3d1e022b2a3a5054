import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { connectStore, disconnectStore, sweepStore } from '../../src/store';
import { Group, SourceRecord } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { GROUP, makeApp, patchOp, q, recipient, scimClient, USER, type ScimClient } from './harness';

/**
 * Group writes touch the group document and then the members' source records, without transactions: a crash or a
 * store outage between the two must not leave the group saying one thing and its people another.
 */
describe('SCIM recovery of half-done group writes', () => {
  const app = makeApp();
  let c: ScimClient;
  let dbName = '';
  before(async () => {
    dbName = await openTestStore('scim_recovery');
    c = await scimClient(app);
  });
  after(closeTestStore);

  let n = 0;
  /** A user of the connection; returns its id and email. */
  async function user(): Promise<{ id: string; email: string }> {
    const email = `rec${++n}@recovery.example`;
    const res = await c.post('/Users', { schemas: [USER], userName: email }).expect(201);
    return { id: res.body.id as string, email };
  }

  async function recipientGroups(email: string): Promise<string[]> {
    return (await recipient(c.orgId, email))?.groups ?? [];
  }

  async function recordGroups(id: string): Promise<string[]> {
    return (
      (
        await SourceRecord.findOne({ _id: `${c.connectionId}:${id}` })
          .lean()
          .exec()
      )?.groups ?? []
    );
  }

  async function memberValues(groupId: string): Promise<string[]> {
    const res = await c.get(`/Groups/${groupId}`).expect(200);
    return ((res.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
  }

  /** A group document with a pending intent, as a process that crashed right after writing it leaves it. */
  async function crashedCreate(displayName: string, add: string[]): Promise<string> {
    const id = `crashed-${++n}`;
    const now = new Date();
    await Group.create({
      _id: id,
      orgId: c.orgId,
      connectionId: c.connectionId,
      key: id,
      displayName,
      displayNameLower: displayName.toLowerCase(),
      memberGroups: [],
      raw: JSON.stringify({ schemas: [GROUP], displayName }),
      v: 1,
      createdAt: now,
      updatedAt: now,
      pendingMembers: { add, remove: [] },
      pendingSince: now,
    });
    return id;
  }

  /** A PATCH that crashed after its replaceOne: the new version and its intent are stored, the records not changed. */
  async function crashedPatch(groupId: string, add: string[], remove: string[]): Promise<void> {
    const res = await Group.updateOne(
      { _id: groupId },
      { $set: { pendingMembers: { add, remove }, pendingSince: new Date(), updatedAt: new Date() }, $inc: { v: 1 } },
    ).exec();
    assert.equal(res.matchedCount, 1);
  }

  /** Then a store outage starts right after the group document is written (before any member's record is). */
  async function withOutageAfterGroupWrite<T>(run: () => Promise<T>): Promise<T> {
    const coll = Group.collection as unknown as { replaceOne: (...args: unknown[]) => Promise<unknown> };
    const original = coll.replaceOne;
    coll.replaceOne = async function (this: unknown, ...args: unknown[]) {
      const res = await original.apply(this, args);
      await disconnectStore();
      return res;
    };
    mongoose.set('bufferTimeoutMS', 300);
    try {
      return await run();
    } finally {
      delete (coll as { replaceOne?: unknown }).replaceOne;
      mongoose.set('bufferTimeoutMS', 10_000);
      if (mongoose.connection.readyState !== mongoose.ConnectionStates.connected) {
        const url = new URL(process.env.MONGODB_URI!);
        url.pathname = `/${dbName}`;
        await connectStore(url.toString());
      }
    }
  }

  test('a create that crashed before its members were written is finished by GET, by listing and by the sweep', async () => {
    const [a, b, d] = [await user(), await user(), await user()];
    const byGet = await crashedCreate('Crashed by GET', [a.id, b.id]);
    const byList = await crashedCreate('Crashed by list', [b.id]);

    assert.deepEqual(await memberValues(byGet), [a.id, b.id].sort());
    assert.deepEqual(await recipientGroups(a.email), [byGet]);

    const list = await c.get(`/Groups${q(`members.value eq "${b.id}"`)}`).expect(200);
    assert.deepEqual(list.body.Resources.map((g: { id: string }) => g.id).sort(), [byGet, byList].sort());
    assert.deepEqual(await recipientGroups(b.email), [byGet, byList].sort());

    // Left alone until the worker's sweep finishes it (and nothing is left for a second sweep).
    const bySweep = await crashedCreate('Crashed by sweep', [d.id]);
    assert.deepEqual(await recordGroups(d.id), []);
    assert.ok((await sweepStore(0)).finishedGroupWrites >= 1);
    assert.deepEqual(await recordGroups(d.id), [bySweep]);
    assert.deepEqual(await recipientGroups(d.email), [bySweep]);
    assert.equal((await sweepStore(0)).finishedGroupWrites, 0);
    const stored = await Group.findOne({ _id: bySweep }).lean().exec();
    assert.equal(stored?.pendingMembers, undefined);
    assert.equal(stored?.pendingSince, undefined);
    assert.equal(stored?.v, 1, 'finishing an intent does not change the version');
  });

  test('a PATCH that crashed after the group write (members added and removed) is finished by GET and by the sweep', async () => {
    const [a, b, d, e] = [await user(), await user(), await user(), await user()];
    const g1 = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Patched 1', members: [{ value: a.id }] }).expect(201)).body
      .id as string;
    const g2 = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Patched 2', members: [{ value: d.id }] }).expect(201)).body
      .id as string;
    await crashedPatch(g1, [b.id], [a.id]);
    await crashedPatch(g2, [e.id], [d.id]);

    const res = await c.get(`/Groups/${g1}`).expect(200);
    assert.equal(res.body.meta.version, 'W/"2"');
    assert.deepEqual(
      ((res.body.members ?? []) as { value: string }[]).map((m) => m.value),
      [b.id],
    );
    assert.deepEqual(await recipientGroups(a.email), []);
    assert.deepEqual(await recipientGroups(b.email), [g1]);

    await sweepStore(0);
    assert.deepEqual(await recipientGroups(d.email), []);
    assert.deepEqual(await recipientGroups(e.email), [g2]);
    assert.deepEqual(await memberValues(g2), [e.id]);
  });

  test('a DELETE that crashed half-way is finished by GET, by listing and by the sweep: the group is gone everywhere', async () => {
    const [a, b, d] = [await user(), await user(), await user()];
    const make = async (name: string, members: string[]) =>
      (await c.post('/Groups', { schemas: [GROUP], displayName: name, members: members.map((value) => ({ value })) }).expect(201)).body
        .id as string;
    const byGet = await make('Deleted by GET', [a.id]);
    const byList = await make('Deleted by list', [b.id]);
    const bySweep = await make('Deleted by sweep', [d.id]);
    const parent = await make('Parent of deleted', [byGet, bySweep]);
    const crashDelete = async (id: string) => {
      const res = await Group.updateOne({ _id: id }, { $set: { deleting: true, pendingSince: new Date() } }).exec();
      assert.equal(res.matchedCount, 1);
    };
    await crashDelete(byGet);

    await c.get(`/Groups/${byGet}`).expect(404);
    assert.equal(await Group.findOne({ _id: byGet }).lean().exec(), null);
    assert.deepEqual(await recipientGroups(a.email), []);
    await c.patch(`/Groups/${byGet}`, patchOp({ op: 'add', path: 'members', value: [{ value: a.id }] })).expect(404);

    await crashDelete(byList);
    const list = await c.get(`/Groups${q('displayName sw "Deleted by"')}`).expect(200);
    assert.deepEqual(
      list.body.Resources.map((x: { id: string }) => x.id),
      [bySweep],
    );
    assert.deepEqual(await recipientGroups(b.email), []);

    await crashDelete(bySweep);
    assert.deepEqual(await recordGroups(d.id), [bySweep]);
    await sweepStore(0);
    assert.equal(await Group.findOne({ _id: bySweep }).lean().exec(), null);
    assert.deepEqual(await recordGroups(d.id), []);
    assert.deepEqual(await recipientGroups(d.email), []);
    assert.deepEqual(await memberValues(parent), [], 'the parent no longer lists the deleted groups');
  });

  test('a store outage during a PATCH with members answers 503; the next request, or the sweep, completes it', async () => {
    const [a, b, d, e] = [await user(), await user(), await user(), await user()];
    const g1 = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Outage 1', members: [{ value: a.id }] }).expect(201)).body
      .id as string;
    const g2 = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Outage 2', members: [{ value: d.id }] }).expect(201)).body
      .id as string;

    await withOutageAfterGroupWrite(async () => {
      const res = await c
        .patch(
          `/Groups/${g1}`,
          patchOp(
            { op: 'replace', path: 'displayName', value: 'Outage 1 renamed' },
            { op: 'add', path: 'members', value: [{ value: b.id }] },
            { op: 'remove', path: `members[value eq "${a.id}"]` },
          ),
        )
        .expect(503);
      assert.equal(res.body.status, '503');
      assert.ok(res.headers['retry-after']);
    });
    const after1 = await c.get(`/Groups/${g1}`).expect(200);
    assert.equal(after1.body.displayName, 'Outage 1 renamed');
    assert.deepEqual(
      ((after1.body.members ?? []) as { value: string }[]).map((m) => m.value),
      [b.id],
    );
    assert.deepEqual(await recipientGroups(a.email), []);
    assert.deepEqual(await recipientGroups(b.email), [g1]);

    await withOutageAfterGroupWrite(async () => {
      await c.put(`/Groups/${g2}`, { schemas: [GROUP], displayName: 'Outage 2', members: [{ value: e.id }] }).expect(503);
    });
    await sweepStore(0);
    assert.deepEqual(await recipientGroups(d.email), []);
    assert.deepEqual(await recipientGroups(e.email), [g2]);
    assert.deepEqual(await memberValues(g2), [e.id]);
  });

  test('Bulk: a store outage mid-request keeps what was done, and reports the rest as 503, not as done', async () => {
    const a = await user();
    const g = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Bulk outage' }).expect(201)).body.id as string;
    const res = await withOutageAfterGroupWrite(() =>
      c
        .post('/Bulk', {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
          Operations: [
            { method: 'POST', path: '/Users', bulkId: 'first', data: { schemas: [USER], userName: 'bulk-first@recovery.example' } },
            { method: 'PATCH', path: `/Groups/${g}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: a.id }] }) },
            { method: 'POST', path: '/Users', bulkId: 'last', data: { schemas: [USER], userName: 'bulk-last@recovery.example' } },
          ],
        })
        .expect(200),
    );
    const ops = res.body.Operations as { status: string; bulkId?: string; response?: { status: string } }[];
    assert.deepEqual(
      ops.map((o) => o.status),
      ['201', '503', '503'],
    );
    assert.equal(ops[2]!.bulkId, 'last');
    assert.equal(ops[1]!.response?.status, '503');
    assert.equal(ops[2]!.response?.status, '503');

    const first = await c.get(`/Users${q('userName eq "bulk-first@recovery.example"')}`).expect(200);
    assert.equal(first.body.totalResults, 1, 'the operation done before the outage stays done');
    const last = await c.get(`/Users${q('userName eq "bulk-last@recovery.example"')}`).expect(200);
    assert.equal(last.body.totalResults, 0, 'the operation after the outage was not attempted');
    assert.deepEqual(await memberValues(g), [a.id]);
    assert.deepEqual(await recipientGroups(a.email), [g]);
  });
});
