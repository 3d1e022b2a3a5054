import { createHash } from 'node:crypto';
import { EVENT_GAP_GRACE_MS, appendBlocks, readBlocks, sweepBlocks, walkBack, type Packed } from './eventBlocks';
export { EVENT_APPEND_LINGER_MS, setEventAppendLinger, settleEventAppends } from './eventBlocks';
import { SyncRun, type EventDoc, type RecipientDoc } from './models';
import { stableJson } from './stableJson';

/** Every event type of the feed (SPEC §4 Events), plus the endpoint notice the webhook worker writes. */
export const EVENT_TYPES = [
  'recipient.created',
  'recipient.updated',
  'recipient.offboarded',
  'recipient.reactivated',
  'recipient.removed',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.member_added',
  'group.member_removed',
  'audience.recipient_entered',
  'audience.recipient_left',
  'sync_run.succeeded',
  'sync_run.failed',
  'sync_run.needs_review',
  'sync_run.applied',
  'sync_run.discarded',
  'connection.created',
  'connection.deleted',
  'connection.needs_reauth',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
const RECIPIENT_TYPES: string[] = EVENT_TYPES.filter((t) => t.startsWith('recipient.'));

/** An event before it has a cursor. `key` names the change (deterministic), the event id is derived from it. */
export interface EventDraft {
  key: string;
  type: EventType;
  connectionId: string | null;
  data: Record<string, unknown>;
  object?: Record<string, unknown> | null;
  subject?: string | null;
  inc?: number | null;
}

export {
  EVENT_GAP_GRACE_MS,
  EVENT_BLOCK_MAX,
  CURSOR_SPAN,
  EventCursorGoneError,
  headCursor,
  walkBack as walkEventsBack,
} from './eventBlocks';

let enabled = true;
/** Turns event writing off (benchmarks compare a merge with and without events). */
export function setEventsEnabled(on: boolean): void {
  enabled = on;
}
export function eventsEnabled(): boolean {
  return enabled;
}

let retentionDays = 30;
/** EVENT_RETENTION_DAYS: how long the feed keeps events. */
export function setEventRetentionDays(days: number): void {
  retentionDays = days;
}
export function eventRetentionDays(): number {
  return retentionDays;
}

type Listener = (count: number) => void;
const listeners: Listener[] = [];
/** Called with the number of events written (metrics). */
export function onEventsWritten(fn: Listener): void {
  listeners.push(fn);
}

export function eventId(orgId: string, key: string): string {
  return 'evt_' + createHash('sha256').update(`${orgId}\u0000${key}`, 'utf8').digest('base64url').slice(0, 27);
}

/**
 * Appends events of one organization in one insert (blocks of at most EVENT_BLOCK_MAX, src/store/eventBlocks.ts), in
 * the order given. Drafts whose id is in `skip` (ids already in the feed: a replay) are dropped first. `linger`: an
 * append nobody waits on (behind a response) may wait briefly for others to share its insert (EVENT_APPEND_LINGER_MS).
 * Returns how many were written.
 */
export async function appendEvents(
  orgId: string,
  drafts: EventDraft[],
  opts: { skip?: Set<string>; linger?: boolean } = {},
): Promise<number> {
  if (!enabled || drafts.length === 0) return 0;
  const seen = new Set<string>(opts.skip);
  const rows: Packed[] = [];
  for (const d of drafts) {
    const id = eventId(orgId, d.key);
    if (seen.has(id)) continue;
    seen.add(id);
    rows.push([id, d.type, d.connectionId, d.data, d.object ?? null, d.subject ?? null, d.inc ?? null]);
  }
  if (!rows.length) return 0;
  await appendBlocks(orgId, rows, { linger: opts.linger });
  for (const l of listeners) l(rows.length);
  return rows.length;
}

/** Appends one event (sync runs, connections, webhook endpoints). */
export async function recordEvent(orgId: string, draft: EventDraft): Promise<void> {
  await appendEvents(orgId, [draft]);
}

/** A connection was created, deleted or needs to be authorized again (the HRIS poller calls this for needs_reauth). */
export async function recordConnectionEvent(
  orgId: string,
  connectionId: string,
  kind: 'created' | 'deleted' | 'needs_reauth',
  data: { type?: string; name?: string; reason?: string } = {},
): Promise<void> {
  // needs_reauth may recur: one per occurrence (time in the key); created/deleted happen once per connection.
  const key = kind === 'needs_reauth' ? `connection:${connectionId}:needs_reauth:${Date.now()}` : `connection:${connectionId}:${kind}`;
  await recordEvent(orgId, { key, type: `connection.${kind}`, connectionId, data: { connectionId, ...data } });
}

export type SyncRunEventKind = 'succeeded' | 'failed' | 'needs_review' | 'applied' | 'discarded';

/** A sync run finished, was held for review, applied or discarded. */
export async function recordSyncRunEvent(
  orgId: string,
  connectionId: string,
  syncRunId: string,
  kind: SyncRunEventKind,
  data: Record<string, unknown> = {},
): Promise<void> {
  await recordEvent(orgId, { key: `sync_run:${syncRunId}:${kind}`, type: `sync_run.${kind}`, connectionId, data: { syncRunId, ...data } });
}

/** A group was created, renamed or deleted (the SCIM group writes call this). */
export async function recordGroupEvent(
  orgId: string,
  connectionId: string,
  groupId: string,
  kind: 'created' | 'updated' | 'deleted',
  data: { displayName?: string; version?: number } = {},
): Promise<void> {
  const key = `group:${groupId}:${kind}:${kind === 'updated' ? (data.version ?? Date.now()) : ''}`;
  await recordEvent(orgId, {
    key,
    type: `group.${kind}`,
    connectionId,
    data: { groupId, ...(data.displayName !== undefined ? { displayName: data.displayName } : {}) },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Recipient events, derived from the before/after states the merge computes.

function recipientObject(r: RecipientDoc): Record<string, unknown> {
  return {
    id: r._id,
    email: r.email,
    emailDisplay: r.emailDisplay,
    status: r.status,
    firstName: r.firstName,
    lastName: r.lastName,
    attributes: r.attributes,
    groups: r.groups,
  };
}

/** Names of the attributes that differ (custom fields as `custom.<name>`), sorted. */
export function changedAttributeNames(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const names = new Set<string>();
  const flat = (o: Record<string, unknown>) => {
    const m = new Map<string, string>();
    for (const [k, v] of Object.entries(o ?? {})) {
      if (k === 'custom' && v && typeof v === 'object') {
        for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) m.set(`custom.${ck}`, JSON.stringify(cv));
      } else m.set(k, JSON.stringify(v));
    }
    return m;
  };
  const fa = flat(a);
  const fb = flat(b);
  for (const [k, v] of fa) if (fb.get(k) !== v) names.add(k);
  for (const k of fb.keys()) if (!fa.has(k)) names.add(k);
  return [...names].sort();
}

/**
 * The key of a recipient's event: `at` names the version written (`${createdAt}:${v}`, or `${createdAt}:gone` for a
 * removal by deletion); group membership events add the group, audience events lead with the audience.
 */
export function recipientEventKey(subject: string, at: string, type: EventType, data: Record<string, unknown>): string {
  if (type.startsWith('audience.')) return `audience:${String(data.audienceId)}:${subject}:${at}:${type}`;
  return `recipient:${subject}:${at}:${type}${type.startsWith('group.') ? `:${String(data.groupId)}` : ''}`;
}

/**
 * The events of one recipient write: `prev` as read, `next` as written (null: the document is deleted). A recipient
 * is in the feed while it is listed; group membership changes of a listed recipient are `group.member_*` events of
 * its groups (the groups it is created with are in recipient.created's `groups`).
 */
export function recipientEvents(prev: RecipientDoc | undefined, next: RecipientDoc | null, connectionId: string | null): EventDraft[] {
  const was = prev?.listed ? prev : undefined;
  const now = next?.listed ? next : undefined;
  if (!was && !now) return [];
  const subject = (now ?? was)!._id;
  const email = (now ?? was)!.email;
  const inc = (now ?? was)!.createdAt.getTime();
  // Each written version of an incarnation is unique, so this key names exactly one change; a removal by deletion has
  // no version left to read back, so its key is the incarnation's end.
  const at = next ? `${next.createdAt.getTime()}:${next.v}` : `${inc}:gone`;
  const base = { recipientId: subject, email };
  const object = now ? recipientObject(now) : null;
  const out: EventDraft[] = [];
  // The full object rides on the recipient.* events only (group membership events name the group and the person).
  const ev = (type: EventType, data: Record<string, unknown>) =>
    out.push({
      key: recipientEventKey(subject, at, type, data),
      type,
      connectionId,
      data: { ...base, ...data },
      object: type.startsWith('recipient.') ? object : null,
      subject,
      inc,
    });

  if (!was && now) {
    // A new recipient's initial group memberships are in recipient.created's data (`groups`), not one
    // group.member_added each: group.member_* events are changes of an existing recipient's memberships.
    ev('recipient.created', { status: now.status, groups: now.groups });
    return out;
  }
  if (was && !now) {
    for (const g of was.groups) ev('group.member_removed', { groupId: g });
    ev('recipient.removed', {});
    return out;
  }
  const a = was!;
  const b = now!;
  if (a.status !== 'offboarded' && b.status === 'offboarded') ev('recipient.offboarded', {});
  else if (a.status === 'offboarded' && b.status !== 'offboarded') ev('recipient.reactivated', { status: b.status });
  const changed = changedAttributeNames(a.attributes, b.attributes);
  if (a.status !== b.status && a.status !== 'offboarded' && b.status !== 'offboarded') changed.push('status');
  if (a.emailDisplay !== b.emailDisplay) changed.push('emailDisplay');
  if (changed.length) ev('recipient.updated', { changed: changed.sort() });
  const ga = new Set(a.groups);
  const gb = new Set(b.groups);
  for (const g of b.groups) if (!ga.has(g)) ev('group.member_added', { groupId: g });
  for (const g of a.groups) if (!gb.has(g)) ev('group.member_removed', { groupId: g });
  return out;
}

/**
 * Journal replay: a merge that stopped after writing recipients but before appending their events left those
 * events only in the recipients (`ev`, written with the change). Re-appends them, and a removal of a recipient whose
 * document is gone when the feed's last word on it is not a removal. `since` is when the journal entry was written:
 * events of that merge already in the feed are written after it and are not appended again.
 */
export async function reemitRecipientEvents(
  orgId: string,
  current: Map<string, RecipientDoc>,
  ids: string[],
  since: Date,
): Promise<number> {
  const drafts: EventDraft[] = [];
  const gone = new Set<string>();
  for (const id of ids) {
    const r = current.get(id);
    if (!r) {
      gone.add(id);
      continue;
    }
    // The copies in the recipient carry no object (see storedEvents): the recipient as it stands is that object.
    for (const d of storedEvents(r)) drafts.push({ ...d, object: d.type.startsWith('recipient.') && r.listed ? recipientObject(r) : null });
  }
  // One walk back through the feed: the ids written since the journal entry, and the last recipient event of each
  // recipient whose document is gone.
  const have = new Set<string>();
  const last = new Map<string, EventDoc>();
  const horizon = since.getTime() - EVENT_GAP_GRACE_MS;
  let recent = true;
  await walkBack(orgId, (e) => {
    if (recent && e.createdAt.getTime() < horizon) recent = false;
    if (recent) have.add(e.eid);
    if (e.subject && gone.has(e.subject) && !last.has(e.subject) && RECIPIENT_TYPES.includes(e.type)) last.set(e.subject, e);
    return !recent && last.size === gone.size;
  });
  for (const [id, e] of last) {
    if (e.type === 'recipient.removed' || e.inc === null) continue;
    drafts.push({
      key: `recipient:${id}:${e.inc}:gone:recipient.removed`,
      type: 'recipient.removed',
      connectionId: null,
      data: { recipientId: id, email: e.data.email ?? null },
      object: null,
      subject: id,
      inc: e.inc,
    });
  }
  return appendEvents(orgId, drafts, { skip: have });
}

/** What a recipient document's own fields say about the events it keeps: they are this write's events of it. */
type EventOwner = Pick<RecipientDoc, '_id' | 'email' | 'createdAt' | 'v' | 'status' | 'groups'>;

/**
 * The data a recipient.* event takes from the recipient version the write made (recipientEvents): undefined where the
 * event's data is its own. Stored in that recipient, such data is left out (`f` of the compact form).
 */
function ownerData(type: EventType, owner: Pick<RecipientDoc, 'status' | 'groups'>): Record<string, unknown> | undefined {
  switch (type) {
    case 'recipient.created':
      return { status: owner.status, groups: owner.groups };
    case 'recipient.reactivated':
      return { status: owner.status };
    case 'recipient.offboarded':
    case 'recipient.removed':
      return {};
    default:
      return undefined;
  }
}

/** The events kept in a recipient document (`ev`, see withoutObjects; or the forms earlier versions wrote). */
export function storedEvents(r: Pick<RecipientDoc, 'ev'> & Partial<EventOwner>): EventDraft[] {
  if (!r.ev) return [];
  if (typeof r.ev !== 'string') return r.ev;
  const parsed = JSON.parse(r.ev) as EventDraft[] | CompactEvents;
  if (Array.isArray(parsed)) return parsed;
  // Without `s`, the shared values are the document's own: its id, incarnation and email (see withoutObjects).
  const owned = parsed.s === undefined;
  if (owned && (r._id === undefined || r.email === undefined || r.createdAt === undefined || r.v === undefined)) {
    throw new Error('storedEvents: the compact form needs the recipient it was stored in');
  }
  const subject = owned ? r._id! : parsed.s!;
  const inc = owned ? r.createdAt!.getTime() : (parsed.i ?? null);
  const email = owned ? r.email : parsed.m;
  const at = owned ? `${inc}:${r.v}` : null;
  const { c: connectionId } = parsed;
  const draft = (key: string, type: EventType, rest: Record<string, unknown>): EventDraft => ({
    key,
    type,
    connectionId,
    data: { recipientId: subject, email, ...rest },
    object: null,
    subject,
    inc,
  });
  if (parsed.f) {
    if (at === null || r.status === undefined || r.groups === undefined) {
      throw new Error('storedEvents: the compact form needs the recipient it was stored in');
    }
    const owner = { status: r.status, groups: r.groups };
    return parsed.f.map(([type, rest]) => {
      const data = rest ?? ownerData(type, owner) ?? {};
      return draft(recipientEventKey(subject, at, type, data), type, data);
    });
  }
  return (parsed.e ?? []).map(([key, type, rest]) =>
    draft((at === null ? key : key.split(AT_MARK).join(at)).split(SUBJECT_MARK).join(subject), type, rest),
  );
}

/**
 * The events of one recipient write, with what they share said once (they all name the same recipient). Written with
 * the recipient they name, `s`, `i` and `m` are left out (its `_id`, `createdAt` and `email`), and the events are `f`:
 * each its type and, unless the recipient holds it (ownerData), its data; the key is derived (recipientEventKey).
 * Otherwise `e`, each event with its key; earlier versions wrote `e` in the owned form too, each key's
 * `${createdAt}:${v}` as AT_MARK and the subject as SUBJECT_MARK.
 */
interface CompactEvents {
  s?: string;
  i?: number | null;
  c: string | null;
  m?: unknown;
  e?: [string, EventType, Record<string, unknown>][];
  f?: ([EventType] | [EventType, Record<string, unknown>])[];
}
const SUBJECT_MARK = '\u0001';
const AT_MARK = '\u0002';

/**
 * The copy of a write's events kept in the recipient document: without the full objects (the document is one), as
 * one compact JSON string (one field for the store to write, each shared value once, and none the document already
 * holds or its keys derive from): the merge writes it with every recipient it changes, so its size is part of the
 * feed's cost on the merge and of every recipient's storage. `owner`: the recipient document it is stored in.
 */
export function withoutObjects(drafts: EventDraft[], owner?: EventOwner): string | undefined {
  if (!drafts.length) return undefined;
  const { subject, inc, connectionId } = drafts[0]!;
  const email = drafts[0]!.data.email;
  const shared =
    subject &&
    drafts.every(
      (d) =>
        d.subject === subject &&
        (d.inc ?? null) === (inc ?? null) &&
        d.connectionId === connectionId &&
        d.data.recipientId === subject &&
        d.data.email === email &&
        !d.key.includes(SUBJECT_MARK) &&
        !d.key.includes(AT_MARK),
    );
  if (!shared) return JSON.stringify(drafts.map((d) => (d.object ? { ...d, object: null } : d)));
  const owned = owner !== undefined && owner._id === subject && owner.email === email && owner.createdAt.getTime() === inc;
  const rests = drafts.map((d) => {
    const { recipientId: _r, email: _e, ...rest } = d.data;
    return rest;
  });
  if (owned) {
    const at = `${owner.createdAt.getTime()}:${owner.v}`;
    if (drafts.every((d, i) => d.key === recipientEventKey(subject, at, d.type, rests[i]!))) {
      const f = drafts.map((d, i): [EventType] | [EventType, Record<string, unknown>] => {
        const own = ownerData(d.type, owner);
        return own !== undefined && stableJson(own) === stableJson(rests[i]) ? [d.type] : [d.type, rests[i]!];
      });
      return JSON.stringify({ c: connectionId, f } satisfies CompactEvents);
    }
  }
  const compact: CompactEvents = {
    s: subject,
    i: inc ?? null,
    c: connectionId,
    m: email,
    e: drafts.map((d, i) => [d.key.split(subject).join(SUBJECT_MARK), d.type, rests[i]!]),
  };
  return JSON.stringify(compact);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading.

export interface EventQuery {
  /** The cursor to read after; negative: from the oldest event kept (never gone). */
  after: number;
  limit: number;
  types?: readonly string[];
  connectionId?: string;
}

export interface EventPage {
  items: EventDoc[];
  /** The cursor to ask from next (the last event read, or the safe position reached). */
  cursor: number;
  /** True when more events are known to follow now. */
  more: boolean;
}

/**
 * Events of one organization after a cursor, in cursor order, stopping at a hole younger than the grace (a block
 * with a smaller position may still be being written). Type and connection filters apply after the hole check, so a
 * filtered reader never skips an unfiltered hole either.
 */
export async function readEvents(orgId: string, q: EventQuery): Promise<EventPage> {
  const types = q.types?.length ? new Set(q.types) : null;
  return readBlocks(
    orgId,
    q.after,
    q.limit,
    (d) => (!types || types.has(d.type)) && (!q.connectionId || d.connectionId === q.connectionId),
  );
}

/** The public shape of an event; `object` only when the reader asks for full objects. */
export function presentEvent(e: EventDoc, full = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: e.eid,
    type: e.type,
    createdAt: e.createdAt.toISOString(),
    orgId: e.orgId,
    cursor: String(e.seq),
  };
  if (e.connectionId) out.connectionId = e.connectionId;
  out.data = full && e.object ? { ...e.data, object: e.object } : e.data;
  return out;
}

/** Removes events older than the retention and records, per organization, the newest cursor removed. */
export async function sweepEvents(now = new Date()): Promise<number> {
  return sweepBlocks(new Date(now.getTime() - retentionDays * 86_400_000));
}

/** Records the event of a sync run that just reached `kind` (read back for its organization, connection and counts). */
export async function syncRunEvent(runId: string, kind: SyncRunEventKind): Promise<void> {
  const run = await SyncRun.findOne({ _id: runId }, { orgId: 1, connectionId: 1, counts: 1, mode: 1 }).lean().exec();
  if (!run) return;
  await recordSyncRunEvent(run.orgId, run.connectionId, run._id, kind, { mode: run.mode ?? null, counts: run.counts ?? null });
}
