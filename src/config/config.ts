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
  SECRET_KEY: z.string().min(16, 'SECRET_KEY must be at least 16 characters').optional(),
  SECRET_KEY_FILE: z.string().default('.data/secret_key'),
  FINCH_BASE_URL: z.string().url('FINCH_BASE_URL must be an absolute URL').optional(),
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
  // Change feed and webhooks (issue 11).
  EVENT_RETENTION_DAYS: z.coerce.number({ error: 'EVENT_RETENTION_DAYS must be a number of days' }).positive('EVENT_RETENTION_DAYS must be more than 0').max(3650).default(30),
  WEBHOOK_ALLOW_LOOPBACK: z.enum(['true', 'false'], { error: 'WEBHOOK_ALLOW_LOOPBACK must be true or false' }).default('false').transform((v) => v === 'true'),
  WEBHOOK_TIMEOUT_MS: z.coerce.number({ error: 'WEBHOOK_TIMEOUT_MS must be a number of milliseconds' }).int().min(100).max(120_000).default(10_000),
  /** Multiplies the retry schedule's waits (tests compress the day of retries into seconds). */
  WEBHOOK_RETRY_SCALE: z.coerce.number({ error: 'WEBHOOK_RETRY_SCALE must be a number' }).positive().max(10).default(1),
  WEBHOOK_POLL_MS: z.coerce.number({ error: 'WEBHOOK_POLL_MS must be a number of milliseconds' }).int().min(10).max(60_000).default(500),
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
