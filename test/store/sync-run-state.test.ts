import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import {
  EVERY_ROW_REJECTED,
  SnapshotIngest,
  applySourceChanges,
  createConnection,
  createOrganization,
  failAbandonedRuns,
  failActiveRun,
  markRunDone,
  ownerGone,
  predictSourceChanges,
  readRun,
  sweepAbandonedRuns,
  syncRunItems,
  touchRun,
  transitionRun,
  writeActiveRun,
  type SourceChange,
  type SyncConnection,
} from '../../src/store';
import { Recipient, SourceRecord, StagedRow, SyncRun } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost', secretKey: 'sync-secret-key-000000' };
const up = (email: string, attributes: Record<string, unknown> = {}, active = true) =>
  ({ op: 'upsert', key: email, email, active, attributes }) as const;
const FUTURE = () => new Date(Date.now() + 10 * 60_000);

async function setup(threshold = 0.2): Promise<SyncConnection> {
  const orgId = (await createOrganization('Runs')).id;
  const c = await createConnection({ orgId, type: 'csv', massRemovalThreshold: threshold }, env);
  return { _id: c.id, orgId, type: 'csv', massRemovalThreshold: threshold };
}

async function snapshot(conn: SyncConnection, mode: 'full' | 'delta', rows: SourceChange[]) {
  const ingest = await SnapshotIngest.start(conn, { mode, source: 'test' });
  let line = 2;
  for (const r of rows) await ingest.add(r as never, line++);
  return ingest.finish();
}

describe('sync runs: status moves only forward, heartbeats never win over the final status (issue 10 §1)', () => {
  before(async () => {
    await openTestStore('run_state');
  });
  after(async () => {
    await closeTestStore();
  });

  test('a heartbeat, a progress write, a late failure or the sweep after the final write leave the run succeeded', async () => {
    const conn = await setup();
    const ingest = await SnapshotIngest.start(conn, { mode: 'delta', source: 'test' });
    await ingest.add(up('a@x.io'), 2);
    const done = await ingest.finish();
    assert.equal(done.status, 'succeeded');
    // The bad order: what a heartbeat timer, a progress write and shutdown would write after the final status.
    assert.equal(await touchRun(done._id, { 'input.bytesRead': 10 }), false);
    assert.equal(await writeActiveRun(done._id, { 'progress.processed': 0, status: 'running' }), false);
    assert.equal(await failActiveRun(done._id, 'interrupted by shutdown'), false);
    const failedAfter = await ingest.fail('late failure');
    assert.equal(failedAfter.status, 'succeeded');
    assert.deepEqual(await failAbandonedRuns(0, FUTURE()), [], 'the sweep leaves a finished run alone however old');
    for (const back of ['queued', 'running', 'needs_review', 'failed'] as const) {
      assert.equal(await transitionRun(done._id, back), false, `succeeded → ${back} is refused`);
    }
    const stored = (await readRun(done._id))!;
    assert.equal(stored.status, 'succeeded');
    assert.equal(stored.progress.processed, 1);
    assert.equal(stored.message, null);
  });

  test('heartbeats racing the final status write: the final status wins, every time', async () => {
    const conn = await setup();
    for (let round = 0; round < 5; round++) {
      const ingest = await SnapshotIngest.start(conn, { mode: 'delta', source: 'test' });
      for (let i = 0; i < 20; i++) await ingest.add(up(`r${round}-${i}@x.io`), i + 2);
      // Heartbeats issued before, during and after the final write, none awaited before it starts.
      const beats = Array.from({ length: 30 }, (_, i) => touchRun(ingest.id, { heartbeatSeq: i }));
      const finished = ingest.finish();
      const late = Array.from({ length: 30 }, (_, i) => touchRun(ingest.id, { heartbeatSeq: 100 + i }));
      const run = await finished;
      await Promise.all([...beats, ...late]);
      assert.equal(run.status, 'succeeded');
      assert.equal((await readRun(ingest.id))!.status, 'succeeded', `round ${round}`);
      assert.deepEqual(await failAbandonedRuns(0, FUTURE()), []);
    }
  });

  test('transitions follow the state machine: running → needs_review → applying → applied; no way back', async () => {
    const conn = await setup();
    await snapshot(
      conn,
      'full',
      Array.from({ length: 10 }, (_, i) => up(`h${i}@x.io`)),
    );
    const held = await snapshot(conn, 'full', [up('h0@x.io')]);
    assert.equal(held.status, 'needs_review');
    assert.equal(await transitionRun(held._id, 'succeeded'), false, 'needs_review → succeeded is refused');
    assert.equal(await transitionRun(held._id, 'running'), false, 'needs_review → running is refused');
    assert.equal(await failActiveRun(held._id, 'x'), false, 'a held run is not failed by shutdown');
    assert.equal(await transitionRun(held._id, 'discarded'), true);
    assert.equal(await transitionRun(held._id, 'applying'), false, 'discarded is final');
  });

  test('a run whose process (on this host) is gone is abandoned at once; a live or foreign owner is judged by silence', () => {
    const host = hostname();
    assert.equal(ownerGone(null), false);
    assert.equal(ownerGone({ host: 'another-host', pid: 1, since: 0 }), false);
    assert.equal(ownerGone({ host, pid: process.pid, since: Math.round(Date.now() - process.uptime() * 1000) }), false, 'this process');
    assert.equal(ownerGone({ host, pid: process.pid, since: 1 }), true, 'an earlier process with the same pid (a restarted container)');
    assert.equal(ownerGone({ host, pid: process.ppid, since: 0 }), false, 'a live process');
    assert.equal(ownerGone({ host, pid: 2 ** 22 + 12345, since: 0 }), true, 'no such process');
  });
});

describe('sync runs: outcomes that say what happened (issue 10 §4, §5)', () => {
  before(async () => {
    await openTestStore('run_outcomes');
  });
  after(async () => {
    await closeTestStore();
  });

  test('every row rejected → failed, nothing applied; some rows rejected → completed_with_errors', async () => {
    const conn = await setup();
    await snapshot(conn, 'full', [up('keep@x.io')]);
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    ingest.reject(2, 'invalid email "x"');
    ingest.reject(3, 'missing email');
    const all = await ingest.finish();
    assert.equal(all.status, 'failed');
    assert.equal(all.message, EVERY_ROW_REJECTED);
    assert.equal(all.counts.rejected, 2);
    assert.equal(await StagedRow.countDocuments({ runId: all._id }), 0);
    assert.equal((await SourceRecord.findOne({ connectionId: conn._id, key: 'keep@x.io' }).lean())!.deleted, false, 'nothing was removed');

    const delta = await SnapshotIngest.start(conn, { mode: 'delta', source: 'test' });
    delta.reject(2, 'missing email');
    assert.equal((await delta.finish()).status, 'failed');

    const partial = await SnapshotIngest.start(conn, { mode: 'delta', source: 'test' });
    await partial.add(up('new@x.io'), 2);
    partial.reject(3, 'missing email');
    const p = await partial.finish();
    assert.equal(p.status, 'completed_with_errors');
    assert.equal(p.counts.created, 1);
  });

  test('a delta file naming the same person twice rejects the later row as a duplicate of the first', async () => {
    const conn = await setup();
    const run = await snapshot(conn, 'delta', [
      up('d@x.io', { city: 'Oslo' }),
      up('e@x.io'),
      up('d@x.io', { city: 'Rome' }),
      { op: 'delete', key: 'e@x.io' },
    ]);
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.counts.created, 2);
    assert.equal(run.counts.rejected, 2);
    assert.deepEqual(
      run.errors.map((e) => [e.line, e.reason]),
      [
        [4, 'duplicate of line 2 (same person)'],
        [5, 'duplicate of line 3 (same person)'],
      ],
    );
    const d = await Recipient.findOne({ orgId: conn.orgId, email: 'd@x.io' }).lean();
    assert.equal(d!.attributes.city, 'Oslo', 'the first row stands');
  });

  test('all row errors are kept (beyond the 100 on the run) and a held run lists who would leave', async () => {
    const conn = await setup();
    await snapshot(
      conn,
      'full',
      Array.from({ length: 300 }, (_, i) => up(`k${i}@x.io`)),
    );
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    for (let i = 0; i < 100; i++) await ingest.add(up(`k${i}@x.io`, {}, i >= 5), i + 2);
    for (let i = 0; i < 250; i++) ingest.reject(200 + i, `bad row ${i}`);
    const held = await ingest.finish();
    assert.equal(held.status, 'needs_review');
    assert.equal(held.errors.length, 100);
    const errors = [];
    for await (const e of syncRunItems(held._id, 'error', 60)) errors.push(e);
    assert.equal(errors.length, 250);
    assert.deepEqual(
      errors.map((e) => e.line),
      Array.from({ length: 250 }, (_, i) => 200 + i),
    );
    const review = [];
    for await (const r of syncRunItems(held._id, 'review', 70)) review.push(r);
    assert.equal(review.length, 205);
    assert.equal(review.filter((r) => r.change === 'deactivate').length, 5);
    assert.deepEqual(
      new Set(review.filter((r) => r.change === 'remove').map((r) => r.email)),
      new Set(Array.from({ length: 200 }, (_, i) => `k${i + 100}@x.io`)),
    );
    assert.deepEqual(held.review, { existing: 300, wouldRemove: 200, wouldDeactivate: 5, threshold: 0.2 });
  });
});

describe('sync runs: an interrupted apply resumes from its journal with exact counts (issue 10 §3)', () => {
  before(async () => {
    await openTestStore('run_resume');
  });
  after(async () => {
    await closeTestStore();
  });

  test('a full snapshot cut in the middle of an apply batch is finished by the sweep; counts match what changed', async () => {
    const conn = await setup(0.5);
    await snapshot(
      conn,
      'full',
      Array.from({ length: 30 }, (_, i) => up(`o${i}@x.io`)),
    );
    // 20 of the 30 stay with a new city, 10 leave, 2480 join: 2500 rows, three apply batches.
    const rows = [
      ...Array.from({ length: 20 }, (_, i) => up(`o${i}@x.io`, { city: 'Oslo' })),
      ...Array.from({ length: 2480 }, (_, i) => up(`n${i}@x.io`)),
    ];
    const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'test' });
    // Stop at the check before the second apply batch (3 flushes while staging, then one check per apply batch).
    const ac = new AbortController();
    let checks = 0;
    ac.signal.throwIfAborted = () => {
      if (++checks === 5) throw new Error('stopped');
    };
    ingest.signal = ac.signal;
    let line = 2;
    for (const r of rows) await ingest.add(r, line++);
    await assert.rejects(ingest.finish(), /stopped/);
    let run = (await readRun(ingest.id))!;
    assert.equal(run.status, 'running');
    assert.equal(run.phase, 'apply');
    assert.equal(run.journal?.cursor, 1000);
    assert.equal(run.progress.applied, 1000);
    assert.equal(await failActiveRun(run._id, 'interrupted by shutdown'), false, 'shutdown does not fail an apply');

    // The process dies half-way through the second batch: its journal entry is written, 500 of its 1000 rows applied.
    const batch = (
      await StagedRow.find({ runId: run._id, seq: { $gte: 1000, $lt: 2000 } })
        .lean()
        .exec()
    )
      .sort((a, b) => a.seq - b.seq)
      .map((r) => r.record as SourceChange);
    const predicted = await predictSourceChanges(conn, batch);
    await SyncRun.updateOne(
      { _id: run._id },
      {
        $set: {
          journal: {
            cursor: 1000,
            removing: false,
            pending: {
              keys: predicted.map((p) => p.key),
              versions: predicted.map((p) => p.v),
              outcomes: predicted.map((p) => p.outcome),
              toSeq: 2000,
              op: 'rows',
            },
          },
        },
      },
    ).exec();
    await applySourceChanges(conn, batch.slice(0, 500));

    assert.deepEqual(await sweepAbandonedRuns(60_000), { failed: [], resumed: [], requeued: [] }, 'not silent long enough yet');
    const swept = await sweepAbandonedRuns(0, FUTURE());
    assert.deepEqual(swept, { failed: [], resumed: [run._id], requeued: [] });
    run = (await readRun(ingest.id))!;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.deepEqual(run.counts, { created: 2480, updated: 20, unchanged: 0, deactivated: 0, removed: 10, rejected: 0 });
    assert.equal(run.resumed, 1);
    assert.equal(await StagedRow.countDocuments({ runId: run._id }), 0);
    const live = await SourceRecord.countDocuments({ connectionId: conn._id, deleted: false });
    assert.equal(live, 2500);
    const listed = await Recipient.countDocuments({ orgId: conn.orgId, listed: true });
    assert.equal(listed, 2500);
    assert.equal(await Recipient.countDocuments({ orgId: conn.orgId, 'attributes.city': 'Oslo' }), 20);
  });

  test('a delta run cut in the middle of a batch is failed with the counts of what its batches wrote', async () => {
    const conn = await setup();
    const ingest = await SnapshotIngest.start(conn, { mode: 'delta', source: 'test' });
    for (let i = 0; i < 1000; i++) await ingest.add(up(`d${i}@x.io`), i + 2);
    // Half of the next batch reached the store before the process died.
    const batch = Array.from({ length: 200 }, (_, i) => up(`e${i}@x.io`));
    const predicted = await predictSourceChanges(conn, batch);
    await SyncRun.updateOne(
      { _id: ingest.id },
      {
        $set: {
          journal: {
            cursor: 0,
            pending: {
              keys: predicted.map((p) => p.key),
              versions: predicted.map((p) => p.v),
              outcomes: predicted.map((p) => p.outcome),
              toSeq: null,
              op: 'rows',
            },
          },
        },
      },
    ).exec();
    await applySourceChanges(conn, batch.slice(0, 80));
    assert.deepEqual(await failAbandonedRuns(0, FUTURE()), [], 'this process still works on it');
    markRunDone(ingest.id); // the process that worked on it is gone
    assert.deepEqual(await failAbandonedRuns(0, FUTURE()), [ingest.id]);
    const run = (await readRun(ingest.id))!;
    assert.equal(run.status, 'failed');
    assert.equal(run.counts.created, 1080);
    assert.equal(await SourceRecord.countDocuments({ connectionId: conn._id }), 1080);
  });
});
