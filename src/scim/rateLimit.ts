import type { NextFunction, Request, Response } from 'express';
import type { ScimConnection } from './context';
import { ScimError } from './errors';

type Buckets = Map<string, { tokens: number; at: number }>;

/** Limiters of the same rate share their buckets: a connection has one budget whether reached through /scim/v2 or /scim/v1. */
const bucketsByRate = new Map<number, Buckets>();

/**
 * A token bucket per connection: `perMinute` requests a minute on average, bursts up to the same number. In memory,
 * per process (each process of a scale-out limits on its own). Runs after authentication and keys on the authenticated
 * connection, so only requests carrying its token spend its budget.
 */
export function scimRateLimiter(perMinute: number): (req: Request, res: Response, next: NextFunction) => void {
  const buckets: Buckets = bucketsByRate.get(perMinute) ?? new Map<string, { tokens: number; at: number }>();
  bucketsByRate.set(perMinute, buckets);
  const ratePerMs = perMinute / 60_000;
  return (_req, res, next) => {
    const conn = res.locals.scimConnection as ScimConnection | undefined;
    if (!conn) return next(new ScimError(500, 'rate limiting needs an authenticated connection'));
    const key = conn._id;
    const now = Date.now();
    const b = buckets.get(key) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * ratePerMs);
    b.at = now;
    if (b.tokens < 1) {
      buckets.set(key, b);
      const retry = Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
      return next(new ScimError(429, 'too many requests for this connection; retry later', undefined, { 'Retry-After': String(retry) }));
    }
    b.tokens -= 1;
    buckets.set(key, b);
    if (buckets.size > 10_000) {
      for (const [k, v] of buckets) if (now - v.at > 120_000) buckets.delete(k);
    }
    next();
  };
}
