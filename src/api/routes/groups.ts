import { Router } from 'express';
import { z } from 'zod';
import { getGroup, groupRecipientsQuery, pageRecipients } from '../../store';
import { principal, requireAccess } from '../auth';
import { loadOwned } from '../owned';
import { presentGroup, presentRecipient } from '../present';
import { idPage, decodeCursor, encodeCursor, pageQuery, parseQuery, idParam } from '../validate';
import { ApiError } from '../problem';

const listQuery = z.object({ ...pageQuery, connectionId: z.string().max(100).optional() });
const memberQuery = z.object(pageQuery);

/** Groups from directories and CSV group columns; members include nested groups' members. */
export function groupRoutes(): Router {
  const r = Router();
  r.use(requireAccess('read'));
  const load = (id: string, orgId: string) => loadOwned(getGroup, id, orgId, 'group');

  r.get('/', async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    const filter: { orgId: string; connectionId?: string } = { orgId: p.orgId };
    if (q.connectionId) filter.connectionId = q.connectionId;
    res.json(await idPage('groups', filter, q, presentGroup));
  });

  r.get('/:id', async (req, res) => {
    res.json(presentGroup(await load(idParam(req), principal(req).orgId)));
  });

  r.get('/:id/members', async (req, res) => {
    const p = principal(req);
    const group = await load(idParam(req), p.orgId);
    const q = parseQuery(memberQuery, req.query);
    const cursor = decodeCursor(q.cursor);
    if (cursor !== null && !cursor.startsWith(`${p.orgId}:`))
      throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
    const page = await pageRecipients(await groupRecipientsQuery(p.orgId, group._id), q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });
  return r;
}
