import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  applyHeldRun,
  createConnection,
  createOrganization,
  discardHeldRun,
  findSourceRecord,
  getRecipient,
  recipientId,
  SnapshotIngest,
  InvalidStateError,
  type SyncConnection,
} from '../../src/store';
import { Recipient, StagedRow } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost', secretKey: 'sync-secret-key-000000' };
const up = (email: string, active = true, attributes: Record<string, unknown> = {}) =>
  ({ op: 'upsert', key: email, email, active, attributes }) as const;

async function snapshot(conn: SyncConnection, mode: 'full' | 'delta', rows: (ReturnType<typeof up> | { op: 'delete'; key: string })[]) {
  const ingest = await SnapshotIngest.start(conn, { mode, source: 'test' });
  let line = 2;
  for (const r of rows) await ingest.add(r, line++);
  return ingest.finish();
}

async function statuses(orgId: string): Promise<Record<string, string>> {
  const docs = await Recipient.find({ orgId, listed: true }).lean().exec();
  return Object.fromEntries(docs.map((d) => [d.email, d.status]).sort());
}

describe('sync runs: full versus delta and the mass-removal guard (SPEC §3.7, §3.8)', () => {
  before(async () => {
    await openTestStore('sync_runs');
  });
  after(async () => {
    await closeTestStore();
  });

  async function setup(type: 'csv' | 'hris', threshold?: number): Promise<SyncConnection> {
    const orgId = (await createOrganization(`Sync ${type}`)).id;
    const c = await createConnection({ orgId, type, accessToken: 'x', massRemovalThreshold: threshold }, env);
    return { _id: c.id, orgId, type, massRemovalThreshold: threshold ?? 0.2 };
  }

  test('a full file: people missing from it leave that source; counts say what happened', async () => {
    const conn = await setup('csv', 0.5);
    const first = await snapshot(
      conn,
      'full',
      ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io'].map((e) => up(e)),
    );
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(first.counts, { created: 4, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 });
    const second = await snapshot(conn, 'full', [up('a@x.io'), up('b@x.io', true, { city: 'Oslo' }), up('c@x.io', false), up('e@x.io')]);
    assert.equal(second.status, 'succeeded');
    assert.deepEqual(second.counts, { created: 1, updated: 1, unchanged: 1, deactivated: 1, removed: 1, rejected: 0 });
    assert.deepEqual(await statuses(conn.orgId), { 'a@x.io': 'active', 'b@x.io': 'active', 'c@x.io': 'inactive', 'e@x.io': 'active' });
    assert.equal(await StagedRow.countDocuments({ runId: second._id }), 0, 'staged rows are cleaned up');
  });

  test('a delta file only adds, changes or removes the rows it names', async () => {
    const conn = await setup('csv');
    await snapshot(
      conn,
      'full',
      ['a@x.io', 'b@x.io', 'c@x.io'].map((e) => up(e)),
    );
    const delta = await snapshot(conn, 'delta', [up('d@x.io'), { op: 'delete', key: 'a@x.io' }]);
    assert.equal(delta.status, 'succeeded');
    assert.equal(delta.counts.created, 1);
    assert.equal(delta.counts.removed, 1);
    assert.deepEqual(Object.keys(await statuses(conn.orgId)), ['b@x.io', 'c@x.io', 'd@x.io']);
  });

  test('the guard holds a truncated full snapshot: nothing changes until an administrator applies it', async () => {
    const conn = await setup('csv');
    const people = Array.from({ length: 10 }, (_, i) => `p${i}@x.io`);
    await snapshot(
      conn,
      'full',
      people.map((e) => up(e)),
    );
    const before = await statuses(conn.orgId);
    const held = await snapshot(
      conn,
      'full',
      people.slice(0, 7).map((e) => up(e, true, { city: 'New' })),
    );
    assert.equal(held.status, 'needs_review');
    assert.deepEqual(held.review, { existing: 10, wouldRemove: 3, wouldDeactivate: 0, threshold: 0.2 });
    assert.match(held.message ?? '', /remove 3/);
    assert.deepEqual(await statuses(conn.orgId), before, 'nothing changed');
    assert.equal((await getRecipient(recipientId(conn.orgId, 'p0@x.io')))?.attributes.city, undefined);

    const applied = await applyHeldRun(held._id, conn);
    assert.equal(applied.status, 'applied');
    assert.equal(applied.counts.removed, 3);
    assert.equal(Object.keys(await statuses(conn.orgId)).length, 7);
    assert.equal((await getRecipient(recipientId(conn.orgId, 'p0@x.io')))?.attributes.city, 'New');
    await assert.rejects(applyHeldRun(held._id, conn), (e: unknown) => e instanceof InvalidStateError);
  });

  test('a held run can be discarded; a run at the threshold is applied', async () => {
    const conn = await setup('csv');
    const people = Array.from({ length: 10 }, (_, i) => `q${i}@x.io`);
    await snapshot(
      conn,
      'full',
      people.map((e) => up(e)),
    );
    const held = await snapshot(
      conn,
      'full',
      people.slice(0, 5).map((e) => up(e)),
    );
    assert.equal(held.status, 'needs_review');
    const discarded = await discardHeldRun(held._id);
    assert.equal(discarded.status, 'discarded');
    assert.equal(Object.keys(await statuses(conn.orgId)).length, 10);
    assert.equal(await StagedRow.countDocuments({ runId: held._id }), 0);
    const ok = await snapshot(
      conn,
      'full',
      people.slice(0, 8).map((e) => up(e)),
    );
    assert.equal(ok.status, 'succeeded', '2 of 10 is exactly 20 %: not more than the threshold');
  });

  test('an HRIS full sync offboards the people missing from it (tombstones), and the guard counts deactivations', async () => {
    const conn = await setup('hris');
    const csvConn = await createConnection({ orgId: conn.orgId, type: 'csv' }, env);
    const people = Array.from({ length: 10 }, (_, i) => `h${i}@x.io`);
    await snapshot(
      conn,
      'full',
      people.map((e) => up(e)),
    );
    await snapshot({ _id: csvConn.id, orgId: conn.orgId, type: 'csv' }, 'full', [up('h9@x.io')]);
    const run = await snapshot(conn, 'full', [...people.slice(0, 8).map((e) => up(e)), up('h8@x.io', false)]);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.counts.deactivated, 1);
    assert.equal(run.counts.removed, 1);
    const s = await statuses(conn.orgId);
    assert.equal(s['h8@x.io'], 'offboarded');
    assert.equal(s['h9@x.io'], 'offboarded', 'absent from the HRIS directory: offboarded although the CSV lists them');
    assert.equal((await findSourceRecord(conn._id, 'h9@x.io'))?.deleted, true);

    const held = await snapshot(
      conn,
      'full',
      people.slice(0, 8).map((e, i) => up(e, i >= 3)),
    );
    assert.equal(held.status, 'needs_review');
    assert.equal(held.review!.wouldDeactivate, 3);
  });

  test('rows are validated: duplicates in a full file and removal rows are rejected with their line', async () => {
    const conn = await setup('csv');
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    await ingest.add(up('a@x.io'), 2);
    await ingest.add(up('a@x.io'), 3);
    await ingest.add({ op: 'delete', key: 'b@x.io' }, 4);
    ingest.reject(5, 'missing email');
    const run = await ingest.finish();
    assert.equal(run.counts.rejected, 3);
    assert.deepEqual(
      run.errors.map((e) => e.line),
      [3, 4, 5],
    );
    assert.match(run.errors[0]!.reason, /line 2/);
  });
});
