import express, { type NextFunction, type Request, type Response } from 'express';
import { type z } from 'zod';
import { pageById, type Listed } from '../store';
import { ApiError } from './problem';
import { CURSOR_PATTERN } from './schemas';

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
    // A page cursor the API did not hand out has its own problem type (clients start over from the first page).
    const slug = first.path === 'cursor' ? 'invalid-cursor' : 'invalid-query';
    throw new ApiError(400, slug, `${first.path ? `${first.path}: ` : ''}${first.message}`, { errors: list });
  }
  return res.data;
}

/** Cursors are opaque to clients: the last `_id` of a page, base64url-encoded. */
export function encodeCursor(id: string | null): string | null {
  return id === null ? null : Buffer.from(id, 'utf8').toString('base64url');
}

/** A cursor checked by the query schema (`pageCursor`); empty or absent: the first page. */
export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === '') return null;
  if (!CURSOR_PATTERN.test(cursor)) throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
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
