import type { AnyBulkWriteOperation, Collection, OptionalUnlessRequiredId } from 'mongodb';
import { rawCollection } from './collections';
import { cleanAttributes, type Attributes } from './attributes';
import { findByIdCoalesced, findByIds, deleteByIds } from './batchRead';
import { storeCapabilities, storeLogger } from './db';
import { duplicateKeyIndexes, isDuplicateKeyError, writeErrorsOf } from './errors';
import { deriveRecipient, type MergeSettings } from './derive';
import { normalizeEmail } from './email';
import { audienceEvents, audienceMatchersFor } from './audienceEvents';
import { appendEvents, eventsEnabled, recipientEvents, reemitRecipientEvents, withoutObjects, type EventDraft } from './events';
import { newId, nextStatusSeq, recipientId, sourceRecordId } from './ids';
import {
  MergeJournal,
  Recipient,
  ofConnection,
  SourceRecord,
  type Contribution,
  type RecipientDoc,
  type SourceRecordDoc,
  type StoredRecipient,
} from './models';
import { fromStored, toStored } from './recipientDocs';
import { keepsLiveBound, lowerLiveBound, raiseLiveBound } from './liveCount';
import { loadMergeSettings, mergeSettingsFor } from './settings';
import { recipientCache, recordCache } from './writeBaseCache';
import { stableJson } from './stableJson';
import { batchedBulkWrite } from './writeBatch';
import {
  dropJournalOwner,
  dropJournalSlot,
  journalSlotWrite,
  recordsWithSlots,
  staleJournalSlots,
  takeJournalSlot,
  type JournalSlot,
  type SlotOrRecord,
} from './mergeJournal';

/** A change one connection asserts about one of its people. */
export type SourceChange =
  | {
      op: 'upsert';
      key: string;
      /** As received; normalized here. Null or invalid: stored, reported, no recipient. */
      email: string | null | undefined;
      active: boolean;
      attributes?: Record<string, unknown>;
      /** Group ids; undefined keeps what is stored. */
      groups?: string[];
      raw?: unknown;
      lookup?: Record<string, unknown>;
      /** Optimistic concurrency: the stored version this change was computed from (0: must not exist yet). */
      ifVersion?: number;
    }
  /** The person leaves an identity source but the offboarding holds (SCIM DELETE, absent from a full HRIS sync). */
  | { op: 'tombstone'; key: string; ifVersion?: number }
  /** The person leaves the source entirely (CSV row removed, connection deleted). */
  | { op: 'delete'; key: string; ifVersion?: number }
  /** Group membership change for one person, applied to what is stored. */
  | { op: 'groups'; key: string; add?: string[]; remove?: string[]; set?: string[] };

export type ChangeOutcome = 'created' | 'updated' | 'unchanged' | 'deactivated' | 'removed' | 'missing' | 'conflict';

export interface ChangeResult {
  key: string;
  outcome: ChangeOutcome;
  record: SourceRecordDoc | null;
  /** True when the record has no usable email (it is stored but makes no recipient). */
  noEmail?: boolean;
}

export interface ConnectionRef {
  _id: string;
  orgId: string;
  type: string;
}

const MAX_ATTEMPTS = 8;
/** A write of at most this many recipients (a SCIM request's) goes out with the concurrent requests' writes. */
const BATCHED_RECIPIENT_WRITES = 8;

/** Options of applySourceChanges. */
export interface ApplyOptions {
  /**
   * The stored records of some keys as the caller has just read them (null: known not to exist), so that the merge
   * does not read them again (a SCIM PATCH read the record to patch it). Writes stay conditional on the version, so a
   * record changed meanwhile only costs a conflict, and the retry reads it.
   */
  known?: Map<string, SourceRecordDoc | null>;
  /**
   * `known` holds copies from this process's record cache (writeBaseCache.ts), not a read: whether the write found
   * them stale is noted, so that the cache stands aside where other instances write the same records.
   */
  knownCached?: boolean;
}

/**
 * bulkWrite (unordered); returns matched + deleted, and which operations the store's replies confirm were applied (all
 * of a command whose counts add up to its length; none of a command some of whose operations did not match, since its
 * reply does not say which). FerretDB v1.24 (SQLite backend) keeps one pooled SQLite connection open for every update of
 * an `update` command until the whole command ends (its handler defers each query iterator's close inside the loop),
 * and its pool has 100 connections: one bulkWrite with more than ~100 replaceOne operations hangs the server for good.
 * There the capability record limits statements per command (FerretDB runs them one by one anyway, so this costs only
 * round trips).
 */
async function bulkWriteCounted<T extends { _id: string }>(
  col: Collection<T>,
  ops: AnyBulkWriteOperation<T>[],
): Promise<{ n: number; confirmed: boolean[] }> {
  const chunk = storeCapabilities().updatesPerCommand ?? Math.max(1, ops.length);
  let n = 0;
  const confirmed: boolean[] = [];
  for (let i = 0; i < ops.length; i += chunk) {
    const part = ops.slice(i, i + chunk);
    const res = await col.bulkWrite(part, { ordered: false });
    const matched = res.matchedCount + res.deletedCount;
    n += matched;
    for (let j = 0; j < part.length; j++) confirmed.push(matched === part.length);
  }
  return { n, confirmed };
}

function contributionOf(r: SourceRecordDoc): Contribution {
  return {
    sid: r._id,
    cid: r.connectionId,
    ct: r.connectionType,
    a: r.active && !r.deleted,
    d: r.deleted,
    s: r.statusSeq,
    e: r.emailDisplay,
    at: r.attributes ?? {},
    g: r.groups ?? [],
  };
}

function contentOf(
  r: Pick<SourceRecordDoc, 'email' | 'emailDisplay' | 'active' | 'deleted' | 'attributes' | 'groups' | 'raw' | 'lookup'>,
): string {
  return stableJson([r.email, r.emailDisplay, r.active, r.deleted, r.attributes, r.groups, r.raw ?? null, r.lookup ?? null]);
}

/** Computes the next state of one source record, or null to delete it (also used by dry runs: snapshotPreview.ts). */
export function nextRecord(
  conn: ConnectionRef,
  change: SourceChange,
  prev: SourceRecordDoc | undefined,
  now: Date,
): { next: SourceRecordDoc | null; outcome: ChangeOutcome } {
  const id = sourceRecordId(conn._id, change.key);
  if ('ifVersion' in change && change.ifVersion !== undefined && (prev?.v ?? 0) !== change.ifVersion) {
    return { next: prev ?? null, outcome: 'conflict' };
  }
  switch (change.op) {
    case 'upsert': {
      const display = typeof change.email === 'string' ? change.email.trim() : null;
      const email = normalizeEmail(display);
      const attributes: Attributes = cleanAttributes(change.attributes);
      const groups = change.groups ? [...new Set(change.groups)].sort() : (prev?.groups ?? []);
      const statusChanged = !prev || prev.deleted || prev.active !== change.active;
      const next: SourceRecordDoc = {
        _id: id,
        orgId: conn.orgId,
        connectionId: conn._id,
        connectionType: conn.type,
        key: change.key,
        email,
        emailDisplay: email ? display : null,
        active: change.active,
        deleted: false,
        statusSeq: statusChanged ? nextStatusSeq() : prev.statusSeq,
        attributes,
        groups,
        v: (prev?.v ?? 0) + 1,
        createdAt: prev?.createdAt ?? now,
        updatedAt: now,
      };
      // Only the paths that have them (SCIM) store these: an absent field costs nothing, a null one its name and type.
      if (change.raw !== undefined) next.raw = change.raw;
      if (change.lookup !== undefined) next.lookup = change.lookup;
      if (!prev) return { next, outcome: 'created' };
      if (contentOf(prev) === contentOf(next)) return { next: prev, outcome: 'unchanged' };
      const outcome = prev.active && !prev.deleted && !next.active ? 'deactivated' : 'updated';
      return { next, outcome };
    }
    case 'groups': {
      if (!prev || prev.deleted) return { next: prev ?? null, outcome: 'missing' };
      let groups = change.set ? [...change.set] : [...prev.groups];
      if (change.add) groups.push(...change.add);
      if (change.remove) {
        const drop = new Set(change.remove);
        groups = groups.filter((g) => !drop.has(g));
      }
      groups = [...new Set(groups)].sort();
      if (stableJson(groups) === stableJson(prev.groups)) return { next: prev, outcome: 'unchanged' };
      return { next: { ...prev, groups, v: prev.v + 1, updatedAt: now }, outcome: 'updated' };
    }
    case 'tombstone': {
      if (!prev) return { next: null, outcome: 'missing' };
      if (prev.deleted) return { next: prev, outcome: 'unchanged' };
      return {
        next: { ...prev, active: false, deleted: true, statusSeq: nextStatusSeq(), v: prev.v + 1, updatedAt: now },
        outcome: 'removed',
      };
    }
    case 'delete': {
      if (!prev) return { next: null, outcome: 'missing' };
      return { next: null, outcome: 'removed' };
    }
  }
}

interface Planned {
  change: SourceChange;
  prev: SourceRecordDoc | undefined;
  next: SourceRecordDoc | null;
  outcome: ChangeOutcome;
}

/**
 * Applies a batch of changes from one connection: writes the source records, then re-derives the recipients of every
 * email they touch, in a constant number of round trips per batch. Safe to call concurrently with other ingests: both
 * source records and recipients are written with version checks, and losers re-read and retry.
 */
export async function applySourceChanges(
  conn: ConnectionRef,
  changes: SourceChange[],
  settings?: MergeSettings,
  opts: ApplyOptions = {},
): Promise<ChangeResult[]> {
  const results: ChangeResult[] = [];
  // A key named twice in one batch is applied in order: split into runs of distinct keys.
  let run: SourceChange[] = [];
  const seen = new Set<string>();
  const mergeSettings = settings ?? (await mergeSettingsFor(conn));
  for (const c of changes) {
    if (seen.has(c.key)) {
      results.push(...(await applyDistinct(conn, run, mergeSettings, opts)));
      run = [];
      seen.clear();
    }
    seen.add(c.key);
    run.push(c);
  }
  if (run.length) results.push(...(await applyDistinct(conn, run, mergeSettings, opts)));
  return results;
}

/** What applying `changes` (distinct keys) would do to each source record now, without writing: its version and outcome. */
export async function predictSourceChanges(
  conn: ConnectionRef,
  changes: SourceChange[],
  /** Filled with what was read (by key; null: no record), for `applySourceChanges`' `known` (no second read). */
  read?: Map<string, SourceRecordDoc | null>,
): Promise<{ key: string; v: number; outcome: ChangeOutcome }[]> {
  const existing = await findByIds(
    SourceRecord,
    changes.map((c) => sourceRecordId(conn._id, c.key)),
  );
  const now = new Date();
  return changes.map((change) => {
    const prev = existing.get(sourceRecordId(conn._id, change.key));
    read?.set(change.key, prev ?? null);
    return { key: change.key, v: prev?.v ?? 0, outcome: nextRecord(conn, change, prev, now).outcome };
  });
}

async function applyDistinct(
  conn: ConnectionRef,
  changes: SourceChange[],
  settings: MergeSettings,
  opts: ApplyOptions,
): Promise<ChangeResult[]> {
  const final = new Map<string, ChangeResult>();
  let pending = changes;
  for (let attempt = 0; pending.length && attempt < MAX_ATTEMPTS; attempt++) {
    // What the caller read is used once: a retry follows a conflict, and reads the records as they now are.
    const retry = await applyOnce(conn, pending, settings, final, attempt === 0 ? opts.known : undefined);
    if (attempt === 0 && opts.knownCached) {
      const outcome = final.get(pending[0]!.key)?.outcome;
      if (retry.length) recordCache.noteWrite(true);
      else if (outcome !== undefined && outcome !== 'unchanged' && outcome !== 'conflict') recordCache.noteWrite(false);
    }
    pending = retry;
  }
  for (const c of pending) final.set(c.key, { key: c.key, outcome: 'conflict', record: null });
  return changes.map((c) => final.get(c.key)!);
}

/** One attempt; returns the changes that lost a race on their source record and must be recomputed. */
async function applyOnce(
  conn: ConnectionRef,
  changes: SourceChange[],
  settings: MergeSettings,
  final: Map<string, ChangeResult>,
  known?: Map<string, SourceRecordDoc | null>,
): Promise<SourceChange[]> {
  const now = new Date();
  // A change that must create its record (ifVersion 0) needs no read either: if the record exists after all, the
  // insert fails on its `_id`, and the retry reads it.
  const toRead = changes.filter((c) => !known?.has(c.key) && !('ifVersion' in c && c.ifVersion === 0));
  const existing = toRead.length
    ? await findByIds(
        SourceRecord,
        toRead.map((c) => sourceRecordId(conn._id, c.key)),
      )
    : new Map<string, SourceRecordDoc>();
  const planned: Planned[] = changes.map((change) => {
    const prev = known?.has(change.key) ? (known.get(change.key) ?? undefined) : existing.get(sourceRecordId(conn._id, change.key));
    return { change, prev, ...nextRecord(conn, change, prev, now) };
  });

  const writes = planned.filter((p) => p.outcome !== 'unchanged' && p.outcome !== 'missing' && p.outcome !== 'conflict');
  const writing = new Set(writes);
  for (const p of planned) {
    if (!writing.has(p)) {
      final.set(p.change.key, { key: p.change.key, outcome: p.outcome, record: p.next, noEmail: p.next ? !p.next.email : undefined });
    }
  }
  if (writes.length === 0) return [];

  const emails = new Set<string>();
  for (const p of writes) {
    if (p.prev?.email) emails.add(p.prev.email);
    if (p.next?.email) emails.add(p.next.email);
  }
  // One record (a SCIM request): the journal entry rides in the same command as the record (src/store/mergeJournal.ts).
  // A batch: an entry in merge_journal before, removed after.
  const single = writes.length === 1 && writes[0]!.next !== null && emails.size > 0;
  const journalId = newId();
  // The live-record bound (src/store/liveCount.ts): raised before records may become live, lowered after.
  const bound = keepsLiveBound(conn.type);
  const rising = bound ? writes.filter(becomesLive) : [];
  if (rising.length) await raiseLiveBound(conn._id, rising.length);
  // The slot is held until the recipients are written and their events appended: a slot released earlier could be
  // overwritten by the next write while this merge is still unfinished, and a crash then would lose its replay.
  const slot = single ? await takeJournalSlot() : undefined;
  const writeAndMerge = async (): Promise<SourceChange[]> => {
    let written: RecordWrites;
    // The recipients are read while the records are written: their write is version-checked, so reading them first is
    // as safe as after (a writer in between makes it conflict and retry), and the merge waits one read less.
    // (A lone create reads none: see `fresh` below.) The read may name emails whose write then loses: unused.
    const prefetch = () => {
      if (!emails.size || (writes.length === 1 && !writes[0]!.prev)) return undefined;
      const ids = [...emails].map((e) => recipientId(conn.orgId, e));
      // A person this process wrote last needs no read: the write is conditional on that version (writeBaseCache.ts).
      const cached = single ? recipientCache.getAll(ids) : undefined;
      fromCache = cached !== undefined;
      if (cached) return Promise.resolve(cached);
      const read = readRecipients(ids);
      read.catch(() => undefined); // awaited by updateRecipients, unless every write lost (then nothing waits)
      return read;
    };
    let prefetched: Promise<Map<string, RecipientDoc>> | undefined;
    let fromCache = false;
    if (slot) {
      prefetched = prefetch();
      written = await writeOneWithJournal(conn.orgId, writes[0]!, [...emails], now, slot);
    } else {
      if (emails.size) {
        await rawCollection(MergeJournal).insertOne({ _id: journalId, orgId: conn.orgId, emails: [...emails], createdAt: now });
      }
      prefetched = prefetch();
      written = await writeSourceRecords(writes);
    }
    const { lost } = written;
    const won = writes.filter((p) => !lost.has(p));
    // The record cache follows what was stored (a one-record write keeps its live record; a batch refreshes copies).
    for (const p of writes) {
      if (!lost.has(p) && p.next && !p.next.deleted) recordCache.remember(p.next, !single);
      else recordCache.forget(p.next?._id ?? p.prev!._id);
    }
    // Lowered only by what the store's replies confirm (a lost race read back says less: another writer's removal, seen
    // as ours, would be counted twice). A tombstone is a replace, which FerretDB v1 may report as matched for two writers
    // at once (its version check is not isolated); there only deletions, whose counts are exact, lower the bound.
    if (bound) {
      const exactReplaces = storeCapabilities().atomicFindAndModify;
      const fell = writes.filter((p) => written.applied.has(p) && stopsBeingLive(p) && (p.next === null || exactReplaces)).length;
      await lowerLiveBound(conn._id, fell + rising.filter((p) => written.refused.has(p)).length);
    }
    for (const p of won) {
      final.set(p.change.key, { key: p.change.key, outcome: p.outcome, record: p.next, noEmail: p.next ? !p.next.email : undefined });
    }

    // Recipients of every email a winning write touched, recomputed from the records as written.
    const touched = new Map<string, Map<string, SourceRecordDoc | null>>();
    for (const p of won) {
      const sid = sourceRecordId(conn._id, p.change.key);
      for (const email of [p.prev?.email, p.next?.email]) {
        if (!email) continue;
        let m = touched.get(email);
        if (!m) touched.set(email, (m = new Map<string, SourceRecordDoc | null>()));
        m.set(sid, p.next && p.next.email === email ? p.next : null);
      }
    }
    // A record that did not exist names an email no recipient may have yet: try inserting it before reading (a create of
    // a new person, the common SCIM case, then costs no recipient read; an existing recipient fails the insert and is
    // read and merged as usual).
    const fresh = won.length === 1 && !won[0]!.prev;
    const firstConflicted = await updateRecipients(conn.orgId, touched, settings, conn._id, fresh, prefetched, slot ? appends : undefined);
    if (fromCache && won.length) recipientCache.noteWrite(firstConflicted);
    if (emails.size && !single) await rawCollection(MergeJournal).deleteOne({ _id: journalId });
    return [...lost].map((p) => p.change);
  };
  // A one-record merge (a SCIM request) is answered once its recipients are written; its events' append goes on, and
  // the slot is held until it is done. An append that fails leaves the slot as it is: the sweep replays it, and the
  // replay appends the events the recipients carry (`ev`). This process's feed readers wait for appends in flight
  // (src/store/eventBlocks.ts), so a read after the response sees the events.
  const appends: Promise<unknown>[] = [];
  try {
    return await writeAndMerge();
  } finally {
    if (slot && appends.length) {
      const held = slot;
      Promise.all(appends).then(
        () => held.release(),
        (err: Error & { code?: unknown }) =>
          // Ids and the error's kind only: a store error's message can quote the documents it was given.
          storeLogger()?.warn(
            { orgId: conn.orgId, connectionId: conn._id, errName: err?.name, code: err?.code },
            'the events of an answered write were not appended; the journal sweep appends them',
          ),
      );
    } else {
      slot?.release();
    }
  }
}

/** A write after which a record is live that was not (a create, or a tombstone brought back). */
function becomesLive(p: Planned): boolean {
  return p.next !== null && !p.next.deleted && (!p.prev || p.prev.deleted);
}

/** A write after which a live record is not (a removal, a tombstone). */
function stopsBeingLive(p: Planned): boolean {
  return p.prev !== undefined && !p.prev.deleted && (p.next === null || p.next.deleted);
}

/** What a write of source records did. */
interface RecordWrites {
  /** Writes that lost a race: recomputed and retried. */
  lost: Set<Planned>;
  /** Writes the store's replies confirm were applied. */
  applied: Set<Planned>;
  /** Writes the store's replies confirm were not applied. */
  refused: Set<Planned>;
}

/**
 * Writes one source record and its journal slot in one ordered command: the slot first (the emails the merge is about
 * to touch), then the record, version-checked (a create: an upsert whose filter can only match a missing document, so
 * an existing one fails on its `_id`).
 */
async function writeOneWithJournal(orgId: string, p: Planned, emails: string[], now: Date, slot: JournalSlot): Promise<RecordWrites> {
  const next = p.next!;
  // Conditional on the version and incarnation the write was computed from (`prev` may be a cached copy).
  const record: AnyBulkWriteOperation<SlotOrRecord> = p.prev
    ? { replaceOne: { filter: { _id: p.prev._id, v: p.prev.v, createdAt: p.prev.createdAt }, replacement: next } }
    : { replaceOne: { filter: { _id: next._id, v: { $exists: false } }, replacement: next, upsert: true } };
  const ops = [journalSlotWrite(slot, orgId, emails, now), record];
  const none = new Set<Planned>();
  const one = new Set([p]);
  const won = { lost: none, applied: one, refused: none };
  const lost = { lost: one, applied: none, refused: one };
  if (storeCapabilities().batchedIdUpdates) {
    // Together with the concurrent requests' record writes (src/store/writeBatch.ts); when the batch's counts do not
    // say, the record read back says whether this write is the one stored, and so whether the merge goes on. Neither
    // applied nor refused is then confirmed (the live-record bound moves on confirmations only, so it stays a bound).
    // The record as it stood right after the batch (before this process's next batch of records): a later write on top
    // of this one would make it look lost, and the retry would apply it a second time.
    const res = await batchedBulkWrite(recordsWithSlots(), ops);
    if (res.outcome === 'confirmed') return won;
    const stored = res.stored.get(next._id) as SourceRecordDoc | undefined;
    return { lost: isStored(stored, next) ? none : one, applied: none, refused: none };
  }
  try {
    const res = await recordsWithSlots().bulkWrite(ops, { ordered: true });
    // The slot counts once (matched or upserted); the record once more when it was written.
    return res.matchedCount + res.upsertedCount >= 2 ? won : lost;
  } catch (err) {
    if (isDuplicateKeyError(err) || duplicateKeyIndexes(err)) return lost;
    throw err;
  }
}

/**
 * Whether the stored record is the one a write meant to store: its version and its content. (Another writer that
 * raced from the same version to the same content left the state this write wanted, so the merge may go on.)
 */
function isStored(stored: SourceRecordDoc | undefined, next: SourceRecordDoc): boolean {
  return stored !== undefined && stored.v === next.v && contentOf(stored) === contentOf(next);
}

/**
 * Inserts documents unordered; returns the indexes that already existed (another writer created them first), and
 * rethrows any other error.
 */
async function insertAllowingDuplicates<T extends { _id: string }>(
  col: Collection<T>,
  docs: OptionalUnlessRequiredId<T>[],
): Promise<number[]> {
  try {
    await col.insertMany(docs, { ordered: false });
    return [];
  } catch (err) {
    const refused = duplicateKeyIndexes(err);
    // A duplicate without per-document errors names no document: only a single-document insert can say which.
    if (!refused || (!writeErrorsOf(err).length && docs.length !== 1)) throw err;
    return refused;
  }
}

/** Writes source records with version checks. */
async function writeSourceRecords(writes: Planned[]): Promise<RecordWrites> {
  const col = SourceRecord.collection as unknown as Collection<SourceRecordDoc>;
  const lost = new Set<Planned>();
  const applied = new Set<Planned>();
  const refused = new Set<Planned>();
  const inserts = writes.filter((p) => !p.prev && p.next);
  const membership = new Set(
    writes.length >= MEMBERSHIP_BULK_MIN && storeCapabilities().idInFromIndex && !storeCapabilities().batchedIdUpdates
      ? writes.filter(isOneMembership)
      : [],
  );
  const updates = writes.filter((p) => p.prev && p.next && !membership.has(p));
  const deletes = writes.filter((p) => p.prev && !p.next);
  if (membership.size) for (const p of await writeMembership([...membership])) lost.add(p);

  if (inserts.length) {
    const duplicates = new Set(
      await insertAllowingDuplicates(
        col,
        inserts.map((p) => p.next!),
      ),
    );
    for (const [i, p] of inserts.entries()) {
      if (!duplicates.has(i)) applied.add(p);
      else {
        lost.add(p);
        refused.add(p);
      }
    }
  }
  const opWrites = [...updates, ...deletes];
  const ops: AnyBulkWriteOperation<SourceRecordDoc>[] = [
    ...updates.map((p) => ({ replaceOne: { filter: { _id: p.prev!._id, v: p.prev!.v }, replacement: p.next! } })),
    ...deletes.map((p) => ({ deleteOne: { filter: { _id: p.prev!._id, v: p.prev!.v } } })),
  ];
  if (ops.length) {
    const res = await bulkWriteCounted(col, ops);
    for (const [i, p] of opWrites.entries()) if (res.confirmed[i]) applied.add(p);
    if (res.n < ops.length) {
      // Someone else wrote some of these first: find which by reading back.
      const after = await findByIds(
        SourceRecord,
        opWrites.map((p) => p.prev!._id),
      );
      for (const p of updates) if (!isStored(after.get(p.prev!._id), p.next!)) lost.add(p);
      for (const p of deletes) if (after.has(p.prev!._id)) lost.add(p);
    }
  }
  return { lost, applied, refused };
}

/**
 * Below this many changes a batch's membership changes are written one by one like any update (also on stores that
 * scan for `_id: {$in}`: stock FerretDB v1). Where version-checked replaces by `_id` go a thousand to one statement's
 * cost (`batchedIdUpdates`: MongoDB, the patched FerretDB build), they are always written like any update: one
 * command per 1,000 records whose counts confirm them, against an `updateMany` and a read-back of every record.
 */
const MEMBERSHIP_BULK_MIN = 16;
const ID_CHUNK = 1000;

/** A change that adds or removes exactly one group (a SCIM group PATCH gives each member one). */
function isOneMembership(p: Planned): boolean {
  const c = p.change;
  return c.op === 'groups' && !c.set && p.prev !== undefined && p.next !== null && (c.add?.length ?? 0) + (c.remove?.length ?? 0) === 1;
}

/**
 * Many records joining or leaving one group (Okta and Entra push memberships in batches of thousands): one
 * `updateMany` per group and direction (`$addToSet` / `$pull`, which commute with any other write, so no version check
 * is needed to keep them), instead of one version-checked replace per record (on FerretDB v1, in commands of four).
 * The records are then read back, and the recipients are merged from them as stored (`next` is replaced by what
 * was read): a write that landed in between is merged too. A record gone meanwhile is returned as lost (the retry
 * reports it missing).
 */
async function writeMembership(planned: Planned[]): Promise<Planned[]> {
  const col = SourceRecord.collection as unknown as Collection<SourceRecordDoc>;
  const now = new Date();
  const bySignature = new Map<string, Planned[]>();
  for (const p of planned) {
    const c = p.change as Extract<SourceChange, { op: 'groups' }>;
    const sig = c.add?.length ? `+${c.add[0]}` : `-${c.remove![0]}`;
    const list = bySignature.get(sig);
    if (list) list.push(p);
    else bySignature.set(sig, [p]);
  }
  for (const [sig, list] of bySignature) {
    const group = sig.slice(1);
    const update = sig.startsWith('+')
      ? { $addToSet: { groups: group }, $inc: { v: 1 }, $set: { updatedAt: now } }
      : { $pull: { groups: group }, $inc: { v: 1 }, $set: { updatedAt: now } };
    for (let i = 0; i < list.length; i += ID_CHUNK) {
      await col.updateMany({ _id: { $in: list.slice(i, i + ID_CHUNK).map((p) => p.prev!._id) }, deleted: false }, update);
    }
  }
  const after = await findByIds(
    SourceRecord,
    planned.map((p) => p.prev!._id),
  );
  const lost: Planned[] = [];
  for (const p of planned) {
    const rec = after.get(p.prev!._id);
    if (!rec || rec.deleted) lost.push(p);
    else p.next = rec;
  }
  return lost;
}

/**
 * Sets, for each email, the contributions of the given source records (null: the record no longer names this email)
 * and re-derives the recipient. Retries on version conflicts, re-reading the source records so that the newest state
 * wins whatever the order of concurrent writers. Returns whether the first attempt lost a race (its recipients, read or
 * cached, were not the stored versions).
 */
async function updateRecipients(
  orgId: string,
  touched: Map<string, Map<string, SourceRecordDoc | null>>,
  settings: MergeSettings,
  connectionId: string | null = null,
  /** Try inserting first, without reading: the emails are believed to have no recipient yet. */
  assumeAbsent = false,
  /** The recipients of every touched email, read by the caller (used by the first attempt). */
  prefetched?: Promise<Map<string, RecipientDoc>>,
  /** Collects the events' appends instead of waiting for them (the caller holds the merge's journal until they end). */
  appends?: Promise<unknown>[],
): Promise<boolean> {
  let pending = touched;
  for (let attempt = 0; pending.size; attempt++) {
    if (attempt >= MAX_ATTEMPTS * 4) throw new Error(`recipient merge did not converge for ${pending.size} emails`);
    const ids = [...pending.keys()].map((e) => recipientId(orgId, e));
    const current =
      attempt === 0 && assumeAbsent
        ? new Map<string, RecipientDoc>()
        : attempt === 0 && prefetched
          ? await prefetched
          : await readRecipients(ids);
    const conflicts = await writeRecipients(orgId, pending, current, settings, connectionId, appends);
    if (!conflicts.size) return attempt > 0;
    if (attempt === 0 && assumeAbsent) {
      // The recipients existed after all: read them and merge, with the records as this write left them.
      pending = new Map([...conflicts].map((e) => [e, pending.get(e)!]));
      continue;
    }
    // Re-read the records behind the conflicting emails: a concurrent writer may hold a newer state.
    const sids = new Set<string>();
    for (const e of conflicts) for (const sid of pending.get(e)!.keys()) sids.add(sid);
    const fresh = await findByIds(SourceRecord, [...sids]);
    const next = new Map<string, Map<string, SourceRecordDoc | null>>();
    for (const e of conflicts) {
      const m = new Map<string, SourceRecordDoc | null>();
      for (const sid of pending.get(e)!.keys()) {
        const r = fresh.get(sid);
        m.set(sid, r && r.email === e ? r : null);
      }
      next.set(e, m);
    }
    pending = next;
  }
  return false;
}

/** Recipients by `_id`, as the merge sees them. */
async function findRecipients(ids: string[]): Promise<Map<string, RecipientDoc>> {
  const out = new Map<string, RecipientDoc>();
  for (const [id, doc] of await findByIds(Recipient, ids)) out.set(id, fromStored(doc));
  return out;
}

/** Recipients by `_id`; one alone (a SCIM request) is read together with the concurrent requests' reads. */
async function readRecipients(ids: string[]): Promise<Map<string, RecipientDoc>> {
  const found =
    ids.length === 1
      ? await findByIdCoalesced<StoredRecipient>(Recipient, ids[0]!).then((doc) => new Map(doc ? [[ids[0]!, fromStored(doc)]] : []))
      : await findRecipients(ids);
  // A one-person merge's read is kept for that person's next write; a batch's only refreshes copies already kept.
  for (const doc of found.values()) recipientCache.remember(doc, ids.length > SMALL_MERGE);
  return found;
}

/** Up to this many recipients a merge writes are kept in the recipient cache (a SCIM request's one or two). */
const SMALL_MERGE = 2;

/** Returns the emails whose write lost a race. */
async function writeRecipients(
  orgId: string,
  touched: Map<string, Map<string, SourceRecordDoc | null>>,
  current: Map<string, RecipientDoc>,
  settings: MergeSettings,
  connectionId: string | null,
  appends?: Promise<unknown>[],
): Promise<Set<string>> {
  const col = Recipient.collection as unknown as Collection<StoredRecipient>;
  const now = new Date();
  const inserts: RecipientDoc[] = [];
  const ops: AnyBulkWriteOperation<StoredRecipient>[] = [];
  const opEmails: string[] = [];
  /** Per email: the version and contributions this write stores (null: deletes the recipient). */
  const expected = new Map<string, { v: number; contribs: string } | null>();
  /** Per email: the document this write stores (null: deletes it). */
  const written = new Map<string, RecipientDoc | null>();
  // Feed events of each write, appended (one insert) for the writes that won; see src/store/events.ts.
  const events = new Map<string, EventDraft[]>();
  const audiences = eventsEnabled() ? await audienceMatchersFor(orgId) : [];
  const eventsOf = (prev: RecipientDoc | undefined, next: RecipientDoc | null) =>
    eventsEnabled() ? [...recipientEvents(prev, next, connectionId), ...audienceEvents(audiences, prev, next, connectionId)] : [];

  for (const [email, records] of touched) {
    const id = recipientId(orgId, email);
    const prev = current.get(id);
    const contribs = (prev?.contribs ?? []).filter((c) => !records.has(c.sid));
    for (const r of records.values()) if (r) contribs.push(contributionOf(r));
    contribs.sort((a, b) => (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));

    if (contribs.length === 0) {
      if (prev) {
        ops.push({ deleteOne: { filter: { _id: id, v: prev.v, createdAt: prev.createdAt } } });
        opEmails.push(email);
        expected.set(email, null);
        written.set(email, null);
        events.set(email, eventsOf(prev, null));
      }
      continue;
    }
    const d = deriveRecipient(contribs, settings);
    const doc: RecipientDoc = {
      _id: id,
      orgId,
      email,
      emailDisplay: d.emailDisplay ?? email,
      listed: d.listed,
      status: d.status,
      firstName: d.firstName,
      lastName: d.lastName,
      attributes: d.attributes,
      groups: d.groups,
      sources: d.sources,
      contribs,
      v: (prev?.v ?? 0) + 1,
      createdAt: prev?.createdAt ?? now,
      updatedAt: now,
    };
    if (!prev) {
      const list = eventsOf(undefined, doc);
      doc.ev = withoutObjects(list, doc);
      events.set(email, list);
      inserts.push(doc);
      written.set(email, doc);
    } else {
      if (stableJson({ ...prev, v: 0, updatedAt: 0, ev: 0 }) === stableJson({ ...doc, v: 0, updatedAt: 0, ev: 0 })) continue;
      const list = eventsOf(prev, doc);
      doc.ev = withoutObjects(list, doc);
      events.set(email, list);
      // The version and incarnation this write was computed from (a cached copy may be stale: writeBaseCache.ts).
      ops.push({ replaceOne: { filter: { _id: id, v: prev.v, createdAt: prev.createdAt }, replacement: toStored(doc) } });
      opEmails.push(email);
      expected.set(email, { v: doc.v, contribs: stableJson(doc.contribs) });
      written.set(email, doc);
    }
  }

  const conflicts = new Set<string>();
  if (inserts.length) {
    for (const i of await insertAllowingDuplicates(col, inserts.map(toStored))) conflicts.add(inserts[i]!.email);
  }
  if (ops.length) {
    // A request's few writes go together with the concurrent requests' (src/store/writeBatch.ts), and come back with the
    // recipients as they stood right after the batch when its counts fall short: a read of its own could see a later
    // write on top of this one and take it for lost (its events would then be missing from the feed).
    let after: ((id: string) => RecipientDoc | undefined) | undefined;
    if (ops.length <= BATCHED_RECIPIENT_WRITES && storeCapabilities().batchedIdUpdates) {
      const res = await batchedBulkWrite(col, ops);
      if (res.outcome === 'unknown') {
        const { stored } = res;
        after = (id) => {
          const d = stored.get(id);
          return d && fromStored(d as StoredRecipient);
        };
      }
    } else if ((await bulkWriteCounted(col, ops)).n < ops.length) {
      const read = await findRecipients(opEmails.map((e) => recipientId(orgId, e)));
      after = (id) => read.get(id);
    }
    if (after) {
      // Which were written: the version and contributions read back (another writer may have raced from the same version).
      for (const e of opEmails) {
        const want = expected.get(e);
        const got = after(recipientId(orgId, e));
        const stored = !want ? got === undefined : got !== undefined && got.v === want.v && stableJson(got.contribs) === want.contribs;
        if (!stored) conflicts.add(e);
      }
    }
  }
  // The cache follows what was stored: a lost write's copy is stale (the retry reads the recipient again).
  for (const [email, doc] of written) {
    if (doc && !conflicts.has(email)) recipientCache.remember(doc, written.size > SMALL_MERGE);
    else recipientCache.forget(recipientId(orgId, email));
  }
  const drafts: EventDraft[] = [];
  for (const [email, list] of events) if (!conflicts.has(email)) drafts.push(...list);
  // Behind a response (`appends`), the append may linger for the next writes' events (src/store/eventBlocks.ts).
  const append = appendEvents(orgId, drafts, { linger: appends !== undefined });
  if (appends) appends.push(append);
  else await append;
  return conflicts;
}

/**
 * Rebuilds the recipients of the given emails from the source records alone. Used to replay the merge journal after a
 * crash and after settings change what a connection contributes; idempotent.
 */
export async function remergeEmails(orgId: string, emails: string[], settings?: MergeSettings): Promise<void> {
  if (!emails.length) return;
  const mergeSettings = settings ?? (await loadMergeSettings(orgId, { fresh: true }));
  for (let i = 0; i < emails.length; i += 500) {
    const chunk = emails.slice(i, i + 500);
    const records = (await SourceRecord.find({ orgId, email: { $in: chunk } })
      .lean()
      .exec()) as SourceRecordDoc[];
    const current = await findRecipients(chunk.map((e) => recipientId(orgId, e)));
    const touched = new Map<string, Map<string, SourceRecordDoc | null>>();
    for (const e of chunk) {
      const m = new Map<string, SourceRecordDoc | null>();
      for (const c of current.get(recipientId(orgId, e))?.contribs ?? []) m.set(c.sid, null);
      touched.set(e, m);
    }
    for (const r of records) touched.get(r.email!)?.set(r._id, r);
    await updateRecipients(orgId, touched, mergeSettings);
  }
}

/** Re-merges emails a journal named, and re-emits the events of the recipients as they stand. */
async function replayEmails(orgId: string, emails: string[], since: Date): Promise<void> {
  await remergeEmails(orgId, emails);
  const ids = emails.map((m) => recipientId(orgId, m));
  await reemitRecipientEvents(orgId, await findRecipients(ids), ids, since);
}

/** Replays journal entries left by an interrupted batch merge. Returns how many were replayed. */
export async function replayMergeJournal(olderThanMs = 0): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs);
  const entries = await MergeJournal.find({ createdAt: { $lte: cutoff } })
    .lean()
    .exec();
  for (const e of entries) {
    await replayEmails(e.orgId, e.emails, e.createdAt);
    await deleteByIds(MergeJournal, [e._id]);
  }
  return entries.length;
}

/**
 * Replays the journal slots of one-record merges (src/store/mergeJournal.ts) older than the age: the merge they name
 * either finished (re-deriving changes nothing) or was interrupted (the recipients catch up). Returns how many.
 */
export async function replayJournalSlots(olderThanMs = 0): Promise<number> {
  const { slots, idleOwners } = await staleJournalSlots(olderThanMs);
  for (const slot of slots) {
    await replayEmails(slot.mj.orgId, slot.mj.emails, slot.mj.at);
    await dropJournalSlot(slot);
  }
  for (const o of idleOwners) await dropJournalOwner(o);
  return slots.length;
}

/** Re-derives every recipient a connection contributes to (after its attribute set or the priority changed). */
export async function remergeConnection(orgId: string, connectionId: string): Promise<void> {
  const settings = await loadMergeSettings(orgId, { fresh: true });
  let batch: string[] = [];
  for await (const r of SourceRecord.find(ofConnection(connectionId), { email: 1 }).lean().cursor()) {
    if (r.email) batch.push(r.email);
    if (batch.length >= 500) {
      await remergeEmails(orgId, batch, settings);
      batch = [];
    }
  }
  await remergeEmails(orgId, batch, settings);
}
