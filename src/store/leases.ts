import { isDuplicateKeyError } from './errors';
import { Lease, type LeaseDoc } from './models';

/**
 * Leases: at most one holder of a name at a time across every process sharing the store (e.g. one HRIS sync per
 * connection). A lease is claimed with a compare-and-set (free, expired, or already ours), kept alive by heartbeats,
 * and expires on its own when its holder stops (a crash): the next claimant then starts clean.
 */

export interface LeaseInfo {
  holder: string;
  acquiredAt: Date;
  heartbeatAt: Date;
  expiresAt: Date;
}

/** Claims `name` for `holder` for `ttlMs`; false when someone else holds an unexpired lease. */
export async function acquireLease(name: string, holder: string, ttlMs: number, now = new Date()): Promise<boolean> {
  const expiresAt = new Date(now.getTime() + ttlMs);
  try {
    const doc = (await Lease.findOneAndUpdate(
      { _id: name, $or: [{ expiresAt: { $lte: now } }, { holder }] },
      { $set: { holder, acquiredAt: now, heartbeatAt: now, expiresAt } },
      { upsert: true, returnDocument: 'after' },
    )
      .lean()
      .exec()) as LeaseDoc | null;
    return doc?.holder === holder;
  } catch (err) {
    // The filter did not match an existing lease (held by another, unexpired): the upsert collided with it.
    if (isDuplicateKeyError(err)) return false;
    throw err;
  }
}

/** Extends a lease its holder still has; false when it was lost (expired and claimed by another, or released). */
export async function renewLease(name: string, holder: string, ttlMs: number, now = new Date()): Promise<boolean> {
  const res = await Lease.updateOne(
    { _id: name, holder },
    { $set: { heartbeatAt: now, expiresAt: new Date(now.getTime() + ttlMs) } },
  ).exec();
  return res.matchedCount > 0;
}

/** Gives a lease up (only its holder can). */
export async function releaseLease(name: string, holder: string): Promise<void> {
  await Lease.deleteOne({ _id: name, holder }).exec();
}

/** The current holder of a lease, or null when it is free or expired. */
export async function readLease(name: string, now = new Date()): Promise<LeaseInfo | null> {
  const doc = (await Lease.findOne({ _id: name }).lean().exec()) as LeaseDoc | null;
  if (!doc || doc.expiresAt.getTime() <= now.getTime()) return null;
  return { holder: doc.holder, acquiredAt: doc.acquiredAt, heartbeatAt: doc.heartbeatAt, expiresAt: doc.expiresAt };
}
