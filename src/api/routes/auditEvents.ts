import { Router } from 'express';
import { z } from 'zod';
import { AuditEvent } from '../../store';
import { principal, requireAccess } from '../auth';
import { decodeCursor, encodeCursor, pageQuery, parseQuery } from '../validate';

const listQuery = z.object({ ...pageQuery, action: z.string().max(100).optional(), target: z.string().max(400).optional() });

/** The audit trail of administrators' changes, newest first: owners and admins. */
export function auditEventRoutes(): Router {
  const r = Router();
  r.get('/', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    const filter: Record<string, unknown> = { orgId: p.orgId };
    if (q.action) filter.action = q.action;
    if (q.target) filter.target = q.target;
    const cursor = decodeCursor(q.cursor);
    if (cursor) filter._id = { $lt: cursor };
    const docs = await AuditEvent.find(filter).sort({ _id: -1 }).limit(q.limit + 1).lean().exec();
    const more = docs.length > q.limit;
    const items = more ? docs.slice(0, q.limit) : docs;
    res.json({
      items: items.map((e) => ({
        id: e._id, actor: e.actor, action: e.action, target: e.target ?? null, details: e.details ?? null, createdAt: new Date(e.createdAt).toISOString(),
      })),
      nextCursor: more ? encodeCursor(items[items.length - 1]!._id) : null,
    });
  });
  return r;
}
