import { sweepAbandonedRuns } from './abandonedRuns';
import { sweepAbandonedStoredFiles } from './files';
import { replayJournalSlots, replayMergeJournal } from './merge';
import { finishOwedRemerges } from './remerge';
import { finishPendingGroupWrites } from './scimGroups';

/**
 * A sync run is never taken for abandoned sooner than this, whatever age a sweep is given: a run being worked on is
 * written at least every few seconds (progress after each batch, a heartbeat every second for API jobs), and another
 * process (`--roles`) may be working on it while this one starts. A sweep at start (age 0) thus fails the runs a
 * stopped process left, without failing those a running one is busy with.
 */
export const MIN_RUN_SILENCE_MS = 15_000;

export interface SweepReport {
  /** Sync runs failed because the process working on them stopped. */
  failedRuns: string[];
  /** Sync runs whose apply phase a stopped process left: finished from their apply journal. */
  resumedRuns: string[];
  /** Stored files (SFTP) whose worker stopped before applying: back in the queue. */
  requeuedRuns: string[];
  /** Merges replayed from the journal (recipients caught up with source records already written). */
  replayedMerges: number;
  /**
   * Journal slots of one-record merges replayed (src/store/mergeJournal.ts): a slot is not cleared after its merge,
   * so this counts finished merges re-derived (no change) as well as interrupted ones caught up.
   */
  replayedJournalSlots: number;
  /** SCIM group writes finished (the membership their intent named applied, or the delete completed). */
  finishedGroupWrites: number;
  /** Re-merges owed by settings changes (attribute priority, extended attributes) that were run. */
  owedRemerges: number;
  /** Stored files a stopped process left half-written (an upload cut by a crash), deleted with their chunks. */
  abandonedFiles: string[];
}

/**
 * All of the store's recovery, in one sweep: what stopped processes (a crash, a SIGKILL, a store outage mid-write)
 * left half-done and silent for `ageMs`. The worker role runs it at start with age 0 (everything left, since no
 * earlier work of its own can still be running) and every minute with a minute.
 * - sync runs left active (src/store/abandonedRuns.ts; silent for `runStaleMs`, by default at least MIN_RUN_SILENCE_MS,
 *   or owned by a process of this host that is gone): applies resumed from their journal (unless `resume` is false),
 *   stored files re-queued, the others failed;
 * - the merge journal: replayed, so recipients catch up with acknowledged source records (src/store/merge.ts), both
 *   the batch entries and the slots of one-record writes (src/store/mergeJournal.ts);
 * - SCIM group-write intents: finished (src/store/scimGroups.ts);
 * - re-merges owed by settings changes whose background job did not finish: run (src/store/remerge.ts);
 * - stored files left half-written (silent for at least ABANDONED_FILE_MS, whatever `ageMs` says, since an upload on
 *   another process may be slow): deleted (src/store/files.ts).
 * SCIM userName key claims need no sweep: a claim whose user was never written is taken over by the next
 * claim of that key once SCIM_KEY_STALE_MS old (src/store/scimUsers.ts claimScimKey), and until then it hides nothing.
 * Every step is idempotent, so a sweep may run beside the work it looks at, and in several processes at once.
 */
export async function sweepStore(ageMs: number, opts: { runStaleMs?: number; resume?: boolean } = {}): Promise<SweepReport> {
  const runs = await sweepAbandonedRuns(opts.runStaleMs ?? Math.max(ageMs, MIN_RUN_SILENCE_MS), new Date(), { resume: opts.resume });
  const replayedMerges = await replayMergeJournal(ageMs);
  const replayedJournalSlots = await replayJournalSlots(ageMs);
  const finishedGroupWrites = await finishPendingGroupWrites(ageMs);
  const owedRemerges = await finishOwedRemerges(ageMs);
  const abandonedFiles = await sweepAbandonedStoredFiles(ageMs);
  return {
    failedRuns: runs.failed,
    resumedRuns: runs.resumed,
    requeuedRuns: runs.requeued,
    replayedMerges,
    replayedJournalSlots,
    finishedGroupWrites,
    owedRemerges,
    abandonedFiles,
  };
}
