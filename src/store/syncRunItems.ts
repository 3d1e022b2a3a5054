import { SyncRunItem, type SyncRunItemDoc } from './models';

/** One page of a run's items (row errors or review list) in order, after the item `afterId` (exclusive). */
export async function syncRunItemPage(
  runId: string,
  kind: SyncRunItemDoc['kind'],
  afterId: string | null,
  limit: number,
): Promise<{ items: SyncRunItemDoc[]; lastId: string | null; more: boolean }> {
  const filter: Record<string, unknown> = { runId, kind };
  if (afterId) filter._id = { $gt: afterId };
  const docs = (await SyncRunItem.find(filter)
    .sort({ _id: 1 })
    .limit(limit + 1)
    .lean()
    .exec()) as SyncRunItemDoc[];
  const more = docs.length > limit;
  const items = more ? docs.slice(0, limit) : docs;
  return { items, lastId: items.length ? items[items.length - 1]!._id : null, more };
}

/** Every item of a run of one kind, in order, read page by page (for streaming downloads). */
export async function* syncRunItems(runId: string, kind: SyncRunItemDoc['kind'], pageSize = 1000): AsyncGenerator<SyncRunItemDoc> {
  let after: string | null = null;
  for (;;) {
    const page = await syncRunItemPage(runId, kind, after, pageSize);
    yield* page.items;
    if (!page.more) return;
    after = page.lastId;
  }
}

/** Drops a run's items (with the run, or when its list is replaced). */
export async function deleteSyncRunItems(runId: string, kind?: SyncRunItemDoc['kind']): Promise<void> {
  await SyncRunItem.deleteMany(kind ? { runId, kind } : { runId }).exec();
}
