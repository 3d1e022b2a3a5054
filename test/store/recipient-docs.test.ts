import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Collection } from 'mongodb';
import mongoose from 'mongoose';
import {
  applySourceChanges,
  CommandCounter,
  countRecipients,
  exportRecipients,
  getRecipient,
  listedRecipientsQuery,
  recipientId,
  type ConnectionRef,
  type RecipientDoc,
} from '../../src/store';
import { fromStored, toStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';
import { closeTestStore, csvConnection, openTestStore } from '../helpers/store';

function recipients(): Collection<StoredRecipient> {
  return mongoose.connection.db!.collection<StoredRecipient>('recipients');
}

/** A recipient as the versions before the slim form stored it: every derived field, contributions as an array. */
function asEarlierVersionsStored(d: RecipientDoc): Record<string, unknown> {
  const { ev: _ev, ...rest } = d;
  return { ...rest };
}

async function writePerson(conn: ConnectionRef, key: string, email: string, first: string): Promise<void> {
  await applySourceChanges(conn, [
    { op: 'upsert', key, email, active: true, attributes: { first_name: first, last_name: 'Lovelace', city: 'London' } },
  ]);
}

describe('recipient documents: stored slim, read whole, earlier documents read the same', () => {
  before(() => openTestStore('recipient_docs', { monitorCommands: true }));
  after(closeTestStore);

  test('a written recipient stores no derived copies: names, sources, a display form equal to the email', async () => {
    const conn = await csvConnection('slim');
    await writePerson(conn, 'k1', 'Ada@Slim.example', 'Ada');
    await writePerson(conn, 'k2', 'grace@slim.example', 'Grace');
    const raw = (await recipients().findOne({ _id: recipientId(conn.orgId, 'ada@slim.example') }))!;
    for (const field of ['firstName', 'lastName', 'sources']) assert.ok(!(field in raw), `${field} is not stored`);
    assert.equal(typeof raw.contribs, 'string', 'contributions are one string');
    assert.equal(raw.emailDisplay, 'Ada@Slim.example', 'a display form that differs from the email is kept');
    const plain = (await recipients().findOne({ _id: recipientId(conn.orgId, 'grace@slim.example') }))!;
    assert.ok(!('emailDisplay' in plain), 'a display form equal to the email is not stored');

    const r = (await getRecipient(recipientId(conn.orgId, 'ada@slim.example')))!;
    assert.equal(r.firstName, 'Ada');
    assert.equal(r.lastName, 'Lovelace');
    assert.equal(r.emailDisplay, 'Ada@Slim.example');
    assert.deepEqual(r.sources, [{ connectionId: conn._id, type: 'csv', active: true }]);
    assert.equal(r.contribs.length, 1);
    assert.equal((await getRecipient(recipientId(conn.orgId, 'grace@slim.example')))!.emailDisplay, 'grace@slim.example');

    // The names stay filterable (a segment's firstName is the first_name attribute), and the export has them.
    assert.equal(await countRecipients(listedRecipientsQuery(conn.orgId, 'firstName eq "Ada"')), 1);
    assert.equal(await countRecipients(listedRecipientsQuery(conn.orgId, 'lastName eq "Lovelace"')), 2);
    const exported: { email: string; emailDisplay: string; firstName: string | null }[] = [];
    for await (const e of exportRecipients(listedRecipientsQuery(conn.orgId))) exported.push(e);
    assert.deepEqual(exported.map((e) => [e.emailDisplay, e.firstName]).sort(), [
      ['Ada@Slim.example', 'Ada'],
      ['grace@slim.example', 'Grace'],
    ]);
  });

  test('a document an earlier version wrote reads the same, is not rewritten by a write that changes nothing, and is slimmed by one that does', async () => {
    const conn = await csvConnection('earlier');
    await writePerson(conn, 'k1', 'mary@earlier.example', 'Mary');
    const id = recipientId(conn.orgId, 'mary@earlier.example');
    const now = (await getRecipient(id))!;
    await recipients().replaceOne({ _id: id }, asEarlierVersionsStored(now) as unknown as StoredRecipient);
    const old = (await recipients().findOne({ _id: id }))!;
    assert.ok(Array.isArray(old.contribs) && old.firstName === 'Mary' && Array.isArray(old.sources), 'the earlier form is in place');
    const { ev: _ev, ...nowWithoutEvents } = now;
    assert.deepEqual(fromStored(old), nowWithoutEvents, 'read the same');
    assert.equal(await countRecipients(listedRecipientsQuery(conn.orgId, 'firstName eq "Mary"')), 1);

    const counter = new CommandCounter().start();
    try {
      await writePerson(conn, 'k1', 'mary@earlier.example', 'Mary');
    } finally {
      counter.stop();
    }
    const byType = counter.snapshot().byType;
    assert.equal((byType['update:recipients'] ?? 0) + (byType['insert:recipients'] ?? 0), 0, JSON.stringify(byType));
    assert.ok(Array.isArray((await recipients().findOne({ _id: id }))!.contribs), 'left as it was');

    await writePerson(conn, 'k1', 'mary@earlier.example', 'Maria');
    const raw = (await recipients().findOne({ _id: id }))!;
    assert.equal(typeof raw.contribs, 'string');
    assert.ok(!('firstName' in raw) && !('sources' in raw));
    const r = (await getRecipient(id))!;
    assert.equal(r.firstName, 'Maria');
    assert.equal(r.v, now.v + 1);
  });

  test('toStored and fromStored are inverse on what the code sees', () => {
    const doc: RecipientDoc = {
      _id: 'o:x@y.io',
      orgId: 'o',
      email: 'x@y.io',
      emailDisplay: 'X@y.io',
      listed: true,
      status: 'inactive',
      firstName: 'X',
      lastName: null,
      attributes: { first_name: 'X', custom: { team: 'a' } },
      groups: ['g1'],
      sources: [{ connectionId: 'c2', type: 'scim', active: false }],
      contribs: [
        { sid: 'c1:k', cid: 'c1', ct: 'csv', a: true, d: true, s: 0, e: 'x@y.io', at: {}, g: [] },
        { sid: 'c2:k', cid: 'c2', ct: 'scim', a: false, d: false, s: 5, e: 'X@y.io', at: { first_name: 'X' }, g: ['g1'] },
      ],
      ev: '{"c":null,"e":[]}',
      v: 3,
      createdAt: new Date(1000),
      updatedAt: new Date(2000),
    };
    assert.deepEqual(fromStored(toStored(doc)), doc);
  });
});
