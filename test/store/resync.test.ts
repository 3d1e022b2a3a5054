import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  SnapshotIngest,
  countStoreCommands,
  createConnection,
  createOrganization,
  predictSourceChanges,
  readRun,
  storeCapabilities,
  sweepAbandonedRuns,
  applySourceChanges,
  type SourceChange,
  type SyncConnection,
} from '../../src/store';
import { Recipient, SourceRecord, StagedRow, SyncRun } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost', secretKey: 'resync-secret-key-000000' };
const FUTURE = () => new Date(Date.now() + 10 * 60_000);
const N = 2500;
/** Person i; in round r the people with i % 100 === r have moved to `City-r`. */
const person = (i: number, r = 0): Extract<SourceChange, { op: 'upsert' }> => ({
  op: 'upsert',
  key: `e${i}`,
  email: `p${i}@resync.io`,
  active: true,
  attributes: { first_name: `P${i}`, city: r > 0 && i % 100 === r ? `City-${r}` : 'Oslo' },
});

async function setup(): Promise<SyncConnection> {
  const orgId = (await createOrganization('Resync')).id;
  const c = await createConnection({ orgId, type: 'csv' }, env);
  const conn: SyncConnection = { _id: c.id, orgId, type: 'csv', massRemovalThreshold: 0.2 };
  for (let s = 0; s < N; s += 1000) {
    await applySourceChanges(
      conn,
      Array.from({ length: Math.min(1000, N - s) }, (_, j) => person(s + j)),
    );
  }
  return conn;
}

describe('steady-state re-sync: unchanged rows cost reads only (issue 15 item 4)', () => {
  before(async () => {
    await openTestStore('store_resync', { monitorCommands: true });
  });
  after(closeTestStore);

  test('a full snapshot with 1 % changed stages and writes only the changed rows, and counts the rest unchanged', async () => {
    const conn = await setup();
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    const count = countStoreCommands();
    for (let i = 0; i < N; i++) await ingest.add(person(i, 7), i + 2);
    // Two batches of 1,000 staged so far: their 20 changed rows and one keys document each.
    const staged = await StagedRow.find({ runId: ingest.id }).lean().exec();
    assert.equal(staged.filter((s) => s.keys).length, 2);
    assert.deepEqual(
      staged.filter((s) => s.keys).map((s) => s.keys!.length),
      [990, 990],
    );
    assert.equal(staged.filter((s) => !s.keys).length, 20);
    const run = await ingest.finish();
    count.stop();
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.counts, { created: 0, updated: 25, unchanged: 2475, deactivated: 0, removed: 0, rejected: 0 });
    assert.deepEqual(run.review, { existing: N, wouldRemove: 0, wouldDeactivate: 0, threshold: 0.2 });
    // Writes: only the 25 changed source records and recipients (statements a command as the store's record says).
    const per = storeCapabilities().updatesPerCommand ?? 25;
    assert.equal(count.on('insert', 'source_records'), 0);
    assert.equal(count.on('update', 'source_records'), Math.ceil(25 / per));
    assert.equal(count.on('update', 'recipients'), Math.ceil(25 / per));
    assert.equal(count.on('insert', 'staged_rows'), 3, 'one insert per staged batch');
    assert.equal(await StagedRow.countDocuments({ runId: run._id }).exec(), 0, 'staging cleaned up');
    assert.equal(await Recipient.countDocuments({ orgId: conn.orgId, 'attributes.city': 'City-7' }).exec(), 25);
    assert.equal(await SourceRecord.countDocuments({ connectionId: conn._id, deleted: false }).exec(), N);
  });

  test('staged rows are dropped a page per reply: no getMore, however many were staged', async () => {
    const conn = await setup();
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    // 10 % changed: 250 staged rows and 3 keys documents, more than a default first batch (101).
    for (let i = 0; i < N; i++)
      await ingest.add({ ...person(i), attributes: { first_name: `P${i}`, city: i % 10 ? 'Oslo' : 'Bergen' } }, i + 2);
    const count = countStoreCommands();
    const run = await ingest.finish();
    count.stop();
    assert.equal(run.counts.updated, 250);
    assert.equal(count.on('getMore', 'staged_rows'), 0);
    assert.equal(await StagedRow.countDocuments({ runId: run._id }).exec(), 0);
  });

  test('a person missing from the re-sync is still removed (the count sees more live records than the snapshot)', async () => {
    const conn = await setup();
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    for (let i = 1; i < N; i++) await ingest.add(person(i), i + 2);
    const run = await ingest.finish();
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.counts, { created: 0, updated: 0, unchanged: N - 1, deactivated: 0, removed: 1, rejected: 0 });
    assert.equal(await SourceRecord.countDocuments({ connectionId: conn._id }).exec(), N - 1);
  });

  test('a re-sync stopped in the middle of its apply batch resumes with exact counts (unchanged counted once)', async () => {
    const conn = await setup();
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    // Stop at the apply's first check (3 checks while staging: two full batches and the last one at finish).
    const ac = new AbortController();
    let checks = 0;
    ac.signal.throwIfAborted = () => {
      if (++checks === 4) throw new Error('stopped');
    };
    ingest.signal = ac.signal;
    for (let i = 0; i < N; i++) await ingest.add(person(i, 9), i + 2);
    await assert.rejects(ingest.finish(), /stopped/);
    let run = (await readRun(ingest.id))!;
    assert.equal(run.phase, 'apply');
    assert.equal(run.journal?.cursor, 0);

    // The process dies after journaling the gathered batch (all 25 changed rows, up to the end) and writing 10 of them.
    const rows = (await StagedRow.find({ runId: run._id }).lean().exec())
      .filter((s) => !s.keys)
      .sort((a, b) => a.seq - b.seq)
      .map((s) => s.record as SourceChange);
    assert.equal(rows.length, 25);
    const predicted = await predictSourceChanges(conn, rows);
    await SyncRun.updateOne(
      { _id: run._id },
      {
        $set: {
          journal: {
            cursor: 0,
            removing: false,
            pending: {
              keys: predicted.map((p) => p.key),
              versions: predicted.map((p) => p.v),
              outcomes: predicted.map((p) => p.outcome),
              toSeq: N,
              op: 'rows',
            },
          },
        },
      },
    ).exec();
    await applySourceChanges(conn, rows.slice(0, 10));

    const swept = await sweepAbandonedRuns(0, FUTURE());
    assert.deepEqual(swept.resumed, [run._id]);
    run = (await readRun(ingest.id))!;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.deepEqual(run.counts, { created: 0, updated: 25, unchanged: 2475, deactivated: 0, removed: 0, rejected: 0 });
    assert.equal(await Recipient.countDocuments({ orgId: conn.orgId, 'attributes.city': 'City-9' }).exec(), 25);
    assert.equal(await StagedRow.countDocuments({ runId: run._id }).exec(), 0);
  });
});
