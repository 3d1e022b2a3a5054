import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Collection } from 'mongodb';
import mongoose from 'mongoose';
import {
  applySourceChanges,
  CommandCounter,
  countRecipients,
  createConnection,
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

  test('contributions hold once what the recipient holds: the attributes it shares are named, the rest kept', async () => {
    const conn = await csvConnection('once');
    const c = await createConnection(
      { orgId: conn.orgId, type: 'csv' },
      { publicUrl: 'http://localhost', secretKey: 'test-secret-key-0123456789' },
    );
    const other: ConnectionRef = { _id: c.id, orgId: conn.orgId, type: 'csv' };
    await writePerson(conn, 'k1', 'Lin@Once.example', 'Lin');
    await applySourceChanges(other, [
      { op: 'upsert', key: 'o1', email: 'lin@once.example', active: true, attributes: { first_name: 'Linda', job_title: 'Pilot' } },
    ]);
    const id = recipientId(conn.orgId, 'lin@once.example');
    const raw = (await recipients().findOne({ _id: id }))!;
    assert.equal(typeof raw.contribs, 'string');
    const stored = raw.contribs as string;
    for (const held of ['London', 'Lovelace', 'Pilot', conn._id + ':k1', 'lin@once.example']) {
      assert.ok(!stored.includes(held), `${held} is held by the recipient, not again by its contributions: ${stored}`);
    }
    // The value the recipient does not show (the lower-priority first name) is kept, as is the display form.
    assert.ok(stored.includes('Linda') || stored.includes('"Lin"'), stored);
    const r = (await getRecipient(id))!;
    const byCid = new Map(r.contribs.map((c) => [c.cid, c]));
    assert.deepEqual(byCid.get(conn._id)!.at, { first_name: 'Lin', last_name: 'Lovelace', city: 'London' });
    assert.deepEqual(byCid.get(other._id)!.at, { first_name: 'Linda', job_title: 'Pilot' });
    assert.equal(byCid.get(conn._id)!.e, 'Lin@Once.example');
    assert.equal(byCid.get(other._id)!.sid, `${other._id}:o1`);

    // The previous version's string of whole contributions reads the same.
    await recipients().updateOne({ _id: id }, { $set: { contribs: JSON.stringify(r.contribs) } });
    const { ev: _ev, ...withoutEvents } = r;
    const { ev: _ev2, ...readBack } = (await getRecipient(id))!;
    assert.deepEqual(readBack, withoutEvents);
  });

  test('toStored and fromStored are inverse on any contributions (random cases)', () => {
    let seed = 7;
    const rand = (n: number) => {
      // mulberry32: small, and uniform enough for picking cases
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const names = ['first_name', 'last_name', 'city', 'job_title', 'department_name'] as const;
    const values = ['a', 'b', 'A', ''];
    const attrs = (): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const n of names) if (rand(3)) out[n] = values[rand(values.length)];
      if (rand(2)) out.custom = rand(2) ? { team: 'x' } : { team: 'y', floor: '2' };
      return out;
    };
    for (let i = 0; i < 300; i++) {
      const attributes = attrs() as RecipientDoc['attributes'];
      const contribs = Array.from({ length: rand(4) }, (_, j) => ({
        sid: rand(5) ? `c${j}:key:${j}` : `odd-${j}`,
        cid: `c${j}`,
        ct: ['csv', 'scim', 'hris'][rand(3)]!,
        a: rand(3) > 0,
        d: rand(4) === 0,
        s: rand(1000),
        e: [null, 'x@y.io', 'X@y.io'][rand(3)]!,
        at: [
          () => ({ ...attributes }),
          () => ({ ...attributes, ...attrs() }),
          () => Object.fromEntries(Object.entries(attributes).filter(() => rand(4) > 0)),
          attrs,
        ][rand(4)]!(),
        g: rand(2) ? [] : ['g1', 'g2'].slice(0, 1 + rand(2)),
      }));
      const doc: RecipientDoc = {
        _id: 'o:x@y.io',
        orgId: 'o',
        email: 'x@y.io',
        emailDisplay: 'x@y.io',
        listed: true,
        status: 'active',
        firstName: attributes.first_name ?? null,
        lastName: attributes.last_name ?? null,
        attributes,
        groups: [],
        sources: contribs.filter((c) => !c.d).map((c) => ({ connectionId: c.cid, type: c.ct, active: c.a })),
        contribs,
        v: 1,
        createdAt: new Date(1000),
        updatedAt: new Date(2000),
      };
      const stored = toStored(doc);
      assert.deepEqual(
        fromStored(JSON.parse(JSON.stringify({ ...stored, createdAt: 0, updatedAt: 0 })) as StoredRecipient).contribs,
        contribs,
        `case ${i}`,
      );
    }
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
