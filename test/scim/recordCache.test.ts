import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Collection } from 'mongodb';
import mongoose from 'mongoose';
import { CommandCounter, sourceRecordId, type SourceRecordDoc } from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { makeApp, patchOp, scimClient, USER, type ScimClient } from './harness';

function records(): Collection<SourceRecordDoc> {
  return mongoose.connection.db!.collection<SourceRecordDoc>('source_records');
}

/** What another instance's write of the user does: a new version of its record, with `change` applied to the resource. */
async function changeElsewhere(c: ScimClient, id: string, change: Record<string, unknown>): Promise<number> {
  const _id = sourceRecordId(c.connectionId, id);
  const rec = (await records().findOne({ _id }))!;
  const raw = { ...(JSON.parse(rec.raw as string) as Record<string, unknown>), ...change };
  const active = raw.active !== false;
  await records().updateOne({ _id }, { $set: { raw: JSON.stringify(raw), active, 'lookup.active': active }, $inc: { v: 1 } });
  return rec.v + 1;
}

describe('SCIM PATCH and PUT from the copy of the record this process wrote last, never deciding on a stale one', () => {
  const app = makeApp();
  let c: ScimClient;
  let n = 0;
  const createUser = async (): Promise<string> => {
    n++;
    const res = await c
      .post('/Users', {
        schemas: [USER],
        userName: `rc${n}@cache.example`,
        emails: [{ value: `rc${n}@cache.example`, primary: true }],
        active: true,
      })
      .expect(201);
    return (res.body as { id: string }).id;
  };

  before(async () => {
    await openTestStore('scim_record_cache', { monitorCommands: true });
    c = await scimClient(app);
  });
  after(closeTestStore);

  test('a PATCH of a user this process wrote sends no read of its record', async () => {
    const id = await createUser();
    const counter = new CommandCounter().start();
    await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'Engineer' })).expect(200);
    const counts = counter.snapshot();
    counter.stop();
    assert.equal(counts.byType['find:source_records'] ?? 0, 0, JSON.stringify(counts.byType));
  });

  test('a copy made stale by another writer: the write fails its condition and the PATCH applies to the stored user', async () => {
    const id = await createUser();
    await changeElsewhere(c, id, { title: 'Set elsewhere' });
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'displayName', value: 'Patched here' })).expect(200);
    assert.equal(res.body.title, 'Set elsewhere', 'the other writer’s change is kept');
    assert.equal(res.body.displayName, 'Patched here');
    const stored = (await records().findOne({ _id: sourceRecordId(c.connectionId, id) }))!;
    assert.equal(stored.v, 3, 'created (1), changed elsewhere (2), patched (3)');
  });

  test('a PATCH that would change nothing on the stale copy is decided on the stored user', async () => {
    const id = await createUser();
    await c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200);
    await changeElsewhere(c, id, { active: true });
    // On the cached copy (inactive) this changes nothing; the stored user is active, so it must be written.
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200);
    assert.equal(res.body.active, false);
    const stored = (await records().findOne({ _id: sourceRecordId(c.connectionId, id) }))!;
    assert.equal(stored.active, false, 'written, not answered from the copy');
  });

  test('If-Match naming the version another writer made succeeds; naming the cached, stale one is refused', async () => {
    const id = await createUser();
    const v2 = await changeElsewhere(c, id, { title: 'Set elsewhere' });
    // The copy kept here is version 1: the precondition is checked again on the stored user.
    await c
      .patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'Current base' }))
      .set('If-Match', `W/"${v2}"`)
      .expect(200);
    // Version 3 is kept here now; another writer makes 4.
    const v4 = await changeElsewhere(c, id, { title: 'Elsewhere again' });
    await c
      .patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'Stale base' }))
      .set('If-Match', `W/"${v4 - 1}"`)
      .expect(412);
    const stored = (await records().findOne({ _id: sourceRecordId(c.connectionId, id) }))!;
    assert.equal(JSON.parse(stored.raw as string).title, 'Elsewhere again', 'nothing written over the newer version');
  });
});
