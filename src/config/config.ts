import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

const port = (name: string, dflt: number) =>
  z.coerce
    .number({ error: `${name} must be a port number` })
    .int()
    .min(0)
    .max(65535)
    .default(dflt);

const schema = z.object({
  MONGODB_URI: z
    .string({ error: 'MONGODB_URI is required (or start with `npm start`, which runs a local store)' })
    .regex(/^mongodb(\+srv)?:\/\//, 'MONGODB_URI must start with mongodb:// or mongodb+srv://'),
  HTTP_PORT: port('HTTP_PORT', 8080),
  SFTP_PORT: port('SFTP_PORT', 2222),
  PUBLIC_URL: z.string().url('PUBLIC_URL must be an absolute URL such as https://sync.example.com').optional(),
  SFTP_HOST_KEY: z.string().min(1).default('.data/sftp_host_key'),
  /** The address the SFTP server binds (default: every interface). */
  SFTP_HOST: z.string().min(1).optional(),
  SECRET_KEY: z.string().min(16, 'SECRET_KEY must be at least 16 characters').optional(),
  SECRET_KEY_FILE: z.string().default('.data/secret_key'),
  FINCH_BASE_URL: z.string().url('FINCH_BASE_URL must be an absolute URL').optional(),
  /** Finch's webhook signing secret (base64, from the Finch dashboard); unset: POST /webhooks/finch answers 503. */
  FINCH_WEBHOOK_SECRET: z
    .string()
    .min(1)
    .refine((v) => Buffer.from(v, 'base64').toString('base64') === v, 'FINCH_WEBHOOK_SECRET must be the base64 secret Finch shows')
    .optional(),
  /** One Finch request may be held for minutes while Finch reads the HRIS. */
  FINCH_TIMEOUT_SECONDS: z.coerce.number({ error: 'FINCH_TIMEOUT_SECONDS must be a number of seconds' }).positive().max(3600).default(300),
  FINCH_MAX_ATTEMPTS: z.coerce.number({ error: 'FINCH_MAX_ATTEMPTS must be a whole number' }).int().min(1).max(20).default(6),
  /** Finch's per-product request limit (requests initiated per rolling minute, per application); our pacing stays under it. */
  FINCH_RATE_LIMIT_PER_MINUTE: z.coerce
    .number({ error: 'FINCH_RATE_LIMIT_PER_MINUTE must be a whole number' })
    .int()
    .min(1)
    .max(100_000)
    .default(20),
  FINCH_PAGE_SIZE: z.coerce.number({ error: 'FINCH_PAGE_SIZE must be a whole number' }).int().min(1).max(10_000).default(5000),
  FINCH_BATCH_SIZE: z.coerce.number({ error: 'FINCH_BATCH_SIZE must be a whole number' }).int().min(1).max(5000).default(1000),
  /** How often the worker's HRIS scheduler looks for due connections and queued on-demand runs. */
  HRIS_POLL_SECONDS: z.coerce.number({ error: 'HRIS_POLL_SECONDS must be a number of seconds' }).positive().max(3600).default(5),
  /** A sync's lease lasts this long without a heartbeat (heartbeats come every third of it). */
  HRIS_LEASE_SECONDS: z.coerce.number({ error: 'HRIS_LEASE_SECONDS must be a number of seconds' }).positive().max(3600).default(90),
  HRIS_PENDING_RETRY_SECONDS: z.coerce.number({ error: 'HRIS_PENDING_RETRY_SECONDS must be a number of seconds' }).positive().default(900),
  HRIS_WEBHOOK_DEBOUNCE_SECONDS: z.coerce.number({ error: 'HRIS_WEBHOOK_DEBOUNCE_SECONDS must be a number of seconds' }).min(0).default(60),
  /** Scheduled syncs start up to this much later than due, at random, so connections do not all start at once. */
  HRIS_JITTER_SECONDS: z.coerce.number({ error: 'HRIS_JITTER_SECONDS must be a number of seconds' }).min(0).default(1800),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  MAX_UPLOAD_BYTES: z.coerce
    .number({ error: 'MAX_UPLOAD_BYTES must be a number of bytes' })
    .int('MAX_UPLOAD_BYTES must be a whole number of bytes')
    .min(1024, 'MAX_UPLOAD_BYTES must be at least 1024 bytes')
    .max(Number.MAX_SAFE_INTEGER, 'MAX_UPLOAD_BYTES is too large')
    .default(512 * 1024 * 1024),
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce
    .number({ error: 'SHUTDOWN_TIMEOUT_SECONDS must be a number of seconds' })
    .min(0, 'SHUTDOWN_TIMEOUT_SECONDS must be 0 or more')
    .max(3600, 'SHUTDOWN_TIMEOUT_SECONDS must be at most 3600')
    .default(25),
  SCIM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(1200),
  /** Bind address of the HTTP server (default: every interface). */
  HTTP_HOST: z
    .string()
    .regex(/^[0-9A-Za-z.:%_-]{1,255}$/, 'HTTP_HOST must be an address or host name such as 127.0.0.1 or ::')
    .optional(),
  /** A sync run silent this long is taken for abandoned by the worker's sweep (failed, or its apply resumed). */
  SYNC_RUN_STALE_SECONDS: z.coerce
    .number({ error: 'SYNC_RUN_STALE_SECONDS must be a number of seconds' })
    .int('SYNC_RUN_STALE_SECONDS must be a whole number of seconds')
    .min(3, 'SYNC_RUN_STALE_SECONDS must be at least 3 (runs write a heartbeat every second)')
    .max(86_400, 'SYNC_RUN_STALE_SECONDS must be at most 86400')
    .optional(),
  // Change feed and webhooks (issue 11).
  EVENT_RETENTION_DAYS: z.coerce
    .number({ error: 'EVENT_RETENTION_DAYS must be a number of days' })
    .positive('EVENT_RETENTION_DAYS must be more than 0')
    .max(3650)
    .default(30),
  /**
   * Count the store commands this process sends, by command and collection, on /metrics
   * (`audience_sync_store_commands_total`). Off by default: the driver's command monitoring builds an event per command.
   */
  STORE_COMMAND_METRICS: z
    .enum(['true', 'false'], { error: 'STORE_COMMAND_METRICS must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
  WEBHOOK_ALLOW_LOOPBACK: z
    .enum(['true', 'false'], { error: 'WEBHOOK_ALLOW_LOOPBACK must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
  WEBHOOK_TIMEOUT_MS: z.coerce
    .number({ error: 'WEBHOOK_TIMEOUT_MS must be a number of milliseconds' })
    .int()
    .min(100)
    .max(120_000)
    .default(10_000),
  /** Multiplies the retry schedule's waits (tests compress the day of retries into seconds). */
  WEBHOOK_RETRY_SCALE: z.coerce.number({ error: 'WEBHOOK_RETRY_SCALE must be a number' }).positive().max(10).default(1),
  WEBHOOK_POLL_MS: z.coerce.number({ error: 'WEBHOOK_POLL_MS must be a number of milliseconds' }).int().min(10).max(60_000).default(500),
});

export type Env = z.infer<typeof schema>;
export interface Config extends Omit<Env, 'PUBLIC_URL' | 'SECRET_KEY'> {
  PUBLIC_URL: string;
  SECRET_KEY: string;
  /**
   * Where SECRET_KEY came from: the environment, a SECRET_KEY_FILE the operator named, or the development key kept in
   * the default file (created on first start), which `serve` announces with a warning at every start.
   */
  SECRET_KEY_SOURCE?: 'env' | 'file' | 'development';
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates the environment; an invalid setting throws a ConfigError naming it (the CLI exits 2). */
export function parseEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const res = schema.safeParse(env);
  if (!res.success) {
    const msg = res.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${msg}`);
  }
  return res.data;
}

/** Like parseEnv, plus the defaults that need the file system (a development SECRET_KEY kept on first start). */
/** Marks a generated development key (SECRET_KEY_FILE created on first start). */
export const DEV_KEY_PREFIX = 'dev-';

/**
 * The URI of the local store `npm start` runs, when it is running: scripts/local-store.js writes it to
 * `.data/local-store.json` (AUDIENCE_SYNC_DATA_DIR), so CLI commands run beside the service find the same store.
 */
export function localStoreUri(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const file = join(env.AUDIENCE_SYNC_DATA_DIR || '.data', 'local-store.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as { uri?: unknown; pid?: unknown; running?: unknown };
    if (state.running !== true || typeof state.uri !== 'string' || typeof state.pid !== 'number') return undefined;
    process.kill(state.pid, 0); // throws when the process that runs the store is gone
    return state.uri;
  } catch {
    return undefined;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const local = env.MONGODB_URI ? undefined : localStoreUri(env);
  const e = parseEnv(local ? { ...env, MONGODB_URI: local } : env);
  let secret = e.SECRET_KEY;
  let source: Config['SECRET_KEY_SOURCE'] = 'env';
  if (!secret) {
    // SECRET_KEY_FILE: a file holding the key (a mounted secret). When it does not exist, a development key is
    // generated there on first start, marked `dev-` so that every later start still announces it (serve warns).
    if (existsSync(e.SECRET_KEY_FILE)) {
      secret = readFileSync(e.SECRET_KEY_FILE, 'utf8').trim();
      if (secret.length < 16)
        throw new ConfigError(`invalid configuration: SECRET_KEY_FILE: ${e.SECRET_KEY_FILE} must hold a key of at least 16 characters`);
      source = secret.startsWith(DEV_KEY_PREFIX) || !env.SECRET_KEY_FILE ? 'development' : 'file';
    } else {
      mkdirSync(dirname(e.SECRET_KEY_FILE), { recursive: true });
      secret = DEV_KEY_PREFIX + randomBytes(32).toString('hex');
      writeFileSync(e.SECRET_KEY_FILE, secret + '\n', { mode: 0o600 });
      source = 'development';
    }
  }
  return {
    ...e,
    SECRET_KEY: secret,
    SECRET_KEY_SOURCE: source,
    PUBLIC_URL: (e.PUBLIC_URL ?? `http://localhost:${e.HTTP_PORT}`).replace(/\/+$/, ''),
  };
}
