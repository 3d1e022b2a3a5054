import { sourcesOf } from './derive';
import type { Contribution, RecipientDoc, StoredRecipient } from './models';

/**
 * Recipients between their stored form and the form the code works with (models/recipient.ts says what is left out
 * of the store and why). Every read of the `recipients` collection goes through `fromStored`, every write through
 * `toStored`.
 */

export function contributionsOf(stored: StoredRecipient['contribs'] | undefined): Contribution[] {
  if (stored === undefined) return [];
  return typeof stored === 'string' ? (JSON.parse(stored) as Contribution[]) : stored;
}

/** The fields a recipient shows that its stored email and attributes carry (an export reads only those). */
export function shownFields(
  s: Pick<StoredRecipient, 'email' | 'emailDisplay' | 'attributes'>,
): Pick<RecipientDoc, 'emailDisplay' | 'firstName' | 'lastName' | 'attributes'> {
  const attributes = s.attributes ?? {};
  return {
    emailDisplay: s.emailDisplay ?? s.email,
    firstName: attributes.first_name ?? null,
    lastName: attributes.last_name ?? null,
    attributes,
  };
}

/** A stored recipient (of this version or an earlier one) as the code sees it. */
export function fromStored(s: StoredRecipient): RecipientDoc {
  const contribs = contributionsOf(s.contribs);
  const doc: RecipientDoc = {
    _id: s._id,
    orgId: s.orgId,
    email: s.email,
    listed: s.listed,
    status: s.status,
    ...shownFields(s),
    groups: s.groups ?? [],
    sources: sourcesOf(contribs),
    contribs,
    v: s.v,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
  if (s.ev !== undefined) doc.ev = s.ev;
  return doc;
}

/** What is stored of a recipient. */
export function toStored(d: RecipientDoc): StoredRecipient {
  const s: StoredRecipient = {
    _id: d._id,
    orgId: d.orgId,
    email: d.email,
    listed: d.listed,
    status: d.status,
    attributes: d.attributes,
    groups: d.groups,
    contribs: JSON.stringify(d.contribs),
    v: d.v,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
  if (d.emailDisplay !== d.email) s.emailDisplay = d.emailDisplay;
  if (d.ev !== undefined) s.ev = d.ev;
  return s;
}
