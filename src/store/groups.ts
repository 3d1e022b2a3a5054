import { findByIds } from './batchRead';
import { Group, type GroupDoc } from './models';

/** One group by id (callers check its organization), or null. */
export async function getGroup(id: string): Promise<GroupDoc | null> {
  return Group.findOne({ _id: id }).lean<GroupDoc>().exec();
}

/** Groups by id, in batched `_id` reads; missing ones are left out. */
export async function findGroups(ids: string[], projection?: Record<string, 0 | 1>): Promise<Map<string, GroupDoc>> {
  return findByIds(Group, ids, projection);
}
