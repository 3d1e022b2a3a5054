import { remergeConnection } from './merge';
import { Connection, Organization } from './models';

/*
 * A settings change that alters what people's recipients should say (an organization's attribute priority, a
 * directory's extended attributes) owes a re-merge of those people. The change records the debt (`remergeSince`) in the
 * same write as the setting; the re-merge runs after the caller answered (a background job), and clears the debt when
 * done unless a later change recorded a newer one. A re-merge a stopped process never finished is run by sweepStore.
 * Re-merging is idempotent, so running one twice (the sweep beside a slow job) only costs time.
 */

/** Re-derives every person of an organization. */
export async function remergeOrganization(orgId: string): Promise<void> {
  const conns = await Connection.find({ orgId }, { _id: 1 }).lean().exec();
  for (const c of conns) await remergeConnection(orgId, c._id);
}

/** Runs the re-merge an organization's settings change owes (recorded at `since`), then clears the debt. */
export async function payOrganizationRemerge(orgId: string, since: Date): Promise<void> {
  await remergeOrganization(orgId);
  await Organization.updateOne({ _id: orgId, remergeSince: since }, { $unset: { remergeSince: '' } }).exec();
}

/** Runs the re-merge a connection's settings change owes (recorded at `since`), then clears the debt. */
export async function payConnectionRemerge(orgId: string, connectionId: string, since: Date): Promise<void> {
  await remergeConnection(orgId, connectionId);
  await Connection.updateOne({ _id: connectionId, remergeSince: since }, { $unset: { remergeSince: '' } }).exec();
}

/** Runs the re-merges owed for longer than `olderThanMs` (0: all); returns how many. Part of sweepStore. */
export async function finishOwedRemerges(olderThanMs = 0): Promise<number> {
  const owed = { remergeSince: { $lte: new Date(Date.now() - olderThanMs) } };
  const [orgs, conns] = await Promise.all([
    Organization.find(owed, { remergeSince: 1 }).lean().exec(),
    Connection.find({ ...owed, deleting: { $ne: true } }, { orgId: 1, remergeSince: 1 })
      .lean()
      .exec(),
  ]);
  for (const o of orgs) if (o.remergeSince) await payOrganizationRemerge(o._id, o.remergeSince);
  // A connection whose organization was just re-merged whole needs nothing more.
  const done = new Set(orgs.map((o) => o._id));
  for (const c of conns) {
    if (!c.remergeSince) continue;
    if (done.has(c.orgId))
      await Connection.updateOne({ _id: c._id, remergeSince: c.remergeSince }, { $unset: { remergeSince: '' } }).exec();
    else await payConnectionRemerge(c.orgId, c._id, c.remergeSince);
  }
  return orgs.length + conns.length;
}
