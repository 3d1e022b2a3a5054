import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { pageById, type Listed } from '../store';
import { ApiError } from './problem';

/** JSON bodies: parsed with the configured size limit; a body in another media type is refused (415). */
export function jsonBody(limit: number) {
  const parse = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  return (req: Request, res: Response, next: NextFunction): void => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is(['application/json', 'application/*+json'])) {
      throw new ApiError(415, 'unsupported-media-type', 'send the request body as application/json');
    }
    parse(req, res, next);
  };
}

function issues(err: z.ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => {
    const path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      return { path, message: `unknown field${i.keys.length > 1 ? 's' : ''}: ${i.keys.join(', ')}` };
    }
    return { path, message: i.message };
  });
}

/** Validates a body against a strict zod schema: unknown fields and wrong types are a 400 listing every issue. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === undefined) throw new ApiError(400, 'invalid-body', 'this request needs a JSON body');
  const res = schema.safeParse(body);
  if (!res.success) {
    const list = issues(res.error);
    const first = list[0]!;
    throw new ApiError(400, 'invalid-body', `${first.path ? `${first.path}: ` : ''}${first.message}`, { errors: list });
  }
  return res.data;
}

export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const res = schema.safeParse(query);
  if (!res.success) {
    const list = issues(res.error);
    const first = list[0]!;
    throw new ApiError(400, 'invalid-query', `${first.path ? `${first.path}: ` : ''}${first.message}`, { errors: list });
  }
  return res.data;
}

const CURSOR_RE = /^[A-Za-z0-9_-]{1,400}$/;

/** Cursors are opaque to clients: the last `_id` of a page, base64url-encoded. */
export function encodeCursor(id: string | null): string | null {
  return id === null ? null : Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === '') return null;
  if (!CURSOR_RE.test(cursor)) throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

/**
 * One page of a list ordered by `_id` (keyset pagination: the cursor is the last `_id` of the previous page), as the
 * API's list shape `{items, nextCursor}`. `newestFirst` walks ids downwards (ids are time-ordered).
 */
export async function idPage<K extends keyof Listed, P>(
  kind: K,
  where: Partial<Record<keyof Listed[K] & string, string>>,
  q: { limit: number; cursor?: string },
  present: (doc: Listed[K]) => P,
  newestFirst = false,
): Promise<{ items: P[]; nextCursor: string | null }> {
  const { items, more } = await pageById(kind, where, { limit: q.limit, after: decodeCursor(q.cursor), newestFirst });
  const last = items[items.length - 1];
  return { items: items.map(present), nextCursor: more && last ? encodeCursor(last._id) : null };
}

export const pageQuery = {
  limit: z.coerce
    .number()
    .int('limit must be an integer')
    .min(1, 'limit must be at least 1')
    .max(500, 'limit must be at most 500')
    .default(50),
  cursor: z.string().optional(),
};

/** The `:id` route parameter (Express 5 types parameters as string | string[]). */
export function idParam(req: { params: Record<string, string | string[] | undefined> }): string {
  const v = req.params.id;
  return Array.isArray(v) ? v.join('/') : String(v ?? '');
}
