import { Router } from 'express';
import { z } from 'zod';
import { EVENT_TYPES, EventCursorGoneError, audienceChanges, audienceInOrg, presentEvent, readEvents } from '../../store';
import { principal, requireAccess } from '../auth';
import { ApiError, notFound } from '../problem';
import { idParam, parseQuery } from '../validate';

const typeList = z
  .string()
  .max(2000)
  .transform((s) =>
    s
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  )
  .refine((list) => list.every((t) => (EVENT_TYPES as readonly string[]).includes(t)), {
    message: `types must be among ${EVENT_TYPES.join(', ')}`,
  });

export const eventCursor = z
  .string()
  .regex(/^\d{1,15}$/, 'the cursor is not one this API returned')
  .transform(Number);

const listQuery = z.object({
  after: eventCursor.optional(),
  types: typeList.optional(),
  connectionId: z.string().max(100).optional(),
  limit: z.coerce
    .number()
    .int('limit must be an integer')
    .min(1, 'limit must be at least 1')
    .max(500, 'limit must be at most 500')
    .default(100),
  include: z.enum(['object']).optional(),
});

/**
 * The organization's change feed in cursor order (keyset pages): `after` is the `nextCursor` of the previous page
 * (absent: from the oldest event kept). A cursor older than the retention answers 410.
 */
export function eventRoutes(): Router {
  const r = Router();
  r.get('/', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    try {
      const page = await readEvents(p.orgId, { after: q.after ?? 0, limit: q.limit, types: q.types, connectionId: q.connectionId });
      res.json({
        items: page.items.map((e) => presentEvent(e, q.include === 'object')),
        nextCursor: String(page.cursor),
        hasMore: page.more,
      });
    } catch (err) {
      if (err instanceof EventCursorGoneError) {
        throw new ApiError(
          410,
          'cursor-expired',
          `events up to cursor ${err.oldest} are past the retention and were removed; start again without "after" (or from ${err.oldest})`,
          { oldestCursor: String(err.oldest) },
        );
      }
      throw err;
    }
  });
  return r;
}

const changesQuery = z.object({ after: eventCursor.optional() });

/**
 * `GET /audiences/{id}/changes?after=CURSOR`: who entered and who left an audience since a cursor, netted per person;
 * applied in order, pages take the membership at `after` to the membership at `nextCursor`.
 */
export function audienceChangeRoutes(): Router {
  const r = Router();
  r.get('/:id/changes', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(changesQuery, req.query);
    const id = idParam(req);
    if (!(await audienceInOrg(p.orgId, id))) throw notFound('audience');
    try {
      const page = await audienceChanges(p.orgId, id, q.after ?? 0);
      res.json({ items: page.items, nextCursor: String(page.cursor), hasMore: page.more });
    } catch (err) {
      if (err instanceof EventCursorGoneError) {
        throw new ApiError(
          410,
          'cursor-expired',
          `events up to cursor ${err.oldest} are past the retention and were removed; read the audience in full and start from ${err.oldest}`,
          { oldestCursor: String(err.oldest) },
        );
      }
      throw err;
    }
  });
  return r;
}
