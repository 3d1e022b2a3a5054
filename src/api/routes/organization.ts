import { Router, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CONNECTION_TYPES, getOrganization, recordAudit, updateOrganizationSettings } from '../../store';
import { principal, requireAccess } from '../auth';
import { remergeInBackground } from '../jobs';
import { notFound } from '../problem';
import { parseBody } from '../validate';

const patchSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  /** Connection types, highest priority first (SPEC §3.5): every type once. */
  attributePriority: z
    .array(z.enum(CONNECTION_TYPES))
    .refine(
      (l) => l.length === CONNECTION_TYPES.length && new Set(l).size === l.length,
      `list each of ${CONNECTION_TYPES.join(', ')} once, highest priority first`,
    )
    .optional(),
});

async function present(orgId: string) {
  const org = await getOrganization(orgId);
  if (!org) throw notFound('organization');
  return org;
}

/** The caller's organization and its merge settings (attribute priority): owners and admins. */
export function organizationRoutes(json: RequestHandler, logger: Logger): Router {
  const r = Router();
  r.use(requireAccess('manage'));
  r.get('/', async (req, res) => {
    res.json(await present(principal(req).orgId));
  });
  r.patch('/', json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(patchSchema, req.body);
    const change = await updateOrganizationSettings(p.orgId, body);
    // Attributes are merged by priority: every person of the organization is re-derived, after the answer.
    remergeInBackground(change.remerge, logger, { orgId: p.orgId });
    await recordAudit(p.orgId, p.tokenId, 'organization.update', p.orgId, { fields: Object.keys(body) });
    res.json(change.value);
  });
  return r;
}
