import pino, { type Logger } from 'pino';

/**
 * pino JSON logs. Secrets and personal data are redacted wherever they appear under these keys: logs carry ids only.
 */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'password',
  '*.password',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'email',
  '*.email',
  'emails',
  '*.emails',
  'userName',
  '*.userName',
  'name',
  '*.name',
  'body',
  '*.body',
  'secret',
  '*.secret',
  'SECRET_KEY',
  '*.SECRET_KEY',
  'MONGODB_URI',
  '*.MONGODB_URI',
];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'audience-sync' } }, destination);
}

export type { Logger };
