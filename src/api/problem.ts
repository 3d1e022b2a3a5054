import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import {
  ConflictError,
  FilterError,
  InvalidStateError,
  LimitReachedError,
  NotFoundError,
  ValidationError,
  isStoreUnavailable,
} from '../store';

/** RFC 9457 problem details. `type` is a URN naming the problem, so clients can branch on it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemType(slug: string): string {
  return `urn:audience-sync:problem:${slug}`;
}

/** An error that becomes a problem response. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, 'not-found', `${what} does not exist`);

export function sendProblem(res: Response, status: number, slug: string, detail: string, ext: Record<string, unknown> = {}): void {
  const body: Problem = { type: problemType(slug), title: TITLES[status] ?? 'Error', status, detail, ...ext };
  if (status === 401) res.set('WWW-Authenticate', 'Bearer realm="audience-sync"');
  if (status === 503) res.set('Retry-After', '5');
  // The rest of a body that is too large is not worth reading: close the connection after the answer.
  if (status === 413) res.set('Connection', 'close');
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}

/** Maps every error an API route can throw to a problem response; unknown errors are logged (no bodies, no tokens). */
export function problemHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ApiError) return sendProblem(res, err.status, err.slug, err.message, err.extensions);
    if (err instanceof FilterError) return sendProblem(res, 400, 'invalid-filter', err.message);
    // The store's errors, mapped once.
    if (err instanceof LimitReachedError) return sendProblem(res, 409, 'limit-reached', err.message);
    if (err instanceof ValidationError) return sendProblem(res, 400, 'invalid-value', err.message);
    if (err instanceof NotFoundError) return sendProblem(res, 404, 'not-found', err.message);
    if (err instanceof InvalidStateError) return sendProblem(res, 409, 'invalid-state', err.message);
    if (err instanceof ConflictError) return sendProblem(res, 409, 'conflict', err.message);
    const e = err as { type?: string; status?: number; expose?: boolean };
    // body-parser errors
    if (e?.type === 'entity.parse.failed') return sendProblem(res, 400, 'malformed-json', 'the request body is not valid JSON');
    if (e?.type === 'entity.too.large') return sendProblem(res, 413, 'too-large', 'the request body is larger than this server accepts');
    if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
      return sendProblem(res, 415, 'unsupported-media-type', 'the request body encoding is not supported');
    }
    if (isStoreUnavailable(err)) {
      logger.warn({ path: req.path }, 'store unavailable');
      return sendProblem(res, 503, 'store-unavailable', 'the store is unreachable; retry later');
    }
    // Messages of store errors can quote documents (emails): log the error's kind and where it was thrown only.
    const stack = String((err as Error)?.stack ?? '')
      .split('\n')
      .slice(1, 6)
      .join('\n');
    logger.error(
      {
        errName: (err as Error)?.name,
        code: (err as { code?: unknown })?.code,
        stack,
        method: req.method,
        path: (req.route as { path?: unknown } | undefined)?.path,
      },
      'api error',
    );
    sendProblem(res, 500, 'internal', 'an unexpected error occurred');
  };
}
