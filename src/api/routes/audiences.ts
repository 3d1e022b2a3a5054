import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  audienceQuery,
  countRecipients,
  createAudience,
  deleteAudience,
  exportRecipients,
  findGroups,
  findSegments,
  getAudience,
  newId,
  pageRecipients,
  recordAudit,
  sampleRecipients,
  updateAudience,
  type AudienceDoc,
  type AudienceSelection,
} from '../../store';
import { principal, requireAccess, type Principal } from '../auth';
import { streamCsv, wantsBom } from '../csvExport';
import { loadOwned } from '../owned';
import { presentAudience, presentRecipient } from '../present';
import { ApiError, notFound } from '../problem';
import { idPage, decodeCursor, encodeCursor, pageQuery, parseBody, parseQuery, idParam } from '../validate';
import { recipientIdFor } from './recipients';

const ids = z.array(z.string().min(1).max(400)).max(1000);
const selection = z.strictObject({ groups: ids.default([]), segments: ids.default([]), recipients: ids.default([]) });
const emptySel = (): AudienceSelection => ({ groups: [], segments: [], recipients: [] });
const name = z.string().trim().min(1).max(200);
const createSchema = z.strictObject({ name, include: selection.optional(), exclude: selection.optional() });
const patchSchema = z.strictObject({ name: name.optional(), include: selection.optional(), exclude: selection.optional() });
const listQuery = z.object(pageQuery);
const previewQuery = z.object({ sample: z.coerce.number().int().min(0).max(100).default(10) });

/** Checks that every group and segment named belongs to the organization; recipients may be given by email. */
async function resolveSelection(p: Principal, sel: AudienceSelection, where: string): Promise<AudienceSelection> {
  // One batched read per kind; the first missing reference (in the order given) is the one reported.
  const [groups, segments] = await Promise.all([findGroups(sel.groups, { orgId: 1 }), findSegments(sel.segments, { orgId: 1 })]);
  for (const g of sel.groups) {
    if (groups.get(g)?.orgId !== p.orgId) throw new ApiError(400, 'invalid-reference', `${where}.groups: group ${g} does not exist`);
  }
  for (const s of sel.segments) {
    if (segments.get(s)?.orgId !== p.orgId) throw new ApiError(400, 'invalid-reference', `${where}.segments: segment ${s} does not exist`);
  }
  const recipients = sel.recipients.map((r) => {
    const id = recipientIdFor(p.orgId, r);
    if (!id)
      throw new ApiError(400, 'invalid-reference', `${where}.recipients: "${r.slice(0, 100)}" is neither a recipient id nor an email`);
    return id;
  });
  return { groups: [...new Set(sel.groups)], segments: [...new Set(sel.segments)], recipients: [...new Set(recipients)] };
}

/** Audiences: groups ∪ segments ∪ individuals − exclusions, resolved by the store to distinct active recipients. */
export function audienceRoutes(json: RequestHandler): Router {
  const r = Router();
  const load = (id: string, orgId: string) => loadOwned(getAudience, id, orgId, 'audience');
  const queryOf = (a: AudienceDoc) => audienceQuery(a.orgId, a.include ?? emptySel(), a.exclude ?? emptySel());

  r.post('/', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(createSchema, req.body);
    const now = new Date();
    const doc: AudienceDoc = {
      _id: newId(),
      orgId: p.orgId,
      name: body.name,
      include: await resolveSelection(p, body.include ?? emptySel(), 'include'),
      exclude: await resolveSelection(p, body.exclude ?? emptySel(), 'exclude'),
      createdAt: now,
      updatedAt: now,
    };
    await createAudience(doc);
    await recordAudit(p.orgId, p.tokenId, 'audience.create', doc._id, { name: doc.name });
    res.status(201).location(`/api/v1/audiences/${doc._id}`).json(presentAudience(doc));
  });

  r.get('/', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    res.json(await idPage('audiences', { orgId: p.orgId }, q, presentAudience));
  });

  r.get('/:id', requireAccess('read'), async (req, res) => {
    res.json(presentAudience(await load(idParam(req), principal(req).orgId)));
  });

  r.patch('/:id', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const body = parseBody(patchSchema, req.body);
    const updated = await updateAudience(doc._id, {
      name: body.name,
      include: body.include ? await resolveSelection(p, body.include, 'include') : undefined,
      exclude: body.exclude ? await resolveSelection(p, body.exclude, 'exclude') : undefined,
    });
    if (!updated) throw notFound('audience');
    await recordAudit(p.orgId, p.tokenId, 'audience.update', doc._id, { fields: Object.keys(body) });
    res.json(presentAudience(updated));
  });

  r.delete('/:id', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    await deleteAudience(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'audience.delete', doc._id, { name: doc.name });
    res.status(204).end();
  });

  r.get('/:id/recipients', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const query = await queryOf(doc);
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      await streamCsv(res, exportRecipients(query), `audience-${doc._id}.csv`, { bom: wantsBom(req.query) });
      return;
    }
    const q = parseQuery(listQuery, req.query);
    const cursor = decodeCursor(q.cursor);
    if (cursor !== null && !cursor.startsWith(`${p.orgId}:`))
      throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
    const page = await pageRecipients(query, q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });

  r.get('/:id/preview', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const q = parseQuery(previewQuery, req.query);
    const query = await queryOf(doc);
    const [count, sample] = await Promise.all([countRecipients(query), sampleRecipients(query, q.sample)]);
    res.json({ count, sample: sample.map(presentRecipient) });
  });
  return r;
}
