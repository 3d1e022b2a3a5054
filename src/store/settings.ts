import { DEFAULT_PRIORITY, MERGE_SETTINGS_TTL_MS } from './defaults';
import type { MergeSettings } from './derive';
import { Connection, Organization } from './models';

/**
 * What the merge needs to know about an organization (priority, connections' attribute sets), cached per process:
 * every write merges, and these settings change rarely. The store's own settings changes (organization settings,
 * connection create/update/delete) clear the entry at once; entries older than MERGE_SETTINGS_TTL_MS are read again,
 * which bounds how long a change made by another process goes unseen here. A merge for a connection the cached
 * settings do not know (created by another process moments ago) reads them again first (see mergeSettingsFor).
 */
const cache = new Map<string, { readAt: number; settings: Promise<MergeSettings> }>();

async function readMergeSettings(orgId: string): Promise<MergeSettings> {
  const [org, connections] = await Promise.all([
    Organization.findOne({ _id: orgId }, { attributePriority: 1 }).lean().exec(),
    Connection.find({ orgId }, { type: 1, extendedAttributes: 1, createdAt: 1 }).lean().exec(),
  ]);
  const sorted = [...connections].sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) || (a._id < b._id ? -1 : 1));
  return {
    priority: org?.attributePriority?.length ? org.attributePriority : DEFAULT_PRIORITY,
    connections: new Map(sorted.map((c, i) => [c._id, { type: c.type, extendedAttributes: Boolean(c.extendedAttributes), rank: i }])),
  };
}

/** The merge settings of an organization; `fresh` reads them from the store (and refreshes the cache). */
export async function loadMergeSettings(orgId: string, opts: { fresh?: boolean } = {}): Promise<MergeSettings> {
  const hit = cache.get(orgId);
  if (!opts.fresh && hit && Date.now() - hit.readAt < MERGE_SETTINGS_TTL_MS) return hit.settings;
  const entry = { readAt: Date.now(), settings: readMergeSettings(orgId) };
  cache.set(orgId, entry);
  // A failed read is not cached.
  entry.settings.catch(() => {
    if (cache.get(orgId) === entry) cache.delete(orgId);
  });
  return entry.settings;
}

/** The settings to merge a connection's changes with: read again when the cached ones do not know the connection. */
export async function mergeSettingsFor(conn: { _id: string; orgId: string }): Promise<MergeSettings> {
  const settings = await loadMergeSettings(conn.orgId);
  return settings.connections.has(conn._id) ? settings : loadMergeSettings(conn.orgId, { fresh: true });
}

/** Forgets the cached settings of an organization (all organizations without an id); the next merge reads them. */
export function invalidateMergeSettings(orgId?: string): void {
  if (orgId === undefined) cache.clear();
  else cache.delete(orgId);
}
