import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import {
  applySourceChanges,
  createConnection,
  createOrganization,
  CURSOR_SPAN,
  EVENT_GAP_GRACE_MS,
  EventCursorGoneError,
  headCursor,
  readEvents,
  recipientId,
  replayMergeJournal,
  storedEvents,
  sweepEvents,
  withoutObjects,
  type ConnectionRef,
  type EventDoc,
} from '../../src/store';
import { EventBlock, MergeJournal, Recipient, type RecipientDoc } from '../../src/store/models';
import { recipientEvents } from '../../src/store/events';
import { audienceEvents, type AudienceMatcher } from '../../src/store/audienceEvents';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };

async function conn(orgId: string, type: string): Promise<ConnectionRef> {
  const c = await createConnection({ orgId, type, accessToken: type === 'hris' ? 'tok' : undefined }, env);
  return { _id: c.id, orgId, type };
}

const up = (key: string, email: string | null, active = true, attributes: Record<string, unknown> = {}, groups?: string[]) =>
  ({ op: 'upsert', key, email, active, attributes, groups }) as const;

/** The events since a cursor, as `type data-summary` strings, and the new cursor. */
async function since(orgId: string, cursor: number): Promise<{ list: string[]; docs: EventDoc[]; cursor: number }> {
  const page = await readEvents(orgId, { after: cursor, limit: 500 });
  const list = page.items.map((e) => {
    const d = e.data;
    const extra = d.changed
      ? ` ${(d.changed as string[]).join(',')}`
      : typeof d.groupId === 'string'
        ? ` ${d.groupId}`
        : e.type === 'recipient.created' && (d.groups as string[]).length
          ? ` groups=${(d.groups as string[]).join(',')}`
          : '';
    return `${e.type} ${String(d.email ?? d.syncRunId ?? d.connectionId)}${extra}`;
  });
  return { list, docs: page.items, cursor: page.cursor };
}

describe('events: written with the change', () => {
  let orgId: string;
  let hris: ConnectionRef;
  let csv: ConnectionRef;
  let cursor = 0;

  before(async () => {
    await openTestStore('events');
    orgId = (await createOrganization('Acme')).id;
    hris = await conn(orgId, 'hris');
    csv = await conn(orgId, 'csv');
    cursor = await headCursor(orgId);
  });
  after(async () => {
    await closeTestStore();
  });

  async function expectEvents(want: string[]): Promise<EventDoc[]> {
    const got = await since(orgId, cursor);
    assert.deepEqual(got.list, want);
    cursor = got.cursor;
    return got.docs;
  }

  test('created, with its initial group memberships in its data; ids and email only unless full objects are asked for', async () => {
    await applySourceChanges(csv, [
      up('a', 'Ada@Example.com', true, { first_name: 'Ada', job_title: 'Eng' }, ['g1']),
      up('b', 'bob@example.com'),
    ]);
    const docs = await expectEvents(['recipient.created ada@example.com groups=g1', 'recipient.created bob@example.com']);
    const first = docs[0]!;
    assert.deepEqual(Object.keys(first.data).sort(), ['email', 'groups', 'recipientId', 'status']);
    assert.deepEqual(first.data.groups, ['g1']);
    assert.equal(first.connectionId, csv._id);
    assert.equal((first.object as Record<string, unknown>).firstName, 'Ada');
    assert.ok(docs[1]!.seq > first.seq);
  });

  test('nothing changed, nothing written; no email, no event', async () => {
    await applySourceChanges(csv, [
      up('a', 'Ada@Example.com', true, { first_name: 'Ada', job_title: 'Eng' }, ['g1']),
      up('n', 'not-an-email'),
    ]);
    await expectEvents([]);
  });

  test('updated names the changed attributes; group changes are member events', async () => {
    await applySourceChanges(csv, [
      up('a', 'Ada@Example.com', true, { first_name: 'Ada', job_title: 'CTO', custom: { shirt: 'M' } }, ['g2']),
    ]);
    await expectEvents([
      'recipient.updated ada@example.com custom.shirt,job_title',
      'group.member_added ada@example.com g2',
      'group.member_removed ada@example.com g1',
    ]);
  });

  test('a lower-priority source does not change what a higher one says: no event', async () => {
    await applySourceChanges(hris, [up('h-a', 'Ada@Example.com', true, { job_title: 'Chief' })]);
    await expectEvents(['recipient.updated ada@example.com job_title']);
    await applySourceChanges(csv, [
      up('a', 'Ada@Example.com', true, { first_name: 'Ada', job_title: 'Intern', custom: { shirt: 'M' } }, ['g2']),
    ]);
    await expectEvents([]);
  });

  test('offboarded and reactivated by an identity source', async () => {
    await applySourceChanges(hris, [up('h-a', 'Ada@Example.com', false, { job_title: 'Chief' })]);
    await expectEvents(['recipient.offboarded ada@example.com']);
    await applySourceChanges(hris, [up('h-a', 'Ada@Example.com', true, { job_title: 'Chief' })]);
    await expectEvents(['recipient.reactivated ada@example.com']);
  });

  test('active to inactive is an update of status', async () => {
    await applySourceChanges(csv, [up('b', 'bob@example.com', false)]);
    await expectEvents(['recipient.updated bob@example.com status']);
  });

  test('removed when no source lists the person; tombstones keep no one listed', async () => {
    await applySourceChanges(csv, [{ op: 'delete', key: 'b' }]);
    await expectEvents(['recipient.removed bob@example.com']);
    await applySourceChanges(hris, [up('h-c', 'cy@example.com')]);
    await expectEvents(['recipient.created cy@example.com']);
    await applySourceChanges(hris, [{ op: 'tombstone', key: 'h-c' }]);
    await expectEvents(['recipient.removed cy@example.com']);
    await applySourceChanges(csv, [{ op: 'delete', key: 'missing' }]);
    await expectEvents([]);
  });

  test('a crash between the recipient write and the event append is repaired by the journal replay, once', async () => {
    // Simulate the crash: write the change, then remove the events it appended and leave its journal entry.
    await applySourceChanges(csv, [up('e', 'eve@example.com')]);
    const before = await headCursor(orgId);
    const journalAt = new Date();
    await applySourceChanges(csv, [up('d', 'dee@example.com', true, {}, ['g9']), { op: 'delete', key: 'e' }]);
    const written = (await readEvents(orgId, { after: before, limit: 100 })).items;
    assert.equal(written.length, 2);
    await EventBlock.deleteMany({ orgId, seq: { $gt: before } }).exec();
    await MergeJournal.collection.insertOne({
      _id: 'crash1',
      orgId,
      emails: ['dee@example.com', 'eve@example.com'],
      createdAt: journalAt,
    } as never);
    const replayed = await replayMergeJournal(0);
    assert.equal(replayed, 1);
    // The replayed events take new cursors after the lost ones' (a hole that readers pass after the grace).
    const pastGrace = async () =>
      EventBlock.updateMany({ orgId, seq: { $gt: before } }, { $set: { createdAt: new Date(Date.now() - EVENT_GAP_GRACE_MS - 1) } }).exec();
    await pastGrace();
    const after1 = (await readEvents(orgId, { after: before, limit: 100 })).items;
    assert.deepEqual(after1.map((e) => `${e.type} ${String(e.data.email)}`).sort(), [
      'recipient.created dee@example.com',
      'recipient.removed eve@example.com',
    ]);
    assert.deepEqual(new Set(after1.map((e) => e.eid)), new Set(written.map((e) => e.eid)), 'the same ids as the lost ones');
    // Replaying again (another crash before the journal entry was removed) adds nothing.
    await MergeJournal.collection.insertOne({
      _id: 'crash2',
      orgId,
      emails: ['dee@example.com', 'eve@example.com'],
      createdAt: journalAt,
    } as never);
    await replayMergeJournal(0);
    await pastGrace();
    assert.equal((await readEvents(orgId, { after: before, limit: 100 })).items.length, 2);
    assert.ok(
      await Recipient.findOne({ _id: recipientId(orgId, 'dee@example.com') })
        .lean()
        .exec(),
    );
    cursor = await headCursor(orgId);
  });

  test("a recipient's copy of its events reads back as the events (compact form)", () => {
    const drafts = [
      {
        key: 'recipient:o:a@x.io:1:2:recipient.updated',
        type: 'recipient.updated' as const,
        connectionId: 'c1',
        data: { recipientId: 'o:a@x.io', email: 'a@x.io', changed: ['city'] },
        object: { id: 'o:a@x.io' },
        subject: 'o:a@x.io',
        inc: 1,
      },
      {
        key: 'audience:aud1:o:a@x.io:1:2:audience.recipient_left',
        type: 'audience.recipient_left' as const,
        connectionId: 'c1',
        data: { recipientId: 'o:a@x.io', email: 'a@x.io', audienceId: 'aud1' },
        subject: 'o:a@x.io',
        inc: 1,
      },
    ];
    const stored = withoutObjects(drafts)!;
    assert.ok(!stored.includes('"object"'));
    assert.deepEqual(
      storedEvents({ ev: stored }),
      drafts.map((d) => ({ ...d, object: null })),
    );
    // Stored in the recipient they name, the form leaves out what the document holds (its id, email, incarnation
    // and version), and reads back the same from that document.
    const owner = { _id: 'o:a@x.io', email: 'a@x.io', createdAt: new Date(1), v: 2, status: 'active' as const, groups: ['g1'] };
    const owned = withoutObjects(drafts, owner)!;
    assert.ok(owned.length < stored.length, `${owned.length} < ${stored.length}`);
    // Nor the keys, which it derives from the types and data.
    assert.ok(!owned.includes('a@x.io') && !owned.includes(':1:2') && !owned.includes('recipient:'), owned);
    assert.deepEqual(
      storedEvents({ ev: owned, ...owner }),
      drafts.map((d) => ({ ...d, object: null })),
    );
    assert.throws(() => storedEvents({ ev: owned }), /needs the recipient/);
    assert.throws(
      () => storedEvents({ ev: owned, _id: owner._id, email: owner.email, createdAt: owner.createdAt, v: 2 }),
      /needs the recipient/,
    );
    // The form earlier versions wrote in the recipient (keys with the subject and version marked) reads the same.
    const earlier = JSON.stringify({
      c: 'c1',
      e: [
        ['recipient:\u0001:\u0002:recipient.updated', 'recipient.updated', { changed: ['city'] }],
        ['audience:aud1:\u0001:\u0002:audience.recipient_left', 'audience.recipient_left', { audienceId: 'aud1' }],
      ],
    });
    assert.deepEqual(
      storedEvents({ ev: earlier, ...owner }),
      drafts.map((d) => ({ ...d, object: null })),
    );
    // Another recipient's events (not the document's own) keep the shared values.
    assert.ok(withoutObjects(drafts, { ...owner, _id: 'o:b@x.io', email: 'b@x.io' })!.includes('"s":'));
    // A key that is not the one the type derives keeps the form with keys.
    const odd = [{ ...drafts[0]!, key: 'recipient:o:a@x.io:1:2:recipient.updated:x' }];
    assert.deepEqual(
      storedEvents({ ev: withoutObjects(odd, owner), ...owner }),
      odd.map((d) => ({ ...d, object: null })),
    );
    // Drafts naming different recipients keep the plain form.
    const mixed = [drafts[0]!, { ...drafts[1]!, subject: 'o:b@x.io' }];
    assert.deepEqual(
      storedEvents({ ev: withoutObjects(mixed) }),
      mixed.map((d) => ('object' in d ? { ...d, object: null } : d)),
    );
  });

  test("each kind of recipient write's events, kept in the recipient it wrote, read back the same from it", () => {
    const base: RecipientDoc = {
      _id: 'o:a@x.io',
      orgId: 'o',
      email: 'a@x.io',
      emailDisplay: 'A@x.io',
      listed: true,
      status: 'active',
      firstName: 'A',
      lastName: null,
      attributes: { first_name: 'A', city: 'Oslo' },
      groups: ['g1', 'g2'],
      sources: [],
      contribs: [],
      v: 3,
      createdAt: new Date(1_700_000_000_000),
      updatedAt: new Date(1_700_000_000_500),
    };
    const next = (d: Partial<RecipientDoc>): RecipientDoc => ({ ...base, ...d, v: base.v + 1 });
    const audience: AudienceMatcher = {
      id: 'aud1',
      match: (r) => r.listed && r.status === 'active' && r.groups.includes('g3'),
      fields: ['groups', 'status', 'listed'],
    };
    const cases: [string, RecipientDoc | undefined, RecipientDoc][] = [
      ['created', undefined, base],
      ['created inactive, in no group', undefined, { ...base, status: 'inactive', groups: [] }],
      ['offboarded', base, next({ status: 'offboarded' })],
      ['reactivated', { ...base, status: 'offboarded' }, next({ status: 'inactive' })],
      ['updated, groups changed, entered an audience', base, next({ attributes: { first_name: 'A', city: 'Rome' }, groups: ['g2', 'g3'] })],
      ['left the feed: only tombstones', base, next({ listed: false, status: 'offboarded' })],
    ];
    for (const [name, prev, doc] of cases) {
      const drafts = [...recipientEvents(prev, doc, 'c1'), ...audienceEvents([audience], prev, doc, 'c1')];
      assert.ok(drafts.length, name);
      const ev = withoutObjects(drafts, doc)!;
      assert.ok(!ev.includes('"e"') && !ev.includes('a@x.io'), `${name}: ${ev}`);
      assert.deepEqual(
        storedEvents({ ...doc, ev }),
        drafts.map((d) => ({ ...d, object: null })),
        name,
      );
      // Each event of a write names a change of its own (the feed drops a key it has seen).
      assert.equal(new Set(drafts.map((d) => d.key)).size, drafts.length, name);
      // What the recipient holds is left out: the data of these kinds is the recipient's own.
      for (const own of ['recipient.created', 'recipient.reactivated', 'recipient.offboarded', 'recipient.removed']) {
        if (drafts.some((d) => d.type === own)) assert.ok(ev.includes(`["${own}"]`), `${name}: ${ev}`);
      }
    }
  });

  test('readers stop at a young hole, pass and seal it once it is older than the grace', async () => {
    const head = await headCursor(orgId);
    const pos = Math.floor(head / CURSOR_SPAN);
    // A writer took position pos+1 and has not inserted yet; another inserted pos+2.
    const now = new Date();
    const packed = [['evt_gap_test', 'recipient.updated', null, { email: 'x@example.com', changed: ['city'] }, null, null, null]];
    await EventBlock.collection.insertOne({
      _id: `${orgId}:${pos + 2}`,
      orgId,
      seq: (pos + 2) * CURSOR_SPAN,
      n: 1,
      createdAt: now,
      z: deflateRawSync(Buffer.from(JSON.stringify(packed))),
    } as never);
    const young = await readEvents(orgId, { after: head, limit: 10 });
    assert.equal(young.items.length, 0);
    assert.ok(young.cursor >= head && young.cursor < (pos + 1) * CURSOR_SPAN, 'the reader waits before the hole');
    await EventBlock.collection.updateOne({ _id: `${orgId}:${pos + 2}` } as never, {
      $set: { createdAt: new Date(Date.now() - EVENT_GAP_GRACE_MS - 1) },
    });
    const old = await readEvents(orgId, { after: head, limit: 10 });
    assert.deepEqual(
      old.items.map((e) => e.seq),
      [(pos + 2) * CURSOR_SPAN],
    );
    // The reader sealed the hole: the late writer's insert is refused, so no reader can have passed its events.
    await assert.rejects(
      EventBlock.collection.insertOne({
        _id: `${orgId}:${pos + 1}`,
        orgId,
        seq: (pos + 1) * CURSOR_SPAN,
        n: 1,
        createdAt: now,
        z: Buffer.alloc(0),
      } as never),
      (err: { code?: number }) => err.code === 11000,
    );
    // This process's own next append takes a position past the block it did not write.
    await applySourceChanges(csv, [up('gap', 'gap@example.com')]);
    const next = await readEvents(orgId, { after: old.cursor, limit: 10 });
    assert.deepEqual(
      next.items.map((e) => e.data.email),
      ['gap@example.com'],
    );
    assert.ok(next.items[0]!.seq > (pos + 2) * CURSOR_SPAN);
    cursor = next.cursor;
  });

  test('keyset pages, type and connection filters', async () => {
    const start = cursor;
    await applySourceChanges(csv, [up('p1', 'p1@example.com'), up('p2', 'p2@example.com', true, {}, ['g1']), up('p3', 'p3@example.com')]);
    await applySourceChanges(hris, [up('hp', 'p4@example.com')]);
    const p1 = await readEvents(orgId, { after: start, limit: 2 });
    assert.equal(p1.items.length, 2);
    assert.equal(p1.more, true);
    const p2 = await readEvents(orgId, { after: p1.cursor, limit: 10 });
    assert.deepEqual(
      [...p1.items, ...p2.items].map((e) => e.type),
      ['recipient.created', 'recipient.created', 'recipient.created', 'recipient.created'],
    );
    const created = await readEvents(orgId, { after: start, limit: 10, types: ['recipient.created'], connectionId: csv._id });
    assert.deepEqual(
      created.items.map((e) => e.data.email),
      ['p1@example.com', 'p2@example.com', 'p3@example.com'],
    );
    const byConn = await readEvents(orgId, { after: start, limit: 10, connectionId: hris._id });
    assert.deepEqual(
      byConn.items.map((e) => e.data.email),
      ['p4@example.com'],
    );
  });

  test('retention: old events are swept and a cursor before them is gone', async () => {
    const other = (await createOrganization('Other')).id;
    const c = await conn(other, 'csv');
    await applySourceChanges(c, [up('1', 'one@example.com'), up('2', 'two@example.com')]);
    const old = await headCursor(other);
    await EventBlock.updateMany({ orgId: other }, { $set: { createdAt: new Date(Date.now() - 31 * 86_400_000) } }).exec();
    await applySourceChanges(c, [up('3', 'three@example.com')]);
    assert.ok((await sweepEvents()) >= 3, 'connection.created and two recipient.created removed');
    await assert.rejects(readEvents(other, { after: old - 1, limit: 10 }), EventCursorGoneError);
    const page = await readEvents(other, { after: old, limit: 10 });
    assert.deepEqual(
      page.items.map((e) => e.data.email),
      ['three@example.com'],
    );
  });

  test('cursors are unique and ordered under concurrent writers', async () => {
    const org = (await createOrganization('Concurrent')).id;
    const conns = await Promise.all([conn(org, 'csv'), conn(org, 'csv'), conn(org, 'csv')]);
    await Promise.all(
      conns.map((c, i) =>
        applySourceChanges(
          c,
          Array.from({ length: 20 }, (_, j) => up(`k${j}`, `c${i}-${j}@example.com`)),
        ),
      ),
    );
    const all = await readEvents(org, { after: 0, limit: 500 });
    assert.equal(all.items.length, 63, 'three connection.created and sixty recipient.created');
    const seqs = all.items.map((e) => e.seq);
    assert.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      'strictly increasing',
    );
    assert.equal(new Set(all.items.map((e) => e.eid)).size, 63);
    assert.equal(all.items.filter((e) => e.type === 'recipient.created').length, 60);
  });
});
