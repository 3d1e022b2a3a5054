import type { Logger } from 'pino';
import { listHrisConnections, listQueuedHrisRuns, type HrisConnection } from '../store';
import { leaseHolderId, runHrisSync, type HrisDeps } from './sync';

/**
 * The HRIS scheduler, run by the worker role (an http-only instance never polls). Every HRIS_POLL_SECONDS it takes the
 * queued on-demand runs, then starts the connections that are due: never synced yet, past their `nextSyncAt` (24 h
 * automated, 7 d assisted, with jitter), or asked for by a webhook whose debounce expired. Any number of instances may
 * run it: each sync claims the connection's lease first, and re-checks that the connection is still due once it holds
 * it, so exactly one run happens.
 */

export interface HrisScheduler {
  /** One pass (tests call it directly; the timer calls it too). */
  tick(): Promise<void>;
  /** Syncs this scheduler is running now. */
  active(): number;
  /** Stops polling, interrupts running syncs (their runs fail, nothing half-applied) and waits for them. */
  stop(): Promise<void>;
}

export interface SchedulerOptions extends HrisDeps {
  /** Syncs one process runs at once (default 4). */
  maxConcurrent?: number;
}

/** Whether a connection is due for a scheduled (or webhook-requested) run at `now`. */
export function isDue(c: HrisConnection, now: number): boolean {
  if (c.needsReauth) return false;
  if (!c.nextSyncAt || c.nextSyncAt.getTime() <= now) return true;
  return c.mode === 'automated' && c.webhookSyncAt !== null && c.webhookSyncAt.getTime() <= now;
}

export function startHrisScheduler(opts: SchedulerOptions): HrisScheduler {
  const log: Logger = opts.logger.child({ component: 'hris-scheduler' });
  const holder = opts.holder ?? leaseHolderId();
  const max = opts.maxConcurrent ?? 4;
  const abort = new AbortController();
  const running = new Map<string, Promise<void>>();
  let ticking: Promise<void> | null = null;
  let stopped = false;

  const launch = (connectionId: string, runOpts: { runId?: string; label: string; due?: boolean }) => {
    if (stopped || running.has(connectionId) || running.size >= max) return;
    const job = runHrisSync(
      connectionId,
      { ...opts, holder, signal: abort.signal },
      {
        runId: runOpts.runId,
        label: runOpts.label,
        // Re-checked under the lease: another instance may have just run it.
        stillDue: runOpts.due ? (c) => isDue(c, Date.now()) : undefined,
      },
    )
      .then(
        () => undefined,
        (err: Error) => log.warn({ connectionId, errName: err?.name, err: err?.message }, 'hris sync crashed'),
      )
      .finally(() => running.delete(connectionId));
    running.set(connectionId, job);
  };

  const pass = async () => {
    for (const q of await listQueuedHrisRuns()) launch(q.connectionId, { runId: q.runId, label: 'on demand' });
    const now = Date.now();
    for (const c of await listHrisConnections()) {
      if (!isDue(c, now)) continue;
      const byWebhook = c.nextSyncAt !== null && c.nextSyncAt.getTime() > now;
      launch(c._id, { label: byWebhook ? 'webhook' : c.nextSyncAt ? 'scheduled' : 'first sync', due: true });
    }
  };

  const tick = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    ticking ??= pass()
      .catch((err: Error) => log.warn({ errName: err?.name }, 'hris scheduler pass failed'))
      .finally(() => {
        ticking = null;
      });
    return ticking;
  };

  const timer = setInterval(() => void tick(), opts.config.HRIS_POLL_SECONDS * 1000);
  timer.unref();
  void tick();

  return {
    tick,
    active: () => running.size,
    async stop() {
      stopped = true;
      clearInterval(timer);
      abort.abort(new Error('interrupted by shutdown before it finished; the next run starts clean'));
      await ticking;
      await Promise.allSettled([...running.values()]);
    },
  };
}
