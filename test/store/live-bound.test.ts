import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  SnapshotIngest,
  applySourceChanges,
  countStoreCommands,
  createConnection,
  createOrganization,
  storeCapabilities,
  type SourceChange,
  type SyncConnection,
} from '../../src/store';
import { liveBound, raiseLiveBound } from '../../src/store/liveCount';
import { LiveBound, SourceRecord } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost', secretKey: 'live-bound-secret-key-0000' };

const upsert = (i: number, tag = 'a'): SourceChange => ({
  op: 'upsert',
  key: `k${i}`,
  email: `p${i}@bound.io`,
  active: true,
  attributes: { first_name: `P${i}-${tag}` },
});
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, j) => from + j);

async function setup(type: 'csv' | 'sftp' | 'hris' | 'scim', threshold = 0.2): Promise<SyncConnection> {
  const orgId = (await createOrganization(`Bound ${type}`)).id;
  const c = await createConnection({ orgId, type, accessToken: 'x', massRemovalThreshold: threshold }, env);
  return { _id: c.id, orgId, type, massRemovalThreshold: threshold };
}

const live = (conn: SyncConnection) => SourceRecord.countDocuments({ connectionId: conn._id, deleted: false }).exec();

/** Asserts the bound equals the exact count of live records. */
async function exact(conn: SyncConnection, want: number, what: string): Promise<void> {
  assert.equal(await live(conn), want, `${what}: live records`);
  assert.equal(await liveBound(conn), want, `${what}: the bound`);
}

async function fullSnapshot(conn: SyncConnection, people: number[]) {
  const atStart = countStoreCommands();
  const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
  const startReads = atStart.on('find', 'source_records');
  atStart.stop();
  for (const [line, i] of people.entries()) await ingest.add(upsert(i) as Extract<SourceChange, { op: 'upsert' }>, line + 2);
  const count = countStoreCommands();
  const run = await ingest.finish();
  const counted = count.on('aggregate', 'source_records');
  count.stop();
  return { run, counted, startReads };
}

describe('the live-record bound: the guard knows a full snapshot removes nobody without counting (issue 13)', () => {
  before(async () => {
    await openTestStore('live_bound', { monitorCommands: true });
  });
  after(closeTestStore);

  test('a csv connection: the bound follows creates and removals, batched and one at a time', async () => {
    const conn = await setup('csv');
    await exact(conn, 0, 'created');
    await applySourceChanges(
      conn,
      range(0, 40).map((i) => upsert(i)),
    );
    await exact(conn, 40, 'a batch of creates');
    await applySourceChanges(conn, [upsert(40)]);
    await exact(conn, 41, 'one create');
    await applySourceChanges(
      conn,
      range(0, 40).map((i) => upsert(i, 'b')),
    );
    await exact(conn, 41, 'updates');
    await applySourceChanges(
      conn,
      range(0, 5).map((i) => ({ op: 'delete', key: `k${i}` })),
    );
    await exact(conn, 36, 'removals');
    await applySourceChanges(conn, [{ op: 'delete', key: 'k5' }]);
    await exact(conn, 35, 'one removal');
    await applySourceChanges(conn, [{ op: 'delete', key: 'k5' }, upsert(0), upsert(1)]);
    await exact(conn, 37, 'a removal of nobody and two people back');
  });

  test('an hris connection: tombstones lower it where replaces are exact, a person brought back raises it', async () => {
    const conn = await setup('hris');
    // FerretDB v1 may tell two racing replaces that both matched: there a tombstone lowers nothing.
    const exactReplaces = storeCapabilities().atomicFindAndModify;
    const check = async (liveNow: number, tombstoned: number, what: string) => {
      assert.equal(await live(conn), liveNow, `${what}: live records`);
      assert.equal(await liveBound(conn), liveNow + (exactReplaces ? 0 : tombstoned), `${what}: the bound`);
    };
    await applySourceChanges(
      conn,
      range(0, 20).map((i) => upsert(i)),
    );
    await applySourceChanges(
      conn,
      range(0, 6).map((i) => ({ op: 'tombstone', key: `k${i}` })),
    );
    await check(14, 6, 'tombstones');
    await applySourceChanges(conn, [upsert(0), upsert(1), { op: 'tombstone', key: 'k2' }]);
    await check(16, 6, 'two brought back, a tombstone tombstoned again');
    await applySourceChanges(conn, [{ op: 'tombstone', key: 'k7' }]);
    await check(15, 7, 'one tombstone');
    await applySourceChanges(conn, [
      { op: 'delete', key: 'k3' },
      { op: 'delete', key: 'k10' },
    ]);
    await check(14, 7, 'a tombstone deleted, a live person deleted');
  });

  test('a SCIM connection keeps no bound, and its writes send no command for one', async () => {
    const conn = await setup('scim');
    assert.equal(await liveBound(conn), null);
    const count = countStoreCommands();
    await applySourceChanges(conn, [upsert(1)]);
    await applySourceChanges(conn, [{ op: 'tombstone', key: 'k1' }]);
    const entries = count.on('insert', 'live_bounds');
    count.stop();
    assert.equal(entries, 0);
    assert.equal(await liveBound(conn), null);
  });

  for (const type of ['csv', 'hris'] as const) {
    const removal = type === 'csv' ? 'delete' : 'tombstone';
    test(`writers racing on the same people never leave the bound low (${type}: ${removal})`, async () => {
      const conn = await setup(type);
      const keys = range(0, 120);
      for (let round = 0; round < 3; round++) {
        // Both create (or bring back) the same people: one insert of each wins, the other is refused.
        await Promise.all([
          applySourceChanges(
            conn,
            keys.map((i) => upsert(i, `x${round}`)),
          ),
          applySourceChanges(
            conn,
            keys.map((i) => upsert(i, `x${round}`)),
          ),
        ]);
        assert.equal(await live(conn), keys.length);
        assert.ok((await liveBound(conn))! >= keys.length, `round ${round}: the bound is low after racing creates`);
        // Both remove the same people: each record goes once, and a writer that lost must not count it.
        const removals = keys.map((i): SourceChange => ({ op: removal, key: `k${i}` }));
        await Promise.all([applySourceChanges(conn, removals), applySourceChanges(conn, removals)]);
        assert.equal(await live(conn), 0);
        assert.ok((await liveBound(conn))! >= 0, `round ${round}: the bound went below zero after racing removals`);
      }
    });
  }

  test('a re-sync that removes nobody sends no count; one that removes somebody is counted, and removes them', async () => {
    const conn = await setup('csv');
    let r = await fullSnapshot(conn, range(0, 300));
    assert.equal(r.run.status, 'succeeded');
    assert.equal(r.run.counts.created, 300);
    assert.equal(r.startReads, 0, 'a bound of 0 says the first load has nobody to remove: no existence read');
    await exact(conn, 300, 'first load');

    r = await fullSnapshot(conn, range(0, 300));
    assert.equal(r.run.status, 'succeeded');
    assert.equal(r.startReads, 0, 'a bound above 0 says somebody may be live: no existence read');
    assert.equal(r.counted, 0, 'the bound answered the guard');
    assert.deepEqual(r.run.review, { existing: 300, wouldRemove: 0, wouldDeactivate: 0, threshold: 0.2 });

    r = await fullSnapshot(conn, range(0, 290));
    assert.equal(r.run.status, 'succeeded');
    assert.ok(r.counted >= 1, 'a bound above what the snapshot lists is checked by counting');
    assert.equal(r.run.counts.removed, 10);
    await exact(conn, 290, 'ten removed');
  });

  test('a bound left high (a stop between a raise and its write) costs a count, and decides nothing wrong', async () => {
    const conn = await setup('csv');
    await fullSnapshot(conn, range(0, 200));
    await raiseLiveBound(conn._id, 7);
    let r = await fullSnapshot(conn, range(0, 200));
    assert.equal(r.run.status, 'succeeded');
    assert.ok(r.counted >= 1);
    assert.deepEqual(r.run.review, { existing: 200, wouldRemove: 0, wouldDeactivate: 0, threshold: 0.2 });
    assert.equal(await live(conn), 200);
    assert.equal(await liveBound(conn), 207, 'a high bound stays high: only a count can say what it should be');

    // The guard still holds a truncated snapshot.
    r = await fullSnapshot(conn, range(0, 100));
    assert.equal(r.run.status, 'needs_review');
    assert.equal(r.run.review?.wouldRemove, 100);
    assert.equal(await live(conn), 200);
  });

  test('a first load under a bound left high is staged, not applied as read, and loads everyone', async () => {
    const conn = await setup('csv');
    await raiseLiveBound(conn._id, 3);
    const r = await fullSnapshot(conn, range(0, 150));
    assert.equal(r.run.status, 'succeeded');
    assert.equal(r.startReads, 0);
    assert.ok(r.counted >= 1, 'staged, and checked by the guard with a count (the bound is above what staging saw)');
    assert.equal(r.run.counts.created, 150);
    assert.equal(await live(conn), 150);
  });

  test('a connection from before the bound keeps none: its writes leave it unset and its guard counts', async () => {
    const conn = await setup('sftp');
    // Such a connection has no genesis entry.
    await LiveBound.deleteOne({ _id: `${conn._id}:genesis` }).exec();
    await applySourceChanges(
      conn,
      range(0, 50).map((i) => upsert(i)),
    );
    assert.equal(await liveBound(conn), null);
    const r = await fullSnapshot(conn, range(0, 49));
    assert.equal(r.run.status, 'succeeded');
    assert.ok(r.counted >= 1);
    assert.equal(r.run.counts.removed, 1);
    assert.equal(await liveBound(conn), null);
    assert.equal(await live(conn), 49);
  });
});
