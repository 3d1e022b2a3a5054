import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { INTERRUPTED_BY_SHUTDOWN, backgroundJobCount, interruptBackgroundJobs, waitForBackgroundJobs } from '../api/jobs';
import { STALE_RUN_MS, SWEEP_INTERVAL_MS, connectStore, disconnectStore, failAbandonedRuns, replayMergeJournal } from '../store';
import { finishPendingGroupWrites } from '../scim/groups';
import { setEventRetentionDays, sweepEvents, sweepWebhookDeliveries } from '../store';
import { WebhookWorker } from '../webhooks/worker';
import { countEventsWritten, recordDelivery } from './eventMetrics';
import { createApp } from './app';
import { createLogger } from './logger';

export type Role = 'http' | 'sftp' | 'worker';
export const ALL_ROLES: readonly Role[] = ['http', 'sftp', 'worker'];

export interface RunningService {
  httpPort: number | null;
  logger: Logger;
  stop(): Promise<void>;
}

/** Starts the service roles; resolves once they listen. */
export async function startService(config: Config, roles: readonly Role[] = ALL_ROLES, logger = createLogger(config.LOG_LEVEL)): Promise<RunningService> {
  const caps = await connectStore(config.MONGODB_URI);
  logger.info({ store: caps.ferretdb ? 'ferretdb' : 'mongodb', version: caps.serverVersion, roles }, 'store connected');

  const stops: ((deadline: number) => Promise<void>)[] = [];
  setEventRetentionDays(config.EVENT_RETENTION_DAYS);
  countEventsWritten();
  let httpPort: number | null = null;

  if (roles.includes('worker')) {
    // What stopped processes left half-done: sync runs left queued or running are failed once silent; merges and SCIM
    // group writes are finished. At start everything left is finished (`ageMs` 0: no earlier process of this one is
    // running); every minute after, what another process has left silent for a minute.
    const sweep = async (ageMs: number) => {
      const failed = await failAbandonedRuns();
      if (failed.length) logger.warn({ syncRunIds: failed }, 'failed sync runs abandoned by a stopped process');
      const merges = await replayMergeJournal(ageMs);
      if (merges) logger.warn({ replayed: merges }, 'replayed merges a stopped process left unfinished');
      const groupWrites = await finishPendingGroupWrites(ageMs);
      if (groupWrites) logger.warn({ groups: groupWrites }, 'finished SCIM group writes a stopped process left half-done');
      const expired = await sweepEvents();
      await sweepWebhookDeliveries(new Date(Date.now() - config.EVENT_RETENTION_DAYS * 86_400_000));
      if (expired) logger.info({ events: expired }, 'removed events past the retention');
    };
    await sweep(0);
    const timer = setInterval(() => {
      sweep(STALE_RUN_MS).catch((err: Error) => logger.warn({ errName: err?.name }, 'sweep of work left by stopped processes failed'));
    }, SWEEP_INTERVAL_MS);
    timer.unref();
    stops.push(async () => clearInterval(timer));
    // Webhook deliveries: leased per endpoint, so every worker process can run this.
    const webhooks = new WebhookWorker({
      secretKey: config.SECRET_KEY, allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK, timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      retryScale: config.WEBHOOK_RETRY_SCALE, pollMs: config.WEBHOOK_POLL_MS, logger, onDelivery: recordDelivery,
    });
    webhooks.start();
    stops.push(() => webhooks.stop());
  }

  if (roles.includes('http')) {
    const app = createApp({ config, logger });
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(config.HTTP_PORT, () => resolve(s));
      s.once('error', reject);
    });
    const addr = server.address();
    httpPort = typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT;
    logger.info({ port: httpPort, publicUrl: config.PUBLIC_URL }, 'http listening');
    stops.push(async (deadline) => {
      await new Promise<void>((resolve) => {
        // Stop accepting, let in-flight requests finish (within the shutdown bound), then close idle keep-alive sockets.
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), Math.max(0, Math.min(10_000, deadline - Date.now()))).unref();
      });
      // Uploads answered 202 are still being processed: let them finish within the bound, then stop them and fail
      // their runs, so no run stays "running" after this process is gone.
      const pending = backgroundJobCount();
      if (!pending) return;
      logger.info({ jobs: pending, waitMs: Math.max(0, deadline - Date.now()) }, 'waiting for background jobs');
      if (await waitForBackgroundJobs(Math.max(0, deadline - Date.now()))) return;
      const interrupted = await interruptBackgroundJobs(INTERRUPTED_BY_SHUTDOWN);
      logger.warn({ syncRunIds: interrupted, timeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS }, 'background jobs interrupted by shutdown');
    });
  }

  let stopped = false;
  return {
    httpPort,
    logger,
    async stop() {
      if (stopped) return;
      stopped = true;
      // One bound for the whole stop (SHUTDOWN_TIMEOUT_SECONDS); recording interrupted runs takes a few seconds more.
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
      for (const s of stops.reverse()) await s(deadline);
      await disconnectStore();
      logger.info('stopped');
    },
  };
}
