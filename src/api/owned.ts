import type { Model } from 'mongoose';
import { notFound } from './problem';

/**
 * Loads a document of the caller's organization by `_id` (an index lookup on every MongoDB-compatible server).
 * Another organization's document answers 404, exactly like a missing one.
 */
export async function loadOwned<T extends { orgId: string }>(model: Model<T>, id: string, orgId: string, what: string): Promise<T> {
  const doc = (await model.findOne({ _id: id } as never).lean().exec()) as T | null;
  if (!doc || doc.orgId !== orgId) throw notFound(what);
  return doc;
}
