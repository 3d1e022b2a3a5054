import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Collection } from 'mongodb';
import { storeCapabilities } from './db';
import { isDuplicateKeyError } from './errors';
import { EventBlock, EventSeq, SyncRun, type EventBlockDoc, type EventDoc, type EventSeqDoc, type RecipientDoc } from './models';

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

/**
 * Events per stored block. A reader resolves cursor `s` from the blocks starting in `[s - EVENT_BLOCK_MAX + 1, s]`,
 * so one `_id $in` window of READ_WINDOW ids covers READ_WINDOW - EVENT_BLOCK_MAX + 1 cursors at least.
 */
export const EVENT_BLOCK_MAX = 250;
/** Ids per `_id $in` read (the patched FerretDB pushes down at most 1000). */
const READ_WINDOW = 1000;

function seqCol(): Collection<EventSeqDoc> {
  return EventSeq.collection as unknown as Collection<EventSeqDoc>;
}
function blockCol(): Collection<EventBlockDoc> {
  return EventBlock.collection as unknown as Collection<EventBlockDoc>;
}

/** How an event sits in a block: [eid, type, connectionId, data, object, subject, inc]. */
type Packed = [string, string, string | null, Record<string, unknown>, Record<string, unknown> | null, string | null, number | null];

function pack(list: { d: EventDraft; id: string }[]): Buffer {
  const rows: Packed[] = list.map(({ d, id }) => [id, d.type, d.connectionId, d.data, d.object ?? null, d.subject ?? null, d.inc ?? null]);
  return deflateRawSync(Buffer.from(JSON.stringify(rows), 'utf8'), { level: 1 });
}

function bytesOf(z: unknown): Buffer {
  if (Buffer.isBuffer(z)) return z;
  const bin = z as { buffer?: Uint8Array; length?: () => number };
  if (bin.buffer instanceof Uint8Array && typeof bin.length === 'function') return Buffer.from(bin.buffer.subarray(0, bin.length()));
  return Buffer.from(z as Uint8Array);
}

/** The events of a block, in cursor order. */
function unpack(b: EventBlockDoc): EventDoc[] {
  const rows = JSON.parse(inflateRawSync(bytesOf(b.z)).toString('utf8')) as Packed[];
  return rows.map(([eid, type, connectionId, data, object, subject, inc], i) => ({
    _id: eventKey(b.orgId, b.seq + i),
    eid,
    orgId: b.orgId,
    seq: b.seq + i,
    type,
    createdAt: b.createdAt,
    connectionId,
    data,
    object,
    subject,
    inc,
  }));
}

/** The blocks of an organization starting at cursors `from`..`to` (one `_id $in` read per READ_WINDOW), by cursor. */
async function blocksStarting(orgId: string, from: number, to: number, withEvents = true): Promise<EventBlockDoc[]> {
  const out: EventBlockDoc[] = [];
  for (let lo = Math.max(1, from); lo <= to; lo += READ_WINDOW) {
    const hi = Math.min(to, lo + READ_WINDOW - 1);
    const ids = Array.from({ length: hi - lo + 1 }, (_, i) => eventKey(orgId, lo + i));
    out.push(
      ...(await blockCol()
        .find({ _id: { $in: ids } }, withEvents ? {} : { projection: { z: 0 } })
        .toArray()),
    );
  }
  return out.sort((x, y) => x.seq - y.seq);
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
 * After inserting blocks for cursors first..last: true when another writer's block overlaps them. The store's `$inc`
 * is not atomic under concurrency on FerretDB v1: two writers that read the counter at once get ranges with the same
 * start (their first blocks collide on `_id`), and the counter can step back, so a later writer's range can start
 * inside an earlier one's, which no `_id` collision shows. Each writer checks after its insert: of two overlapping
 * inserts, the later one's check sees the other.
 */
async function overlapped(orgId: string, mine: EventBlockDoc[]): Promise<boolean> {
  const first = mine[0]!.seq;
  const last = mine[mine.length - 1]!.seq + mine[mine.length - 1]!.n - 1;
  const own = new Set(mine.map((b) => b._id));
  const around = await blocksStarting(orgId, first - EVENT_BLOCK_MAX + 1, last, false);
  const other = around.filter((b) => !own.has(b._id) && b.seq + b.n - 1 >= first);
  if (!other.length) return false;
  // Move the counter past every cursor in use here, so the retry takes fresh ones.
  const top = Math.max(last, ...other.map((b) => b.seq + b.n - 1));
  await seqCol().updateOne({ _id: orgId }, { $max: { seq: top } });
  return true;
}

/**
 * Appends events of one organization in one insert (blocks of at most EVENT_BLOCK_MAX), in the order given. Drafts
 * whose id is in `skip` (ids already in the feed: a replay) are dropped first, so they take no cursor. Returns how
 * many were written.
 */
export async function appendEvents(orgId: string, drafts: EventDraft[], opts: { skip?: Set<string> } = {}): Promise<number> {
  if (!enabled || drafts.length === 0) return 0;
  let list = drafts.map((d) => ({ d, id: eventId(orgId, d.key) }));
  const seen = new Set<string>(opts.skip);
  list = list.filter((x) => (seen.has(x.id) ? false : (seen.add(x.id), true)));
  if (!list.length) return 0;
  let written = 0;
  for (let attempt = 0; list.length; attempt++) {
    if (attempt > 20) throw new Error('could not take event cursors (the counter keeps colliding)');
    const taken = Date.now();
    const first = await allocate(orgId, list.length);
    // Cursors taken too long ago could already be behind a reader's gap grace: take new ones (the old become holes).
    if (Date.now() - taken > EVENT_GAP_GRACE_MS / 2 && attempt < 3) continue;
    const createdAt = new Date();
    const blocks: EventBlockDoc[] = [];
    for (let i = 0; i < list.length; i += EVENT_BLOCK_MAX) {
      const part = list.slice(i, i + EVENT_BLOCK_MAX);
      blocks.push({ _id: eventKey(orgId, first + i), orgId, seq: first + i, n: part.length, createdAt, z: pack(part) });
    }
    // Ordered: a failure stops the insert there, so the events after it keep their order when retried.
    let failedAt = -1;
    try {
      await blockCol().insertMany(blocks, { ordered: true });
    } catch (err) {
      const we = (err as { writeErrors?: { index: number; code: number }[] | { index: number; code: number } }).writeErrors;
      const errs = Array.isArray(we) ? we : we ? [we] : [];
      if (!(errs.length ? errs.every((e) => e.code === 11000) : isDuplicateKeyError(err))) throw err;
      failedAt = errs[0]?.index ?? 0;
    }
    const inserted = failedAt < 0 ? blocks : blocks.slice(0, failedAt);
    if (inserted.length && storeCapabilities().ferretdb && (await overlapped(orgId, inserted))) {
      // Another writer holds some of these cursors: withdraw these blocks and write the events again.
      await blockCol().deleteMany({ _id: { $in: inserted.map((b) => b._id) } });
      continue;
    }
    if (failedAt < 0) {
      written += list.length;
      break;
    }
    // A duplicate `_id`: another writer took these cursors (see overlapped); take new ones for the rest.
    written += failedAt * EVENT_BLOCK_MAX;
    list = list.slice(failedAt * EVENT_BLOCK_MAX);
  }
  for (const l of listeners) l(written);
  return written;
}

/**
 * Walks an organization's feed from the newest event back, block by block; stops when `visit` returns true or the
 * start of the retained feed is reached. For the journal replay only (it reads every block it passes).
 */
async function walkBack(orgId: string, visit: (e: EventDoc) => boolean): Promise<void> {
  const seqDoc = await seqCol().findOne({ _id: orgId });
  const floor = (seqDoc?.sweptThrough ?? 0) + 1;
  for (let hi = seqDoc?.seq ?? 0; hi >= floor; hi -= READ_WINDOW) {
    const blocks = await blocksStarting(orgId, Math.max(floor, hi - READ_WINDOW + 1), hi);
    for (const b of blocks.reverse()) {
      const events = unpack(b);
      for (let i = events.length - 1; i >= 0; i--) if (visit(events[i]!)) return;
    }
  }
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
    // A new recipient's initial group memberships are in recipient.created's data (`groups`), not one
    // group.member_added each: group.member_* events are changes of an existing recipient's memberships.
    ev('recipient.created', { status: now.status, groups: now.groups });
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

/** The events kept in a recipient document (`ev`, see withoutObjects; or the array earlier versions wrote). */
export function storedEvents(r: Pick<RecipientDoc, 'ev'>): EventDraft[] {
  if (!r.ev) return [];
  if (typeof r.ev !== 'string') return r.ev;
  const parsed = JSON.parse(r.ev) as EventDraft[] | CompactEvents;
  if (Array.isArray(parsed)) return parsed;
  const { s: subject, i: inc, c: connectionId, m: email, e } = parsed;
  return e.map(([key, type, rest]) => ({
    key: key.split(SUBJECT_MARK).join(subject),
    type,
    connectionId,
    data: { recipientId: subject, email, ...rest },
    object: null,
    subject,
    inc,
  }));
}

/** The events of one recipient write, with what they share said once (they all name the same recipient). */
interface CompactEvents {
  s: string;
  i: number | null;
  c: string | null;
  m: unknown;
  e: [string, EventType, Record<string, unknown>][];
}
const SUBJECT_MARK = '\u0001';

/**
 * The copy of a write's events kept in the recipient document: without the full objects (the document is one), as
 * one compact JSON string (one field for the store to write, each shared value once): the merge writes it with every
 * recipient it changes, so its size is part of the feed's cost on the merge.
 */
export function withoutObjects(drafts: EventDraft[]): string | undefined {
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
        !d.key.includes(SUBJECT_MARK),
    );
  if (!shared) return JSON.stringify(drafts.map((d) => (d.object ? { ...d, object: null } : d)));
  const compact: CompactEvents = {
    s: subject,
    i: inc ?? null,
    c: connectionId,
    m: email,
    e: drafts.map((d) => {
      const { recipientId: _r, email: _e, ...rest } = d.data;
      return [d.key.split(subject).join(SUBJECT_MARK), d.type, rest];
    }),
  };
  return JSON.stringify(compact);
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
  const now = Date.now();
  while (cursor < head) {
    // The blocks that can hold cursor + 1 and the ones after it, in one window of ids.
    const from = cursor + 2 - EVENT_BLOCK_MAX;
    const blocks = await blocksStarting(orgId, from, Math.min(head, from + READ_WINDOW - 1));
    const unpacked = new Map<EventBlockDoc, EventDoc[]>();
    let bi = 0;
    let progressed = false;
    for (;;) {
      const s = cursor + 1;
      if (s > head) break;
      while (bi < blocks.length && blocks[bi]!.seq + blocks[bi]!.n - 1 < s) bi++;
      const b = blocks[bi];
      if (!b) {
        // Past the window's blocks: read the next window, unless nothing was resolved in this one (a hole).
        if (progressed) break;
      } else if (b.seq <= s) {
        let events = unpacked.get(b);
        if (!events) unpacked.set(b, (events = unpack(b)));
        const d = events[s - b.seq]!;
        if ((!types || types.has(d.type)) && (!q.connectionId || d.connectionId === q.connectionId)) {
          if (items.length >= q.limit) return { items, cursor, more: true };
          items.push(d);
        }
        cursor = s;
        progressed = true;
        continue;
      }
      // A hole at s: cursors taken by a writer that has not inserted yet (wait), or that never will (pass them once
      // the block after them is older than the grace).
      const later =
        b ??
        (await blockCol()
          .find({ orgId, seq: { $gt: s } }, { projection: { z: 0 } })
          .sort({ seq: 1 })
          .limit(1)
          .next()) ??
        undefined;
      if (!later || now - later.createdAt.getTime() < EVENT_GAP_GRACE_MS) return { items, cursor, more: false };
      cursor = later.seq - 1;
      progressed = true;
      if (!b) break;
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
    const newest = await blockCol()
      .find({ orgId: org._id, createdAt: { $lt: cutoff } }, { projection: { z: 0 } })
      .sort({ seq: -1 })
      .limit(1)
      .next();
    if (!newest) continue;
    await seqCol().updateOne({ _id: org._id }, { $max: { sweptThrough: newest.seq + newest.n - 1 } });
    const gone = await blockCol()
      .find({ orgId: org._id, seq: { $lte: newest.seq } }, { projection: { n: 1 } })
      .toArray();
    await blockCol().deleteMany({ _id: { $in: gone.map((b) => b._id) } });
    removed += gone.reduce((a, b) => a + b.n, 0);
  }
  return removed;
}

/** Records the event of a sync run that just reached `kind` (read back for its organization, connection and counts). */
export async function syncRunEvent(runId: string, kind: SyncRunEventKind): Promise<void> {
  const run = await SyncRun.findOne({ _id: runId }, { orgId: 1, connectionId: 1, counts: 1, mode: 1 }).lean().exec();
  if (!run) return;
  await recordSyncRunEvent(run.orgId, run.connectionId, run._id, kind, { mode: run.mode ?? null, counts: run.counts ?? null });
}
