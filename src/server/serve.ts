import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import {
  INTERRUPTED_BY_SHUTDOWN, STALE_RUN_MS, SWEEP_INTERVAL_MS, backgroundJobCount, connectStore, disconnectStore, interruptBackgroundJobs, sweepStore,
  waitForBackgroundJobs,
} from '../store';
import { startFileQueue, type FileQueue } from '../csv';
import { startSftpServer } from '../sftp';
import { sftpBans, sftpBytesReceived, sftpFiles, sftpLogins } from './metrics';
import { startHrisScheduler } from '../hris/scheduler';
import { createApp } from './app';
import { createLogger } from './logger';

export type Role = 'http' | 'sftp' | 'worker';
export const ALL_ROLES: readonly Role[] = ['http', 'sftp', 'worker'];

export interface RunningService {
  httpPort: number | null;
  sftpPort: number | null;
  logger: Logger;
  stop(): Promise<void>;
}

/** Starts the service roles; resolves once they listen. */
export async function startService(config: Config, roles: readonly Role[] = ALL_ROLES, logger = createLogger(config.LOG_LEVEL)): Promise<RunningService> {
  const caps = await connectStore(config.MONGODB_URI);
  logger.info({ store: caps.ferretdb ? 'ferretdb' : 'mongodb', version: caps.serverVersion, roles }, 'store connected');

  const stops: ((deadline: number) => Promise<void>)[] = [];
  let httpPort: number | null = null;
  let sftpPort: number | null = null;

  if (roles.includes('worker')) {
    // What stopped processes left half-done (src/store/recovery.ts): at start everything left (age 0: no earlier
    // process of this one is running; sync runs still get their minimum silence, see MIN_RUN_SILENCE_MS); every minute
    // after, what another process has left silent for a minute.
    const sweep = async (ageMs: number) => {
      const done = await sweepStore(ageMs);
      if (done.failedRuns.length) logger.warn({ syncRunIds: done.failedRuns }, 'failed sync runs abandoned by a stopped process');
      if (done.replayedMerges) logger.warn({ replayed: done.replayedMerges }, 'replayed merges a stopped process left unfinished');
      if (done.finishedGroupWrites) logger.warn({ groups: done.finishedGroupWrites }, 'finished SCIM group writes a stopped process left half-done');
      if (done.owedRemerges) logger.warn({ remerges: done.owedRemerges }, 'ran re-merges that settings changes owed and a stopped process left undone');
    };
    await sweep(0);
    const timer = setInterval(() => {
      sweep(STALE_RUN_MS).catch((err: Error) => logger.warn({ errName: err?.name }, 'sweep of work left by stopped processes failed'));
    }, SWEEP_INTERVAL_MS);
    timer.unref();
    stops.push(async () => clearInterval(timer));
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
      port: config.SFTP_PORT, host: config.SFTP_HOST, hostKeyPath: config.SFTP_HOST_KEY, logger,
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
    sftpPort,
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
