import { invalidateAudienceMatchers } from './audienceCache';
import { findByIds } from './batchRead';
import { segmentQuery } from './audiences';
import { newId } from './ids';
import { Audience, Segment, type SegmentDoc } from './models';

/** One segment by id (callers check its organization), or null. */
export async function getSegment(id: string): Promise<SegmentDoc | null> {
  return Segment.findOne({ _id: id }).lean<SegmentDoc>().exec();
}

/** Saves a segment; its filter is checked by the one translator first (a FilterError for a bad one). */
export async function createSegment(orgId: string, input: { name: string; filter: string }): Promise<SegmentDoc> {
  segmentQuery(input.filter);
  const now = new Date();
  const doc: SegmentDoc = { _id: newId(), orgId, name: input.name, filter: input.filter, createdAt: now, updatedAt: now };
  await Segment.create(doc);
  invalidateAudienceMatchers(orgId);
  return doc;
}

export async function updateSegment(id: string, update: { name?: string; filter?: string }): Promise<SegmentDoc | null> {
  if (update.filter !== undefined) segmentQuery(update.filter);
  const set: Partial<SegmentDoc> = { updatedAt: new Date() };
  if (update.name !== undefined) set.name = update.name;
  if (update.filter !== undefined) set.filter = update.filter;
  const doc = await Segment.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' }).lean<SegmentDoc>().exec();
  invalidateAudienceMatchers(doc?.orgId);
  return doc;
}

/** The audiences of an organization that include or exclude a segment. */
export async function audiencesUsingSegment(orgId: string, segmentId: string): Promise<string[]> {
  const audiences = await Audience.find({ orgId }, { include: 1, exclude: 1 }).lean().exec();
  return audiences.filter((a) => a.include?.segments?.includes(segmentId) || a.exclude?.segments?.includes(segmentId)).map((a) => a._id);
}

export async function deleteSegment(id: string): Promise<boolean> {
  const gone = (await Segment.deleteOne({ _id: id }).exec()).deletedCount === 1;
  invalidateAudienceMatchers();
  return gone;
}

/** Segments by id, in batched `_id` reads; missing ones are left out. */
export async function findSegments(ids: string[], projection?: Record<string, 0 | 1>): Promise<Map<string, SegmentDoc>> {
  return findByIds(Segment, ids, projection);
}
