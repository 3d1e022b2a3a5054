import { createConnection } from './connections';
import { applySourceChanges, type ChangeOutcome, type ConnectionRef } from './merge';
import { Connection, type RecipientDoc } from './models';

/**
 * The organization's manual connection (individuals added one by one), created on first use. Two concurrent first
 * uses could each create one; every reader then settles on the oldest, so entries still land in one place.
 */
export async function ensureManualConnection(orgId: string, env: { publicUrl: string; secretKey: string }): Promise<ConnectionRef> {
  const find = async () => {
    const list = await Connection.find({ orgId, type: 'manual', deleting: { $ne: true } }, { _id: 1 })
      .lean()
      .exec();
    list.sort((a, b) => (a._id < b._id ? -1 : 1));
    return list[0];
  };
  const existing = await find();
  if (existing) return { _id: existing._id, orgId, type: 'manual' };
  await createConnection({ orgId, type: 'manual', name: 'Manual entries' }, env);
  const created = await find();
  if (!created) throw new Error('the manual connection just created cannot be read back');
  return { _id: created._id, orgId, type: 'manual' };
}

export interface ManualEntry {
  /** As entered; the person's key in the manual source is the normalized email. */
  email: string;
  key: string;
  attributes: Record<string, unknown>;
  /** What the administrator sent, kept as received. */
  raw: unknown;
}

/** Adds (or restates) one person in the organization's manual source; the outcome of the merge (`conflict`: retry). */
export async function addManualEntry(
  orgId: string,
  entry: ManualEntry,
  env: { publicUrl: string; secretKey: string },
): Promise<ChangeOutcome> {
  const conn = await ensureManualConnection(orgId, env);
  const [result] = await applySourceChanges(conn, [
    { op: 'upsert', key: entry.key, email: entry.email, active: true, attributes: entry.attributes, raw: entry.raw },
  ]);
  return result?.outcome ?? 'conflict';
}

/** Removes every manual entry behind a recipient (other sources keep them); false when there was none. */
export async function removeManualEntries(recipient: Pick<RecipientDoc, 'orgId' | 'contribs'>): Promise<boolean> {
  const manual = (recipient.contribs ?? []).filter((c) => c.ct === 'manual' && !c.d);
  for (const c of manual) {
    // The source record id is `${connectionId}:${key}`.
    await applySourceChanges({ _id: c.cid, orgId: recipient.orgId, type: 'manual' }, [
      { op: 'delete', key: c.sid.slice(c.cid.length + 1) },
    ]);
  }
  return manual.length > 0;
}
