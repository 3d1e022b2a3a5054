import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  Audience, Group, Recipient, Segment, audienceQuery, newId, pageRecipients, recordAudit,
  type AudienceDoc, type AudienceSelection, type RecipientDoc,
} from '../../store';
import { principal, requireAccess, type Principal } from '../auth';
import { exportRows, streamCsv, wantsBom } from '../csvExport';
import { loadOwned } from '../owned';
import { presentAudience, presentRecipient } from '../present';
import { ApiError } from '../problem';
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
  for (const g of sel.groups) {
    const doc = await Group.findOne({ _id: g }, { orgId: 1 }).lean().exec();
    if (!doc || doc.orgId !== p.orgId) throw new ApiError(400, 'invalid-reference', `${where}.groups: group ${g} does not exist`);
  }
  for (const s of sel.segments) {
    const doc = await Segment.findOne({ _id: s }, { orgId: 1 }).lean().exec();
    if (!doc || doc.orgId !== p.orgId) throw new ApiError(400, 'invalid-reference', `${where}.segments: segment ${s} does not exist`);
  }
  const recipients = sel.recipients.map((r) => {
    const id = recipientIdFor(p.orgId, r);
    if (!id) throw new ApiError(400, 'invalid-reference', `${where}.recipients: "${r.slice(0, 100)}" is neither a recipient id nor an email`);
    return id;
  });
  return { groups: [...new Set(sel.groups)], segments: [...new Set(sel.segments)], recipients: [...new Set(recipients)] };
}

/** Audiences: groups ∪ segments ∪ individuals − exclusions, resolved by the store to distinct active recipients. */
export function audienceRoutes(json: RequestHandler): Router {
  const r = Router();
  const load = (id: string, orgId: string) => loadOwned(Audience as never, id, orgId, 'audience') as Promise<AudienceDoc>;
  const queryOf = (a: AudienceDoc) => audienceQuery(a.orgId, a.include ?? emptySel(), a.exclude ?? emptySel());

  r.post('/', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(createSchema, req.body);
    const now = new Date();
    const doc: AudienceDoc = {
      _id: newId(), orgId: p.orgId, name: body.name,
      include: await resolveSelection(p, body.include ?? emptySel(), 'include'),
      exclude: await resolveSelection(p, body.exclude ?? emptySel(), 'exclude'),
      createdAt: now, updatedAt: now,
    };
    await Audience.create(doc);
    await recordAudit(p.orgId, p.tokenId, 'audience.create', doc._id, { name: doc.name });
    res.status(201).location(`/api/v1/audiences/${doc._id}`).json(presentAudience(doc));
  });

  r.get('/', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    res.json(await idPage(Audience, { orgId: p.orgId }, q, (d: AudienceDoc) => presentAudience(d)));
  });

  r.get('/:id', requireAccess('read'), async (req, res) => {
    res.json(presentAudience(await load(idParam(req), principal(req).orgId)));
  });

  r.patch('/:id', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const body = parseBody(patchSchema, req.body);
    const set: Record<string, unknown> = { updatedAt: new Date() };
    if (body.name !== undefined) set.name = body.name;
    if (body.include) set.include = await resolveSelection(p, body.include, 'include');
    if (body.exclude) set.exclude = await resolveSelection(p, body.exclude, 'exclude');
    await Audience.updateOne({ _id: doc._id }, { $set: set }).exec();
    await recordAudit(p.orgId, p.tokenId, 'audience.update', doc._id, { fields: Object.keys(body) });
    res.json(presentAudience(await load(doc._id, p.orgId)));
  });

  r.delete('/:id', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    await Audience.deleteOne({ _id: doc._id }).exec();
    await recordAudit(p.orgId, p.tokenId, 'audience.delete', doc._id, { name: doc.name });
    res.status(204).end();
  });

  r.get('/:id/recipients', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const query = await queryOf(doc);
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      await streamCsv(res, exportRows(query), `audience-${doc._id}.csv`, { bom: wantsBom(req.query as Record<string, unknown>) });
      return;
    }
    const q = parseQuery(listQuery, req.query);
    const cursor = decodeCursor(q.cursor);
    if (cursor !== null && !cursor.startsWith(`${p.orgId}:`)) throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
    const page = await pageRecipients(query, q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });

  r.get('/:id/preview', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const q = parseQuery(previewQuery, req.query);
    const query = await queryOf(doc);
    const [count, sample] = await Promise.all([
      Recipient.countDocuments(query).exec(),
      q.sample ? (Recipient.find(query).sort({ _id: 1 }).limit(q.sample).lean().exec() as Promise<RecipientDoc[]>) : Promise.resolve([]),
    ]);
    res.json({ count, sample: sample.map(presentRecipient) });
  });
  return r;
}
