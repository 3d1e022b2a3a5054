import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Server, type AuthContext, type Connection } from 'ssh2';
import { findSftpAccount, liveConnectionIds, passwordMatches, recordAudit, recordSftpHostKey, type SftpAccount } from '../store';
import { matchingKey, parseAuthorizedKeys } from './auth';
import { Defender, type DefenderOptions } from './defender';
import { loadOrCreateHostKey } from './hostKey';
import { serveSftp, type SessionLimits } from './session';

export interface SftpServerOptions {
  port: number;
  host?: string;
  hostKeyPath: string;
  logger: Logger;
  defender?: Partial<DefenderOptions>;
  maxSessionsPerAccount?: number;
  maxSessionsPerAddress?: number;
  idleTimeoutMs?: number;
  /** Per-account default when the connection sets none (2 GiB). */
  maxFileBytes?: number;
  filesPerHour?: number;
  maxOutstandingWrites?: number;
  /** How often sessions of deleted connections are looked for. */
  accountCheckMs?: number;
  /** A file was queued for processing (the worker of this process can look now). */
  onQueued?: (runId: string) => void;
  /** Counters the service exports (`/metrics`); the daemon itself keeps none. */
  metrics?: SftpMetrics;
}

export interface SftpMetrics {
  login(outcome: 'success' | 'failure' | 'banned' | 'limited'): void;
  ban(kind: 'address' | 'username'): void;
  received(bytes: number): void;
}

const NO_METRICS: SftpMetrics = { login: () => undefined, ban: () => undefined, received: () => undefined };

export interface SftpServer {
  port: number;
  fingerprint: string;
  defender: Defender;
  /** Logged-in sessions now. */
  sessions(): number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 ** 3;

interface Live {
  client: Connection;
  address: string;
  account: SftpAccount | null;
  closers: (() => Promise<void>)[];
}

/** Starts the SSH server that serves SFTP to the `sftp` connections' accounts (`serve --roles sftp`). */
export async function startSftpServer(opts: SftpServerOptions): Promise<SftpServer> {
  const { logger } = opts;
  const metrics = opts.metrics ?? NO_METRICS;
  const hostKey = loadOrCreateHostKey(opts.hostKeyPath);
  const defender = new Defender(opts.defender);
  const limits: SessionLimits = {
    maxBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    maxPendingBytes: 16 * 1024 * 1024,
    maxOutstandingWrites: opts.maxOutstandingWrites ?? 256,
    filesPerHour: opts.filesPerHour ?? 200,
  };
  const maxPerAccount = opts.maxSessionsPerAccount ?? 10;
  const maxPerAddress = opts.maxSessionsPerAddress ?? 50;
  const idleMs = opts.idleTimeoutMs ?? 10 * 60_000;
  const live = new Set<Live>();

  const countBy = (pred: (l: Live) => boolean) => [...live].filter(pred).length;

  const server = new Server({ hostKeys: [hostKey.key], ident: 'audience-sync' }, (client, info) => {
    const address = info.ip;
    const log = logger.child({ sftp: true, address });
    const ban = defender.addressBan(address);
    if (ban > 0) {
      metrics.login('banned');
      log.warn({ banSeconds: Math.ceil(ban / 1000) }, 'sftp connection from a banned address refused');
      client.on('error', () => undefined);
      client.end();
      return;
    }
    const me: Live = { client, address, account: null, closers: [] };
    live.add(me);
    if (countBy((l) => l.address === address) > maxPerAddress) {
      metrics.login('limited');
      log.warn('sftp connection refused: too many sessions from this address');
      live.delete(me);
      client.on('error', () => undefined);
      client.end();
      return;
    }
    let idle: NodeJS.Timeout | undefined;
    const activity = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        log.info({ username: me.account?.username }, 'sftp session idle; closed');
        client.end();
      }, idleMs);
      idle.unref();
    };
    activity();
    let accountFor: { username: string; account: Promise<SftpAccount | null> } | null = null;

    const failed = (ctx: AuthContext, account: SftpAccount | null, score = 1) => {
      metrics.login('failure');
      log.warn({ username: ctx.username, method: ctx.method, knownUser: Boolean(account) }, 'sftp login failed');
      if (account)
        void recordAudit(account.orgId, `sftp:${ctx.username}`, 'sftp.login.failure', account.connectionId, {
          address,
          method: ctx.method,
        }).catch(() => undefined);
      for (const b of defender.fail(ctx.username, address, score)) {
        metrics.ban(b.key.startsWith('a:') ? 'address' : 'username');
        log.warn(
          { banned: b.key.startsWith('a:') ? 'address' : 'username', username: ctx.username, banSeconds: Math.ceil(b.banMs / 1000) },
          'sftp defender ban',
        );
      }
      ctx.reject(['publickey', 'password']);
      if (defender.addressBan(address) > 0) client.end();
    };

    client.on('authentication', (ctx) => {
      activity();
      void (async () => {
        if (defender.addressBan(address) > 0 || defender.userBan(ctx.username) > 0) {
          metrics.login('banned');
          ctx.reject();
          client.end();
          return;
        }
        if (!accountFor || accountFor.username !== ctx.username)
          accountFor = { username: ctx.username, account: findSftpAccount(ctx.username) };
        const account = await accountFor.account;
        if (ctx.method === 'password') {
          if (account?.passwordHash && passwordMatches(ctx.password, account.passwordHash)) return succeed(ctx, account);
          return failed(ctx, account);
        }
        if (ctx.method === 'publickey') {
          const key = account ? matchingKey(parseAuthorizedKeys(account.publicKeys), ctx.key.algo, ctx.key.data) : null;
          // A key offered without a signature is a question ("would you take this key?"), not a failed login.
          if (!ctx.signature) return key ? ctx.accept() : ctx.reject(['publickey', 'password']);
          if (key && account && key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true) return succeed(ctx, account);
          return failed(ctx, account);
        }
        ctx.reject(['publickey', 'password']);
      })().catch((err: Error) => {
        log.warn({ errName: err?.name }, 'sftp login could not be checked (store unavailable?)');
        ctx.reject();
      });
    });

    const succeed = (ctx: AuthContext, account: SftpAccount) => {
      if (countBy((l) => l.account?.connectionId === account.connectionId) >= maxPerAccount) {
        metrics.login('limited');
        log.warn({ username: ctx.username }, 'sftp login refused: too many sessions for this account');
        ctx.reject();
        client.end();
        return;
      }
      me.account = account;
      metrics.login('success');
      log.info({ username: ctx.username, method: ctx.method, connectionId: account.connectionId }, 'sftp login');
      void recordAudit(account.orgId, `sftp:${ctx.username}`, 'sftp.login', account.connectionId, { address, method: ctx.method }).catch(
        () => undefined,
      );
      ctx.accept();
    };

    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('sftp', (acceptSftp) => {
          const account = me.account;
          if (!account) return;
          const sftp = acceptSftp();
          const s = serveSftp(sftp, {
            account,
            address,
            limits: { ...limits, maxBytes: account.maxFileBytes ?? limits.maxBytes },
            logger: log.child({ username: account.username, connectionId: account.connectionId }),
            activity,
            queued: (runId) => opts.onQueued?.(runId),
            received: (bytes) => metrics.received(bytes),
          });
          me.closers.push(() => s.close());
          sftp.on('close', () => void s.close());
        });
      });
    });
    client.on('error', (err) => log.debug({ err: err.message }, 'sftp client error'));
    client.on('close', () => {
      clearTimeout(idle);
      live.delete(me);
      for (const c of me.closers) void c().catch(() => undefined);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, fingerprint: hostKey.fingerprint, algorithm: hostKey.algorithm }, 'sftp listening');
  await recordSftpHostKey({ fingerprint: hostKey.fingerprint, algorithm: hostKey.algorithm, port }).catch((err: Error) =>
    logger.warn({ errName: err?.name }, 'could not record the sftp host key fingerprint'),
  );

  // Sessions of connections that were deleted end.
  const check = setInterval(() => {
    const ids = [...new Set([...live].map((l) => l.account?.connectionId).filter((x): x is string => Boolean(x)))];
    if (!ids.length) return;
    liveConnectionIds(ids).then(
      (alive) => {
        for (const l of live) {
          if (l.account && !alive.has(l.account.connectionId)) {
            logger.info(
              { connectionId: l.account.connectionId, username: l.account.username },
              'sftp session of a deleted connection closed',
            );
            l.client.end();
          }
        }
      },
      () => undefined,
    );
  }, opts.accountCheckMs ?? 5_000);
  check.unref();

  return {
    port,
    fingerprint: hostKey.fingerprint,
    defender,
    sessions: () => countBy((l) => l.account !== null),
    async close() {
      clearInterval(check);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const l of live) l.client.end();
      });
      for (const l of live) for (const c of l.closers) await c().catch(() => undefined);
    },
  };
}
