import { Connection, createConnection, type ConnectionRef } from '../store';

/**
 * The organization's manual connection (individuals added one by one), created on first use. Two concurrent first
 * uses could each create one; every reader then settles on the oldest, so entries still land in one place.
 */
export async function ensureManualConnection(orgId: string, env: { publicUrl: string; secretKey: string }): Promise<ConnectionRef> {
  const find = async () => {
    const list = await Connection.find({ orgId, type: 'manual', deleting: { $ne: true } }, { _id: 1 }).lean().exec();
    list.sort((a, b) => (a._id < b._id ? -1 : 1));
    return list[0];
  };
  const existing = await find();
  if (existing) return { _id: existing._id, orgId, type: 'manual' };
  await createConnection({ orgId, type: 'manual', name: 'Manual entries' }, env);
  const created = await find();
  return { _id: created!._id, orgId, type: 'manual' };
}
