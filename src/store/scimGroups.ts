import type { Collection } from 'mongodb';
import { invalidateAudienceMatchers } from './audienceCache';
import { findByIds } from './batchRead';
import { recordGroupEvent } from './events';
import type { MongoQuery } from '../filter';
import { applySourceChanges, type ConnectionRef, type SourceChange } from './merge';
import { Group, inSomeGroup, SourceRecord, type GroupDoc, type SourceRecordDoc } from './models';
import { sourceRecordId } from './ids';
import { findSourceRecord } from './sourceRecords';

/**
 * Storage of SCIM groups. A group's person members live on the members' source records (`groups`), nested groups on
 * the group (`memberGroups`). The protocol (resources, PATCH, filters, errors) is src/scim/groups.ts.
 */

/** Membership changes go to the merge in batches of this many people. */
const MEMBER_BATCH = 2000;

/** A SCIM group as stored: the group plus the members' `display` values the provider sent. */
export type ScimGroupDoc = GroupDoc & { memberDisplay?: { v: string; d: string }[] };

function groups(): Collection<ScimGroupDoc> {
  return Group.collection as unknown as Collection<ScimGroupDoc>;
}

/*
 * Group writes without transactions (FerretDB v1 has none). A write touches the group document and then many source
 * records. To leave nothing half-written after a crash or a store outage between the two, the write stores its intent
 * in the same insert/replaceOne that changes the group (`pendingMembers`, or `deleting` for a DELETE, with
 * `pendingSince` for the sweep), applies it, then clears it with an update conditional on the group's `v` (a later
 * write carries its own intent). Whoever next reads the group (readScimGroup, listings) or the store's recovery sweep
 * (sweepStore) finishes an intent left behind. Applying is idempotent (`groups` ops add or remove one group id), so
 * finishing an intent twice is harmless.
 */

type Intent = Pick<ScimGroupDoc, '_id' | 'orgId' | 'connectionId' | 'v' | 'pendingMembers' | 'deleting' | 'pendingSince'>;

/** People whose membership of a group a write changes. */
export interface MemberChange {
  add: string[];
  remove: string[];
  /**
   * Records of some of these people as the caller has just read them (`liveScimUsers`), so that the merge does not
   * read them again. Used only by the write that carries them, never by a later finish of its intent.
   */
  known?: ScimUserRecords;
}

function hasIntent(g: Intent): boolean {
  return Boolean(g.pendingSince || g.pendingMembers || g.deleting);
}

export function withoutIntent(g: ScimGroupDoc): ScimGroupDoc {
  const { pendingMembers: _p, deleting: _d, pendingSince: _s, ...rest } = g;
  return rest;
}

/** The intent stored with a write that changes these people's membership (none when it changes no person). */
function intentOf(members: MemberChange, now: Date): Pick<ScimGroupDoc, 'pendingMembers' | 'pendingSince'> {
  if (!members.add.length && !members.remove.length) return {};
  return { pendingMembers: { add: members.add, remove: members.remove }, pendingSince: now };
}

/** Adds the group to / removes it from these people's source records, in batches. */
async function applyUserMembers(
  g: Pick<GroupDoc, '_id' | 'orgId' | 'connectionId'>,
  add: string[],
  remove: string[],
  known?: ScimUserRecords,
): Promise<void> {
  const conn = { _id: g.connectionId, orgId: g.orgId, type: 'scim' };
  const changes: SourceChange[] = [
    ...add.map((key) => ({ op: 'groups' as const, key, add: [g._id] })),
    ...remove.map((key) => ({ op: 'groups' as const, key, remove: [g._id] })),
  ];
  for (let i = 0; i < changes.length; i += MEMBER_BATCH) {
    await applySourceChanges(conn, changes.slice(i, i + MEMBER_BATCH), undefined, { known });
  }
}

/** Clears an applied intent, unless a later write (a new `v`) has replaced it with its own. */
async function clearIntent(id: string, v: number): Promise<void> {
  await groups().updateOne({ _id: id, v }, { $unset: { pendingMembers: '', deleting: '', pendingSince: '' } });
}

/** Removes a group marked `deleting`: its people, its place in parent groups, then the document itself. */
async function finishDelete(g: Intent): Promise<void> {
  await applyUserMembers(g, [], await scimGroupUserKeys(g.connectionId, g._id));
  await Group.updateMany({ connectionId: g.connectionId, memberGroups: g._id }, { $pull: { memberGroups: g._id }, $inc: { v: 1 } }).exec();
  const gone = await groups().deleteOne({ _id: g._id });
  invalidateAudienceMatchers(g.orgId);
  if (gone.deletedCount) await recordGroupEvent(g.orgId, g.connectionId, g._id, 'deleted');
}

/** Finishes the intent a write left on the group; returns the group as it now stands, or null once it is deleted. */
async function finishIntent(g: ScimGroupDoc, known?: ScimUserRecords): Promise<ScimGroupDoc | null> {
  if (g.deleting) {
    await finishDelete(g);
    return null;
  }
  if (g.pendingMembers) await applyUserMembers(g, g.pendingMembers.add ?? [], g.pendingMembers.remove ?? [], known);
  await clearIntent(g._id, g.v);
  return withoutIntent(g);
}

/** Finishes every intent left pending on groups matching `scope` (e.g. one connection's); returns how many. */
async function finishPending(scope: Record<string, unknown>): Promise<number> {
  const left = await groups()
    .find({ pendingSince: { $exists: true }, ...scope })
    .toArray();
  for (const g of left) await finishIntent(g);
  return left.length;
}

/**
 * Finishes the group writes a stopped process (a crash, a store outage) left half-done: all of them with age 0, else
 * those pending for longer than `olderThanMs` (another process's crash). Finishing a write that is still in flight is
 * harmless: applying an intent is idempotent. Returns how many were finished. Part of sweepStore.
 */
export async function finishPendingGroupWrites(olderThanMs = 0): Promise<number> {
  return finishPending(olderThanMs > 0 ? { pendingSince: { $lt: new Date(Date.now() - olderThanMs) } } : {});
}

/** Finishes the writes left half-done on one connection's groups (before a listing or a filter reads them). */
export async function finishPendingScimGroups(conn: ConnectionRef): Promise<number> {
  return finishPending({ connectionId: conn._id, orgId: conn.orgId });
}

/** A group of this connection as its last write left it (an intent left behind is finished first), or null. */
export async function readScimGroup(conn: ConnectionRef, id: string): Promise<ScimGroupDoc | null> {
  const g = await groups().findOne({ _id: id });
  if (!g || g.connectionId !== conn._id || g.orgId !== conn.orgId) return null;
  if (!hasIntent(g)) return g;
  return finishIntent(g);
}

/** The live source records naming any of these groups, as a query the group index (`records_group_members`) answers. */
export function groupMembersQuery(connectionId: string, groupIds: string[]): Record<string, unknown> {
  return { connectionId, groups: groupIds.length === 1 ? groupIds[0] : { $in: groupIds }, ...inSomeGroup, deleted: false };
}

/** Person members are the live source records naming the group. */
export async function scimGroupUserKeys(connectionId: string, groupId: string): Promise<string[]> {
  const docs = await SourceRecord.find(groupMembersQuery(connectionId, [groupId]), { key: 1 })
    .lean()
    .exec();
  return docs.map((d) => d.key);
}

/** The ids of a connection's groups (a connection has few groups: member values are classified against all). */
export async function scimGroupIds(conn: ConnectionRef): Promise<Set<string>> {
  return new Set((await Group.find({ connectionId: conn._id }, { _id: 1 }).lean().exec()).map((g) => g._id));
}

/** Source records of live users, by SCIM id. */
export type ScimUserRecords = Map<string, SourceRecordDoc>;

/**
 * Which of these keys are live users of the connection, with their records (batched `_id` reads): a group write
 * hands them to the merge (`MemberChange.known`), which then does not read them a second time.
 */
export async function liveScimUsers(conn: ConnectionRef, keys: string[]): Promise<ScimUserRecords> {
  const found = await findByIds(
    SourceRecord,
    keys.map((k) => sourceRecordId(conn._id, k)),
  );
  return new Map([...found.values()].filter((r) => !r.deleted).map((r) => [r.key, r]));
}

/** A person member of a group: the SCIM id and the resource as received (for its name). */
export type ScimGroupUser = Pick<SourceRecordDoc, 'key' | 'raw'>;

/** The members of a page of groups, whatever their number: one read of people for the whole page, one of nested groups. */
export interface ScimGroupMembers {
  users: Map<string, ScimGroupUser[]>;
  nested: Map<string, GroupDoc>;
}

/**
 * The person members of several groups in one query (`groups: {$in: page}`) rather than one per group, and the
 * groups nested in them in one batched `_id` read (findByIds: `$in` where the store serves it from the index).
 */
export async function scimGroupMembers(conn: ConnectionRef, page: Pick<GroupDoc, '_id' | 'memberGroups'>[]): Promise<ScimGroupMembers> {
  const ids = page.map((g) => g._id);
  const users = new Map<string, ScimGroupUser[]>(ids.map((id) => [id, []]));
  if (!ids.length) return { users, nested: new Map() };
  const [records, nested] = await Promise.all([
    SourceRecord.find(groupMembersQuery(conn._id, ids), { key: 1, raw: 1, groups: 1 }).lean().exec(),
    findByIds(
      Group,
      page.flatMap((g) => g.memberGroups ?? []),
      { displayName: 1 },
    ),
  ]);
  for (const r of records) {
    for (const g of r.groups ?? []) users.get(g)?.push({ key: r.key, raw: r.raw });
  }
  return { users, nested };
}

/** Creates a group, and gives these people its membership (stored with the group as its intent, then applied). */
export async function insertScimGroup(doc: ScimGroupDoc, members: MemberChange): Promise<void> {
  const intent = intentOf(members, doc.createdAt);
  await groups().insertOne({ ...doc, ...intent });
  // group.created before the member_added events its membership writes: a feed reader meets the group first.
  await recordGroupEvent(doc.orgId, doc.connectionId, doc._id, 'created', { displayName: doc.displayName });
  if (doc.memberGroups.length) invalidateAudienceMatchers(doc.orgId);
  if (intent.pendingMembers) await finishIntent({ ...doc, ...intent }, members.known);
}

/**
 * Replaces a group written at version `prevV` (false when another write got there first: nothing is changed), and
 * changes these people's membership the same way as insertScimGroup.
 */
export async function replaceScimGroup(prevV: number, next: ScimGroupDoc, members: MemberChange): Promise<boolean> {
  const intent = intentOf(members, next.updatedAt);
  const res = await groups().replaceOne({ _id: next._id, v: prevV }, { ...withoutIntent(next), ...intent });
  if (res.matchedCount !== 1) return false;
  // Nesting may have changed: audiences including a parent group match other people now.
  invalidateAudienceMatchers(next.orgId);
  if (intent.pendingMembers) await finishIntent({ ...next, ...intent }, members.known);
  return true;
}

/**
 * Deletes a group: marked first (from then on it reads as absent, and whoever reads it next finishes the delete), then
 * its people, its place in parent groups and the document. `ifVersion`: only the group at that version. False when
 * there was no such group to mark.
 */
export async function deleteScimGroup(g: ScimGroupDoc, ifVersion?: number): Promise<boolean> {
  const marked = await groups().updateOne(ifVersion !== undefined ? { _id: g._id, v: ifVersion } : { _id: g._id }, {
    $set: { deleting: true, pendingSince: new Date() },
  });
  if (marked.matchedCount !== 1) return false;
  await finishDelete(g);
  return true;
}

/** The groups a person is a direct member of (none for a deleted or unknown person). */
export async function scimGroupsOfUser(conn: ConnectionRef, userKey: string): Promise<string[]> {
  const rec = await findSourceRecord(conn._id, userKey);
  return rec && !rec.deleted ? rec.groups : [];
}

/** A page of a connection's groups matching a query (not those being deleted), with the total. */
export async function searchScimGroups(
  conn: ConnectionRef,
  query: MongoQuery | undefined,
  page: { sort: Record<string, 1 | -1>; skip: number; limit: number },
): Promise<{ total: number; docs: ScimGroupDoc[] }> {
  // A DELETE under way is not listed.
  const visible = { connectionId: conn._id, orgId: conn.orgId, deleting: { $ne: true } };
  const q = query ? { ...visible, $and: [query] } : visible;
  const [total, docs] = await Promise.all([
    Group.countDocuments(q).exec(),
    page.limit === 0 ? Promise.resolve([]) : Group.find(q).sort(page.sort).skip(page.skip).limit(page.limit).lean<ScimGroupDoc[]>().exec(),
  ]);
  return { total, docs };
}
