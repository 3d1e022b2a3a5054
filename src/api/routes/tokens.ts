import { Router, type RequestHandler } from 'express';
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
import { principal, requireAccess } from '../auth';
import { ApiError, notFound } from '../problem';
import { parseBody, idParam } from '../validate';

const createSchema = z.strictObject({
  role: z.enum(ROLES),
  permissions: z.array(z.enum(PERMISSIONS)).max(10).default([]),
  name: z.string().trim().min(1).max(200).optional(),
});

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
export function tokenRoutes(json: RequestHandler): Router {
  const r = Router();
  r.use(requireAccess('owner'));

  r.post('/', json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(createSchema, req.body);
    const created = await createApiToken(p.orgId, body.role, body.permissions, body.name ?? null);
    await recordAudit(p.orgId, p.tokenId, 'token.create', created.id, { role: created.role, permissions: created.permissions });
    const doc = await getApiToken(created.id);
    if (!doc) throw notFound('token');
    res.status(201).json({ ...present(doc), token: created.token });
  });

  r.get('/', async (req, res) => {
    const p = principal(req);
    const docs = await listApiTokens(p.orgId);
    res.json({ items: docs.map(present), nextCursor: null });
  });

  r.delete('/:id', async (req, res) => {
    const p = principal(req);
    let doc;
    try {
      doc = await revokeApiToken(p.orgId, idParam(req));
    } catch (err) {
      // Revoking the last owner token would lock the organization out of the API.
      if (err instanceof LastOwnerTokenError) throw new ApiError(409, 'last-owner-token', err.message);
      throw err;
    }
    if (!doc) throw notFound('token');
    await recordAudit(p.orgId, p.tokenId, 'token.delete', doc._id, { role: doc.role });
    res.status(204).end();
  });
  return r;
}
