import { DEFAULT_MAX_DIRECTORY_CONNECTIONS, DEFAULT_PRIORITY } from './defaults';
import { NotFoundError, ValidationError } from './errors';
import { newId } from './ids';
import { CONNECTION_TYPES } from './connectionTypes';
import type { SettingsChange } from './connections';
import { Organization } from './models';
import { payOrganizationRemerge } from './remerge';
import { invalidateMergeSettings } from './settings';

export async function createOrganization(name: string): Promise<{ id: string; name: string }> {
  const trimmed = name.trim();
  if (!trimmed) throw new ValidationError('an organization needs a name');
  const id = newId();
  await Organization.create({ _id: id, name: trimmed });
  return { id, name: trimmed };
}

/** An organization with its settings, defaults filled in. */
export interface OrganizationView {
  id: string;
  name: string;
  /** Connection types, highest priority first (SPEC §3.5). */
  attributePriority: string[];
  maxDirectoryConnections: number;
}

export async function getOrganization(orgId: string): Promise<OrganizationView | null> {
  const org = await Organization.findOne({ _id: orgId }).lean().exec();
  if (!org) return null;
  return {
    id: org._id,
    name: org.name,
    attributePriority: org.attributePriority?.length ? [...org.attributePriority] : [...DEFAULT_PRIORITY],
    maxDirectoryConnections: org.maxDirectoryConnections ?? DEFAULT_MAX_DIRECTORY_CONNECTIONS,
  };
}

export async function organizationExists(orgId: string): Promise<boolean> {
  return Boolean(await Organization.exists({ _id: orgId }));
}

export interface OrganizationUpdate {
  name?: string;
  /** Every connection type once, highest priority first. */
  attributePriority?: string[];
}

/**
 * Updates an organization's settings. The merge's cached settings are dropped at once; when the attribute priority
 * changed, the returned `remerge` re-derives every person of the organization (run it in the background: it visits
 * every source record).
 */
export async function updateOrganizationSettings(orgId: string, update: OrganizationUpdate): Promise<SettingsChange<OrganizationView>> {
  const before = await getOrganization(orgId);
  if (!before) throw new NotFoundError('organization not found');
  const set: Record<string, unknown> = {};
  if (update.name !== undefined) {
    if (!update.name.trim()) throw new ValidationError('an organization needs a name');
    set.name = update.name.trim();
  }
  if (update.attributePriority !== undefined) {
    const p = update.attributePriority;
    const known = new Set<string>(CONNECTION_TYPES);
    if (p.length !== CONNECTION_TYPES.length || new Set(p).size !== p.length || p.some((t) => !known.has(t))) {
      throw new ValidationError(`list each of ${CONNECTION_TYPES.join(', ')} once, highest priority first`);
    }
    set.attributePriority = p;
  }
  const reordered = update.attributePriority !== undefined && update.attributePriority.join() !== before.attributePriority.join();
  // The re-merge a new priority owes is recorded with it, so that it is done even if this process stops first.
  const since = new Date();
  if (reordered) set.remergeSince = since;
  if (Object.keys(set).length) await Organization.updateOne({ _id: orgId }, { $set: set }).exec();
  invalidateMergeSettings(orgId);
  const after = (await getOrganization(orgId)) ?? before;
  return { value: after, remerge: reordered ? () => payOrganizationRemerge(orgId, since) : null };
}
