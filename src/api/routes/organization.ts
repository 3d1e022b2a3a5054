import type { Logger } from 'pino';
import { z } from 'zod';
import { CONNECTION_TYPES, getOrganization, recordAudit, updateOrganizationSettings } from '../../store';
import { principal } from '../auth';
import { remergeInBackground } from '../jobs';
import { operation, type ApiRoutes } from '../operation';
import { notFound } from '../problem';
import { nameInput, Organization } from '../schemas';

const patchSchema = z.strictObject({
  name: nameInput.optional(),
  /** Connection types, highest priority first (SPEC §3.5): every type once. */
  attributePriority: z
    .array(z.enum(CONNECTION_TYPES))
    .refine(
      (l) => l.length === CONNECTION_TYPES.length && new Set(l).size === l.length,
      `list each of ${CONNECTION_TYPES.join(', ')} once, highest priority first`,
    )
    // The document states the exact shape the refinement enforces.
    .meta({ minItems: CONNECTION_TYPES.length, maxItems: CONNECTION_TYPES.length, uniqueItems: true })
    .optional(),
});

export const organizationOps = {
  get: operation({
    method: 'get',
    path: '/organization',
    access: 'manage',
    summary: 'The organization of the token and its merge settings',
    responses: { 200: { description: 'OK', json: Organization } },
  }),
  patch: operation({
    method: 'patch',
    path: '/organization',
    access: 'manage',
    summary: 'Change the name or the attribute priority (connection types, highest first); people are re-derived',
    body: patchSchema,
    responses: { 200: { description: 'OK', json: Organization } },
  }),
};

async function present(orgId: string) {
  const org = await getOrganization(orgId);
  if (!org) throw notFound('organization');
  return org;
}

/** The caller's organization and its merge settings (attribute priority): owners and admins. */
export function organizationRoutes(api: ApiRoutes, logger: Logger): void {
  api.add(organizationOps.get, async (req, res) => {
    res.json(await present(principal(req).orgId));
  });
  api.add(organizationOps.patch, async (req, res, { body }) => {
    const p = principal(req);
    const change = await updateOrganizationSettings(p.orgId, body);
    // Attributes are merged by priority: every person of the organization is re-derived, after the answer.
    remergeInBackground(change.remerge, logger, { orgId: p.orgId });
    await recordAudit(p.orgId, p.tokenId, 'organization.update', p.orgId, { fields: Object.keys(body) });
    res.json(change.value);
  });
}
