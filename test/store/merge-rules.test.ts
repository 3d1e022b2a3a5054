import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  applySourceChanges,
  getRecipient,
  createConnection,
  createOrganization,
  deleteConnection,
  recipientId,
  replayMergeJournal,
  updateConnection,
  updateOrganizationSettings,
  deleteByIds,
  findByIds,
  storeCapabilities,
  type ConnectionRef,
  type RecipientDoc,
} from '../../src/store';
import { rawCollection } from '../../src/store/collections';
import { MergeJournal, Recipient, SourceRecord } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { fromStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };

async function conn(orgId: string, type: string, extra: Record<string, unknown> = {}): Promise<ConnectionRef> {
  const c = await createConnection({ orgId, type, accessToken: type === 'hris' ? 'tok' : undefined, ...extra }, env);
  return { _id: c.id, orgId, type };
}

async function recipient(orgId: string, email: string): Promise<RecipientDoc | null> {
  return getRecipient(recipientId(orgId, email));
}

const up = (key: string, email: string | null, active = true, attributes: Record<string, unknown> = {}, groups?: string[]) =>
  ({ op: 'upsert', key, email, active, attributes, groups }) as const;

describe('merge rules (SPEC §3)', () => {
  let orgId: string;
  before(async () => {
    await openTestStore('merge_rules');
  });
  after(async () => {
    await closeTestStore();
  });

  test('rule 1: identity is the trimmed, lower-cased email; display keeps the spelling; no email, no recipient', async () => {
    orgId = (await createOrganization('Acme')).id;
    const csv = await conn(orgId, 'csv');
    const res = await applySourceChanges(csv, [up('e1', '  Ada.Lovelace@Example.COM '), up('e2', 'not-an-email'), up('e3', null)]);
    assert.deepEqual(
      res.map((r) => r.outcome),
      ['created', 'created', 'created'],
    );
    assert.equal(res[1]!.noEmail, true);
    const r = await recipient(orgId, 'ada.lovelace@example.com');
    assert.ok(r);
    assert.equal(r.emailDisplay, 'Ada.Lovelace@Example.COM');
    assert.equal(await Recipient.countDocuments({ orgId }), 1, 'records without a usable email make no recipient');
    assert.equal(await SourceRecord.countDocuments({ orgId }), 3, 'but they are stored');
  });

  test('rule 2: the same email from every kind of source is one recipient', async () => {
    const o = (await createOrganization('Two')).id;
    const [scim, hris, sftp, csv, manual] = await Promise.all(['scim', 'hris', 'sftp', 'csv', 'manual'].map((t) => conn(o, t)));
    for (const [c, spelling] of [
      [scim, 'Bo@x.io'],
      [hris, 'bo@X.io'],
      [sftp, 'BO@x.io'],
      [csv, ' bo@x.io'],
      [manual, 'bo@x.io'],
    ] as const) {
      await applySourceChanges(c!, [up('k-' + c!.type, spelling)]);
    }
    const all = ((await Recipient.find({ orgId: o }).lean().exec()) as StoredRecipient[]).map(fromStored);
    assert.equal(all.length, 1);
    assert.equal(all[0]!.sources.length, 5);
    assert.equal(all[0]!.status, 'active');
  });

  test('rule 3: sources are independent — deleting a CSV leaves what the directory asserts', async () => {
    const o = (await createOrganization('Three')).id;
    const scim = await conn(o, 'scim');
    const csv = await conn(o, 'csv');
    await applySourceChanges(scim, [up('u1', 'cy@x.io', true, { first_name: 'Cy' })]);
    await applySourceChanges(csv, [
      up('cy@x.io', 'cy@x.io', true, { first_name: 'Cyril', department_name: 'Ops' }),
      up('dee@x.io', 'dee@x.io'),
    ]);
    let r = await recipient(o, 'cy@x.io');
    assert.equal(r!.sources.length, 2);
    assert.equal(await deleteConnection(csv._id), true);
    r = await recipient(o, 'cy@x.io');
    assert.equal(r!.sources.length, 1);
    assert.equal(r!.firstName, 'Cy');
    assert.equal(r!.attributes.department_name, undefined, 'the CSV department left with the CSV');
    assert.equal(await recipient(o, 'dee@x.io'), null, 'a person only the CSV listed is removed');
    assert.equal(await SourceRecord.countDocuments({ connectionId: csv._id }), 0);
  });

  test('rule 4: an identity source offboards even when a CSV still lists the person; reactivation restores', async () => {
    const o = (await createOrganization('Four')).id;
    const scim = await conn(o, 'scim');
    const csv = await conn(o, 'csv');
    await applySourceChanges(scim, [up('u1', 'eve@x.io')]);
    await applySourceChanges(csv, [up('eve@x.io', 'eve@x.io')]);
    assert.equal((await recipient(o, 'eve@x.io'))!.status, 'active');
    await applySourceChanges(scim, [up('u1', 'eve@x.io', false)]);
    assert.equal((await recipient(o, 'eve@x.io'))!.status, 'offboarded');
    await applySourceChanges(csv, [up('eve@x.io', 'eve@x.io', true, { job_title: 'Chef' })]);
    assert.equal((await recipient(o, 'eve@x.io'))!.status, 'offboarded', 'a CSV update does not undo an offboarding');
    await applySourceChanges(scim, [up('u1', 'eve@x.io', true)]);
    assert.equal((await recipient(o, 'eve@x.io'))!.status, 'active');
  });

  test('rule 4: created inactive by an identity provider is offboarded; a DELETE tombstone holds the offboarding', async () => {
    const o = (await createOrganization('Four b')).id;
    const scim = await conn(o, 'scim');
    const csv = await conn(o, 'csv');
    await applySourceChanges(scim, [up('u9', 'fay@x.io', false)]);
    assert.equal((await recipient(o, 'fay@x.io'))!.status, 'offboarded');

    await applySourceChanges(scim, [up('u1', 'gus@x.io')]);
    await applySourceChanges(csv, [up('gus@x.io', 'gus@x.io')]);
    const [t] = await applySourceChanges(scim, [{ op: 'tombstone', key: 'u1' }]);
    assert.equal(t!.outcome, 'removed');
    const r = await recipient(o, 'gus@x.io');
    assert.equal(r!.status, 'offboarded');
    assert.deepEqual(
      r!.sources.map((s) => s.type),
      ['csv'],
      'the tombstone is no longer a visible source',
    );
    // Only the tombstone left: the person is removed, but a new CSV listing stays offboarded.
    await applySourceChanges(csv, [{ op: 'delete', key: 'gus@x.io' }]);
    assert.equal((await recipient(o, 'gus@x.io'))!.listed, false);
    await applySourceChanges(csv, [up('gus@x.io', 'gus@x.io')]);
    assert.equal((await recipient(o, 'gus@x.io'))!.status, 'offboarded');
  });

  test('rule 4: the latest identity assertion wins between two identity sources', async () => {
    const o = (await createOrganization('Four c')).id;
    const scim = await conn(o, 'scim');
    const hris = await conn(o, 'hris');
    await applySourceChanges(scim, [up('u1', 'hal@x.io', true)]);
    await applySourceChanges(hris, [up('h1', 'hal@x.io', false)]);
    assert.equal((await recipient(o, 'hal@x.io'))!.status, 'offboarded');
    await applySourceChanges(scim, [up('u1', 'hal@x.io', true, { first_name: 'Hal' })]);
    assert.equal((await recipient(o, 'hal@x.io'))!.status, 'offboarded', 'a profile update is not a new status assertion');
    await applySourceChanges(scim, [up('u1', 'hal@x.io', false)]);
    await applySourceChanges(scim, [up('u1', 'hal@x.io', true)]);
    assert.equal((await recipient(o, 'hal@x.io'))!.status, 'active', 'a later reactivation restores');
  });

  test('rule 4: inactive when every (non-identity) source marks the person inactive; removed when none lists them', async () => {
    const o = (await createOrganization('Four d')).id;
    const csv = await conn(o, 'csv');
    const manual = await conn(o, 'manual');
    await applySourceChanges(csv, [up('ivy@x.io', 'ivy@x.io', false)]);
    assert.equal((await recipient(o, 'ivy@x.io'))!.status, 'inactive');
    await applySourceChanges(manual, [up('ivy@x.io', 'ivy@x.io', true)]);
    assert.equal((await recipient(o, 'ivy@x.io'))!.status, 'active');
    await applySourceChanges(manual, [{ op: 'delete', key: 'ivy@x.io' }]);
    await applySourceChanges(csv, [{ op: 'delete', key: 'ivy@x.io' }]);
    assert.equal(await recipient(o, 'ivy@x.io'), null);
  });

  test('rule 5: per attribute, the higher-priority source wins, ignoring empty values; priority is configurable', async () => {
    const o = (await createOrganization('Five')).id;
    const hris = await conn(o, 'hris');
    const csv = await conn(o, 'csv');
    const manual = await conn(o, 'manual');
    await applySourceChanges(manual, [
      up('jo@x.io', 'jo@x.io', true, { job_title: 'Manual title', city: 'Paris', custom: { shirt: 'L' } }),
    ]);
    await applySourceChanges(csv, [up('jo@x.io', 'jo@x.io', true, { job_title: 'CSV title', city: '  ' })]);
    await applySourceChanges(hris, [up('h1', 'jo@x.io', true, { job_title: 'HRIS title', city: '' })]);
    let r = await recipient(o, 'jo@x.io');
    assert.equal(r!.attributes.job_title, 'HRIS title');
    assert.equal(r!.attributes.city, 'Paris', 'empty values do not win');
    assert.equal(r!.attributes.custom?.shirt, 'L');
    const change = await updateOrganizationSettings(o, { attributePriority: ['manual', 'csv', 'sftp', 'scim', 'hris'] });
    assert.ok(change.remerge, 'a new priority calls for a re-merge');
    await change.remerge();
    r = await recipient(o, 'jo@x.io');
    assert.equal(r!.attributes.job_title, 'Manual title');
  });

  test('rule 6: a directory contributes names and groups only, unless extended attributes are on', async () => {
    const o = (await createOrganization('Six')).id;
    const scim = await conn(o, 'scim');
    await applySourceChanges(scim, [up('u1', 'kim@x.io', true, { first_name: 'Kim', department_name: 'R&D', custom: { x: '1' } }, ['g1'])]);
    let r = await recipient(o, 'kim@x.io');
    assert.equal(r!.firstName, 'Kim');
    assert.equal(r!.attributes.department_name, undefined);
    assert.equal(r!.attributes.custom, undefined);
    assert.deepEqual(r!.groups, ['g1']);
    const change = await updateConnection(scim._id, { extendedAttributes: true });
    assert.ok(change.remerge, 'extended attributes call for a re-merge');
    await change.remerge();
    r = await recipient(o, 'kim@x.io');
    assert.equal(r!.attributes.department_name, 'R&D');
  });

  test('idempotent: the same change twice is unchanged the second time', async () => {
    const o = (await createOrganization('Idem')).id;
    const csv = await conn(o, 'csv');
    const first = await applySourceChanges(csv, [up('lu@x.io', 'lu@x.io', true, { city: 'Oslo' })]);
    const before = await recipient(o, 'lu@x.io');
    const second = await applySourceChanges(csv, [up('lu@x.io', 'lu@x.io', true, { city: 'Oslo' })]);
    assert.equal(first[0]!.outcome, 'created');
    assert.equal(second[0]!.outcome, 'unchanged');
    assert.equal((await recipient(o, 'lu@x.io'))!.v, before!.v);
  });

  test('an email change moves the contribution from one recipient to the other', async () => {
    const o = (await createOrganization('Move')).id;
    const scim = await conn(o, 'scim');
    await applySourceChanges(scim, [up('u1', 'old@x.io')]);
    await applySourceChanges(scim, [up('u1', 'new@x.io')]);
    assert.equal(await recipient(o, 'old@x.io'), null);
    assert.equal((await recipient(o, 'new@x.io'))!.status, 'active');
  });

  test('converges when two ingests touch the same people at the same time', async () => {
    const o = (await createOrganization('Race')).id;
    const a = await conn(o, 'csv');
    const b = await conn(o, 'manual');
    const emails = Array.from({ length: 40 }, (_, i) => `p${i}@x.io`);
    await Promise.all([
      applySourceChanges(
        a,
        emails.map((e) => up(e, e, true, { city: 'A' })),
      ),
      applySourceChanges(
        b,
        emails.map((e) => up(e, e, true, { job_title: 'B' })),
      ),
      applySourceChanges(
        a,
        emails.slice(0, 20).map((e) => up(e, e, true, { city: 'A' })),
      ),
    ]);
    const all: RecipientDoc[] = ((await Recipient.find({ orgId: o }).lean().exec()) as StoredRecipient[]).map(fromStored);
    assert.equal(all.length, 40);
    for (const r of all) {
      assert.equal(r.sources.length, 2, `${r.email} has both sources`);
      assert.equal(r.attributes.city, 'A');
      assert.equal(r.attributes.job_title, 'B');
    }
  });

  test('a merge interrupted after its source records were written is completed by the journal', async () => {
    const o = (await createOrganization('Crash')).id;
    const csv = await conn(o, 'csv');
    await applySourceChanges(csv, [up('max@x.io', 'max@x.io', true, { city: 'Rome' })]);
    // Simulate a crash between the two writes: the source record changed, the recipient did not.
    await SourceRecord.updateOne({ _id: `${csv._id}:max@x.io` }, { $set: { 'attributes.city': 'Milan' } });
    await rawCollection(MergeJournal).insertOne({ _id: 'j1', orgId: o, emails: ['max@x.io'], createdAt: new Date() });
    assert.equal((await recipient(o, 'max@x.io'))!.attributes.city, 'Rome');
    assert.equal(await replayMergeJournal(), 1);
    assert.equal((await recipient(o, 'max@x.io'))!.attributes.city, 'Milan');
    assert.equal(await MergeJournal.countDocuments({}), 0);
  });

  test('reads and deletes by _id agree with and without $in (MongoDB and patched FerretDB vs stock FerretDB)', async () => {
    const o = (await createOrganization('Both paths')).id;
    const csv = await conn(o, 'csv');
    const emails = Array.from({ length: 30 }, (_, i) => `p${i}@paths.io`);
    await applySourceChanges(
      csv,
      emails.map((e) => up(e, e)),
    );
    const ids = [...emails.slice(0, 20).map((e) => recipientId(o, e)), recipientId(o, 'missing@paths.io'), recipientId(o, emails[0]!)];
    const caps = storeCapabilities();
    const saved = caps.idInFromIndex;
    const read = async (viaIn: boolean) => {
      caps.idInFromIndex = viaIn;
      try {
        return [...(await findByIds(Recipient, ids)).keys()].sort();
      } finally {
        caps.idInFromIndex = saved;
      }
    };
    const viaIn = await read(true);
    assert.deepEqual(viaIn, await read(false));
    assert.equal(viaIn.length, 20, 'each stored id once, the missing one absent');
    for (const viaInDelete of [true, false]) {
      const victims = viaInDelete ? emails.slice(20, 25) : emails.slice(25, 30);
      caps.idInFromIndex = viaInDelete;
      try {
        await deleteByIds(
          Recipient,
          victims.map((e) => recipientId(o, e)),
        );
      } finally {
        caps.idInFromIndex = saved;
      }
      for (const e of victims) assert.equal(await recipient(o, e), null, `${e} deleted (${viaInDelete ? '$in' : 'one by one'})`);
    }
    assert.equal(await Recipient.countDocuments({ orgId: o }), 20);
  });

  test('nothing crosses organizations', async () => {
    const o1 = (await createOrganization('Org one')).id;
    const o2 = (await createOrganization('Org two')).id;
    const c1 = await conn(o1, 'csv');
    const c2 = await conn(o2, 'scim');
    await applySourceChanges(c1, [up('same@x.io', 'same@x.io', true, { city: 'One' })]);
    await applySourceChanges(c2, [up('u1', 'same@x.io', false)]);
    assert.equal((await recipient(o1, 'same@x.io'))!.status, 'active');
    assert.equal((await recipient(o1, 'same@x.io'))!.sources.length, 1);
    assert.equal((await recipient(o2, 'same@x.io'))!.status, 'offboarded');
  });
});
