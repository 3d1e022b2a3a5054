import { deleteStagedRows } from './stagedRows';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKeyError } from './errors';
import { SyncRun, SyncRunItem, type SyncRunDoc } from './models';
import { PROCESS_OWNER, serialized, transitionRun } from './syncRunState';

/**
 * The queue of stored-input runs: a sync run whose input is a file kept in the store (`input.fileId`, SFTP uploads)
 * waits `queued` until a worker claims it, so two instances never process the same file.
 *
 * The claim is an insert into `run_claims` with the run's id as `_id`: an insert of an existing primary key fails on
 * every MongoDB-compatible store, which makes it a reliable compare-and-set (FerretDB applies an update as read then
 * replace, so two updates racing on one document are not one). The claim, not the run, carries the worker's heartbeat,
 * so the worker never writes the run from two places at once (a heartbeat racing the final status write could undo it).
 * A claim whose heartbeat went silent is dropped and its run goes back to the queue (its file is still there).
 */

/** A claim is heartbeated every second; this much silence means its process is gone. */
export const CLAIM_STALE_MS = 15_000;
const HEARTBEAT_MS = 1_000;

interface ClaimDoc {
  _id: string;
  token: string;
  worker: string;
  heartbeatAt: Date;
}

function claims() {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the store is not connected');
  return db.collection<ClaimDoc>('run_claims');
}

const STORED = { 'input.fileId': { $ne: null } };

export interface ClaimedRun {
  run: SyncRunDoc;
  token: string;
  /** Stops the claim's heartbeat. */
  stopHeartbeat(): void;
  /** Releases the claim once the run ended (or was put back in the queue). */
  release(): Promise<void>;
}

function heartbeat(runId: string, token: string): () => void {
  const timer = setInterval(() => {
    claims()
      .updateOne({ _id: runId, token }, { $set: { heartbeatAt: new Date() } })
      .catch(() => undefined);
  }, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Claims the oldest queued stored-input run, skipping accounts that already have one running (an account's files are
 * processed in upload order, one at a time). Null when there is none.
 */
export async function claimStoredRun(worker: string): Promise<ClaimedRun | null> {
  const queued = (await SyncRun.find({ ...STORED, status: 'queued' }, { _id: 1, connectionId: 1 })
    .sort({ _id: 1 })
    .limit(50)
    .lean()
    .exec()) as Pick<SyncRunDoc, '_id' | 'connectionId'>[];
  if (!queued.length) return null;
  const busy = new Set(
    (
      (await SyncRun.find({ ...STORED, status: 'running' }, { connectionId: 1 })
        .lean()
        .exec()) as Pick<SyncRunDoc, 'connectionId'>[]
    ).map((r) => r.connectionId),
  );
  const tried = new Set<string>();
  for (const c of queued) {
    if (busy.has(c.connectionId) || tried.has(c.connectionId)) continue;
    tried.add(c.connectionId);
    const token = `${worker}:${randomBytes(6).toString('hex')}`;
    try {
      await claims().insertOne({ _id: c._id, token, worker, heartbeatAt: new Date() });
    } catch (err) {
      if (isDuplicateKeyError(err)) continue;
      throw err;
    }
    const now = new Date();
    const claimed = await transitionRun(c._id, 'running', { claimedBy: token, heartbeatAt: now, startedAt: now, owner: PROCESS_OWNER });
    if (!claimed) {
      await claims().deleteOne({ _id: c._id, token });
      continue;
    }
    const run = (await SyncRun.findOne({ _id: c._id }).lean().exec()) as SyncRunDoc;
    const stopHeartbeat = heartbeat(c._id, token);
    return {
      run,
      token,
      stopHeartbeat,
      release: async () => {
        stopHeartbeat();
        await claims().deleteOne({ _id: c._id, token });
      },
    };
  }
  return null;
}

/**
 * Puts a claimed stored-input run back in the queue: from scratch (its staged rows dropped), or, for a first load that
 * applies as it reads, with its journal (it resumes after what it applied); false if it had moved on.
 *
 * The one backward move of a run's status (src/store/syncRunState.ts): running → queued, for a stored file whose worker
 * went away before the apply phase (an apply is resumed from its journal instead, never redone).
 */
export async function requeueStoredRun(id: string, also: Record<string, unknown> = {}): Promise<boolean> {
  // A first load applies as it reads: it keeps its journal, counts and errors, and resumes where they end.
  const direct = (await SyncRun.findOne({ _id: id }, { journal: 1 }).lean().exec())?.journal?.direct === true;
  if (direct) {
    const res = await serialized(id, () =>
      SyncRun.updateOne(
        { ...also, ...STORED, _id: id, status: 'running', 'journal.direct': true },
        { $set: { status: 'queued', claimedBy: null, 'progress.processed': 0, 'input.bytesRead': 0, message: null, owner: null } },
      ).exec(),
    );
    return res.modifiedCount > 0;
  }
  const res = await serialized(id, () =>
    SyncRun.updateOne(
      // Not a first load that started applying meanwhile (the sweep's next pass requeues it as one).
      { ...also, ...STORED, _id: id, status: 'running', phase: { $ne: 'apply' }, 'journal.direct': { $ne: true } },
      {
        $set: {
          status: 'queued',
          claimedBy: null,
          progress: { processed: 0, total: null },
          'input.bytesRead': 0,
          errors: [],
          message: null,
          review: null,
          counts: { created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 },
          phase: null,
          journal: null,
          owner: null,
        },
      },
    ).exec(),
  );
  if (!res.modifiedCount) return false;
  await deleteStagedRows(id);
  await SyncRunItem.deleteMany({ runId: id }).exec();
  return true;
}

/**
 * Drops the claims whose heartbeat went silent for `staleMs` and puts their runs back in the queue; also re-queues
 * running stored-input runs without a claim (a process that stopped between its claim and its start). Returns the ids
 * of the runs re-queued.
 */
export async function requeueAbandonedStoredRuns(staleMs = CLAIM_STALE_MS, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - staleMs);
  const out: string[] = [];
  for (const c of await claims()
    .find({ heartbeatAt: { $lt: cutoff } })
    .toArray()) {
    const gone = await claims().deleteOne({ _id: c._id, token: c.token, heartbeatAt: { $lt: cutoff } });
    if (!gone.deletedCount) continue;
    if (await requeueStoredRun(c._id, { claimedBy: c.token })) out.push(c._id);
  }
  const running = (await SyncRun.find({ ...STORED, status: 'running', updatedAt: { $lt: cutoff } }, { _id: 1 })
    .lean()
    .exec()) as { _id: string }[];
  for (const { _id } of running) {
    if (await claims().findOne({ _id })) continue;
    if (await requeueStoredRun(_id, { updatedAt: { $lt: cutoff } })) out.push(_id);
  }
  return out;
}

/** Stored-input runs that ended but whose result was not written back (the process stopped in between). */
export async function endedRunsWithoutResult(olderThanMs: number, now = new Date()): Promise<SyncRunDoc[]> {
  const cutoff = new Date(now.getTime() - olderThanMs);
  return await SyncRun.find({
    ...STORED,
    source: 'sftp',
    status: { $in: ['succeeded', 'completed_with_errors', 'failed', 'needs_review', 'applied', 'discarded'] },
    'input.resultAt': null,
    updatedAt: { $lt: cutoff },
  })
    .limit(20)
    .lean()
    .exec();
}
