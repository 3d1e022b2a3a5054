import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { connectStore, disconnectStore, replayMergeJournal } from '../store';
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

  const stops: (() => Promise<void>)[] = [];
  let httpPort: number | null = null;

  if (roles.includes('worker')) {
    const replayed = await replayMergeJournal();
    if (replayed) logger.warn({ replayed }, 'replayed interrupted merges');
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
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          // Stop accepting, let in-flight requests finish, then close idle keep-alive sockets.
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 10_000).unref();
        }),
    );
  }

  let stopped = false;
  return {
    httpPort,
    logger,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of stops.reverse()) await s();
      await disconnectStore();
      logger.info('stopped');
    },
  };
}
