import { deleteStagedRows } from './stagedRows';
import { syncRunEvent } from './events';
import { requeueAbandonedStoredRuns } from './fileRuns';
import { SyncRun, type SyncRunDoc } from './models';
import { PROCESS_OWNER, isRunLive, ownerGone, readRun, serialized } from './syncRunState';
import { resumeApply, settleInterruptedDelta } from './syncRuns';

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

/**
 * Fails a sync run that is still queued or running (and matches `also`), dropping its staged rows; false when the run
 * had already ended, no longer matches, or is applying a full snapshot (an apply is never cut: it finishes, or
 * `resumeApply` finishes it). For runs whose worker is gone: a crash, or a shutdown that stopped it.
 */
export async function failActiveRun(id: string, message: string, also: Record<string, unknown> = {}, now = new Date()): Promise<boolean> {
  const run = await readRun(id);
  if (!run || run.phase === 'apply') return false;
  // A delta run (and a first load) applies as it reads: its counts include what its last, interrupted batch wrote.
  const counts = (run.mode === 'delta' || run.journal?.direct) && run.journal?.pending ? await settleInterruptedDelta(run) : run.counts;
  const res = await serialized(id, () =>
    SyncRun.updateOne(
      { ...also, _id: id, status: { $in: ['queued', 'running'] }, phase: { $ne: 'apply' } },
      { $set: { status: 'failed', message, finishedAt: now, counts, journal: null, phase: null } },
    ).exec(),
  );
  if (!res.modifiedCount) return false;
  await deleteStagedRows(id);
  await syncRunEvent(id, 'failed');
  return true;
}

export interface SweptRuns {
  failed: string[];
  resumed: string[];
  /** Stored-input runs (SFTP files) put back in the queue: their file is still there, so they are processed again. */
  requeued: string[];
}

/**
 * Ends the active sync runs nobody has written for `staleMs` (or whose process on this host is gone): runs that were
 * applying a full snapshot are resumed from their journal and end as they would have (unless `resume` is false); runs
 * whose input is a stored file go back to the queue when their worker's claim went silent (src/store/fileRuns.ts); the
 * others are failed. Returns the ids of each.
 */
export async function sweepAbandonedRuns(staleMs = STALE_RUN_MS, now = new Date(), opts: { resume?: boolean } = {}): Promise<SweptRuns> {
  const cutoff = new Date(now.getTime() - staleMs);
  const active = (await SyncRun.find({ status: { $in: ['queued', 'running', 'applying'] } })
    .lean()
    .exec()) as SyncRunDoc[];
  // Silent for staleMs, or worked on by a process of this host that is gone (a restart need not wait for the silence).
  const stale = active.filter((r) => new Date(r.updatedAt).getTime() < cutoff.getTime() || ownerGone(r.owner));
  const out: SweptRuns = { failed: [], resumed: [], requeued: await requeueAbandonedStoredRuns(Math.min(staleMs, STALE_RUN_MS), now) };
  for (const run of stale) {
    if (isRunLive(run._id) || out.requeued.includes(run._id)) continue;
    // Every write below is conditional on the run not having been written since it was read.
    const unchanged = { updatedAt: run.updatedAt };
    if (run.status === 'applying' || run.phase === 'apply') {
      if (opts.resume === false) continue;
      // Claim it, so that two sweeping processes do not both resume it.
      const claimed = await serialized(run._id, () =>
        SyncRun.updateOne(
          { _id: run._id, status: run.status, ...unchanged },
          { $set: { heartbeatAt: now, resumed: (run.resumed ?? 0) + 1, owner: PROCESS_OWNER } },
        ).exec(),
      );
      if (!claimed.modifiedCount) continue;
      await resumeApply(run._id);
      out.resumed.push(run._id);
      continue;
    }
    // A stored file waits in the queue, or is re-queued by its silent claim above: never failed for silence.
    if (run.input?.fileId) continue;
    if (await failActiveRun(run._id, ABANDONED_RUN_MESSAGE, unchanged, now)) out.failed.push(run._id);
  }
  return out;
}

/** Marks failed (or resumes, when they were applying) the active sync runs nobody has written for `staleMs`; returns the failed ids. */
export async function failAbandonedRuns(staleMs = STALE_RUN_MS, now = new Date()): Promise<string[]> {
  return (await sweepAbandonedRuns(staleMs, now)).failed;
}
