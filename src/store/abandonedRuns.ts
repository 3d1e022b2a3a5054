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

/** Marks failed the queued or running sync runs nobody has written for `staleMs`; returns their ids. */
export async function failAbandonedRuns(staleMs = STALE_RUN_MS, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - staleMs);
  const stale = (await SyncRun.find({ status: { $in: ACTIVE }, updatedAt: { $lt: cutoff } }, { _id: 1 }).lean().exec()) as { _id: string }[];
  const failed: string[] = [];
  for (const { _id } of stale) {
    // Conditional on the same silence, so a run that came back to life meanwhile is left alone.
    const res = await SyncRun.updateOne(
      { _id, status: { $in: ACTIVE }, updatedAt: { $lt: cutoff } },
      { $set: { status: 'failed', message: ABANDONED_RUN_MESSAGE, finishedAt: now } },
    ).exec();
    if (res.modifiedCount) {
      await StagedRow.deleteMany({ runId: _id }).exec();
      failed.push(_id);
    }
  }
  return failed;
}
