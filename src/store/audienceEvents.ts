import sift from 'sift';
import { audienceQuery } from './audiences';
import { readEvents, type EventDraft } from './events';
import { cachedAudienceMatchers } from './audienceCache';
import { Audience, type AudienceDoc, type RecipientDoc } from './models';

/**
 * Audience membership is derived, so its events are computed: for every recipient a merge writes, each audience of
 * the organization is evaluated on the recipient before and after (the same query the full resolution runs, matched
 * in memory with `sift`), and a difference is an `audience.recipient_entered` / `recipient_left` event.
 * What is not a recipient write (an audience or segment edited, a group nested in another) emits none.
 */
export type AudienceMatcher = { id: string; match: (r: RecipientDoc) => boolean };

/** The matchers of an organization's audiences (one store pass per merge batch; none when it has no audience). */
export async function loadAudienceMatchers(orgId: string): Promise<AudienceMatcher[]> {
  const audiences = (await Audience.find({ orgId }, { include: 1, exclude: 1 }).lean().exec()) as Pick<
    AudienceDoc,
    '_id' | 'include' | 'exclude'
  >[];
  const out: AudienceMatcher[] = [];
  for (const a of audiences) {
    try {
      const test = sift(await audienceQuery(orgId, a.include, a.exclude));
      out.push({ id: a._id, match: (r) => test(r) });
    } catch {
      // An audience naming a segment that no longer resolves has no members to enter or leave.
    }
  }
  return out;
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
    const was = prev ? m.match(prev) : false;
    const is = next ? m.match(next) : false;
    if (was === is) continue;
    const type = is ? 'audience.recipient_entered' : 'audience.recipient_left';
    out.push({
      key: `audience:${m.id}:${subject}:${at}:${type}`,
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
