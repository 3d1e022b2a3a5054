import { syncRunEvent } from './events';
import { StagedRow, SyncRun, type SyncRunStatus } from './models';

/** Why a run whose process went away failed. */
export const ABANDONED_RUN_MESSAGE =
  'interrupted: the process running this sync stopped before it finished (a crash or a forced stop); run it again';

/**
 * A queued or running sync run that has not been written for this long is taken for abandoned. Work on a run writes
 * it at least every few seconds (progress after each batch; API jobs heartbeat every second), and several processes
 * may share the store (`--roles`), so a run is never judged by which process started it, only by its silence.
 */
export const STALE_RUN_MS = 60_000;
/** How often the worker role looks for abandoned runs after its start. */
export const SWEEP_INTERVAL_MS = 60_000;

const ACTIVE: SyncRunStatus[] = ['queued', 'running'];

/**
 * Fails a sync run that is still queued or running (and matches `also`), dropping its staged rows; false when the run
 * had already ended or no longer matches. For runs whose worker is gone: a crash, or a shutdown that stopped it.
 */
export async function failActiveRun(id: string, message: string, also: Record<string, unknown> = {}, now = new Date()): Promise<boolean> {
  const res = await SyncRun.updateOne(
    { ...also, _id: id, status: { $in: ACTIVE } },
    { $set: { status: 'failed', message, finishedAt: now } },
  ).exec();
  if (!res.modifiedCount) return false;
  await StagedRow.deleteMany({ runId: id }).exec();
  await syncRunEvent(id, 'failed');
  return true;
}

/** Marks failed the queued or running sync runs nobody has written for `staleMs`; returns their ids. */
export async function failAbandonedRuns(staleMs = STALE_RUN_MS, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - staleMs);
  const stale = (await SyncRun.find({ status: { $in: ACTIVE }, updatedAt: { $lt: cutoff } }, { _id: 1 }).lean().exec()) as { _id: string }[];
  const failed: string[] = [];
  for (const { _id } of stale) {
    // Conditional on the same silence, so a run that came back to life meanwhile is left alone.
    if (await failActiveRun(_id, ABANDONED_RUN_MESSAGE, { updatedAt: { $lt: cutoff } }, now)) failed.push(_id);
  }
  return failed;
}
