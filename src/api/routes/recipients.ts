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
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { presentContributions, presentRecipient } from '../present';
import { ApiError, notFound } from '../problem';
import { EMAIL_PATTERN, Recipient, RecipientDetail, RecipientList, filterInput, idParams, pageQuery } from '../schemas';
import { decodeCursor, encodeCursor } from '../validate';

const listQuery = z.object({ ...pageQuery, filter: filterInput(true).optional() });

const attributeValue = z.string().max(1000);
const attributesSchema = z.strictObject({
  ...Object.fromEntries(FULL_ATTRIBUTE_SET.map((n) => [n, attributeValue.optional()])),
  custom: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'custom field names use letters, digits, _ and -'), attributeValue).optional(),
});

const addSchema = z.strictObject({
  email: z
    .string()
    .max(320)
    .refine((e) => normalizeEmail(e) !== null, 'not a valid email address')
    // What the refinement accepts, for the document (surrounding spaces are also accepted, and trimmed).
    .meta({ format: 'email', pattern: EMAIL_PATTERN }),
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

export const recipientOps = {
  list: operation({
    method: 'get',
    path: '/recipients',
    access: 'read',
    summary: 'List recipients (SCIM filter over recipient fields and attributes; cursor pagination in id order)',
    query: listQuery,
    responses: { 200: { description: 'OK', json: RecipientList } },
  }),
  add: operation({
    method: 'post',
    path: '/recipients',
    access: 'manage',
    summary: 'Add one individual (a manual source)',
    body: addSchema,
    responses: {
      201: { description: 'created', json: Recipient },
      200: { description: 'the manual entry existed and was updated', json: Recipient },
      409: { description: 'the person was changed concurrently; retry', problem: true },
    },
  }),
  get: operation({
    method: 'get',
    path: '/recipients/{id}',
    access: 'read',
    summary: 'Read a recipient with its sources and groups, named (id, or an email)',
    params: idParams,
    responses: { 200: { description: 'OK', json: RecipientDetail } },
  }),
  removeManual: operation({
    method: 'delete',
    path: '/recipients/{id}/manual',
    access: 'manage',
    summary: 'Remove the manual source of a recipient (other sources stay)',
    params: idParams,
    responses: { 204: { description: 'done' } },
  }),
};

export function recipientRoutes(api: ApiRoutes, config: Config): void {
  const env = { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY };

  api.add(recipientOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    const query = listedRecipientsQuery(p.orgId, q.filter);
    // A cursor is a position in id order; the query keeps to the organization whatever it names.
    const cursor = decodeCursor(q.cursor);
    const page = await pageRecipients(query, q.limit, cursor);
    res.json({ items: page.items.map(presentRecipient), nextCursor: encodeCursor(page.nextCursor) });
  });

  api.add(recipientOps.get, async (req, res, { params }) => {
    const doc = await loadRecipient(principal(req).orgId, params.id);
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

  api.add(recipientOps.add, async (req, res, { body }) => {
    const p = principal(req);
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

  api.add(recipientOps.removeManual, async (req, res, { params }) => {
    const p = principal(req);
    const doc = await loadRecipient(p.orgId, params.id);
    if (!(await removeManualEntries(doc))) throw new ApiError(404, 'not-found', 'this recipient has no manual entry');
    await recordAudit(p.orgId, p.tokenId, 'recipient.manual.remove', doc._id);
    res.status(204).end();
  });
}
