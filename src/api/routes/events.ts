import { z } from 'zod';
import { EVENT_TYPES, EventCursorGoneError, audienceChanges, audienceInOrg, presentEvent, readEvents } from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { ApiError, notFound } from '../problem';
import { AudienceChanges, EventPage, eventCursor, idParams, queryInt } from '../schemas';

const EVENT_TYPE = `(?:${EVENT_TYPES.map((t) => t.replace(/\./g, '\\.')).join('|')})`;

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
  })
  // The list the refinement accepts (spaces around commas and empty items are also read, and skipped).
  .meta({ description: 'comma-separated event types; empty: every type', pattern: `^(?:${EVENT_TYPE}(?:,${EVENT_TYPE})*)?$` });

const gone = { 410: { description: 'the cursor is older than the retention (EVENT_RETENTION_DAYS)', problem: true } };

const listQuery = z.object({
  after: eventCursor.optional().meta({
    description: 'nextCursor of the previous page (cursors increase in feed order, not consecutively); absent: from the oldest event kept',
  }),
  types: typeList.optional(),
  connectionId: z.string().max(100).optional(),
  limit: queryInt('limit', 1, 500, 100),
  include: z.enum(['object']).optional().meta({ description: 'object: full objects in data.object' }),
});

const changesQuery = z.object({ after: eventCursor.optional().meta({ description: 'a feed cursor (nextCursor of the previous call)' }) });

export const eventOps = {
  list: operation({
    method: 'get',
    path: '/events',
    access: 'read',
    summary: 'The change feed in order (keyset pages); members need recipients:read',
    query: listQuery,
    responses: { 200: { description: 'OK', json: EventPage }, ...gone },
  }),
  audienceChanges: operation({
    method: 'get',
    path: '/audiences/{id}/changes',
    access: 'read',
    summary:
      'Who entered and who left the audience since a cursor, netted per person (applied in order, pages take the membership at after to the membership at nextCursor)',
    params: idParams,
    query: changesQuery,
    responses: { 200: { description: 'OK', json: AudienceChanges }, ...gone },
  }),
};

/**
 * The organization's change feed in cursor order (keyset pages): `after` is the `nextCursor` of the previous page
 * (absent: from the oldest event kept). A cursor older than the retention answers 410.
 */
export function eventRoutes(api: ApiRoutes): void {
  api.add(eventOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    try {
      const page = await readEvents(p.orgId, { after: q.after ?? -1, limit: q.limit, types: q.types, connectionId: q.connectionId });
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
}

/**
 * `GET /audiences/{id}/changes?after=CURSOR`: who entered and who left an audience since a cursor, netted per person;
 * applied in order, pages take the membership at `after` to the membership at `nextCursor`.
 */
export function audienceChangeRoutes(api: ApiRoutes): void {
  api.add(eventOps.audienceChanges, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const id = params.id;
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
}
