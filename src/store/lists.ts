import type { Model } from 'mongoose';
import {
  AuditEvent,
  Audience,
  Group,
  Segment,
  SyncRun,
  type AuditEventDoc,
  type AudienceDoc,
  type GroupDoc,
  type SegmentDoc,
  type SyncRunDoc,
} from './models';

/** The entities listed page by page in `_id` order, and their documents. */
export interface Listed {
  groups: GroupDoc;
  segments: SegmentDoc;
  audiences: AudienceDoc;
  syncRuns: SyncRunDoc;
  auditEvents: AuditEventDoc;
}

const MODELS: { [K in keyof Listed]: Model<Listed[K]> } = {
  groups: Group,
  segments: Segment,
  audiences: Audience,
  syncRuns: SyncRun,
  auditEvents: AuditEvent,
};

export interface IdPageOptions {
  /** Page size: up to this many items are returned, plus whether there are more. */
  limit: number;
  /** The last `_id` of the previous page. */
  after?: string | null;
  /** Walk ids downwards (ids are time-ordered ObjectIds: newest first). */
  newestFirst?: boolean;
}

/**
 * One page of an entity's documents matching field equalities (e.g. `{orgId, connectionId}`), in `_id` order (keyset
 * pagination: stable under concurrent writes, O(page) with the primary index).
 */
export async function pageById<K extends keyof Listed>(
  kind: K,
  where: Partial<Record<keyof Listed[K] & string, string>>,
  opts: IdPageOptions,
): Promise<{ items: Listed[K][]; more: boolean }> {
  const filter: Record<string, unknown> = { ...where };
  if (opts.after) filter._id = { [opts.newestFirst ? '$lt' : '$gt']: opts.after };
  const model = MODELS[kind] as unknown as Model<Listed[K]>;
  const docs = await model
    .find(filter)
    .sort({ _id: opts.newestFirst ? -1 : 1 })
    .limit(opts.limit + 1)
    .lean<Listed[K][]>()
    .exec();
  const more = docs.length > opts.limit;
  return { items: more ? docs.slice(0, opts.limit) : docs, more };
}
