import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Model } from 'mongoose';
import {
  appendEvents,
  authenticateScimConnection,
  CommandCounter,
  createConnection,
  createOrganization,
  findByIdCoalesced,
  readEvents,
  rotateScimToken,
  storeCapabilities,
} from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { makeApp, scimClient, USER } from '../scim/harness';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };

/**
 * A stand-in for a mongoose model whose collection's `_id $in` reads the test answers by hand: each read waits until
 * the test releases it, so what is in flight when a caller arrives is under the test's control.
 */
function heldModel(docs: Map<string, Record<string, unknown>>) {
  const reads: { ids: string[]; release: () => void; fail: (err: Error) => void }[] = [];
  let version = 0;
  const collection = {
    collectionName: `held_${Math.random().toString(36).slice(2)}`,
    find(filter: { _id: { $in: string[] } }) {
      const ids = filter._id.$in;
      // The state the read sees is the state when it is sent, as a store's would be.
      const seen = new Map([...docs].map(([k, v]) => [k, structuredClone(v)]));
      const at = version;
      const exec = () =>
        new Promise<unknown[]>((resolve, reject) => {
          reads.push({
            ids,
            release: () => resolve(ids.filter((id) => seen.has(id)).map((id) => ({ ...seen.get(id)!, _id: id, seenAt: at }))),
            fail: reject,
          });
        });
      return { toArray: exec };
    },
  };
  return {
    model: { collection } as unknown as Model<Record<string, unknown>>,
    reads,
    write(id: string, doc: Record<string, unknown>) {
      docs.set(id, doc);
      version++;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('reads by _id, coalesced (group commit)', () => {
  before(async () => {
    await openTestStore('coalescing_reads');
  });
  after(closeTestStore);

  test('a caller arriving while a read is in flight is answered by a read sent after it asked', async (t) => {
    if (!storeCapabilities().idInFromIndex) return t.skip('this store scans for `_id $in`: each read goes alone');
    const held = heldModel(new Map([['c1', { token: 'old' }]]));
    const first = findByIdCoalesced(held.model, 'c1');
    await tick();
    assert.equal(held.reads.length, 1, 'the first read goes out at once');
    // The document changes (a token rotated) after the first read was sent; then a second caller asks.
    held.write('c1', { token: 'new' });
    const second = findByIdCoalesced(held.model, 'c1');
    const third = findByIdCoalesced(held.model, 'c2');
    await tick();
    assert.equal(held.reads.length, 1, 'later callers wait for the read in flight');
    held.reads[0]!.release();
    assert.equal(((await first) as { token: string }).token, 'old');
    await tick();
    assert.equal(held.reads.length, 2, 'the waiting callers go out together');
    assert.deepEqual([...held.reads[1]!.ids].sort(), ['c1', 'c2']);
    held.reads[1]!.release();
    assert.equal(((await second) as { token: string }).token, 'new', 'not the state read before it asked');
    assert.equal(await third, null);
  });

  test('callers of the same document each get their own copy; a failed read fails its callers only', async (t) => {
    if (!storeCapabilities().idInFromIndex) return t.skip('this store scans for `_id $in`: each read goes alone');
    const held = heldModel(new Map([['a', { tags: ['x'] }]]));
    const lead = findByIdCoalesced(held.model, 'a');
    await tick();
    const one = findByIdCoalesced(held.model, 'a');
    const two = findByIdCoalesced(held.model, 'a');
    held.reads[0]!.release();
    await lead;
    await tick();
    assert.deepEqual(held.reads[1]!.ids, ['a'], 'asked once for both');
    const late = findByIdCoalesced(held.model, 'a');
    held.reads[1]!.fail(new Error('store unreachable'));
    const [d1, d2] = await Promise.allSettled([one, two]);
    assert.equal(d1.status, 'rejected');
    assert.equal(d2.status, 'rejected');
    await tick();
    assert.equal(held.reads.length, 3, 'the next caller still gets a read');
    held.reads[2]!.release();
    const doc = (await late) as { tags: string[] };
    assert.deepEqual(doc.tags, ['x']);

    // Two callers in one read: mutating one's document leaves the other's alone.
    const lead2 = findByIdCoalesced(held.model, 'a');
    await tick();
    const p = findByIdCoalesced(held.model, 'a');
    const q = findByIdCoalesced(held.model, 'a');
    held.reads[3]!.release();
    await lead2;
    await tick();
    held.reads[4]!.release();
    const [dp, dq] = (await Promise.all([p, q])) as { tags: string[] }[];
    dp!.tags.push('mutated');
    assert.deepEqual(dq!.tags, ['x']);
  });

  test('a rotated token is refused by every request after the rotation, also under concurrent requests', async () => {
    const orgId = (await createOrganization('Coalesce')).id;
    const c = await createConnection({ orgId, type: 'scim' }, env);
    // Requests keep arriving while the token is rotated: none that starts after the rotation returned is accepted.
    let stop = false;
    let lateAccepted = 0;
    let rotatedAt = Number.POSITIVE_INFINITY;
    const workers = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const asked = Date.now();
        const conn = await authenticateScimConnection(c.id, c.token!);
        if (conn && asked > rotatedAt) lateAccepted++;
      }
    });
    await new Promise((r) => setTimeout(r, 50));
    const fresh = await rotateScimToken(c.id);
    rotatedAt = Date.now();
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);
    assert.equal(lateAccepted, 0);
    assert.ok(await authenticateScimConnection(c.id, fresh));
    assert.equal(await authenticateScimConnection(c.id, c.token!), null);
  });
});

describe('concurrent SCIM writes share reads and feed inserts', () => {
  const app = makeApp();
  const counter = new CommandCounter();
  before(async () => {
    await openTestStore('coalescing_scim', { monitorCommands: true });
    counter.start();
  });
  after(async () => {
    counter.stop();
    await closeTestStore();
  });

  test('ten PATCHes at once: every change applied and in the feed, in fewer commands than ten one by one', async () => {
    const c = await scimClient(app);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await c.post('/Users', { schemas: [USER], userName: `co${i}@coalesce.example` }).expect(201)).body.id as string);
    }
    const orgId = c.orgId;
    const start = (await readEvents(orgId, { after: -1, limit: 1000 })).cursor;
    const patch = (id: string) =>
      c.patch(`/Users/${id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { active: false } }],
      });
    const one = await counter.measure(() => patch(ids[0]!).expect(200));
    const all = await counter.measure(() => Promise.all(ids.slice(1).map((id) => patch(id).expect(200))));
    for (const id of ids) assert.equal((await c.get(`/Users/${id}`).expect(200)).body.active, false);
    const feed = await readEvents(orgId, { after: start, limit: 1000 });
    const offboarded = feed.items.filter((e) => e.type === 'recipient.offboarded').map((e) => e.data.email);
    assert.deepEqual([...offboarded].sort(), ids.map((_, i) => `co${i}@coalesce.example`).sort());
    console.log(`# one PATCH: ${JSON.stringify(one.counts)}; nine at once: ${JSON.stringify(all.counts)}`);
    const by = (counts: { byType: Record<string, number> }, type: string) => counts.byType[type] ?? 0;
    // Nine at once against nine times one alone. The nine credential checks arrive together and share reads where
    // `_id $in` is indexed. The feed's inserts overlap only when the writes before them finish together, which the
    // store's pace decides (the order test below holds the group commit deterministically): never more than one each.
    assert.ok(by(all.counts, 'insert:event_blocks') <= 9 * by(one.counts, 'insert:event_blocks'), JSON.stringify(all.counts));
    if (storeCapabilities().idInFromIndex) {
      assert.ok(by(all.counts, 'find:connections') < 9 * by(one.counts, 'find:connections'), JSON.stringify(all.counts));
    }
    // Record and recipient writes go out with the concurrent requests' where the store runs such a batch as about one
    // write (src/store/writeBatch.ts): never more than one each (the deterministic batch tests are in writeBatch.test).
    assert.ok(by(all.counts, 'update:recipients') <= 9 * by(one.counts, 'update:recipients'), JSON.stringify(all.counts));
    assert.ok(by(all.counts, 'update:source_records') <= 9 * by(one.counts, 'update:source_records'), JSON.stringify(all.counts));
  });

  test('concurrent appends of one organization keep their order', async () => {
    const orgId = (await createOrganization('Order')).id;
    const start = (await readEvents(orgId, { after: -1, limit: 1000 })).cursor;
    const { counts } = await counter.measure(() =>
      Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          appendEvents(orgId, [{ key: `order:${i}`, type: 'group.created', connectionId: null, data: { groupId: `g${i}` } }]),
        ),
      ),
    );
    const feed = await readEvents(orgId, { after: start, limit: 1000 });
    assert.deepEqual(
      feed.items.map((e) => e.data.groupId),
      Array.from({ length: 20 }, (_, i) => `g${i}`),
    );
    // A batch is taken when its write turn comes (src/store/writeBatch.ts, writeTurn), after this tick: all twenty
    // arrived by then and go together.
    assert.equal(counts.byType['insert:event_blocks'], 1, JSON.stringify(counts));
  });
});
