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
import { principal, type Principal } from '../auth';
import { bomQuery, streamCsv, wantsBom } from '../csvExport';
import { operation, type ApiRoutes } from '../operation';
import { loadOwned } from '../owned';
import { presentAudience, presentRecipient } from '../present';
import { ApiError, notFound } from '../problem';
import { Audience, AudienceList, EMAIL_PATTERN, Preview, RecipientList, idParams, nameInput, pageQuery, queryInt } from '../schemas';
import { idPage, decodeCursor, encodeCursor } from '../validate';
import { recipientIdFor } from './recipients';

const ids = z.array(z.string().min(1).max(400)).max(1000);
/** A recipient is named by its id (`{orgId}:{email}`) or an email; the document describes the email form. */
const recipientRefs = z
  .array(z.string().min(1).max(400).meta({ description: 'a recipient id or an email', format: 'email', pattern: EMAIL_PATTERN }))
  .max(1000);
const selection = z.strictObject({
  groups: ids.default([]).meta({ description: 'ids of groups of the organization' }),
  segments: ids.default([]).meta({ description: 'ids of segments of the organization' }),
  recipients: recipientRefs.default([]).meta({ description: 'recipient ids or emails' }),
});
const emptySel = (): AudienceSelection => ({ groups: [], segments: [], recipients: [] });
const name = nameInput;
const createSchema = z.strictObject({ name, include: selection.optional(), exclude: selection.optional() });
const patchSchema = z.strictObject({ name: name.optional(), include: selection.optional(), exclude: selection.optional() });
const listQuery = z.object(pageQuery);
const previewQuery = z.object({ sample: queryInt('sample', 0, 100, 10) });
const recipientsQuery = z.object({
  ...pageQuery,
  bom: bomQuery.meta({ description: 'CSV: true starts the file with a UTF-8 byte-order mark (Excel)' }),
});

export const audienceOps = {
  create: operation({
    method: 'post',
    path: '/audiences',
    access: 'manage',
    summary: 'Create an audience',
    body: createSchema,
    responses: { 201: { description: 'OK', json: Audience } },
  }),
  list: operation({
    method: 'get',
    path: '/audiences',
    access: 'read',
    summary: 'List audiences',
    query: listQuery,
    responses: { 200: { description: 'OK', json: AudienceList } },
  }),
  get: operation({
    method: 'get',
    path: '/audiences/{id}',
    access: 'read',
    summary: 'Read an audience',
    params: idParams,
    responses: { 200: { description: 'OK', json: Audience } },
  }),
  patch: operation({
    method: 'patch',
    path: '/audiences/{id}',
    access: 'manage',
    summary: 'Change an audience',
    params: idParams,
    body: patchSchema,
    responses: { 200: { description: 'OK', json: Audience } },
  }),
  delete: operation({
    method: 'delete',
    path: '/audiences/{id}',
    access: 'manage',
    summary: 'Delete an audience',
    params: idParams,
    responses: { 204: { description: 'done' } },
  }),
  recipients: operation({
    method: 'get',
    path: '/audiences/{id}/recipients',
    access: 'read',
    summary:
      "The distinct active recipients of an audience; with Accept: text/csv, a streamed CSV of all of them (cells that a spreadsheet would run as formulas, starting with = + - @ tab or CR, are prefixed with ' and quoted)",
    params: idParams,
    query: recipientsQuery,
    responses: { 200: { description: 'OK', json: RecipientList, csv: true } },
  }),
  preview: operation({
    method: 'get',
    path: '/audiences/{id}/preview',
    access: 'read',
    summary: 'Count and a sample of an audience',
    params: idParams,
    query: previewQuery,
    responses: { 200: { description: 'OK', json: Preview } },
  }),
};

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
export function audienceRoutes(api: ApiRoutes): void {
  const load = (id: string, orgId: string) => loadOwned(getAudience, id, orgId, 'audience');
  const queryOf = (a: AudienceDoc) => audienceQuery(a.orgId, a.include ?? emptySel(), a.exclude ?? emptySel());

  api.add(audienceOps.create, async (req, res, { body }) => {
    const p = principal(req);
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

  api.add(audienceOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    res.json(await idPage('audiences', { orgId: p.orgId }, q, presentAudience));
  });

  api.add(audienceOps.get, async (req, res, { params }) => {
    res.json(presentAudience(await load(params.id, principal(req).orgId)));
  });

  api.add(audienceOps.patch, async (req, res, { params, body }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    const updated = await updateAudience(doc._id, {
      name: body.name,
      include: body.include ? await resolveSelection(p, body.include, 'include') : undefined,
      exclude: body.exclude ? await resolveSelection(p, body.exclude, 'exclude') : undefined,
    });
    if (!updated) throw notFound('audience');
    await recordAudit(p.orgId, p.tokenId, 'audience.update', doc._id, { fields: Object.keys(body) });
    res.json(presentAudience(updated));
  });

  api.add(audienceOps.delete, async (req, res, { params }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    await deleteAudience(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'audience.delete', doc._id, { name: doc.name });
    res.status(204).end();
  });

  api.add(audienceOps.recipients, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    const query = await queryOf(doc);
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      await streamCsv(res, exportRecipients(query), `audience-${doc._id}.csv`, { bom: wantsBom(q) });
      return;
    }
    // A cursor is a position in id order; the query keeps to the organization whatever it names.
    const cursor = decodeCursor(q.cursor);
    const page = await pageRecipients(query, q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });

  api.add(audienceOps.preview, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    const query = await queryOf(doc);
    const [count, sample] = await Promise.all([countRecipients(query), sampleRecipients(query, q.sample)]);
    res.json({ count, sample: sample.map(presentRecipient) });
  });
}
