import { Router } from 'express';
import { z } from 'zod';
import type { AuditEventDoc } from '../../store';
import { principal, requireAccess } from '../auth';
import { idPage, pageQuery, parseQuery } from '../validate';

const listQuery = z.object({ ...pageQuery, action: z.string().max(100).optional(), target: z.string().max(400).optional() });

/** The audit trail of administrators' changes, newest first: owners and admins. */
export function auditEventRoutes(): Router {
  const r = Router();
  r.get('/', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    const filter: { orgId: string; action?: string; target?: string } = { orgId: p.orgId };
    if (q.action) filter.action = q.action;
    if (q.target) filter.target = q.target;
    res.json(await idPage('auditEvents', filter, q, (e: AuditEventDoc) => ({
      id: e._id, actor: e.actor, action: e.action, target: e.target ?? null, details: e.details ?? null, createdAt: new Date(e.createdAt).toISOString(),
    }), true));
  });
  return r;
}
