import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Collection } from 'mongodb';
import { onStoreClosing, onStoreReset } from './db';
import { GroupCommit, GroupCommits } from './groupCommit';
import { writeTurn } from './writeBatch';
import { duplicateKeyIndexes, isDuplicateKeyError } from './errors';
import { EventBlock, EventSeq, type EventBlockDoc, type EventDoc, type EventSeqDoc } from './models';

/**
 * The change feed's storage: per organization, numbered blocks of compressed events (`event_blocks`, `_id`
 * `org:position`), one insert per append.
 *
 * Cursors. The block at position `p` holds events with cursors `p * CURSOR_SPAN + i` (i < EVENT_BLOCK_MAX ≤
 * CURSOR_SPAN): monotonic in the order of the feed, not dense. Positions are taken in-process, synchronously, from a
 * per-organization head this process keeps (read once per organization: `probeHead`), so concurrent writers of one
 * process never collide and an append is one `insertMany`. Another process may take the same position: the insert
 * of one `_id` is atomic, so one of them gets a duplicate key, reads the head again and takes the next positions.
 * A block is a whole `_id`, so two appends can never share a cursor (no overlap check is needed).
 *
 * Holes. A position can be taken and inserted later than the next one (concurrent appends), or never (a failed
 * insert, a crash). Readers stop at a hole until the block after it is older than EVENT_GAP_GRACE_MS, then seal the
 * hole with an empty block (an insert of its `_id`): a writer still holding that position then gets a duplicate key
 * and takes a later one, so a reader never passes a position that is filled afterwards. A process that saw an insert
 * fail (not a duplicate) seals the positions it took in its next append's insert (same command).
 *
 * Feeds written before positions (legacy): blocks keyed by the cursor of their first event, cursors dense from 1,
 * `event_seq.seq` their head. They are kept and read as they are: the first position of this scheme (`base`) is that
 * head + 1, so every new cursor is above every legacy one, and legacy cursors held by API clients and webhook
 * endpoints stay valid. `base` is set by the first writer of the organization that runs this code (all instances
 * must run it: an older writer still incrementing `seq` would write into the new positions).
 */

/** Events per stored block. */
export const EVENT_BLOCK_MAX = 250;
/** Cursor values per block position. */
export const CURSOR_SPAN = 256;
/**
 * How long a reader waits at a hole for the block to be inserted (the block after it younger than this) before
 * sealing it. Concurrent appends of one process finish within milliseconds of each other; the grace covers a slow
 * insert under load. Clocks of the processes must agree to well within it.
 */
export const EVENT_GAP_GRACE_MS = 5_000;
/** Legacy positions per `_id $in` read (the patched FerretDB pushes down at most 1000). */
const LEGACY_WINDOW = 1000;
/** Positions probed past a window, at doubling distances, to find blocks beyond a run of holes. */
const SPARSE_PROBES = 6;

function seqCol(): Collection<EventSeqDoc> {
  return EventSeq.collection as unknown as Collection<EventSeqDoc>;
}
function blockCol(): Collection<EventBlockDoc> {
  return EventBlock.collection as unknown as Collection<EventBlockDoc>;
}
function blockId(orgId: string, pos: number): string {
  return `${orgId}:${pos}`;
}
function positionOf(b: Pick<EventBlockDoc, '_id'>): number {
  return Number(b._id.slice(b._id.lastIndexOf(':') + 1));
}

/** How an event sits in a block: [eid, type, connectionId, data, object, subject, inc]. */
export type Packed = [string, string, string | null, Record<string, unknown>, Record<string, unknown> | null, string | null, number | null];

export function packEvents(rows: Packed[]): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(rows), 'utf8'), { level: 1 });
}
const EMPTY = packEvents([]);

function bytesOf(z: unknown): Buffer {
  if (Buffer.isBuffer(z)) return z;
  const bin = z as { buffer?: Uint8Array; length?: () => number };
  if (bin.buffer instanceof Uint8Array && typeof bin.length === 'function') return Buffer.from(bin.buffer.subarray(0, bin.length()));
  return Buffer.from(z as Uint8Array);
}

/** The events of a block, in cursor order. */
export function unpackBlock(b: EventBlockDoc): EventDoc[] {
  if (!b.n) return [];
  const rows = JSON.parse(inflateRawSync(bytesOf(b.z)).toString('utf8')) as Packed[];
  return rows.map(([eid, type, connectionId, data, object, subject, inc], i) => ({
    _id: `${b.orgId}:${b.seq + i}`,
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

/** What readers need of an organization's feed document. */
interface Feed {
  /** Head of the legacy feed (0: none). */
  legacyHead: number;
  /** First position of this scheme. */
  base: number;
  /** Events with cursors ≤ this were removed by retention. */
  sweptThrough: number;
  /** Blocks at positions ≤ this were removed by retention. */
  sweptPos: number;
  /** A position known to hold a block (a lower bound of the head), or base - 1. */
  hint: number;
}

function feedOf(doc: EventSeqDoc | null): Feed {
  const legacyHead = doc?.seq ?? 0;
  const base = doc?.base ?? legacyHead + 1;
  const sweptThrough = doc?.sweptThrough ?? 0;
  // Legacy sweeps recorded only the cursor, which is also the position there.
  const sweptPos = doc?.sweptPos ?? sweptThrough;
  return { legacyHead, base, sweptThrough, sweptPos, hint: Math.max(base - 1, doc?.hint ?? 0, sweptPos) };
}

/** The feed's state, as a reader starts from it: after this process's appends in flight (`appendsSettled`). */
async function readFeed(orgId: string): Promise<Feed> {
  await appendsSettled(orgId);
  return feedOf(await seqCol().findOne({ _id: orgId }));
}

/** The blocks at these positions (one `_id $in` read), by position. */
async function blocksAt(orgId: string, positions: number[], withEvents: boolean): Promise<Map<number, EventBlockDoc>> {
  const out = new Map<number, EventBlockDoc>();
  if (!positions.length) return out;
  const docs = await blockCol()
    .find({ _id: { $in: positions.map((p) => blockId(orgId, p)) } }, withEvents ? {} : { projection: { z: 0 } })
    .toArray();
  for (const d of docs) out.set(positionOf(d), d);
  return out;
}

/** Positions `from .. from + w - 1`, and a few beyond them at doubling distances (to see past a run of holes). */
function windowOf(from: number, w: number): number[] {
  const ids = Array.from({ length: w }, (_, i) => from + i);
  for (let j = 1; j <= SPARSE_PROBES; j++) ids.push(from + w - 1 + 2 ** j * w);
  return ids;
}

/**
 * The highest position holding a block at or above `known` (a position known to be taken, or base - 1), with that
 * block's first cursor and size; null when none is. Windows of positions plus probes at doubling distances: a few
 * reads even far behind the head.
 */
async function probeHead(orgId: string, known: number): Promise<{ pos: number; seq: number; n: number } | null> {
  let top: { pos: number; seq: number; n: number } | null = null;
  let from = Math.max(1, known);
  const w = 64;
  for (;;) {
    const ids = windowOf(from, w);
    for (let j = SPARSE_PROBES + 1; j < 36; j++) ids.push(from + w - 1 + 2 ** j * w);
    const found = await blocksAt(orgId, ids, false);
    if (!found.size) return top;
    const pos = Math.max(...found.keys());
    const b = found.get(pos)!;
    top = { pos, seq: b.seq, n: b.n };
    // Found inside the dense window short of its end: nothing beyond it was seen, this is the head.
    if (pos < from + w - 1) return top;
    from = pos + 1;
  }
}

/** The head block of an organization's feed (this process's own head first, when it has one), or null. */
async function findHead(orgId: string, f: Feed): Promise<{ pos: number; seq: number; n: number } | null> {
  const a = allocators.get(orgId);
  const mine = a ? ((await a.catch(() => null))?.head ?? 0) : 0;
  if (mine - 64 > f.hint) {
    const top = await probeHead(orgId, mine - 64);
    if (top) return top;
  }
  return probeHead(orgId, f.hint);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing.

interface Allocator {
  /** The highest position this process has taken or seen taken. */
  head: number;
  /** Positions this process took whose insert failed (not a duplicate): sealed by its next insert. */
  unsealed: number[];
}
const allocators = new Map<string, Promise<Allocator>>();
onStoreReset(() => allocators.clear());

/** The organization's feed document, created (base 1) by its first writer; `base` set on a legacy one. */
async function ensureFeed(orgId: string): Promise<Feed> {
  let doc = await seqCol().findOne({ _id: orgId });
  if (!doc) {
    try {
      await seqCol().insertOne({ _id: orgId, seq: 0, base: 1 });
      return feedOf({ _id: orgId, seq: 0, base: 1 });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      doc = await seqCol().findOne({ _id: orgId });
      if (!doc) throw err;
    }
  }
  if (doc.base === undefined) {
    // A feed written by the cursor counter: new positions start after its last cursor.
    const base = doc.seq + 1;
    await seqCol().updateOne({ _id: orgId, base: { $exists: false } }, { $set: { base } });
    doc = { ...doc, base };
  }
  return feedOf(doc);
}

async function allocatorOf(orgId: string): Promise<Allocator> {
  let a = allocators.get(orgId);
  if (!a) {
    a = (async () => {
      const f = await ensureFeed(orgId);
      const top = await probeHead(orgId, f.hint);
      // Far from the hint: move it, so the next cold start reads less.
      if (top && top.pos - f.hint > 1000) await seqCol().updateOne({ _id: orgId }, { $max: { hint: top.pos } });
      return { head: Math.max(f.base - 1, f.hint, top?.pos ?? 0), unsealed: [] };
    })();
    allocators.set(orgId, a);
    // A failed start is not kept: the next append tries again.
    void a.catch(() => allocators.delete(orgId));
  }
  return a;
}

function emptyBlock(orgId: string, pos: number, createdAt: Date): EventBlockDoc {
  return { _id: blockId(orgId, pos), orgId, seq: pos * CURSOR_SPAN, n: 0, createdAt, z: EMPTY };
}

/** The index of the first write error when every one is a duplicate key; -1 for another error. */
function duplicateAt(err: unknown): number {
  const refused = duplicateKeyIndexes(err);
  return refused ? Math.min(...refused) : -1;
}

/**
 * How long an append behind a response (`linger`) waits for others of its organization before its insert goes out.
 * Nobody waits on it: the response was sent, this process's readers hurry it (appendsSettled), and its events are
 * already durable in the recipients (`ev`) with the journal slot held until the insert is done. One SCIM client
 * sending one request at a time (Okta, a few ms each) then shares one insert among several writes instead of one each
 * (bench/RESULTS.md). Other processes' readers see the events up to this much later.
 */
export const EVENT_APPEND_LINGER_MS = 20;
let lingerMs = EVENT_APPEND_LINGER_MS;
/** Sets the linger (tests: a long one shows that readers and shutdown do not wait for it; 0 turns it off). */
export function setEventAppendLinger(ms: number): void {
  lingerMs = ms;
}

/** Per organization, its appends as a group commit (src/store/groupCommit.ts). */
const appenders = new GroupCommits<Packed[], void>();

/**
 * Appends packed events of one organization, in the order given. A group commit: appends arriving while one of the
 * organization is in flight (or lingers) go out together, in the order they came, as one insert (concurrent writes of
 * one organization, each with an event or two, then cost about one feed command per round trip instead of one each).
 * Each caller's promise settles with the insert that holds its events.
 */
export function appendBlocks(orgId: string, rows: Packed[], opts: { linger?: boolean } = {}): Promise<void> {
  if (!rows.length) return Promise.resolve();
  const appender = appenders.of(
    orgId,
    () =>
      new GroupCommit<Packed[], void>(
        async (lists) => {
          await writeBlocks(orgId, lists.flat());
          return lists.map(() => undefined);
        },
        writeTurn,
        () => lingerMs,
      ),
  );
  const append = appender.submit(rows, opts);
  let pending = inFlight.get(orgId);
  if (!pending) inFlight.set(orgId, (pending = new Set()));
  pending.add(append);
  const done = () => {
    pending.delete(append);
    if (!pending.size && inFlight.get(orgId) === pending) inFlight.delete(orgId);
  };
  append.then(done, done);
  return append;
}

/**
 * Appends in flight, by organization. A SCIM request is answered once its recipients are written, while its events'
 * append may still be in flight (src/store/merge.ts); this process's readers of the feed wait for the appends started
 * before them (readFeed), so a read that follows a response sees the events of the write it answered. (Another
 * process's reader may see them a round trip later; it never skips them: see "Holes" above.)
 */
const inFlight = new Map<string, Set<Promise<void>>>();

async function appendsSettled(orgId: string): Promise<void> {
  appenders.peek(orgId)?.hurry();
  const pending = inFlight.get(orgId);
  if (pending?.size) await Promise.allSettled([...pending]);
}

/**
 * Sends every append that lingers and waits for all in flight, or for at most `maxWaitMs`: an append still running
 * then (the store unreachable) is left to the journal sweep, as after a crash (its slot was never released).
 */
export async function settleEventAppends(maxWaitMs = Infinity): Promise<void> {
  for (const a of appenders.all()) a.hurry();
  const all = Promise.allSettled([...inFlight.values()].flatMap((s) => [...s])).then(() => undefined);
  if (!Number.isFinite(maxWaitMs)) return all;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
  return Promise.race([all, waited]).finally(() => clearTimeout(timer));
}
/** How long closing the store waits for the feed's appends (a shutdown has a bound of its own). */
const CLOSING_WAIT_MS = 5_000;
onStoreClosing(() => settleEventAppends(CLOSING_WAIT_MS));

/**
 * Writes packed events of one organization, in the order given, in blocks of at most EVENT_BLOCK_MAX: one
 * `insertMany` (plus, once per organization and process, the feed document and a head probe; plus a head probe
 * after a duplicate key, when another process took the same positions).
 */
async function writeBlocks(orgId: string, rows: Packed[]): Promise<void> {
  const a = await allocatorOf(orgId);
  let rest = rows;
  for (let attempt = 0; rest.length; attempt++) {
    if (attempt > 50) throw new Error('could not take event positions (other writers keep taking them)');
    // Taken synchronously: no other append of this process can take the same positions.
    const count = Math.ceil(rest.length / EVENT_BLOCK_MAX);
    const first = a.head + 1;
    a.head += count;
    const createdAt = new Date();
    const blocks: EventBlockDoc[] = [];
    for (let i = 0; i < count; i++) {
      const part = rest.slice(i * EVENT_BLOCK_MAX, (i + 1) * EVENT_BLOCK_MAX);
      const pos = first + i;
      blocks.push({ _id: blockId(orgId, pos), orgId, seq: pos * CURSOR_SPAN, n: part.length, createdAt, z: packEvents(part) });
    }
    // Positions this process gave up on ride along, after the blocks: a duplicate there only means they are filled.
    const seals = a.unsealed.splice(0).map((p) => emptyBlock(orgId, p, createdAt));
    let failedAt = -1;
    try {
      // Ordered: a duplicate stops the insert there, so the events after it keep their order when retried.
      await blockCol().insertMany([...blocks, ...seals], { ordered: true });
    } catch (err) {
      failedAt = duplicateAt(err);
      if (failedAt < 0) {
        a.unsealed.push(...blocks.map((b) => positionOf(b)), ...seals.map((b) => positionOf(b)));
        throw err;
      }
    }
    if (failedAt < 0) return;
    if (failedAt >= count) {
      // Every block is in; the seals after the duplicate wait for the next append.
      a.unsealed.push(...seals.slice(failedAt - count + 1).map((b) => positionOf(b)));
      return;
    }
    // Another process (or a reader's seal) holds a position: read the head again and write the rest after it.
    a.unsealed.push(...seals.map((b) => positionOf(b)));
    rest = rest.slice(failedAt * EVENT_BLOCK_MAX);
    const top = await probeHead(orgId, first + failedAt);
    a.head = Math.max(a.head, top?.pos ?? 0);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading.

export class EventCursorGoneError extends Error {
  constructor(readonly oldest: number) {
    super('the cursor is older than the retention of the event feed');
  }
}

export interface BlockPage {
  items: EventDoc[];
  /** The cursor to ask from next (the last event read, or the position reached). */
  cursor: number;
  /** True when more events are known to follow now. */
  more: boolean;
}

/** The cursor of the newest event of an organization (where a tail starts). */
export async function headCursor(orgId: string): Promise<number> {
  const f = await readFeed(orgId);
  const top = await findHead(orgId, f);
  if (!top || top.pos < f.base) return Math.max(f.legacyHead, f.sweptThrough);
  return top.n ? top.seq + top.n - 1 : top.seq - 1;
}

/**
 * Events of one organization after a cursor, in cursor order, that `accept` takes, at most `limit`. Stops at a hole
 * younger than the grace (a block with a smaller position may still be being written); seals older holes.
 */
export async function readBlocks(orgId: string, after: number, limit: number, accept: (e: EventDoc) => boolean): Promise<BlockPage> {
  const f = await readFeed(orgId);
  // A negative cursor asks for the oldest event kept.
  if (after >= 0 && after < f.sweptThrough) throw new EventCursorGoneError(f.sweptThrough);
  const items: EventDoc[] = [];
  let cursor = Math.max(after, f.sweptThrough);
  /** Takes the events of a block after the cursor; false when the page is full. */
  const take = (b: EventBlockDoc): boolean => {
    for (const e of unpackBlock(b)) {
      if (e.seq <= cursor) continue;
      if (accept(e)) {
        if (items.length >= limit) return false;
        items.push(e);
      }
      cursor = e.seq;
    }
    return true;
  };

  // The legacy feed: dense cursors, a block starts at the cursor of its first event; it no longer changes, so its
  // holes are passed at once.
  while (cursor < f.legacyHead) {
    const lo = Math.max(1, cursor + 2 - EVENT_BLOCK_MAX, f.sweptPos + 1);
    const hi = Math.min(f.legacyHead, lo + LEGACY_WINDOW - 1);
    const blocks = await blocksAt(
      orgId,
      Array.from({ length: hi - lo + 1 }, (_, i) => lo + i),
      true,
    );
    for (const p of [...blocks.keys()].sort((x, y) => x - y)) if (!take(blocks.get(p)!)) return { items, cursor, more: true };
    cursor = Math.max(cursor, hi);
  }

  let pos = Math.max(f.base, Math.floor((cursor + 1) / CURSOR_SPAN), f.sweptPos + 1);
  let w = 4;
  for (;;) {
    const found = await blocksAt(orgId, windowOf(pos, w), true);
    const beyond = [...found.keys()].filter((p) => p >= pos).sort((x, y) => x - y);
    let p = pos;
    let resealed = false;
    let events = 0;
    while (p < pos + w) {
      const b = found.get(p);
      if (b) {
        if (!take(b)) return { items, cursor, more: true };
        events += b.n;
        cursor = Math.max(cursor, p * CURSOR_SPAN + CURSOR_SPAN - 1);
        p++;
        continue;
      }
      const later = beyond.find((q) => q > p);
      if (later === undefined) return { items, cursor, more: false };
      if (Date.now() - found.get(later)!.createdAt.getTime() < EVENT_GAP_GRACE_MS) return { items, cursor, more: false };
      // Seal the hole up to the next block (or the window's end), so nothing is written there after this reader passed.
      const end = Math.min(later, pos + w);
      const holes = Array.from({ length: end - p }, (_, i) => p + i);
      const createdAt = new Date();
      try {
        await blockCol().insertMany(
          holes.map((h) => emptyBlock(orgId, h, createdAt)),
          { ordered: false },
        );
      } catch (err) {
        if (duplicateAt(err) < 0) throw err;
        // A writer got there first: read those positions again.
        resealed = true;
        break;
      }
      cursor = Math.max(cursor, end * CURSOR_SPAN - 1);
      p = end;
    }
    if (resealed) {
      pos = p;
      continue;
    }
    // Size the next window to the page left, from the events per block seen.
    const perBlock = events / w || 1;
    w = Math.min(256, Math.max(4, Math.ceil((limit - items.length + 1) / perBlock)));
    pos = p;
  }
}

/**
 * Walks an organization's feed from the newest event back, block by block; stops when `visit` returns true or the
 * start of the retained feed is reached. For the journal replay only (it reads every block it passes).
 */
export async function walkBack(orgId: string, visit: (e: EventDoc) => boolean): Promise<void> {
  const f = await readFeed(orgId);
  const top = await findHead(orgId, f);
  let hi = Math.max(top?.pos ?? 0, f.legacyHead);
  const floor = f.sweptPos + 1;
  while (hi >= floor) {
    const w = hi < f.base ? LEGACY_WINDOW : 32;
    const lo = Math.max(floor, hi - w + 1, hi >= f.base ? f.base : 1);
    const blocks = await blocksAt(
      orgId,
      Array.from({ length: hi - lo + 1 }, (_, i) => lo + i),
      true,
    );
    for (const p of [...blocks.keys()].sort((x, y) => y - x)) {
      const events = unpackBlock(blocks.get(p)!);
      for (let i = events.length - 1; i >= 0; i--) if (visit(events[i]!)) return;
    }
    hi = lo - 1;
  }
}

/**
 * Blocks of an organization from position `from` on, in position order, without their events, until `visit` returns
 * true or none follows (holes are passed).
 */
async function scanForward(orgId: string, f: Feed, from: number, visit: (pos: number, b: EventBlockDoc) => boolean): Promise<void> {
  let pos = from;
  while (pos <= f.legacyHead) {
    const hi = Math.min(f.legacyHead, pos + LEGACY_WINDOW - 1);
    const blocks = await blocksAt(
      orgId,
      Array.from({ length: hi - pos + 1 }, (_, i) => pos + i),
      false,
    );
    for (const p of [...blocks.keys()].sort((x, y) => x - y)) if (visit(p, blocks.get(p)!)) return;
    pos = hi + 1;
  }
  pos = Math.max(pos, f.base);
  for (;;) {
    const found = await blocksAt(orgId, windowOf(pos, 64), false);
    const list = [...found.keys()].filter((p) => p >= pos).sort((x, y) => x - y);
    if (!list.length) return;
    for (const p of list) {
      if (p >= pos + 64) break;
      if (visit(p, found.get(p)!)) return;
    }
    pos = list.find((p) => p >= pos + 64) ?? pos + 64;
  }
}

/** Events after `cursor` in blocks, counted up to `cap` (webhook lag). */
export async function eventsAfter(orgId: string, cursor: number, cap = 100_000): Promise<number> {
  const f = await readFeed(orgId);
  const from = cursor < f.legacyHead ? Math.max(1, cursor + 2 - EVENT_BLOCK_MAX) : Math.max(f.base, Math.floor((cursor + 1) / CURSOR_SPAN));
  let count = 0;
  await scanForward(orgId, f, Math.max(from, f.sweptPos + 1), (_p, b) => {
    count += Math.max(0, Math.min(b.n, b.seq + b.n - 1 - cursor));
    return count >= cap;
  });
  return count;
}

/** Removes blocks older than `cutoff`; records, per organization, the newest cursor and position removed. */
export async function sweepBlocks(cutoff: Date): Promise<number> {
  let removed = 0;
  for (const doc of await seqCol().find({}).toArray()) {
    const f = feedOf(doc);
    const gone: { pos: number; b: EventBlockDoc }[] = [];
    await scanForward(doc._id, f, f.sweptPos + 1, (pos, b) => {
      if (b.createdAt >= cutoff) return true;
      gone.push({ pos, b });
      return gone.length >= 5000;
    });
    // Keep the head hint near the head, so a cold start reads little.
    const top = await probeHead(doc._id, f.hint);
    if (top && top.pos > f.hint) await seqCol().updateOne({ _id: doc._id }, { $max: { hint: top.pos } });
    if (!gone.length) continue;
    const sweptThrough = Math.max(f.sweptThrough, ...gone.filter((g) => g.b.n).map((g) => g.b.seq + g.b.n - 1));
    const sweptPos = Math.max(...gone.map((g) => g.pos));
    await seqCol().updateOne({ _id: doc._id }, { $max: { sweptThrough, sweptPos } });
    for (let i = 0; i < gone.length; i += 1000) {
      await blockCol().deleteMany({ _id: { $in: gone.slice(i, i + 1000).map((g) => g.b._id) } });
    }
    removed += gone.reduce((a, g) => a + g.b.n, 0);
  }
  return removed;
}
