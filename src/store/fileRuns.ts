import { StagedRow, SyncRun, type SyncRunDoc } from './models';

/**
 * The queue of stored-input runs: a sync run whose input is a file kept in the store (`input.fileId`, SFTP uploads)
 * waits `queued` until a worker claims it with a compare-and-set (queued → running, so two instances never process the
 * same file). A claimed run whose worker went silent goes back to the queue (its input is still there), never failed.
 */

/** A claimed run is heartbeated every second; this much silence means its process is gone. */
export const CLAIM_STALE_MS = 15_000;

const STORED = { 'input.fileId': { $ne: null } };

/**
 * Claims the oldest queued stored-input run, skipping connections that already have one running (files of an account
 * are processed in upload order, one at a time). Null when there is none.
 */
export async function claimStoredRun(worker: string): Promise<SyncRunDoc | null> {
  const queued = (await SyncRun.find({ ...STORED, status: 'queued' }, { _id: 1, connectionId: 1 }).sort({ _id: 1 }).limit(50).lean().exec()) as Pick<SyncRunDoc, '_id' | 'connectionId'>[];
  if (!queued.length) return null;
  const busy = new Set(
    ((await SyncRun.find({ ...STORED, status: 'running' }, { connectionId: 1 }).lean().exec()) as Pick<SyncRunDoc, 'connectionId'>[]).map((r) => r.connectionId),
  );
  const tried = new Set<string>();
  for (const c of queued) {
    // Only the oldest queued file of each account is a candidate.
    if (busy.has(c.connectionId) || tried.has(c.connectionId)) continue;
    tried.add(c.connectionId);
    const now = new Date();
    const claimed = (await SyncRun.findOneAndUpdate(
      { _id: c._id, status: 'queued' },
      { $set: { status: 'running', claimedBy: worker, heartbeatAt: now, startedAt: now } },
      { returnDocument: 'after' },
    ).lean().exec()) as SyncRunDoc | null;
    if (claimed) return claimed;
  }
  return null;
}

/** Puts a claimed stored-input run back in the queue from scratch (its staged rows dropped); false if it had moved on. */
export async function requeueStoredRun(id: string, also: Record<string, unknown> = {}): Promise<boolean> {
  const res = await SyncRun.updateOne(
    { ...also, ...STORED, _id: id, status: 'running' },
    {
      $set: {
        status: 'queued', claimedBy: null, progress: { processed: 0, total: null }, 'input.bytesRead': 0, errors: [], message: null, review: null,
        counts: { created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 },
      },
    },
  ).exec();
  if (!res.modifiedCount) return false;
  await StagedRow.deleteMany({ runId: id }).exec();
  return true;
}

/** Re-queues the running stored-input runs nobody has written for `staleMs` (their process died); returns their ids. */
export async function requeueAbandonedStoredRuns(staleMs = CLAIM_STALE_MS, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - staleMs);
  const stale = (await SyncRun.find({ ...STORED, status: 'running', updatedAt: { $lt: cutoff } }, { _id: 1 }).lean().exec()) as { _id: string }[];
  const out: string[] = [];
  for (const { _id } of stale) {
    if (await requeueStoredRun(_id, { updatedAt: { $lt: cutoff } })) out.push(_id);
  }
  return out;
}

/** Stored-input runs that ended but whose result was not written back (the process stopped in between). */
export async function endedRunsWithoutResult(olderThanMs: number, now = new Date()): Promise<SyncRunDoc[]> {
  const cutoff = new Date(now.getTime() - olderThanMs);
  return (await SyncRun.find({
    ...STORED, source: 'sftp', status: { $in: ['succeeded', 'failed', 'needs_review', 'discarded'] }, 'input.resultAt': null, updatedAt: { $lt: cutoff },
  }).limit(20).lean().exec()) as SyncRunDoc[];
}
