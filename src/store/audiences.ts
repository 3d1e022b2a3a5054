import { invalidateAudienceMatchers } from './audienceCache';
import { findByIds } from './batchRead';
import { translateFilterText, FilterError, type MongoQuery } from '../filter';
import { recipientFieldResolver } from './recipientFields';
import {
  Audience,
  Group,
  Recipient,
  Segment,
  type AudienceDoc,
  type AudienceSelection,
  type RecipientDoc,
  type StoredRecipient,
} from './models';
import { fromStored } from './recipientDocs';

/**
 * Expands groups to themselves and every group nested in them, cycle-safe: one batched `_id` read per level of nesting
 * (findByIds: `$in` where the store serves it from the index), not one read per group.
 */
export async function expandGroups(orgId: string, groupIds: string[]): Promise<string[]> {
  const seen = new Set<string>();
  let frontier = [...new Set(groupIds)];
  while (frontier.length) {
    for (const id of frontier) seen.add(id);
    const docs = await findByIds(Group, frontier, { orgId: 1, memberGroups: 1 });
    const next = new Set<string>();
    for (const id of frontier) {
      const g = docs.get(id);
      if (!g || g.orgId !== orgId) continue;
      for (const child of g.memberGroups ?? []) if (!seen.has(child)) next.add(child);
    }
    frontier = [...next];
  }
  return [...seen];
}

/** Translates a segment's filter for recipients of one organization. */
export function segmentQuery(filter: string): MongoQuery {
  return translateFilterText(filter, recipientFieldResolver);
}

/** The listed recipients of an organization, optionally narrowed by a filter over recipient fields (SCIM syntax). */
export function listedRecipientsQuery(orgId: string, filter?: string): MongoQuery {
  const base = { orgId, listed: true };
  return filter ? { $and: [base, translateFilterText(filter, recipientFieldResolver)] } : base;
}

/** The listed recipients in a group or any group nested in it. */
export async function groupRecipientsQuery(orgId: string, groupId: string): Promise<MongoQuery> {
  return { orgId, listed: true, groups: { $in: await expandGroups(orgId, [groupId]) } };
}

async function selectionClauses(orgId: string, sel: AudienceSelection): Promise<MongoQuery[]> {
  const clauses: MongoQuery[] = [];
  if (sel.groups.length) clauses.push({ groups: { $in: await expandGroups(orgId, sel.groups) } });
  for (const segId of sel.segments) {
    const seg = await Segment.findOne({ _id: segId, orgId }).lean().exec();
    if (!seg) throw new FilterError(`segment ${segId} does not exist`);
    clauses.push(segmentQuery(seg.filter));
  }
  if (sel.recipients.length) clauses.push({ _id: { $in: sel.recipients } });
  return clauses;
}

/**
 * The query for an audience: groups ∪ segments ∪ individual recipients − exclusions, active recipients only, each
 * once (one query over recipients, so a person in several included sets appears once).
 */
export async function audienceQuery(orgId: string, include: AudienceSelection, exclude: AudienceSelection): Promise<MongoQuery> {
  const inc = await selectionClauses(orgId, include);
  const exc = await selectionClauses(orgId, exclude);
  const q: MongoQuery = { orgId, listed: true, status: 'active' };
  q.$or = inc.length ? inc : [{ _id: { $in: [] } }];
  if (exc.length) q.$nor = exc;
  return q;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursor pagination in `_id` order: stable under concurrent writes, O(page) with the primary index. */
export async function pageRecipients(query: MongoQuery, limit: number, cursor?: string | null): Promise<Page<RecipientDoc>> {
  const q = cursor ? { $and: [query, { _id: { $gt: cursor } }] } : query;
  const docs = (
    (await Recipient.find(q)
      .sort({ _id: 1 })
      .limit(limit + 1)
      .lean()
      .exec()) as StoredRecipient[]
  ).map(fromStored);
  const more = docs.length > limit;
  const items = more ? docs.slice(0, limit) : docs;
  return { items, nextCursor: more ? items[items.length - 1]!._id : null };
}

/** Streams every recipient matching a query in `_id` order, with bounded memory. */
export async function* streamRecipients(query: MongoQuery, batchSize = 1000): AsyncGenerator<RecipientDoc> {
  for await (const doc of Recipient.find(query).sort({ _id: 1 }).lean().batchSize(batchSize).cursor()) {
    yield fromStored(doc);
  }
}

/** One audience by id (callers check its organization), or null. */
export async function getAudience(id: string): Promise<AudienceDoc | null> {
  return Audience.findOne({ _id: id }).lean<AudienceDoc>().exec();
}

export async function createAudience(doc: AudienceDoc): Promise<AudienceDoc> {
  await Audience.create(doc);
  invalidateAudienceMatchers(doc.orgId);
  return doc;
}

export async function updateAudience(
  id: string,
  update: { name?: string; include?: AudienceSelection; exclude?: AudienceSelection },
): Promise<AudienceDoc | null> {
  const set: Partial<AudienceDoc> = { updatedAt: new Date() };
  if (update.name !== undefined) set.name = update.name;
  if (update.include) set.include = update.include;
  if (update.exclude) set.exclude = update.exclude;
  const doc = await Audience.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' }).lean<AudienceDoc>().exec();
  invalidateAudienceMatchers(doc?.orgId);
  return doc;
}

export async function deleteAudience(id: string): Promise<boolean> {
  const gone = (await Audience.deleteOne({ _id: id }).exec()).deletedCount === 1;
  invalidateAudienceMatchers();
  return gone;
}
