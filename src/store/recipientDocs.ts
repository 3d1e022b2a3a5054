import type { Contribution, RecipientDoc, StoredRecipient } from './models';

/**
 * Recipients between their stored form and the form the code works with (models/recipient.ts says what is left out
 * of the store and why). Every read of the `recipients` collection goes through `fromStored`, every write through
 * `toStored`.
 */

/** The live contributions, as the recipient's `sources` (the same list deriveRecipient makes). */
export function sourcesOf(contribs: readonly Contribution[]): RecipientDoc['sources'] {
  return contribs.filter((c) => !c.d).map((c) => ({ connectionId: c.cid, type: c.ct, active: c.a }));
}

export function contributionsOf(stored: StoredRecipient['contribs'] | undefined): Contribution[] {
  if (stored === undefined) return [];
  return typeof stored === 'string' ? (JSON.parse(stored) as Contribution[]) : stored;
}

/** A stored recipient (of this version or an earlier one) as the code sees it. */
export function fromStored(s: StoredRecipient): RecipientDoc {
  const contribs = contributionsOf(s.contribs);
  const doc: RecipientDoc = {
    _id: s._id,
    orgId: s.orgId,
    email: s.email,
    emailDisplay: s.emailDisplay ?? s.email,
    listed: s.listed,
    status: s.status,
    firstName: s.attributes?.first_name ?? null,
    lastName: s.attributes?.last_name ?? null,
    attributes: s.attributes ?? {},
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
