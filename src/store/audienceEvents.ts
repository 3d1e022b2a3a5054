import sift from 'sift';
import { findByIds } from './batchRead';
import { segmentQuery } from './audiences';
import { readEvents, recipientEventKey, type EventDraft } from './events';
import { findSegments } from './segments';
import { stableJson } from './stableJson';
import type { MongoQuery } from '../filter';
import { Audience, Group, type AudienceDoc, type AudienceSelection, type RecipientDoc } from './models';
import { cachedAudienceMatchers } from './audienceCache';

/**
 * Audience membership is derived, so its events are computed: for every recipient a merge writes, each audience of
 * the organization is evaluated on the recipient before and after (the query the full resolution runs, matched in
 * memory with `sift`), and a difference is an `audience.recipient_entered` / `recipient_left` event. A recipient
 * whose write changes none of the fields an audience's query names is not evaluated again for it.
 * What is not a recipient write (an audience or segment edited, a group nested in another) emits none.
 */
export type AudienceMatcher = {
  id: string;
  match: (r: RecipientDoc) => boolean;
  /** The recipient fields (dotted paths) the query reads; null: any field may matter. */
  fields: string[] | null;
};

/** The field paths a query reads (operators walked into); null when it has an operator that may read any field. */
function queryFields(q: unknown, out = new Set<string>()): Set<string> | null {
  if (Array.isArray(q)) {
    for (const x of q) if (!queryFields(x, out)) return null;
    return out;
  }
  if (!q || typeof q !== 'object') return out;
  for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
    if (k === '$where' || k === '$expr' || k === '$text' || k === '$function') return null;
    if (k.startsWith('$')) {
      if (!queryFields(v, out)) return null;
    } else out.add(k);
  }
  return out;
}

/**
 * Group ids closed under nesting (the same expansion as `expandGroups` in audiences.ts), for many selections with one
 * batched `_id` read per level of nesting instead of one expansion per audience.
 */
async function groupExpander(orgId: string, roots: string[]): Promise<(ids: string[]) => string[]> {
  const children = new Map<string, string[]>();
  let frontier = [...new Set(roots)];
  while (frontier.length) {
    const docs = await findByIds(Group, frontier, { orgId: 1, memberGroups: 1 });
    const next = new Set<string>();
    for (const id of frontier) {
      const g = docs.get(id);
      const kids = g && g.orgId === orgId ? (g.memberGroups ?? []) : [];
      children.set(id, kids);
      for (const c of kids) if (!children.has(c)) next.add(c);
    }
    frontier = [...next].filter((id) => !children.has(id));
  }
  return (ids) => {
    const seen = new Set<string>();
    const stack = [...ids];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const c of children.get(id) ?? []) stack.push(c);
    }
    return [...seen];
  };
}

/**
 * The matchers of an organization's audiences: per merge batch, one read of the audiences, one of their segments and
 * one per level of group nesting, whatever the number of audiences (none when the organization has no audience).
 * Each query is the one `audienceQuery` (audiences.ts) builds for the full resolution.
 */
export async function loadAudienceMatchers(orgId: string): Promise<AudienceMatcher[]> {
  const audiences = (await Audience.find({ orgId }, { include: 1, exclude: 1 }).lean().exec()) as Pick<
    AudienceDoc,
    '_id' | 'include' | 'exclude'
  >[];
  if (!audiences.length) return [];
  const sels = audiences.flatMap((a) => [a.include, a.exclude]);
  const segments = await findSegments([...new Set(sels.flatMap((x) => x.segments))], { orgId: 1, filter: 1 });
  const expand = await groupExpander(
    orgId,
    sels.flatMap((x) => x.groups),
  );
  const clauses = (sel: AudienceSelection): MongoQuery[] => {
    const out: MongoQuery[] = [];
    if (sel.groups.length) out.push({ groups: { $in: expand(sel.groups) } });
    for (const segId of sel.segments) {
      const seg = segments.get(segId);
      if (!seg || seg.orgId !== orgId) throw new Error(`segment ${segId} does not exist`);
      out.push(segmentQuery(seg.filter));
    }
    if (sel.recipients.length) out.push({ _id: { $in: sel.recipients } });
    return out;
  };
  const out: AudienceMatcher[] = [];
  for (const a of audiences) {
    try {
      const inc = clauses(a.include);
      const exc = clauses(a.exclude);
      const q: MongoQuery = { orgId, listed: true, status: 'active' };
      q.$or = inc.length ? inc : [{ _id: { $in: [] } }];
      if (exc.length) q.$nor = exc;
      const test = sift(q);
      const fields = queryFields(q);
      out.push({ id: a._id, match: (r) => test(r), fields: fields ? [...fields] : null });
    } catch {
      // An audience naming a segment that no longer resolves has no members to enter or leave.
    }
  }
  return out;
}

function valueAt(doc: unknown, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('.')) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** True when a field the matcher reads differs between the two states. */
function touches(m: AudienceMatcher, prev: RecipientDoc, next: RecipientDoc): boolean {
  if (!m.fields) return true;
  for (const f of m.fields) {
    const a = valueAt(prev, f);
    const b = valueAt(next, f);
    if (a !== b && stableJson(a ?? null) !== stableJson(b ?? null)) return true;
  }
  return false;
}

/** The matchers a merge evaluates, cached per organization (src/store/audienceCache.ts). */
export function audienceMatchersFor(orgId: string): Promise<AudienceMatcher[]> {
  return cachedAudienceMatchers(orgId, loadAudienceMatchers);
}

export function audienceEvents(
  matchers: AudienceMatcher[],
  prev: RecipientDoc | undefined,
  next: RecipientDoc | null,
  connectionId: string | null,
): EventDraft[] {
  if (!matchers.length) return [];
  const subject = (next ?? prev)?._id;
  const email = (next ?? prev)?.email;
  if (!subject) return [];
  const inc = (next ?? prev)!.createdAt.getTime();
  const at = next ? `${next.createdAt.getTime()}:${next.v}` : `${prev!.createdAt.getTime()}:gone`;
  const out: EventDraft[] = [];
  for (const m of matchers) {
    // Same incarnation, no field of the audience's query changed: its membership did not change either.
    if (prev && next && prev.createdAt.getTime() === next.createdAt.getTime() && !touches(m, prev, next)) continue;
    const was = prev ? m.match(prev) : false;
    const is = next ? m.match(next) : false;
    if (was === is) continue;
    const type = is ? 'audience.recipient_entered' : 'audience.recipient_left';
    out.push({
      key: recipientEventKey(subject, at, type, { audienceId: m.id }),
      type,
      connectionId,
      data: { audienceId: m.id, recipientId: subject, email },
      subject,
      inc,
    });
  }
  return out;
}

export interface AudienceChange {
  recipientId: string;
  email: string;
  change: 'entered' | 'left';
}

/**
 * Who entered and who left an audience between `after` and the returned cursor: the events of that range netted per
 * recipient (entered then left is no change). Applying the pages in order to the membership at `after` gives the
 * membership at the last cursor.
 */
export async function audienceChanges(
  orgId: string,
  audienceId: string,
  after: number,
  maxEvents = 5000,
): Promise<{ items: AudienceChange[]; cursor: number; more: boolean }> {
  const first = new Map<string, string>();
  const last = new Map<string, { type: string; email: string }>();
  let cursor = after;
  let more = true;
  let scanned = 0;
  while (more && scanned < maxEvents) {
    const page = await readEvents(orgId, { after: cursor, limit: 500, types: ['audience.recipient_entered', 'audience.recipient_left'] });
    for (const e of page.items) {
      scanned++;
      if (e.data.audienceId !== audienceId) continue;
      const rid = String(e.data.recipientId);
      if (!first.has(rid)) first.set(rid, e.type);
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- event data is stored JSON; email is a string when present
      last.set(rid, { type: e.type, email: String(e.data.email ?? '') });
    }
    cursor = page.cursor;
    more = page.more;
  }
  const items: AudienceChange[] = [];
  for (const [rid, l] of last) {
    const before = first.get(rid) === 'audience.recipient_left';
    const now = l.type === 'audience.recipient_entered';
    if (before !== now) items.push({ recipientId: rid, email: l.email, change: now ? 'entered' : 'left' });
  }
  items.sort((a, b) => (a.recipientId < b.recipientId ? -1 : a.recipientId > b.recipientId ? 1 : 0));
  return { items, cursor, more };
}

/** True when the audience exists in this organization. */
export async function audienceInOrg(orgId: string, audienceId: string): Promise<boolean> {
  return Boolean(await Audience.exists({ _id: audienceId, orgId }));
}
