import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  markRunDone,
  ABANDONED_RUN_MESSAGE,
  MIN_RUN_SILENCE_MS,
  SnapshotIngest,
  applySourceChanges,
  createConnection,
  createOrganization,
  getRecipient,
  getSyncRun,
  recipientId,
  settleEventAppends,
  sweepStore,
  updateConnection,
  updateOrganizationSettings,
  type SyncConnection,
} from '../../src/store';
import { rawCollection } from '../../src/store/collections';
import { journalSlotWrite, recordsWithSlots, takeJournalSlot } from '../../src/store/mergeJournal';
import { EventBlock, MergeJournal, SourceRecord, StagedRow, SyncRun } from '../../src/store/models';
import { headCursor, readEvents } from '../../src/store/events';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };
const up = (email: string, city: string) => ({ op: 'upsert' as const, key: email, email, active: true, attributes: { city } });

/** sweepStore: the store's recovery in one sweep, each part judged by the age it is given. */
describe('sweepStore', () => {
  let orgId: string;
  let csv: SyncConnection;
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    info: () => undefined,
    warn: (obj: object, msg: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
  };
  before(async () => {
    await openTestStore('store_sweep', { logger });
    orgId = (await createOrganization('Sweep')).id;
    const c = await createConnection({ orgId, type: 'csv' }, env);
    csv = { _id: c.id, orgId, type: 'csv', massRemovalThreshold: 0.2 };
  });
  after(closeTestStore);

  /** A run a process started and then stopped writing `silentMs` ago (a crash), with rows staged. */
  async function crashedRun(silentMs: number): Promise<string> {
    // A full snapshot of a source that has people stages its rows.
    await applySourceChanges(csv, [up('someone@sweep.io', 'Oslo')]);
    const ingest = await SnapshotIngest.start(csv, { mode: 'full', source: 'api' });
    for (let i = 0; i < 1001; i++) await ingest.add(up(`p${i}@sweep.io`, 'Oslo'));
    assert.ok((await StagedRow.countDocuments({ runId: ingest.id }).exec()) > 0);
    // Written behind mongoose's timestamps, as the clock would have left it.
    await rawCollection(SyncRun).updateOne({ _id: ingest.id }, { $set: { updatedAt: new Date(Date.now() - silentMs) } });
    // The process that ran it is gone: this one no longer works on it (a live run is never taken for abandoned).
    markRunDone(ingest.id);
    return ingest.id;
  }

  test('sync runs: failed once silent for the age given, never sooner than the minimum silence, staged rows dropped', async () => {
    const busy = await crashedRun(1_000);
    const quiet = await crashedRun(MIN_RUN_SILENCE_MS + 5_000);
    const old = await crashedRun(61_000);
    // Every minute: only what was silent for a minute.
    let report = await sweepStore(60_000);
    assert.deepEqual(report.failedRuns, [old]);
    assert.equal((await getSyncRun(old))?.status, 'failed');
    assert.equal((await getSyncRun(old))?.message, ABANDONED_RUN_MESSAGE);
    assert.equal(await StagedRow.countDocuments({ runId: old }).exec(), 0);
    assert.equal((await getSyncRun(quiet))?.status, 'running');
    // At start (age 0): everything left, except a run written moments ago (another process may be working on it).
    report = await sweepStore(0);
    assert.deepEqual(report.failedRuns, [quiet]);
    assert.equal((await getSyncRun(busy))?.status, 'running');
    assert.ok((await StagedRow.countDocuments({ runId: busy }).exec()) > 0);
    assert.deepEqual((await sweepStore(0)).failedRuns, []);
  });

  test('the merge journal: entries older than the age are replayed, recipients catch up with source records', async () => {
    await applySourceChanges(csv, [up('max@sweep.io', 'Rome')]);
    // A crash between the two writes: the source record changed, the recipient did not, the journal names the email.
    await rawCollection(SourceRecord).updateOne({ _id: `${csv._id}:max@sweep.io` }, { $set: { 'attributes.city': 'Milan' } });
    await rawCollection(MergeJournal).insertOne({ _id: 'j-sweep', orgId, emails: ['max@sweep.io'], createdAt: new Date() });
    assert.equal((await sweepStore(60_000)).replayedMerges, 0, 'a fresh entry may belong to a merge still under way');
    assert.equal((await getRecipient(recipientId(orgId, 'max@sweep.io')))?.attributes.city, 'Rome');
    assert.equal((await sweepStore(0)).replayedMerges, 1);
    assert.equal((await getRecipient(recipientId(orgId, 'max@sweep.io')))?.attributes.city, 'Milan');
    assert.equal(await MergeJournal.countDocuments({}).exec(), 0);
  });

  test('journal slots of one-record writes: a write stopped between its record and the recipient is caught up', async () => {
    await applySourceChanges(csv, [up('ada@sweep.io', 'Rome')]);
    // A one-record write sends its journal slot and its record in one ordered command, then writes the recipient. A
    // process that stopped between the two leaves the slot naming the email and the record ahead of the recipient.
    const slot = await takeJournalSlot();
    await recordsWithSlots().bulkWrite(
      [
        journalSlotWrite(slot, orgId, ['ada@sweep.io'], new Date()),
        { updateOne: { filter: { _id: `${csv._id}:ada@sweep.io` }, update: { $set: { 'attributes.city': 'Milan' }, $inc: { v: 1 } } } },
      ],
      { ordered: true },
    );
    // Slots are no source records: no query of an organization's records sees them.
    assert.equal(await SourceRecord.countDocuments({ orgId, email: 'ada@sweep.io' }).exec(), 1);
    assert.equal((await sweepStore(60_000)).replayedJournalSlots, 0, 'a fresh slot may belong to a merge still under way');
    assert.equal((await getRecipient(recipientId(orgId, 'ada@sweep.io')))?.attributes.city, 'Rome');
    assert.ok((await sweepStore(0)).replayedJournalSlots >= 1);
    assert.equal((await getRecipient(recipientId(orgId, 'ada@sweep.io')))?.attributes.city, 'Milan');
    // Replayed slots are removed: the next sweep has nothing of them left.
    assert.equal((await sweepStore(0)).replayedJournalSlots, 0);
    // A slot written by a process that stopped before its record: replaying it changes nothing.
    const lone = await takeJournalSlot();
    await recordsWithSlots().bulkWrite([journalSlotWrite(lone, orgId, ['ada@sweep.io', 'nobody@sweep.io'], new Date())]);
    assert.equal((await sweepStore(0)).replayedJournalSlots, 1);
    assert.equal((await getRecipient(recipientId(orgId, 'ada@sweep.io')))?.attributes.city, 'Milan');
    assert.equal(await getRecipient(recipientId(orgId, 'nobody@sweep.io')), null);
  });

  test('a one-record write whose event append fails behind its answer: warned, and the sweep appends its events', async () => {
    await applySourceChanges(csv, [up('bea@sweep.io', 'Rome')]);
    const cursorBefore = await headCursor(orgId);
    // The store refuses the next block insert (not a duplicate key): the append that follows the answer fails.
    const col = EventBlock.collection as unknown as { insertMany: (...a: unknown[]) => Promise<unknown> };
    const insertMany = col.insertMany;
    col.insertMany = async () => {
      col.insertMany = insertMany;
      throw Object.assign(new Error('refused by the test'), { name: 'MongoServerError', code: 1 });
    };
    try {
      // The write is answered: its record and recipient are written. (Its append lingers: sent here, while refused.)
      await applySourceChanges(csv, [up('bea@sweep.io', 'Paris')]);
      await settleEventAppends();
    } finally {
      col.insertMany = insertMany;
    }
    assert.equal((await getRecipient(recipientId(orgId, 'bea@sweep.io')))?.attributes.city, 'Paris');
    const appendWarnings = () => warnings.filter((w) => /not appended; the journal sweep appends them/.test(w.msg));
    for (let i = 0; i < 50 && !appendWarnings().length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(appendWarnings().length, 1, JSON.stringify(warnings));
    assert.deepEqual(appendWarnings()[0]!.obj, { orgId, connectionId: csv._id, errName: 'MongoServerError', code: 1 });
    assert.doesNotMatch(JSON.stringify(appendWarnings()[0]), /bea@sweep\.io|Paris/, 'ids only');
    assert.equal((await readEvents(orgId, { after: cursorBefore, limit: 10 })).items.length, 0, 'no event yet');
    // The slot was kept: the sweep replays it and appends the recipient's events (the positions given up are sealed).
    assert.ok((await sweepStore(0)).replayedJournalSlots >= 1);
    await EventBlock.updateMany({ orgId }, { $set: { createdAt: new Date(Date.now() - 60_000) } }).exec();
    const events = (await readEvents(orgId, { after: cursorBefore, limit: 10 })).items;
    assert.deepEqual(
      events.map((e) => `${e.type} ${String(e.data.email)}`),
      ['recipient.updated bea@sweep.io'],
    );
  });

  test('re-merges owed by settings changes: done by the job that answers them, else by the sweep', async () => {
    const o = (await createOrganization('Owed')).id;
    const scim = await createConnection({ orgId: o, type: 'scim' }, env);
    const file = await createConnection({ orgId: o, type: 'csv' }, env);
    await applySourceChanges({ _id: scim.id, orgId: o, type: 'scim' }, [
      { op: 'upsert', key: 'u1', email: 'ida@owed.io', active: true, attributes: { first_name: 'Ida', job_title: 'Pilot' } },
    ]);
    await applySourceChanges({ _id: file.id, orgId: o, type: 'csv' }, [
      { op: 'upsert', key: 'ida@owed.io', email: 'ida@owed.io', active: true, attributes: { first_name: 'Idabel' } },
    ]);
    const ida = async () => getRecipient(recipientId(o, 'ida@owed.io'));
    assert.equal((await ida())?.attributes.job_title, undefined);

    // The process that changed the settings stopped before its background re-merge ran.
    assert.ok((await updateConnection(scim.id, { extendedAttributes: true })).remerge);
    assert.ok((await updateOrganizationSettings(o, { attributePriority: ['csv', 'hris', 'scim', 'sftp', 'manual'] })).remerge);
    assert.equal((await ida())?.attributes.job_title, undefined);
    assert.equal((await ida())?.firstName, 'Ida');
    assert.equal((await sweepStore(60_000)).owedRemerges, 0, 'a change moments ago may still be re-merging');
    assert.equal((await sweepStore(0)).owedRemerges, 2);
    assert.equal((await ida())?.attributes.job_title, 'Pilot');
    assert.equal((await ida())?.firstName, 'Idabel');
    assert.equal((await sweepStore(0)).owedRemerges, 0);

    // A re-merge that ran clears its debt: nothing is left for the sweep.
    const change = await updateConnection(scim.id, { extendedAttributes: false });
    await change.remerge?.();
    assert.equal((await ida())?.attributes.job_title, undefined);
    assert.equal((await sweepStore(0)).owedRemerges, 0);
  });
});
