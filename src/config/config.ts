import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

const port = (name: string, dflt: number) =>
  z.coerce.number({ error: `${name} must be a port number` }).int().min(0).max(65535).default(dflt);

const schema = z.object({
  MONGODB_URI: z.string({ error: 'MONGODB_URI is required (or start with `npm start`, which runs a local store)' })
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
  FINCH_WEBHOOK_SECRET: z.string().min(1)
    .refine((v) => Buffer.from(v, 'base64').toString('base64') === v, 'FINCH_WEBHOOK_SECRET must be the base64 secret Finch shows')
    .optional(),
  /** One Finch request may be held for minutes while Finch reads the HRIS. */
  FINCH_TIMEOUT_SECONDS: z.coerce.number({ error: 'FINCH_TIMEOUT_SECONDS must be a number of seconds' }).positive().max(3600).default(300),
  FINCH_MAX_ATTEMPTS: z.coerce.number({ error: 'FINCH_MAX_ATTEMPTS must be a whole number' }).int().min(1).max(20).default(6),
  /** Finch's per-product request limit (requests initiated per rolling minute, per application); our pacing stays under it. */
  FINCH_RATE_LIMIT_PER_MINUTE: z.coerce.number({ error: 'FINCH_RATE_LIMIT_PER_MINUTE must be a whole number' }).int().min(1).max(100_000).default(20),
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
});

export type Env = z.infer<typeof schema>;
export interface Config extends Omit<Env, 'PUBLIC_URL' | 'SECRET_KEY'> {
  PUBLIC_URL: string;
  SECRET_KEY: string;
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
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(env);
  let secret = e.SECRET_KEY;
  if (!secret) {
    if (existsSync(e.SECRET_KEY_FILE)) {
      secret = readFileSync(e.SECRET_KEY_FILE, 'utf8').trim();
    } else {
      mkdirSync(dirname(e.SECRET_KEY_FILE), { recursive: true });
      secret = randomBytes(32).toString('hex');
      writeFileSync(e.SECRET_KEY_FILE, secret + '\n', { mode: 0o600 });
    }
  }
  return { ...e, SECRET_KEY: secret, PUBLIC_URL: (e.PUBLIC_URL ?? `http://localhost:${e.HTTP_PORT}`).replace(/\/+$/, '') };
}
