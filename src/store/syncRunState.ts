import { hostname } from 'node:os';
import { syncRunEvent, type SyncRunEventKind } from './events';
import { SyncRun, type SyncRunDoc, type SyncRunStatus } from './models';

/**
 * The one way a sync run's status changes, and the writes that keep a run alive.
 *
 * Status moves only forward, and every transition is a write conditional on the statuses it may leave:
 *   queued → running | failed
 *   running → succeeded | completed_with_errors | failed | needs_review | pending (HRIS: the provider's data is not ready)
 *   needs_review → applying | discarded
 *   applying → applied | failed
 * Heartbeats and progress writes are conditional on the run still being active and never carry a status.
 *
 * FerretDB v1 executes an update as read, modify in memory, write the whole document back, with nothing between the
 * read and the write: two updates of one document that overlap lose one of them, whatever their filters say. A
 * heartbeat overlapping the final status write could so put `running` back after `succeeded`. So every write to a run
 * made by this process goes through a per-run queue (`serialized`): writes to one run never overlap in a process.
 */

export const ACTIVE_STATUSES: readonly SyncRunStatus[] = ['queued', 'running', 'applying'];
export const FINAL_STATUSES: readonly SyncRunStatus[] = ['succeeded', 'completed_with_errors', 'failed', 'applied', 'discarded', 'pending'];

const FROM: Record<SyncRunStatus, readonly SyncRunStatus[]> = {
  queued: [],
  running: ['queued'],
  succeeded: ['running'],
  completed_with_errors: ['running'],
  needs_review: ['running'],
  failed: ['queued', 'running', 'applying'],
  applying: ['needs_review'],
  applied: ['applying'],
  discarded: ['needs_review'],
  pending: ['queued', 'running'],
};

/** The statuses a run may move to `to` from. */
export function allowedFrom(to: SyncRunStatus): readonly SyncRunStatus[] {
  return FROM[to];
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `write` after every earlier write of this process to the same run has finished. */
export function serialized<T>(runId: string, write: () => Promise<T>): Promise<T> {
  const prev = queues.get(runId) ?? Promise.resolve();
  const next = prev.then(write, write);
  const tail = next.catch(() => undefined);
  queues.set(runId, tail);
  void tail.then(() => {
    if (queues.get(runId) === tail) queues.delete(runId);
  });
  return next;
}

export type RunFields = Record<string, unknown>;

function withoutStatus(set: RunFields): RunFields {
  const { status: _status, ...rest } = set;
  void _status;
  return rest;
}

/**
 * Moves a run to `to` (with `set` written in the same update) if its status is one `to` may be reached from and it
 * matches `also`. False when the run was elsewhere: it is left as it was.
 */
export async function transitionRun(runId: string, to: SyncRunStatus, set: RunFields = {}, also: RunFields = {}): Promise<boolean> {
  const moved = await serialized(runId, async () => {
    const res = await SyncRun.updateOne(
      { ...also, _id: runId, status: { $in: [...FROM[to]] } },
      { $set: { ...withoutStatus(set), status: to } },
    ).exec();
    return res.modifiedCount > 0;
  });
  // The change feed hears of every run that ended, was held or was decided on (sync_run.* events), from here alone.
  const kind = EVENT_OF[to];
  if (moved && kind) await syncRunEvent(runId, kind);
  return moved;
}

/** The change-feed event of a status a run reached (completed_with_errors is a success with rejected rows). */
const EVENT_OF: Partial<Record<SyncRunStatus, SyncRunEventKind>> = {
  succeeded: 'succeeded',
  completed_with_errors: 'succeeded',
  failed: 'failed',
  needs_review: 'needs_review',
  applied: 'applied',
  discarded: 'discarded',
};

/**
 * Writes progress (counts, journal, heartbeat) on a run that is still active; never its status. False when the run is
 * no longer active (then nothing is written).
 */
export async function writeActiveRun(runId: string, set: RunFields): Promise<boolean> {
  return serialized(runId, async () => {
    const res = await SyncRun.updateOne({ _id: runId, status: { $in: [...ACTIVE_STATUSES] } }, { $set: withoutStatus(set) }).exec();
    return res.modifiedCount > 0;
  });
}

/** A heartbeat: the run is still being worked on (its `updatedAt` moves), with optional progress fields. */
export async function touchRun(runId: string, extra: RunFields = {}): Promise<boolean> {
  return writeActiveRun(runId, { ...extra, heartbeatAt: new Date() });
}

/** Writes fields that do not depend on the run being active (e.g. bytes read, recorded once more at the end). */
export async function writeRunInfo(runId: string, set: RunFields): Promise<void> {
  await serialized(runId, () => SyncRun.updateOne({ _id: runId }, { $set: withoutStatus(set) }).exec());
}

export async function readRun(runId: string): Promise<SyncRunDoc | null> {
  return await SyncRun.findOne({ _id: runId }).lean().exec();
}

/**
 * Runs this process is working on right now. The sweep never takes one of them for abandoned, however slow its store
 * writes are (it judges other processes' runs by their silence alone).
 */
const live = new Set<string>();

export function markRunLive(runId: string): void {
  live.add(runId);
}

export function markRunDone(runId: string): void {
  live.delete(runId);
}

export function isRunLive(runId: string): boolean {
  return live.has(runId);
}

/** This process, as recorded on the runs it works on. */
export const PROCESS_OWNER: { host: string; pid: number; since: number } = {
  host: hostname(),
  pid: process.pid,
  since: Math.round(Date.now() - process.uptime() * 1000),
};

/**
 * True when the process a run names as its owner is certainly gone: it ran on this host and its pid is not alive, or
 * the pid is this process's but from an earlier start (a restarted container keeps pid 1). Anything else (another
 * host, a pid now used by another process) is judged by the run's silence alone.
 */
export function ownerGone(owner: SyncRunDoc['owner']): boolean {
  if (!owner || owner.host !== PROCESS_OWNER.host || typeof owner.pid !== 'number') return false;
  if (owner.pid === PROCESS_OWNER.pid) return Math.abs(owner.since - PROCESS_OWNER.since) > 1_000;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
