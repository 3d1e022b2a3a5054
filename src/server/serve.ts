import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import {
  INTERRUPTED_BY_SHUTDOWN,
  STALE_RUN_MS,
  SWEEP_INTERVAL_MS,
  backgroundJobCount,
  connectStore,
  disconnectStore,
  interruptBackgroundJobs,
  sweepStore,
  waitForBackgroundJobs,
} from '../store';
import { startFileQueue, type FileQueue } from '../csv';
import { startSftpServer } from '../sftp';
import { countStoreCommands, sftpBans, sftpBytesReceived, sftpFiles, sftpLogins } from './metrics';
import { startHrisScheduler } from '../hris/scheduler';
import { setEventRetentionDays, sweepEvents, sweepWebhookDeliveries } from '../store';
import { WebhookWorker } from '../webhooks/worker';
import { countEventsWritten, recordDelivery } from './eventMetrics';
import { createApp } from './app';
import { createLogger } from './logger';
import { removeStaleTempDirs } from './tempFiles';

export type Role = 'http' | 'sftp' | 'worker';
export const ALL_ROLES: readonly Role[] = ['http', 'sftp', 'worker'];

/**
 * Load balancers keep idle connections open for 60 s (AWS ALB) or so: the server keeps them longer, so that it never
 * closes a connection the balancer is about to reuse (the request would fail). headersTimeout must exceed it.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
export const HEADERS_TIMEOUT_MS = 66_000;
/** What stopping may take beyond SHUTDOWN_TIMEOUT_SECONDS (recording interrupted runs, closing the store). */
export const SHUTDOWN_MARGIN_MS = 8_000;

/** Applies the service's connection timeouts to an HTTP server (keep-alive longer than load balancers' idle time). */
export function configureHttpServer(server: Server): Server {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  return server;
}

export interface RunningService {
  httpPort: number | null;
  sftpPort: number | null;
  logger: Logger;
  stop(): Promise<void>;
}

/** Starts the service roles; resolves once they listen. */
export async function startService(
  config: Config,
  roles: readonly Role[] = ALL_ROLES,
  logger = createLogger(config.LOG_LEVEL),
): Promise<RunningService> {
  if (config.SECRET_KEY_SOURCE === 'development') {
    logger.warn(
      { secretKeyFile: config.SECRET_KEY_FILE },
      'SECRET_KEY is not set: using the development key kept in SECRET_KEY_FILE; set SECRET_KEY (or SECRET_KEY_FILE naming a mounted secret) in production',
    );
  }
  const staleTemp = await removeStaleTempDirs();
  if (staleTemp.length) logger.warn({ dirs: staleTemp }, 'removed temporary files stopped processes left (upload spools, local copies)');
  const caps = await connectStore(config.MONGODB_URI, { logger, monitorCommands: config.STORE_COMMAND_METRICS });
  if (config.STORE_COMMAND_METRICS) countStoreCommands();
  logger.info({ store: caps.engine, version: caps.serverVersion, capabilities: caps, roles }, 'store connected');

  const stops: ((deadline: number) => Promise<void>)[] = [];
  setEventRetentionDays(config.EVENT_RETENTION_DAYS);
  countEventsWritten();
  let httpPort: number | null = null;
  let sftpPort: number | null = null;

  if (roles.includes('worker')) {
    // What stopped processes left half-done (src/store/recovery.ts): merges and SCIM group writes judged by `ageMs`
    // (everything at start, a minute of silence after); sync runs by SYNC_RUN_STALE_SECONDS of silence, or at once when
    // the process of this host that owned them is gone.
    const staleMs = (config.SYNC_RUN_STALE_SECONDS ?? STALE_RUN_MS / 1000) * 1000;
    const sweep = async (ageMs: number, resume = true) => {
      const done = await sweepStore(ageMs, { runStaleMs: staleMs, resume });
      if (done.failedRuns.length) logger.warn({ syncRunIds: done.failedRuns }, 'failed sync runs abandoned by a stopped process');
      if (done.resumedRuns.length)
        logger.warn({ syncRunIds: done.resumedRuns }, 'finished the apply of sync runs a stopped process left applying');
      if (done.requeuedRuns.length)
        logger.warn({ syncRunIds: done.requeuedRuns }, 'queued again stored files a stopped process left half-processed');
      if (done.replayedMerges) logger.warn({ replayed: done.replayedMerges }, 'replayed merges a stopped process left unfinished');
      if (done.finishedGroupWrites)
        logger.warn({ groups: done.finishedGroupWrites }, 'finished SCIM group writes a stopped process left half-done');
      if (done.owedRemerges)
        logger.warn({ remerges: done.owedRemerges }, 'ran re-merges that settings changes owed and a stopped process left undone');
      if (done.abandonedFiles.length)
        logger.warn({ fileIds: done.abandonedFiles }, 'deleted stored files a stopped process left half-written');
      const expired = await sweepEvents();
      await sweepWebhookDeliveries(new Date(Date.now() - config.EVENT_RETENTION_DAYS * 86_400_000));
      if (expired) logger.info({ events: expired }, 'removed events past the retention');
    };
    // Before serving: fail abandoned runs, replay merges. Applies to resume (which can take minutes) go on in the
    // background right after, so the service answers (and /healthz passes) meanwhile.
    await sweep(0, false);
    // Merges and group writes are judged by their own age (a minute); sync runs by SYNC_RUN_STALE_SECONDS. One sweep
    // at a time: a sweep that resumes an apply can take longer than the interval.
    let sweeping = false;
    const runSweep = () => {
      if (sweeping) return;
      sweeping = true;
      sweep(STALE_RUN_MS)
        .catch((err: Error) => logger.warn({ errName: err?.name }, 'sweep of work left by stopped processes failed'))
        .finally(() => (sweeping = false));
    };
    runSweep();
    const timer = setInterval(runSweep, Math.min(SWEEP_INTERVAL_MS, staleMs));
    timer.unref();
    stops.push(async () => clearInterval(timer));
    // Webhook deliveries: leased per endpoint, so every worker process can run this.
    const webhooks = new WebhookWorker({
      secretKey: config.SECRET_KEY,
      allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      retryScale: config.WEBHOOK_RETRY_SCALE,
      pollMs: config.WEBHOOK_POLL_MS,
      logger,
      onDelivery: recordDelivery,
    });
    webhooks.start();
    stops.push(() => webhooks.stop());
    // HRIS syncs through Finch: scheduled, on demand (queued by the API) and webhook-requested.
    const hris = startHrisScheduler({ config, logger });
    stops.push(async () => hris.stop());
  }

  // Stored files (SFTP uploads) are claimed from the queue by the worker role.
  let fileQueue: FileQueue | null = null;
  if (roles.includes('worker')) {
    const queue = startFileQueue({
      logger,
      onFinished: (run) => sftpFiles.inc({ outcome: run.message?.startsWith('duplicate') ? 'duplicate' : run.status }),
    });
    fileQueue = queue;
    stops.push(async (deadline) => queue.stop(deadline));
  }

  if (roles.includes('sftp')) {
    const sftp = await startSftpServer({
      port: config.SFTP_PORT,
      host: config.SFTP_HOST,
      hostKeyPath: config.SFTP_HOST_KEY,
      logger,
      onQueued: () => fileQueue?.poke(),
      metrics: {
        login: (outcome) => sftpLogins.inc({ outcome }),
        ban: (kind) => sftpBans.inc({ kind }),
        received: (bytes) => sftpBytesReceived.inc(bytes),
      },
    });
    sftpPort = sftp.port;
    stops.push(async () => sftp.close());
  }

  if (roles.includes('http')) {
    const app = createApp({ config, logger });
    const server: Server = await new Promise((resolve, reject) => {
      const s = config.HTTP_HOST
        ? app.listen(config.HTTP_PORT, config.HTTP_HOST, () => resolve(s))
        : app.listen(config.HTTP_PORT, () => resolve(s));
      s.once('error', reject);
    });
    configureHttpServer(server);
    const addr = server.address();
    httpPort = typeof addr === 'object' && addr ? addr.port : config.HTTP_PORT;
    logger.info({ port: httpPort, host: config.HTTP_HOST ?? null, publicUrl: config.PUBLIC_URL }, 'http listening');
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
    sftpPort,
    logger,
    async stop() {
      if (stopped) return;
      stopped = true;
      // One bound for the whole stop (SHUTDOWN_TIMEOUT_SECONDS); recording interrupted runs takes a few seconds more,
      // and past that margin the process exits anyway (an orchestrator's grace period is not ours to overrun).
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
      const watchdog = setTimeout(
        () => {
          logger.error({ timeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS }, 'shutdown took too long; exiting');
          process.exit(1);
        },
        config.SHUTDOWN_TIMEOUT_SECONDS * 1000 + SHUTDOWN_MARGIN_MS,
      );
      watchdog.unref();
      try {
        for (const s of stops.reverse()) await s(deadline);
        await disconnectStore();
      } finally {
        clearTimeout(watchdog);
      }
      logger.info('stopped');
    },
  };
}
