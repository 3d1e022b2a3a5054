import { MERGE_SETTINGS_TTL_MS } from './defaults';
import type { AudienceMatcher } from './audienceEvents';

/**
 * The audience matchers a merge evaluates for the change feed (src/store/audienceEvents.ts), cached per organization
 * like the merge settings (src/store/settings.ts): every write would otherwise read the organization's audiences (and
 * their segments and nested groups) again. The store's own changes to audiences, segments and group nesting clear the
 * entry at once; entries older than MERGE_SETTINGS_TTL_MS are read again, which bounds how long a change made by
 * another process goes unseen here. A module of its own so that the writers of audiences, segments and groups can
 * clear it without importing the feed.
 */
const cache = new Map<string, { readAt: number; matchers: Promise<AudienceMatcher[]> }>();

export function cachedAudienceMatchers(orgId: string, load: (orgId: string) => Promise<AudienceMatcher[]>): Promise<AudienceMatcher[]> {
  const hit = cache.get(orgId);
  if (hit && Date.now() - hit.readAt < MERGE_SETTINGS_TTL_MS) return hit.matchers;
  const entry = { readAt: Date.now(), matchers: load(orgId) };
  cache.set(orgId, entry);
  // A failed read is not cached.
  entry.matchers.catch(() => {
    if (cache.get(orgId) === entry) cache.delete(orgId);
  });
  return entry.matchers;
}

/** Forgets the cached matchers of an organization (of all without an id): after an audience, segment or nesting change. */
export function invalidateAudienceMatchers(orgId?: string): void {
  if (orgId === undefined) cache.clear();
  else cache.delete(orgId);
}
