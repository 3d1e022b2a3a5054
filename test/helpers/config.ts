import type { Config } from '../../src/config/config';

/** A configuration for in-process tests (no files written). */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    MONGODB_URI: process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:1/none',
    HTTP_PORT: 0,
    SFTP_PORT: 0,
    PUBLIC_URL: 'http://localhost:8080',
    SFTP_HOST_KEY: '.data/test_host_key',
    SECRET_KEY: 'test-secret-key-0123456789',
    SECRET_KEY_FILE: '.data/test_secret_key',
    FINCH_BASE_URL: undefined,
    FINCH_WEBHOOK_SECRET: undefined,
    FINCH_TIMEOUT_SECONDS: 30,
    FINCH_MAX_ATTEMPTS: 4,
    FINCH_RATE_LIMIT_PER_MINUTE: 100_000,
    FINCH_PAGE_SIZE: 500,
    FINCH_BATCH_SIZE: 200,
    HRIS_POLL_SECONDS: 0.2,
    HRIS_LEASE_SECONDS: 3,
    HRIS_PENDING_RETRY_SECONDS: 900,
    HRIS_WEBHOOK_DEBOUNCE_SECONDS: 0.5,
    HRIS_JITTER_SECONDS: 0,
    LOG_LEVEL: 'silent',
    STORE_COMMAND_METRICS: false,
    MAX_BODY_BYTES: 1_048_576,
    MAX_UPLOAD_BYTES: 512 * 1024 * 1024,
    SHUTDOWN_TIMEOUT_SECONDS: 25,
    SCIM_RATE_LIMIT_PER_MINUTE: 100_000,
    EVENT_RETENTION_DAYS: 30,
    WEBHOOK_ALLOW_LOOPBACK: true,
    WEBHOOK_TIMEOUT_MS: 5_000,
    WEBHOOK_RETRY_SCALE: 0.0001,
    WEBHOOK_POLL_MS: 50,
    ...overrides,
  };
}
