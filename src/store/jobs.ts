import { failActiveRun } from './abandonedRuns';
import { requeueStoredRun } from './fileRuns';
import { touchRun, writeRunInfo } from './syncRunState';

/**
 * Background work on sync runs (API upload processing after the 202, stored files claimed by a worker). Shutdown waits for it (bounded), tests wait for it, and
 * while a job runs its sync run is kept visibly alive (a heartbeat, with its progress), so that a run whose process
 * died can be told from one that is still being worked on (src/store/abandonedRuns.ts).
 */

/** Why a run that shutdown stopped failed. */
export const INTERRUPTED_BY_SHUTDOWN = 'interrupted by shutdown before it finished; upload the file again';
/** How often a running job writes its heartbeat and progress. */
export const HEARTBEAT_MS = 1_000;

interface Job {
  done: Promise<void>;
  syncRunId: string | null;
  abort: AbortController;
  requeue: boolean;
}
const jobs = new Set<Job>();

export interface BackgroundJobOptions {
  /** The sync run the job works on: heartbeated while the job runs, failed if shutdown stops the job. */
  syncRunId?: string;
  /** Fields written with each heartbeat and once more when the job is done (e.g. `input.bytesRead`). */
  progress?: () => Record<string, unknown>;
  /** The run's input is a stored file: shutdown puts the run back in the queue instead of failing it. */
  requeueOnInterrupt?: boolean;
  /** false: the job keeps its own heartbeat elsewhere (stored-file claims); the run is not touched. */
  heartbeat?: boolean;
}

/**
 * A heartbeat is a write to the run that is conditional on the run being active and never carries a status, and it
 * goes through the run's per-process write queue (src/store/syncRunState.ts): on FerretDB an update is a read then a
 * replace of the document, so a heartbeat overlapping the job's final write ("succeeded") could otherwise put the run
 * back to "running". One heartbeat at a time: a slow store must not pile them up behind the run's other writes.
 */
export function keepRunAlive(syncRunId: string, progress?: () => Record<string, unknown>): () => void {
  let inFlight = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    touchRun(syncRunId, progress?.() ?? {})
      .catch(() => undefined)
      .finally(() => (inFlight = false));
  }, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Runs `work` after the response was sent. `work` gets an AbortSignal that shutdown raises when its wait is over; a
 * job should stop at the next row and fail its run with the signal's reason.
 */
export function runInBackground(
  work: Promise<unknown> | ((signal: AbortSignal) => Promise<unknown>),
  opts: BackgroundJobOptions = {},
): void {
  const abort = new AbortController();
  const syncRunId = opts.syncRunId ?? null;
  const stop = syncRunId && opts.heartbeat !== false ? keepRunAlive(syncRunId, opts.progress) : () => undefined;
  const run = async () => {
    try {
      await (typeof work === 'function' ? work(abort.signal) : work);
    } catch {
      // A job records its own failure on its run; nothing to add here.
    } finally {
      stop();
      // Progress recorded once more at the end, whatever the run's status now (e.g. the bytes of the input read).
      if (syncRunId && opts.progress) await writeRunInfo(syncRunId, opts.progress()).catch(() => undefined);
    }
  };
  const job: Job = { syncRunId, abort, requeue: Boolean(opts.requeueOnInterrupt), done: Promise.resolve() };
  job.done = run().finally(() => jobs.delete(job));
  jobs.add(job);
}

/** How many background jobs are running. */
export function backgroundJobCount(): number {
  return jobs.size;
}

/** True when every promise settled within `timeoutMs` (Infinity: waits as long as they take). */
export async function settledWithin(promises: Promise<unknown>[], timeoutMs: number): Promise<boolean> {
  if (!Number.isFinite(timeoutMs)) {
    await Promise.allSettled(promises);
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs))));
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until no background job runs (jobs started meanwhile included), at most `timeoutMs`; true when none is left. */
export async function waitForBackgroundJobs(timeoutMs = Infinity): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (jobs.size) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await settledWithin(
      [...jobs].map((j) => j.done),
      left,
    );
  }
  return true;
}

/** The grace a stopped job gets to end and record its run before shutdown records it for the job. */
export const INTERRUPT_GRACE_MS = 4_000;

/**
 * Stops the jobs still running: raises their abort signal, gives them `graceMs` to stop and fail their runs with
 * `reason`, then marks the runs of jobs that did not stop failed with `reason` too (their staged rows are dropped), so
 * no run is left "running" by a process that is going away. Returns the ids of the runs that were stopped.
 *
 * Each job is stopped once: the HTTP role and the file queue both call this at shutdown, and a job an earlier call
 * stopped (say an apply batch still in flight) is neither waited for nor recorded again, or every caller would spend
 * its own grace on it and the stop would overrun its bound.
 */
export async function interruptBackgroundJobs(reason = INTERRUPTED_BY_SHUTDOWN, graceMs = INTERRUPT_GRACE_MS): Promise<string[]> {
  const stopped = [...jobs].filter((j) => !j.abort.signal.aborted);
  if (!stopped.length) return [];
  for (const j of stopped) j.abort.abort(reason);
  await settledWithin(
    stopped.map((j) => j.done),
    graceMs,
  );
  const ids = stopped.map((j) => j.syncRunId).filter((id): id is string => id !== null);
  for (const j of stopped) {
    if (!j.syncRunId) continue;
    if (j.requeue) await requeueStoredRun(j.syncRunId).catch(() => false);
    else await failActiveRun(j.syncRunId, reason).catch(() => false);
  }
  return ids;
}
