import { notFound } from './problem';

/**
 * Loads a document of the caller's organization by `_id` with one of the store's finders (an index lookup on every
 * MongoDB-compatible server). Another organization's document answers 404, exactly like a missing one.
 */
export async function loadOwned<T extends { orgId: string }>(
  find: (id: string) => Promise<T | null>,
  id: string,
  orgId: string,
  what: string,
): Promise<T> {
  const doc = await find(id);
  if (!doc || doc.orgId !== orgId) throw notFound(what);
  return doc;
}
