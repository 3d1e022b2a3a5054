import { Router, type RequestHandler } from 'express';
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
import { principal, requireAccess } from '../auth';
import { loadOwned } from '../owned';
import { presentRecipient, presentSegment } from '../present';
import { ApiError, notFound } from '../problem';
import { idPage, decodeCursor, encodeCursor, pageQuery, parseBody, parseQuery, idParam } from '../validate';

const name = z.string().trim().min(1).max(200);
const filter = z.string().trim().min(1).max(4096);
const createSchema = z.strictObject({ name, filter });
const patchSchema = z.strictObject({ name: name.optional(), filter: filter.optional() });
const listQuery = z.object(pageQuery);

/** Saved filters over recipient fields, in SCIM filter syntax; checked by the store's one translator when saved. */
export function segmentRoutes(json: RequestHandler): Router {
  const r = Router();
  const load = (id: string, orgId: string) => loadOwned(getSegment, id, orgId, 'segment');

  r.post('/', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(createSchema, req.body);
    const doc = await createSegment(p.orgId, body);
    await recordAudit(p.orgId, p.tokenId, 'segment.create', doc._id, { name: doc.name });
    res.status(201).location(`/api/v1/segments/${doc._id}`).json(presentSegment(doc));
  });

  r.get('/', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    res.json(await idPage('segments', { orgId: p.orgId }, q, presentSegment));
  });

  r.get('/:id', requireAccess('read'), async (req, res) => {
    res.json(presentSegment(await load(idParam(req), principal(req).orgId)));
  });

  r.patch('/:id', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const body = parseBody(patchSchema, req.body);
    const updated = await updateSegment(doc._id, body);
    if (!updated) throw notFound('segment');
    await recordAudit(p.orgId, p.tokenId, 'segment.update', doc._id, { fields: Object.keys(body) });
    res.json(presentSegment(updated));
  });

  r.delete('/:id', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const using = await audiencesUsingSegment(p.orgId, doc._id);
    if (using.length) {
      throw new ApiError(409, 'in-use', `audiences use this segment; remove it from them first`, { audiences: using });
    }
    await deleteSegment(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'segment.delete', doc._id, { name: doc.name });
    res.status(204).end();
  });

  r.get('/:id/recipients', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const q = parseQuery(listQuery, req.query);
    const cursor = decodeCursor(q.cursor);
    if (cursor !== null && !cursor.startsWith(`${p.orgId}:`))
      throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
    const page = await pageRecipients(listedRecipientsQuery(p.orgId, doc.filter), q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });
  return r;
}
