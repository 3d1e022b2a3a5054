import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  SnapshotIngest,
  applySourceChanges,
  countStoreCommands,
  createConnection,
  createOrganization,
  failActiveRun,
  predictSourceChanges,
  readRun,
  requeueStoredRun,
  type SourceChange,
  type SyncConnection,
} from '../../src/store';
import { Recipient, SourceRecord, StagedRow, SyncRun, SyncRunItem, syncRunItemId } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

/**
 * A first load (a full snapshot into a connection without live people, issue 13's benchmark case): it can remove or
 * deactivate nobody, so it is applied batch by batch as it is read, under the apply journal, without staging; a stored
 * file stopped in the middle is read again and resumes after what its journal counted.
 */
const env = { publicUrl: 'http://localhost', secretKey: 'first-load-secret-key-0000' };
const person = (i: number): Extract<SourceChange, { op: 'upsert' }> => ({
  op: 'upsert',
  key: `p${i}`,
  email: `p${i}@first.example`,
  active: true,
  attributes: { first_name: `P${i}`, city: 'Oslo' },
});
/** Input item i: every 400th row is rejected (a bad cell), the others list person i. */
const rejected = (i: number) => i % 400 === 7;

async function feed(ingest: SnapshotIngest, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    if (rejected(i)) ingest.reject(i + 2, `row ${i}: bad cell`);
    else await ingest.add(person(i), i + 2);
  }
}

describe('first load: applied as it is read, resumable from its journal', () => {
  before(async () => {
    await openTestStore('first_load', { monitorCommands: true });
  });
  after(async () => {
    await closeTestStore();
  });

  async function emptyConnection(): Promise<SyncConnection> {
    const orgId = (await createOrganization('First load')).id;
    const c = await createConnection({ orgId, type: 'csv', massRemovalThreshold: 0.2 }, env);
    return { _id: c.id, orgId, type: 'csv', massRemovalThreshold: 0.2 };
  }

  test('nothing is staged; counts, review and recipients are those of the staged path', async () => {
    const conn = await emptyConnection();
    const N = 2300;
    const count = countStoreCommands();
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    await feed(ingest, 0, N);
    const run = await ingest.finish();
    const staged = count.on('insert', 'staged_rows');
    count.stop();
    const bad = Array.from({ length: N }, (_, i) => i).filter(rejected).length;
    assert.equal(run.status, 'completed_with_errors', JSON.stringify(run));
    assert.deepEqual(run.counts, { created: N - bad, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: bad });
    assert.deepEqual(run.review, { existing: 0, wouldRemove: 0, wouldDeactivate: 0, threshold: 0.2 });
    assert.equal(run.accepted, N - bad);
    assert.equal(run.journal, null);
    assert.equal(run.phase, null);
    assert.equal(staged, 0, 'a first load writes no staged rows');
    assert.equal(await SourceRecord.countDocuments({ connectionId: conn._id, deleted: false }), N - bad);
    assert.equal(await Recipient.countDocuments({ orgId: conn.orgId, listed: true, status: 'active' }), N - bad);
    assert.equal(await SyncRunItem.countDocuments({ runId: run._id, kind: 'error' }), bad);

    // The next full file is not a first load: staged, guarded, and it removes who is missing.
    const next = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    for (let i = 0; i < 1000; i++) if (!rejected(i)) await next.add(person(i), i + 2);
    const held = await next.finish();
    assert.equal(held.status, 'needs_review', 'the guard holds a file that drops most people');
  });

  test('a first load that cannot resume (an API upload) is failed with the counts of what its batches wrote', async () => {
    const conn = await emptyConnection();
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    for (let i = 0; i < 1000; i++) await ingest.add(person(i), i + 2);
    // The process dies half-way through the second batch: journaled, 400 of its 1000 records written.
    const batch = Array.from({ length: 1000 }, (_, k) => person(1000 + k));
    const predicted = await predictSourceChanges(conn, batch);
    const keys = predicted.map((p) => p.key);
    await SyncRun.updateOne(
      { _id: ingest.id },
      {
        $set: {
          journal: {
            cursor: 1000,
            direct: true,
            pending: { keys, versions: predicted.map((p) => p.v), outcomes: predicted.map((p) => p.outcome), toSeq: 2000, op: 'rows' },
          },
        },
      },
    ).exec();
    await applySourceChanges(conn, batch.slice(0, 400));
    assert.equal(await failActiveRun(ingest.id, 'interrupted'), true);
    const run = (await readRun(ingest.id))!;
    assert.equal(run.status, 'failed');
    assert.equal(run.counts.created, 1400);
    assert.equal(await SourceRecord.countDocuments({ connectionId: conn._id, deleted: false }), 1400);
  });

  test('a stored first load stopped in the middle of a batch resumes: every row applied and counted once', async () => {
    const conn = await emptyConnection();
    const N = 3500;
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test', input: { fileId: 'stored-file' } });
    // The process stops at the third batch (before it is journaled); the test then writes what a process that died
    // half-way through that batch leaves: its journal entry, half of its records, and its rejected rows' error items.
    const ac = new AbortController();
    let checks = 0;
    ac.signal.throwIfAborted = () => {
      if (++checks === 3) throw new Error('stopped');
    };
    ingest.signal = ac.signal;
    await assert.rejects(feed(ingest, 0, N), /stopped/);
    let run = (await readRun(ingest.id))!;
    assert.equal(run.status, 'running');
    assert.equal(run.journal?.direct, true);
    const cursor = run.journal.cursor;
    const rejectedBefore = run.counts.rejected;
    assert.equal(run.counts.created, 2000);
    assert.equal(cursor, 2000 + rejectedBefore, 'the cursor counts input rows, accepted and rejected');

    const batch: SourceChange[] = [];
    const badInBatch: number[] = [];
    let end = cursor;
    for (; batch.length < 1000; end++) {
      if (rejected(end)) badInBatch.push(end);
      else batch.push(person(end));
    }
    const predicted = await predictSourceChanges(conn, batch);
    await SyncRun.updateOne(
      { _id: run._id },
      {
        $set: {
          journal: {
            cursor,
            direct: true,
            pending: {
              keys: predicted.map((p) => p.key),
              versions: predicted.map((p) => p.v),
              outcomes: predicted.map((p) => p.outcome),
              toSeq: end,
              op: 'rows',
            },
          },
        },
      },
    ).exec();
    await applySourceChanges(conn, batch.slice(0, 500));
    await SyncRunItem.insertMany(
      badInBatch.map((i, k) => ({
        _id: syncRunItemId(run._id, 'error', rejectedBefore + k),
        runId: run._id,
        kind: 'error',
        n: rejectedBefore + k,
        line: i + 2,
        reason: `row ${i}: bad cell`,
      })),
    );

    // The worker's claim went silent: the run goes back to the queue with its journal, counts and errors.
    assert.equal(await requeueStoredRun(run._id), true);
    run = (await readRun(run._id))!;
    assert.equal(run.status, 'queued');
    assert.equal(run.journal?.cursor, cursor);
    assert.equal(run.counts.created, 2000);

    // Read again from the first row.
    const resumed = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' }, run);
    await feed(resumed, 0, N);
    const done = await resumed.finish();
    const bad = Array.from({ length: N }, (_, i) => i).filter(rejected).length;
    assert.equal(done.status, 'completed_with_errors', JSON.stringify(done));
    assert.deepEqual(done.counts, { created: N - bad, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: bad });
    assert.equal(done.accepted, N - bad);
    assert.equal(await SourceRecord.countDocuments({ connectionId: conn._id, deleted: false }), N - bad);
    assert.equal(await Recipient.countDocuments({ orgId: conn.orgId, listed: true }), N - bad);
    assert.equal(await SyncRunItem.countDocuments({ runId: run._id, kind: 'error' }), bad);
    assert.equal(await StagedRow.countDocuments({ runId: run._id }), 0);
  });
});
