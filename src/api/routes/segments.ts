import { z } from 'zod';
import {
  audiencesUsingSegment,
  createSegment,
  deleteSegment,
  getSegment,
  listedRecipientsQuery,
  pageRecipients,
  recordAudit,
  updateSegment,
} from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { loadOwned } from '../owned';
import { presentRecipient, presentSegment } from '../present';
import { ApiError, notFound } from '../problem';
import { RecipientList, Segment, SegmentList, filterInput, idParams, nameInput, pageQuery } from '../schemas';
import { idPage, decodeCursor, encodeCursor } from '../validate';

const name = nameInput;
const filter = filterInput().transform((f) => f.trim());
const createSchema = z.strictObject({ name, filter });
const patchSchema = z.strictObject({ name: name.optional(), filter: filter.optional() });
const listQuery = z.object(pageQuery);

export const segmentOps = {
  create: operation({
    method: 'post',
    path: '/segments',
    access: 'manage',
    summary: 'Create a segment',
    body: createSchema,
    responses: { 201: { description: 'OK', json: Segment } },
  }),
  list: operation({
    method: 'get',
    path: '/segments',
    access: 'read',
    summary: 'List segments',
    query: listQuery,
    responses: { 200: { description: 'OK', json: SegmentList } },
  }),
  get: operation({
    method: 'get',
    path: '/segments/{id}',
    access: 'read',
    summary: 'Read a segment',
    params: idParams,
    responses: { 200: { description: 'OK', json: Segment } },
  }),
  patch: operation({
    method: 'patch',
    path: '/segments/{id}',
    access: 'manage',
    summary: 'Change a segment',
    params: idParams,
    body: patchSchema,
    responses: { 200: { description: 'OK', json: Segment } },
  }),
  delete: operation({
    method: 'delete',
    path: '/segments/{id}',
    access: 'manage',
    summary: 'Delete a segment no audience uses',
    params: idParams,
    responses: { 204: { description: 'done' }, 409: { description: 'audiences use this segment', problem: true } },
  }),
  recipients: operation({
    method: 'get',
    path: '/segments/{id}/recipients',
    access: 'read',
    summary: 'Recipients matching a segment',
    params: idParams,
    query: listQuery,
    responses: { 200: { description: 'OK', json: RecipientList } },
  }),
};

/** Saved filters over recipient fields, in SCIM filter syntax; checked by the store's one translator when saved. */
export function segmentRoutes(api: ApiRoutes): void {
  const load = (id: string, orgId: string) => loadOwned(getSegment, id, orgId, 'segment');

  api.add(segmentOps.create, async (req, res, { body }) => {
    const p = principal(req);
    const doc = await createSegment(p.orgId, body);
    await recordAudit(p.orgId, p.tokenId, 'segment.create', doc._id, { name: doc.name });
    res.status(201).location(`/api/v1/segments/${doc._id}`).json(presentSegment(doc));
  });

  api.add(segmentOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    res.json(await idPage('segments', { orgId: p.orgId }, q, presentSegment));
  });

  api.add(segmentOps.get, async (req, res, { params }) => {
    res.json(presentSegment(await load(params.id, principal(req).orgId)));
  });

  api.add(segmentOps.patch, async (req, res, { params, body }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    const updated = await updateSegment(doc._id, body);
    if (!updated) throw notFound('segment');
    await recordAudit(p.orgId, p.tokenId, 'segment.update', doc._id, { fields: Object.keys(body) });
    res.json(presentSegment(updated));
  });

  api.add(segmentOps.delete, async (req, res, { params }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    const using = await audiencesUsingSegment(p.orgId, doc._id);
    if (using.length) {
      throw new ApiError(409, 'in-use', `audiences use this segment; remove it from them first`, { audiences: using });
    }
    await deleteSegment(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'segment.delete', doc._id, { name: doc.name });
    res.status(204).end();
  });

  api.add(segmentOps.recipients, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    // A cursor is a position in id order; the query keeps to the organization whatever it names.
    const cursor = decodeCursor(q.cursor);
    const page = await pageRecipients(listedRecipientsQuery(p.orgId, doc.filter), q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });
}
