import { DEFAULT_PRIORITY } from './connectionTypes';
import type { MergeSettings } from './derive';
import { Connection, Organization } from './models';

/** Loads what the merge needs to know about an organization (priority, connections' attribute sets). */
export async function loadMergeSettings(orgId: string): Promise<MergeSettings> {
  const [org, connections] = await Promise.all([
    Organization.findOne({ _id: orgId }).lean().exec(),
    Connection.find({ orgId }, { type: 1, extendedAttributes: 1, createdAt: 1 }).lean().exec(),
  ]);
  const sorted = [...connections].sort(
    (a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) || (a._id < b._id ? -1 : 1),
  );
  return {
    priority: org?.attributePriority?.length ? org.attributePriority : DEFAULT_PRIORITY,
    connections: new Map(sorted.map((c, i) => [c._id, { type: c.type, extendedAttributes: Boolean(c.extendedAttributes), rank: i }])),
  };
}
