import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { CONNECTION_TYPES, Connection, DEFAULT_PRIORITY, Organization, recordAudit, remergeConnection } from '../../store';
import { principal, requireAccess } from '../auth';
import { notFound } from '../problem';
import { parseBody } from '../validate';

const patchSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  /** Connection types, highest priority first (SPEC §3.5): every type once. */
  attributePriority: z
    .array(z.enum(CONNECTION_TYPES))
    .refine((l) => l.length === CONNECTION_TYPES.length && new Set(l).size === l.length, `list each of ${CONNECTION_TYPES.join(', ')} once, highest priority first`)
    .optional(),
});

async function present(orgId: string) {
  const org = await Organization.findOne({ _id: orgId }).lean().exec();
  if (!org) throw notFound('organization');
  return {
    id: org._id,
    name: org.name,
    attributePriority: org.attributePriority?.length ? org.attributePriority : [...DEFAULT_PRIORITY],
    maxDirectoryConnections: org.maxDirectoryConnections ?? 2,
  };
}

/** The caller's organization and its merge settings (attribute priority): owners and admins. */
export function organizationRoutes(json: RequestHandler): Router {
  const r = Router();
  r.use(requireAccess('manage'));
  r.get('/', async (req, res) => {
    res.json(await present(principal(req).orgId));
  });
  r.patch('/', json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(patchSchema, req.body);
    const before = await present(p.orgId);
    if (Object.keys(body).length) await Organization.updateOne({ _id: p.orgId }, { $set: body }).exec();
    // Attributes are merged by priority: re-derive every person of the organization when it changes.
    if (body.attributePriority && body.attributePriority.join() !== before.attributePriority.join()) {
      const conns = await Connection.find({ orgId: p.orgId }, { _id: 1 }).lean().exec();
      for (const c of conns) await remergeConnection(p.orgId, c._id);
    }
    await recordAudit(p.orgId, p.tokenId, 'organization.update', p.orgId, { fields: Object.keys(body) });
    res.json(await present(p.orgId));
  });
  return r;
}
