import { z } from 'zod';
import { getGroup, groupRecipientsQuery, pageRecipients } from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { loadOwned } from '../owned';
import { presentGroup, presentRecipient } from '../present';
import { Group, GroupList, RecipientList, idParams, pageQuery } from '../schemas';
import { idPage, decodeCursor, encodeCursor } from '../validate';

const listQuery = z.object({ ...pageQuery, connectionId: z.string().max(100).optional() });
const memberQuery = z.object(pageQuery);

export const groupOps = {
  list: operation({
    method: 'get',
    path: '/groups',
    access: 'read',
    summary: 'List groups',
    query: listQuery,
    responses: { 200: { description: 'OK', json: GroupList } },
  }),
  get: operation({
    method: 'get',
    path: '/groups/{id}',
    access: 'read',
    summary: 'Read a group',
    params: idParams,
    responses: { 200: { description: 'OK', json: Group } },
  }),
  members: operation({
    method: 'get',
    path: '/groups/{id}/members',
    access: 'read',
    summary: 'Members of a group and of its nested groups',
    params: idParams,
    query: memberQuery,
    responses: { 200: { description: 'OK', json: RecipientList } },
  }),
};

/** Groups from directories and CSV group columns; members include nested groups' members. */
export function groupRoutes(api: ApiRoutes): void {
  const load = (id: string, orgId: string) => loadOwned(getGroup, id, orgId, 'group');

  api.add(groupOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    const filter: { orgId: string; connectionId?: string } = { orgId: p.orgId };
    if (q.connectionId) filter.connectionId = q.connectionId;
    res.json(await idPage('groups', filter, q, presentGroup));
  });

  api.add(groupOps.get, async (req, res, { params }) => {
    res.json(presentGroup(await load(params.id, principal(req).orgId)));
  });

  api.add(groupOps.members, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const group = await load(params.id, p.orgId);
    // A cursor is a position in id order; the query keeps to the organization whatever it names.
    const cursor = decodeCursor(q.cursor);
    const page = await pageRecipients(await groupRecipientsQuery(p.orgId, group._id), q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });
}
