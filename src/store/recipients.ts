import type { MongoQuery } from '../filter';
import { Recipient, type RecipientDoc, type StoredRecipient } from './models';
import { fromStored, shownFields } from './recipientDocs';

/** One recipient by id (`${orgId}:${email}`; callers check the organization and `listed`), or null. */
export async function getRecipient(id: string): Promise<RecipientDoc | null> {
  const doc = await Recipient.findOne({ _id: id }).lean<StoredRecipient>().exec();
  return doc ? fromStored(doc) : null;
}

/** How many recipients match a query (from audienceQuery, segmentQuery, ...). */
export async function countRecipients(query: MongoQuery): Promise<number> {
  return Recipient.countDocuments(query).exec();
}

/** The first `n` recipients matching a query, in `_id` order. */
export async function sampleRecipients(query: MongoQuery, n: number): Promise<RecipientDoc[]> {
  if (n <= 0) return [];
  const docs = await Recipient.find(query).sort({ _id: 1 }).limit(n).lean<StoredRecipient[]>().exec();
  return docs.map(fromStored);
}

/** The fields of a recipient an export needs. */
export type ExportedRecipient = Pick<RecipientDoc, '_id' | 'email' | 'emailDisplay' | 'firstName' | 'lastName' | 'attributes'>;
// The names are the attributes' first_name and last_name; a display form is stored only where it differs from `email`.
const EXPORT_PROJECTION = { email: 1, emailDisplay: 1, attributes: 1 };

/**
 * The recipients of an export, straight from the driver with only the exported fields (the embedded contributions are
 * the bulk of a recipient document). No sort: an export is a set, and sorting a large audience costs the server memory.
 */
export async function* exportRecipients(query: MongoQuery, batchSize = 2000): AsyncGenerator<ExportedRecipient> {
  const cursor = Recipient.collection.find<Pick<StoredRecipient, '_id' | 'email' | 'emailDisplay' | 'attributes'>>(query, {
    projection: EXPORT_PROJECTION,
    batchSize,
  });
  try {
    for await (const doc of cursor) yield { _id: doc._id, email: doc.email, ...shownFields(doc) };
  } finally {
    await cursor.close();
  }
}
