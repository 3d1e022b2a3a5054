import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  appendEvents,
  CommandCounter,
  createOrganization,
  EVENT_APPEND_LINGER_MS,
  readEvents,
  setEventAppendLinger,
  settleEventAppends,
} from '../../src/store';
import { EventBlock } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { makeApp, PATCH_OP, scimClient, USER } from '../scim/harness';

/**
 * The change feed's append behind a SCIM response lingers (src/store/eventBlocks.ts): the next writes' events share its
 * insert. Nobody may wait on it: readers of this process, an append that does not linger and a shutdown all send it at
 * once. The linger is set long here, so that a wait for it would show.
 */
const LONG = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const draft = (i: number) => ({ key: `linger:${i}`, type: 'group.created' as const, connectionId: null, data: { groupId: `g${i}` } });

describe('the feed append behind a response lingers', () => {
  const counter = new CommandCounter();
  const app = makeApp();
  before(async () => {
    await openTestStore('event_linger', { monitorCommands: true });
    counter.start();
  });
  afterEach(async () => {
    await settleEventAppends();
    setEventAppendLinger(EVENT_APPEND_LINGER_MS);
  });
  after(async () => {
    counter.stop();
    await closeTestStore();
  });

  test('appends arriving while one lingers share its insert, in their order', async () => {
    const orgId = (await createOrganization('Linger')).id;
    const start = (await readEvents(orgId, { after: -1, limit: 10 })).cursor;
    setEventAppendLinger(300);
    const { counts } = await counter.measure(async () => {
      const first = appendEvents(orgId, [draft(1)], { linger: true });
      await sleep(20);
      const second = appendEvents(orgId, [draft(2)], { linger: true });
      await Promise.all([first, second]);
    });
    assert.equal(counts.byType['insert:event_blocks'], 1, JSON.stringify(counts));
    const feed = await readEvents(orgId, { after: start, limit: 10 });
    assert.deepEqual(
      feed.items.map((e) => e.data.groupId),
      ['g1', 'g2'],
    );
  });

  test('a reader of this process does not wait for the linger, and sees the events', async () => {
    const orgId = (await createOrganization('Linger reader')).id;
    const start = (await readEvents(orgId, { after: -1, limit: 10 })).cursor;
    setEventAppendLinger(LONG);
    const t0 = Date.now();
    const append = appendEvents(orgId, [draft(3)], { linger: true });
    const feed = await readEvents(orgId, { after: start, limit: 10 });
    assert.deepEqual(
      feed.items.map((e) => e.data.groupId),
      ['g3'],
    );
    await append;
    assert.ok(Date.now() - t0 < LONG / 2, `the reader waited ${Date.now() - t0} ms`);
  });

  test('an append that does not linger takes the lingering ones with it', async () => {
    const orgId = (await createOrganization('Linger urgent')).id;
    setEventAppendLinger(LONG);
    const t0 = Date.now();
    const { counts } = await counter.measure(async () => {
      const lingering = appendEvents(orgId, [draft(4)], { linger: true });
      await appendEvents(orgId, [draft(5)]);
      await lingering;
    });
    assert.ok(Date.now() - t0 < LONG / 2, `the appends waited ${Date.now() - t0} ms`);
    assert.equal(counts.byType['insert:event_blocks'], 1, JSON.stringify(counts));
  });

  test('settling (what closing the store does first) sends what lingers', async () => {
    const orgId = (await createOrganization('Linger settle')).id;
    setEventAppendLinger(LONG);
    const t0 = Date.now();
    let done = false;
    const append = appendEvents(orgId, [draft(6)], { linger: true }).then(() => (done = true));
    await settleEventAppends();
    assert.ok(done, 'the lingering append was not sent by settleEventAppends');
    await append;
    assert.ok(Date.now() - t0 < LONG / 2);
  });

  test('settling with a bound does not wait past it for an append the store does not answer', async () => {
    const orgId = (await createOrganization('Linger hung')).id;
    await readEvents(orgId, { after: -1, limit: 1 }); // the feed's first reads, before the store stops answering
    const col = EventBlock.collection as unknown as { insertMany: (...a: unknown[]) => Promise<unknown> };
    const insertMany = col.insertMany;
    let answer: ((err: Error) => void) | undefined;
    col.insertMany = () => new Promise((_, reject) => (answer = reject));
    try {
      setEventAppendLinger(LONG);
      const append = appendEvents(orgId, [draft(7)], { linger: true });
      append.catch(() => undefined);
      const t0 = Date.now();
      await settleEventAppends(300);
      const waited = Date.now() - t0;
      assert.ok(waited >= 250 && waited < 10_000, `settled after ${waited} ms`);
      for (let i = 0; i < 100 && !answer; i++) await sleep(50);
      answer!(new Error('the store stopped answering (test)'));
      await assert.rejects(append);
    } finally {
      col.insertMany = insertMany;
    }
  });

  test('two SCIM PATCHes one after the other share one feed insert, and both changes are in the feed', async () => {
    const c = await scimClient(app);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push((await c.post('/Users', { schemas: [USER], userName: `l${i}@linger.example` }).expect(201)).body.id as string);
    }
    const start = (await readEvents(c.orgId, { after: -1, limit: 100 })).cursor;
    // Long enough that the second request surely arrives while the first one's append lingers.
    setEventAppendLinger(5_000);
    const { counts } = await counter.measure(async () => {
      for (const id of ids) {
        await c.patch(`/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }).expect(200);
      }
      await settleEventAppends();
    });
    assert.equal(counts.byType['insert:event_blocks'], 1, JSON.stringify(counts));
    const feed = await readEvents(c.orgId, { after: start, limit: 100 });
    assert.deepEqual(
      feed.items.filter((e) => e.type === 'recipient.offboarded').map((e) => e.data.email),
      ['l0@linger.example', 'l1@linger.example'],
    );
  });
});
