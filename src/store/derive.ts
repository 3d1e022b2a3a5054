import { DIRECTORY_BASE_SET, FULL_ATTRIBUTE_SET, isEmptyValue, type Attributes } from './attributes';
import { isIdentitySource } from './connectionTypes';
import type { Contribution, RecipientStatus } from './models/recipient';

/** What the merge needs to know about an organization's connections. */
export interface MergeSettings {
  /** Connection types, highest priority first. */
  priority: readonly string[];
  connections: Map<string, { type: string; extendedAttributes: boolean; rank: number }>;
}

export interface DerivedRecipient {
  listed: boolean;
  status: RecipientStatus;
  emailDisplay: string | null;
  firstName: string | null;
  lastName: string | null;
  attributes: Attributes;
  groups: string[];
  sources: { connectionId: string; type: string; active: boolean }[];
}

/** The recipient's sources: its live contributions' connections (read from stored recipients too: recipientDocs.ts). */
export function sourcesOf(contribs: readonly Contribution[]): DerivedRecipient['sources'] {
  return contribs.filter((c) => !c.d).map((c) => ({ connectionId: c.cid, type: c.ct, active: c.a }));
}

/** Which attributes a contribution may speak for (SPEC §3.6). */
function allowedAttributes(c: Contribution, settings: MergeSettings): { names: readonly string[]; custom: boolean } {
  const conn = settings.connections.get(c.cid);
  if (c.ct === 'scim' && !conn?.extendedAttributes) return { names: DIRECTORY_BASE_SET, custom: false };
  return { names: FULL_ATTRIBUTE_SET, custom: true };
}

/**
 * The merge rules of SPEC §3, as one pure function from the contributions of every source record that names an email
 * to the recipient they make. Everything that writes recipients goes through this.
 */
export function deriveRecipient(contribs: readonly Contribution[], settings: MergeSettings): DerivedRecipient {
  const live = contribs.filter((c) => !c.d);

  // Status: the latest assertion of an identity source decides offboarding; ties go to inactive, so an
  // offboarding is never lost to an equal stamp.
  let latest: Contribution | undefined;
  for (const c of contribs) {
    if (!isIdentitySource(c.ct)) continue;
    if (!latest || c.s > latest.s || (c.s === latest.s && latest.a && !latest.d && (!c.a || c.d))) latest = c;
  }
  const offboarded = latest !== undefined && (!latest.a || latest.d);
  const status: RecipientStatus = offboarded ? 'offboarded' : live.some((c) => c.a) ? 'active' : 'inactive';

  const rankOf = (c: Contribution) => {
    const p = settings.priority.indexOf(c.ct);
    return p === -1 ? settings.priority.length : p;
  };
  const ordered = [...live].sort(
    (x, y) =>
      rankOf(x) - rankOf(y) ||
      (settings.connections.get(x.cid)?.rank ?? 0) - (settings.connections.get(y.cid)?.rank ?? 0) ||
      (x.cid < y.cid ? -1 : x.cid > y.cid ? 1 : 0) ||
      (x.sid < y.sid ? -1 : x.sid > y.sid ? 1 : 0),
  );

  const attributes: Attributes = {};
  const custom: Record<string, string> = {};
  let emailDisplay: string | null = null;
  for (const c of ordered) {
    if (emailDisplay === null && c.e) emailDisplay = c.e;
    const allowed = allowedAttributes(c, settings);
    for (const name of allowed.names) {
      const value = (c.at as Record<string, unknown>)[name];
      if ((attributes as Record<string, unknown>)[name] === undefined && !isEmptyValue(value)) {
        (attributes as Record<string, unknown>)[name] = value;
      }
    }
    if (allowed.custom && c.at.custom) {
      for (const [k, v] of Object.entries(c.at.custom)) {
        if (custom[k] === undefined && !isEmptyValue(v)) custom[k] = v;
      }
    }
  }
  if (Object.keys(custom).length) attributes.custom = custom;

  const groups = new Set<string>();
  for (const c of live) for (const g of c.g) groups.add(g);

  return {
    listed: live.length > 0,
    status,
    emailDisplay,
    firstName: attributes.first_name ?? null,
    lastName: attributes.last_name ?? null,
    attributes,
    groups: [...groups].sort(),
    sources: sourcesOf(live),
  };
}
