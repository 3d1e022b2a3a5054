import Finch from '@tryfinch/finch-api';
import type { Logger } from 'pino';
import { decryptSecret } from '../store';
import { RollingWindowLimiter, sleep } from './pacing';

/**
 * A Finch client for one connection: the official SDK with one retry layer, ours, in the `fetch` it is given.
 *
 * - The SDK's own retries are off (`maxRetries: 0`): every HTTP request, auto-pagination's next pages included, goes
 *   through `pacedFetch`, which waits for the product's rate limiter, retries 429 (its Retry-After, else exponential
 *   backoff with jitter), 5xx and network errors, and gives up after `maxAttempts`. Two layers would multiply attempts.
 * - The access token is decrypted per request (a getter the SDK reads when it builds the Authorization header), so the
 *   plain token never sits on a long-lived object.
 * - Finch may hold a request for minutes while it reads the HRIS: each attempt may take `timeoutMs`.
 * - Every failed call is logged with its `finch-request-id` (what Finch support asks for), never with the token.
 */

export type FinchProduct = 'directory' | 'individual' | 'employment' | 'company' | 'introspect' | 'other';

export function productOf(url: string): FinchProduct {
  const path = new URL(url).pathname;
  if (path.endsWith('/employer/directory')) return 'directory';
  if (path.endsWith('/employer/individual')) return 'individual';
  if (path.endsWith('/employer/employment')) return 'employment';
  if (path.endsWith('/employer/company')) return 'company';
  if (path.endsWith('/introspect')) return 'introspect';
  return 'other';
}

export interface FinchCall {
  product: FinchProduct;
  /** HTTP status, or `error` for a network error or timeout. */
  status: number | 'error';
  durationMs: number;
  requestId: string | null;
}

export interface FinchClientSettings {
  baseURL?: string | undefined;
  /** Per attempt. */
  timeoutMs: number;
  maxAttempts: number;
  /** Finch's per-product limit (requests initiated per rolling minute). */
  ratePerMinute: number;
  logger: Logger;
  /** Backoff for 5xx, network errors and 429 without Retry-After: base × 2^(attempt-1), with jitter, at most maxBackoffMs. */
  backoffBaseMs?: number;
  maxBackoffMs?: number;
  /** Called after every HTTP attempt (metrics). */
  onCall?: (call: FinchCall) => void;
  /** Stops waiting and requests (a lost lease, a shutdown). */
  signal?: AbortSignal;
  /** The limiters to pace with (default: one per product for the whole process, as Finch limits per application). */
  limiters?: Map<FinchProduct, RollingWindowLimiter>;
}

export interface FinchCallStats {
  /** HTTP requests sent (attempts, retries included). */
  calls: number;
  byStatus: Record<string, number>;
  rateLimited: number;
  retries: number;
  /** A 202 was received: Finch's data is not ready yet. */
  pending: boolean;
}

const processLimiters = new Map<FinchProduct, RollingWindowLimiter>();

function limiterFor(map: Map<FinchProduct, RollingWindowLimiter>, product: FinchProduct, perMinute: number): RollingWindowLimiter {
  let l = map.get(product);
  if (!l || l.limit !== perMinute) {
    l = new RollingWindowLimiter(perMinute, 60_000);
    map.set(product, l);
  }
  return l;
}

/** Seconds or an HTTP date; null when absent or unusable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  // "Equal jitter": at least half the step, so retries still back off, spread over the other half.
  return ceiling / 2 + random() * (ceiling / 2);
}

function retryable(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501);
}

export interface FinchConnectionClient {
  sdk: Finch;
  stats: FinchCallStats;
}

/**
 * Builds the client of one connection for one run. `accessTokenEnc` is the stored ciphertext; `secretKey` the
 * service's SECRET_KEY.
 */
export function createFinchClient(accessTokenEnc: string, secretKey: string, settings: FinchClientSettings): FinchConnectionClient {
  const stats: FinchCallStats = { calls: 0, byStatus: {}, rateLimited: 0, retries: 0, pending: false };
  const limiters = settings.limiters ?? processLimiters;
  const base = settings.backoffBaseMs ?? 1000;
  const maxBackoff = settings.maxBackoffMs ?? 60_000;
  const log = settings.logger;

  const pacedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const product = productOf(url);
    const limiter = limiterFor(limiters, product, settings.ratePerMinute);
    const outer = init?.signal ?? undefined;
    for (let attempt = 1; ; attempt++) {
      const signals = [AbortSignal.timeout(settings.timeoutMs), outer, settings.signal].filter((s): s is AbortSignal => Boolean(s));
      const answered = await limiter.acquire(settings.signal);
      const started = Date.now();
      stats.calls++;
      let res: Response;
      try {
        res = await fetch(url, { ...init, signal: AbortSignal.any(signals) });
      } catch (err) {
        answered();
        const durationMs = Date.now() - started;
        stats.byStatus.error = (stats.byStatus.error ?? 0) + 1;
        settings.onCall?.({ product, status: 'error', durationMs, requestId: null });
        const stopped = Boolean(outer?.aborted || settings.signal?.aborted);
        log.warn({ product, attempt, errName: (err as Error)?.name, durationMs }, 'finch request failed (network or timeout)');
        if (stopped || attempt >= settings.maxAttempts) throw err;
        stats.retries++;
        await sleep(backoffMs(attempt, base, maxBackoff), settings.signal);
        continue;
      }
      answered();
      const durationMs = Date.now() - started;
      const requestId = res.headers.get('finch-request-id');
      stats.byStatus[String(res.status)] = (stats.byStatus[String(res.status)] ?? 0) + 1;
      settings.onCall?.({ product, status: res.status, durationMs, requestId });
      if (res.status === 202) stats.pending = true;
      if (res.status < 400) return res;

      if (res.status === 429) stats.rateLimited++;
      let finchCode: string | null = null;
      try {
        const body = (await res.clone().json()) as { finch_code?: unknown };
        finchCode = typeof body?.finch_code === 'string' ? body.finch_code : null;
      } catch {
        // Not JSON: the status says enough.
      }
      const again = retryable(res.status) && attempt < settings.maxAttempts;
      log.warn(
        { product, status: res.status, finchRequestId: requestId, finchCode, attempt, retry: again, durationMs },
        'finch request failed',
      );
      if (!again) return res;
      const wait = (res.status === 429 ? retryAfterMs(res.headers.get('retry-after')) : null) ?? backoffMs(attempt, base, maxBackoff);
      await res.body?.cancel().catch(() => undefined);
      stats.retries++;
      await sleep(wait, settings.signal);
    }
  };

  const sdk = new Finch({
    accessToken: null,
    clientID: null,
    clientSecret: null,
    webhookSecret: null,
    baseURL: settings.baseURL ?? null,
    maxRetries: 0,
    // Our attempts each have `timeoutMs`; the SDK's bound covers all of them and the waits between.
    timeout: settings.maxAttempts * (settings.timeoutMs + maxBackoff) + 60_000,
    fetch: pacedFetch,
    logLevel: 'off',
  });
  // The SDK reads `accessToken` when it builds each request's Authorization header: decrypt then, keep nothing.
  Object.defineProperty(sdk, 'accessToken', { get: () => decryptSecret(accessTokenEnc, secretKey), configurable: true });
  return { sdk, stats };
}
