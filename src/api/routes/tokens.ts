import { z } from 'zod';
import {
  LastOwnerTokenError,
  PERMISSIONS,
  ROLES,
  createApiToken,
  getApiToken,
  listApiTokens,
  recordAudit,
  revokeApiToken,
} from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { ApiError, notFound } from '../problem';
import { idParams, nameInput, TokenCreated, TokenList } from '../schemas';

const createSchema = z.strictObject({
  role: z.enum(ROLES),
  permissions: z.array(z.enum(PERMISSIONS)).max(10).default([]),
  name: nameInput.optional(),
});

export const tokenOps = {
  create: operation({
    method: 'post',
    path: '/tokens',
    access: 'owner',
    summary: 'Create an API token (owner); the token is shown once',
    body: createSchema,
    responses: { 201: { description: 'OK', json: TokenCreated } },
  }),
  list: operation({
    method: 'get',
    path: '/tokens',
    access: 'owner',
    summary: 'List API tokens (owner)',
    responses: { 200: { description: 'OK', json: TokenList } },
  }),
  revoke: operation({
    method: 'delete',
    path: '/tokens/{id}',
    access: 'owner',
    summary: 'Revoke an API token (owner); the last owner token of the organization cannot be revoked',
    params: idParams,
    responses: {
      204: { description: 'done' },
      409: { description: 'this is the last owner token of the organization; create another owner token first', problem: true },
    },
  }),
};

function present(t: {
  _id: string;
  role: string;
  permissions?: string[];
  name?: string | null;
  createdAt?: Date;
  lastUsedAt?: Date | null;
}) {
  return {
    id: t._id,
    role: t.role,
    permissions: t.permissions ?? [],
    name: t.name ?? null,
    createdAt: t.createdAt ? new Date(t.createdAt).toISOString() : null,
    lastUsedAt: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null,
  };
}

/** API tokens of the caller's organization: owners only; a new token is shown once. */
export function tokenRoutes(api: ApiRoutes): void {
  api.add(tokenOps.create, async (req, res, { body }) => {
    const p = principal(req);
    const created = await createApiToken(p.orgId, body.role, body.permissions, body.name ?? null);
    await recordAudit(p.orgId, p.tokenId, 'token.create', created.id, { role: created.role, permissions: created.permissions });
    const doc = await getApiToken(created.id);
    if (!doc) throw notFound('token');
    res.status(201).json({ ...present(doc), token: created.token });
  });

  api.add(tokenOps.list, async (req, res) => {
    const p = principal(req);
    const docs = await listApiTokens(p.orgId);
    res.json({ items: docs.map(present), nextCursor: null });
  });

  api.add(tokenOps.revoke, async (req, res, { params }) => {
    const p = principal(req);
    let doc;
    try {
      doc = await revokeApiToken(p.orgId, params.id);
    } catch (err) {
      // Revoking the last owner token would lock the organization out of the API.
      if (err instanceof LastOwnerTokenError) throw new ApiError(409, 'last-owner-token', err.message);
      throw err;
    }
    if (!doc) throw notFound('token');
    await recordAudit(p.orgId, p.tokenId, 'token.delete', doc._id, { role: doc.role });
    res.status(204).end();
  });
}
