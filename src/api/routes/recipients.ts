import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  FULL_ATTRIBUTE_SET,
  addManualEntry,
  findConnections,
  findGroups,
  getRecipient,
  listedRecipientsQuery,
  normalizeEmail,
  pageRecipients,
  recipientId,
  recordAudit,
  removeManualEntries,
  type RecipientDoc,
} from '../../store';
import type { Config } from '../../config/config';
import { principal, requireAccess } from '../auth';
import { presentContributions, presentRecipient } from '../present';
import { ApiError, notFound } from '../problem';
import { decodeCursor, encodeCursor, pageQuery, parseBody, parseQuery, idParam } from '../validate';

const listQuery = z.object({ ...pageQuery, filter: z.string().max(4096).optional() });

const attributeValue = z.string().max(1000);
const attributesSchema = z.strictObject({
  ...Object.fromEntries(FULL_ATTRIBUTE_SET.map((n) => [n, attributeValue.optional()])),
  custom: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'custom field names use letters, digits, _ and -'), attributeValue).optional(),
});

const addSchema = z.strictObject({
  email: z
    .string()
    .max(320)
    .refine((e) => normalizeEmail(e) !== null, 'not a valid email address'),
  firstName: z.string().max(200).optional(),
  lastName: z.string().max(200).optional(),
  attributes: attributesSchema.optional(),
});

/** A recipient id is `${orgId}:${email}`; an email alone also names a recipient of the caller's organization. */
export function recipientIdFor(orgId: string, param: string): string | null {
  if (param.startsWith(`${orgId}:`)) return param;
  const email = normalizeEmail(param);
  return email ? recipientId(orgId, email) : null;
}

/** A listed recipient of the caller's organization (removed people, whose tombstones remain, do not exist here). */
export async function loadRecipient(orgId: string, param: string): Promise<RecipientDoc> {
  const id = recipientIdFor(orgId, param);
  const doc = id ? await getRecipient(id) : null;
  if (!doc || doc.orgId !== orgId || !doc.listed) throw notFound('recipient');
  return doc;
}

export function recipientRoutes(json: RequestHandler, config: Config): Router {
  const r = Router();
  const env = { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY };

  r.get('/', requireAccess('read'), async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    const query = listedRecipientsQuery(p.orgId, q.filter);
    const cursor = decodeCursor(q.cursor);
    if (cursor !== null && !cursor.startsWith(`${p.orgId}:`))
      throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
    const page = await pageRecipients(query, q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });

  r.get('/:id', requireAccess('read'), async (req, res) => {
    const doc = await loadRecipient(principal(req).orgId, idParam(req));
    // The detail view names the groups and connections, so a client need not look each one up.
    const [groups, conns] = await Promise.all([
      findGroups(doc.groups ?? []),
      findConnections([...new Set([...(doc.sources ?? []).map((s) => s.connectionId), ...(doc.contribs ?? []).map((c) => c.cid)])]),
    ]);
    const base = presentRecipient(doc);
    res.json({
      ...base,
      groupDetails: base.groups.map((id) => ({
        id,
        name: groups.get(id)?.displayName ?? null,
        connectionId: groups.get(id)?.connectionId ?? null,
      })),
      sourceDetails: base.sources.map((s) => ({ ...s, name: conns.get(s.connectionId)?.name ?? null })),
      contributions: presentContributions(doc, new Map([...conns].map(([id, c]) => [id, c.name ?? null]))),
    });
  });

  r.post('/', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(addSchema, req.body);
    const email = normalizeEmail(body.email)!;
    const attributes: Record<string, unknown> = { ...(body.attributes ?? {}) };
    if (body.firstName !== undefined) attributes.first_name = body.firstName;
    if (body.lastName !== undefined) attributes.last_name = body.lastName;
    const outcome = await addManualEntry(p.orgId, { key: email, email: body.email.trim(), attributes, raw: body }, env);
    if (outcome === 'conflict') throw new ApiError(409, 'conflict', 'this person was changed concurrently; retry');
    await recordAudit(p.orgId, p.tokenId, 'recipient.manual.add', recipientId(p.orgId, email), { outcome });
    const doc = await loadRecipient(p.orgId, recipientId(p.orgId, email));
    res
      .status(outcome === 'created' ? 201 : 200)
      .location(`/api/v1/recipients/${encodeURIComponent(doc._id)}`)
      .json(presentRecipient(doc));
  });

  r.delete('/:id/manual', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const doc = await loadRecipient(p.orgId, idParam(req));
    if (!(await removeManualEntries(doc))) throw new ApiError(404, 'not-found', 'this recipient has no manual entry');
    await recordAudit(p.orgId, p.tokenId, 'recipient.manual.remove', doc._id);
    res.status(204).end();
  });

  return r;
}
