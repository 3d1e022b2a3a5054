import { z } from 'zod';
import { auditActorNames, type AuditEventDoc } from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { AuditEventList, pageQuery } from '../schemas';
import { idPage } from '../validate';

const listQuery = z.object({ ...pageQuery, action: z.string().max(100).optional(), target: z.string().max(400).optional() });

export const auditEventOps = {
  list: operation({
    method: 'get',
    path: '/audit-events',
    access: 'manage',
    summary: 'Changes administrators made, newest first',
    query: listQuery,
    responses: { 200: { description: 'OK', json: AuditEventList } },
  }),
};

/** The audit trail of administrators' changes, newest first: owners and admins. */
export function auditEventRoutes(api: ApiRoutes): void {
  api.add(auditEventOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    const filter: { orgId: string; action?: string; target?: string } = { orgId: p.orgId };
    if (q.action) filter.action = q.action;
    if (q.target) filter.target = q.target;
    const page = await idPage('auditEvents', filter, q, (e: AuditEventDoc) => e, true);
    // The actor is the token's name when it has one (`actorId` keeps the token id, or `cli`).
    const names = await auditActorNames(
      p.orgId,
      page.items.map((e) => e.actor),
    );
    res.json({
      items: page.items.map((e) => ({
        id: e._id,
        actor: names.get(e.actor) ?? e.actor,
        actorId: e.actor,
        action: e.action,
        target: e.target ?? null,
        details: e.details ?? null,
        createdAt: new Date(e.createdAt).toISOString(),
      })),
      nextCursor: page.nextCursor,
    });
  });
}
