import type { Attributes } from './attributes';
import { sourcesOf } from './derive';
import type { Contribution, RecipientDoc, StoredRecipient } from './models';
import { stableJson } from './stableJson';

/**
 * Recipients between their stored form and the form the code works with (models/recipient.ts says what is left out
 * of the store and why). Every read of the `recipients` collection goes through `fromStored`, every write through
 * `toStored`.
 */

/**
 * A contribution as stored inside the recipient it belongs to (issue #15, storage per recipient). What the recipient
 * already holds is named, not copied a second time:
 * - `k`: the record's key, the source id being `${cid}:${k}` (`i`: the whole id, were it ever of another form);
 * - `a`, `d`, `e`, `g` only where they differ from true, false, the recipient's email and no groups;
 * - attributes equal to the recipient's own are named (`m`: these of the recipient's; `n`: all of the recipient's but
 *   these; neither: all of them), the others are held in `x`.
 * Decoding needs the recipient's email and attributes as stored with it: `toStored` writes the three together, and
 * nothing else writes recipients. Contributions written by earlier versions (`sid`, `at`, every field) read as they are.
 */
interface StoredContribution {
  k?: string;
  i?: string;
  cid: string;
  ct: string;
  s: number;
  a?: boolean;
  d?: boolean;
  e?: string | null;
  g?: string[];
  m?: string[];
  n?: string[];
  x?: Attributes;
}

type Base = Pick<StoredRecipient, 'email' | 'attributes'>;

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return stableJson(a) === stableJson(b);
}

function encodeContribution(c: Contribution, base: Base): StoredContribution {
  const held = base.attributes as Record<string, unknown>;
  const out: StoredContribution = c.sid.startsWith(`${c.cid}:`)
    ? { k: c.sid.slice(c.cid.length + 1), cid: c.cid, ct: c.ct, s: c.s }
    : { i: c.sid, cid: c.cid, ct: c.ct, s: c.s };
  if (!c.a) out.a = false;
  if (c.d) out.d = true;
  if (c.e !== base.email) out.e = c.e;
  if (c.g.length) out.g = c.g;
  const equal = new Set<string>();
  const x: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(c.at)) {
    if (value === undefined) continue;
    if (Object.hasOwn(held, name) && sameValue(value, held[name])) equal.add(name);
    else x[name] = value;
  }
  const heldNames = Object.keys(held).filter((name) => held[name] !== undefined);
  if (equal.size < heldNames.length) {
    const named = [...equal];
    const others = heldNames.filter((name) => !equal.has(name));
    if (named.join().length <= others.join().length) out.m = named;
    else out.n = others;
  }
  if (Object.keys(x).length) out.x = x;
  return out;
}

function decodeContribution(c: StoredContribution | Contribution, base: Base): Contribution {
  if ('sid' in c) return c; // written by an earlier version: whole
  const held = (base.attributes ?? {}) as Record<string, unknown>;
  const names = c.m ?? Object.keys(held).filter((name) => !(c.n ?? []).includes(name));
  const at = Object.fromEntries([
    ...names.filter((name) => held[name] !== undefined).map((name) => [name, copyOf(held[name])] as const),
    ...Object.entries(c.x ?? {}),
  ]) as Attributes;
  return {
    sid: c.i ?? `${c.cid}:${c.k}`,
    cid: c.cid,
    ct: c.ct,
    a: c.a ?? true,
    d: c.d ?? false,
    s: c.s,
    e: c.e === undefined ? base.email : c.e,
    at,
    g: c.g ?? [],
  };
}

/** A value held once by the recipient, copied so that no contribution shares an object (custom fields) with it. */
function copyOf(v: unknown): unknown {
  return v && typeof v === 'object' ? { ...v } : v;
}

/** The contributions of a stored recipient (of this version or an earlier one). */
export function storedContributions(s: Pick<StoredRecipient, 'contribs' | 'email' | 'attributes'>): Contribution[] {
  if (s.contribs === undefined) return [];
  const list = typeof s.contribs === 'string' ? (JSON.parse(s.contribs) as (StoredContribution | Contribution)[]) : s.contribs;
  return list.map((c) => decodeContribution(c, s));
}

/** Contributions as `toStored` stores them beside this email and these attributes. */
export function encodeContributions(contribs: readonly Contribution[], email: string, attributes: Attributes): string {
  const base = { email, attributes };
  return JSON.stringify(contribs.map((c) => encodeContribution(c, base)));
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
  const contribs = storedContributions(s);
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
    contribs: encodeContributions(d.contribs, d.email, d.attributes),
    v: d.v,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
  if (d.emailDisplay !== d.email) s.emailDisplay = d.emailDisplay;
  if (d.ev !== undefined) s.ev = d.ev;
  return s;
}
