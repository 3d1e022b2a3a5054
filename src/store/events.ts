import { createHash } from 'node:crypto';
import type { Collection } from 'mongodb';
import { isDuplicateKeyError } from './errors';
import { Event, EventSeq, SyncRun, type EventDoc, type EventSeqDoc, type RecipientDoc } from './models';

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

/**
 * Cursor safety with several writer processes. Cursors come from one `$inc` on a per-organization counter before the
 * insert, so writers may finish their inserts out of cursor order: a reader could see cursor 12 before 11 exists.
 * Readers therefore stop at the first gap (see `readEvents`) until the event after the gap is older than this grace;
 * writers never insert events whose cursors they took longer than half of it ago (they take new ones), so an event
 * is only ever skipped by a reader when its insert took longer than the other half (clocks of the processes agree to
 * well within it). Holes that never fill (a crash after allocation) delay the tail by at most the grace, once.
 */
export const EVENT_GAP_GRACE_MS = 5_000;

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

function eventKey(orgId: string, seq: number): string {
  return `${orgId}:${seq}`;
}

function seqCol(): Collection<EventSeqDoc> {
  return EventSeq.collection as unknown as Collection<EventSeqDoc>;
}
function eventCol(): Collection<EventDoc> {
  return Event.collection as unknown as Collection<EventDoc>;
}

/** Takes `n` cursors of an organization: returns the first. */
async function allocate(orgId: string, n: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const doc = await seqCol().findOneAndUpdate({ _id: orgId }, { $inc: { seq: n } }, { upsert: true, returnDocument: 'after' });
      if (!doc) throw new Error('event cursor allocation returned nothing');
      return doc.seq - n + 1;
    } catch (err) {
      // Two first writers of an organization both upserting the counter: one loses with a duplicate key; the counter
      // exists now, so the retry increments it.
      if (!isDuplicateKeyError(err) || attempt >= 3) throw err;
    }
  }
}

/**
 * Appends events of one organization in one insert, in the order given. Drafts whose id is already in the feed are
 * dropped first (a replay), so they take no cursor. Returns how many were written.
 */
export async function appendEvents(orgId: string, drafts: EventDraft[], opts: { dedupe?: boolean } = {}): Promise<number> {
  if (!enabled || drafts.length === 0) return 0;
  let list = drafts.map((d) => ({ d, id: eventId(orgId, d.key) }));
  const seen = new Set<string>();
  list = list.filter((x) => (seen.has(x.id) ? false : (seen.add(x.id), true)));
  if (opts.dedupe) {
    const have = new Set(
      (
        await eventCol()
          .find({ eid: { $in: list.map((x) => x.id) } }, { projection: { eid: 1 } })
          .toArray()
      ).map((e) => e.eid),
    );
    list = list.filter((x) => !have.has(x.id));
    if (!list.length) return 0;
  }
  let written = 0;
  for (let attempt = 0; list.length; attempt++) {
    if (attempt > 20) throw new Error('could not take event cursors (the counter keeps colliding)');
    const taken = Date.now();
    const first = await allocate(orgId, list.length);
    // Cursors taken too long ago could already be behind a reader's gap grace: take new ones (the old become holes).
    if (Date.now() - taken > EVENT_GAP_GRACE_MS / 2 && attempt < 3) continue;
    const createdAt = new Date();
    const docs: EventDoc[] = list.map((x, i) => ({
      _id: eventKey(orgId, first + i),
      eid: x.id,
      orgId,
      seq: first + i,
      type: x.d.type,
      createdAt,
      connectionId: x.d.connectionId,
      data: x.d.data,
      object: x.d.object ?? null,
      subject: x.d.subject ?? null,
      inc: x.d.inc ?? null,
    }));
    // Ordered: a failure stops the insert there, so the events after it keep their order when retried.
    let failedAt = -1;
    try {
      await eventCol().insertMany(docs, { ordered: true });
    } catch (err) {
      const we = (err as { writeErrors?: { index: number; code: number }[] | { index: number; code: number } }).writeErrors;
      const errs = Array.isArray(we) ? we : we ? [we] : [];
      if (!(errs.length ? errs.every((e) => e.code === 11000) : isDuplicateKeyError(err))) throw err;
      failedAt = errs[0]?.index ?? 0;
    }
    if (failedAt < 0) {
      written += docs.length;
      break;
    }
    written += failedAt;
    // A duplicate: either this event is already in the feed (a replay racing the original writer: drop it), or its
    // cursor was taken (the store's `$inc` is not atomic under concurrency on every server, FerretDB v1 among them):
    // take new cursors for it and what follows.
    const rest = list.slice(failedAt);
    const head = rest[0]!;
    if (await eventCol().findOne({ eid: head.id }, { projection: { _id: 1 } })) rest.shift();
    list = rest;
  }
  for (const l of listeners) l(written);
  return written;
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
 * The events of one recipient write: `prev` as read, `next` as written (null: the document is deleted). A recipient
 * is in the feed while it is listed; group membership changes are `group.member_*` events of the recipient's groups.
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
  const ev = (type: EventType, data: Record<string, unknown>, suffix = '') =>
    out.push({
      key: `recipient:${subject}:${at}:${type}${suffix}`,
      type,
      connectionId,
      data: { ...base, ...data },
      object: type.startsWith('recipient.') ? object : null,
      subject,
      inc,
    });

  if (!was && now) {
    ev('recipient.created', { status: now.status });
    for (const g of now.groups) ev('group.member_added', { groupId: g }, `:${g}`);
    return out;
  }
  if (was && !now) {
    for (const g of was.groups) ev('group.member_removed', { groupId: g }, `:${g}`);
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
  for (const g of b.groups) if (!ga.has(g)) ev('group.member_added', { groupId: g }, `:${g}`);
  for (const g of a.groups) if (!gb.has(g)) ev('group.member_removed', { groupId: g }, `:${g}`);
  return out;
}

/**
 * Journal replay: a merge that stopped after writing recipients but before appending their events left those
 * events only in the recipients (`ev`, written with the change). Re-appends them (ids already written are skipped),
 * and a removal of a recipient whose document is gone when the feed's last word on it is not a removal.
 */
export async function reemitRecipientEvents(orgId: string, current: Map<string, RecipientDoc>, ids: string[]): Promise<number> {
  const drafts: EventDraft[] = [];
  for (const id of ids) {
    const r = current.get(id);
    if (r) {
      // The copies in the recipient carry no object (see withoutObjects): the recipient as it stands is that object.
      for (const d of r.ev ?? []) drafts.push({ ...d, object: d.type.startsWith('recipient.') && r.listed ? recipientObject(r) : null });
      continue;
    }
    const last = await eventCol()
      .find({ orgId, subject: id, type: { $in: RECIPIENT_TYPES } })
      .sort({ seq: -1 })
      .limit(1)
      .next();
    if (!last || last.type === 'recipient.removed' || last.inc === null) continue;
    drafts.push({
      key: `recipient:${id}:${last.inc}:gone:recipient.removed`,
      type: 'recipient.removed',
      connectionId: null,
      data: { recipientId: id, email: last.data.email ?? null },
      object: null,
      subject: id,
      inc: last.inc,
    });
  }
  return appendEvents(orgId, drafts, { dedupe: true });
}

/** The copy of a write's events kept in the recipient document: without the full objects (the document is one). */
export function withoutObjects(drafts: EventDraft[]): EventDraft[] {
  return drafts.map((d) => (d.object ? { ...d, object: null } : d));
}

// ---------------------------------------------------------------------------------------------------------------
// Reading.

export class EventCursorGoneError extends Error {
  constructor(readonly oldest: number) {
    super('the cursor is older than the retention of the event feed');
  }
}

export interface EventQuery {
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

/** The newest cursor of an organization (where a tail starts). */
export async function headCursor(orgId: string): Promise<number> {
  return (await seqCol().findOne({ _id: orgId }))?.seq ?? 0;
}

/**
 * Events of one organization after a cursor, in cursor order, stopping at a gap younger than the grace (an event
 * with a smaller cursor may still be being written). Type and connection filters apply after the gap check, so a
 * filtered reader never skips an unfiltered gap either.
 */
export async function readEvents(orgId: string, q: EventQuery): Promise<EventPage> {
  const seqDoc = await seqCol().findOne({ _id: orgId });
  if (seqDoc?.sweptThrough !== undefined && q.after < seqDoc.sweptThrough) throw new EventCursorGoneError(seqDoc.sweptThrough);
  const head = seqDoc?.seq ?? 0;
  const types = q.types?.length ? new Set(q.types) : null;
  const items: EventDoc[] = [];
  let cursor = Math.max(q.after, seqDoc?.sweptThrough ?? 0);
  const scan = Math.min(Math.max(q.limit * 2, 200), 1000);
  const now = Date.now();
  while (cursor < head) {
    const n = Math.min(scan, head - cursor);
    const ids = Array.from({ length: n }, (_, i) => eventKey(orgId, cursor + 1 + i));
    const found = new Map(
      (
        await eventCol()
          .find({ _id: { $in: ids } })
          .toArray()
      ).map((d) => [d.seq, d]),
    );
    const top = cursor + n;
    for (let s = cursor + 1; s <= top; s++) {
      const d = found.get(s);
      if (!d) {
        // A hole: a cursor taken by a writer that has not inserted yet (wait), or one that never will (pass it once
        // an event after it is older than the grace).
        let later: EventDoc | undefined;
        for (let t = s + 1; t <= top && !later; t++) later = found.get(t);
        later ??=
          (await eventCol()
            .find({ orgId, seq: { $gt: s } })
            .sort({ seq: 1 })
            .limit(1)
            .next()) ?? undefined;
        if (!later || now - later.createdAt.getTime() < EVENT_GAP_GRACE_MS) return { items, cursor, more: false };
        cursor = s;
        continue;
      }
      if ((!types || types.has(d.type)) && (!q.connectionId || d.connectionId === q.connectionId)) {
        if (items.length >= q.limit) return { items, cursor, more: true };
        items.push(d);
      }
      cursor = s;
    }
  }
  return { items, cursor, more: false };
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
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  let removed = 0;
  for (const org of await seqCol().find({}).toArray()) {
    const newest = await eventCol()
      .find({ orgId: org._id, createdAt: { $lt: cutoff } })
      .sort({ seq: -1 })
      .limit(1)
      .next();
    if (!newest) continue;
    await seqCol().updateOne({ _id: org._id }, { $max: { sweptThrough: newest.seq } });
    removed += (await eventCol().deleteMany({ orgId: org._id, seq: { $lte: newest.seq } })).deletedCount;
  }
  return removed;
}

/** Records the event of a sync run that just reached `kind` (read back for its organization, connection and counts). */
export async function syncRunEvent(runId: string, kind: SyncRunEventKind): Promise<void> {
  const run = await SyncRun.findOne({ _id: runId }, { orgId: 1, connectionId: 1, counts: 1, mode: 1 }).lean().exec();
  if (!run) return;
  await recordSyncRunEvent(run.orgId, run.connectionId, run._id, kind, { mode: run.mode ?? null, counts: run.counts ?? null });
}
