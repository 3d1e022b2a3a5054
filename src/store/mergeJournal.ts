import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { storeCapabilities } from './db';
import { isDuplicateKeyError } from './errors';
import { newId } from './ids';
import { JournalOwner, SourceRecord, type SourceRecordDoc } from './models';

/**
 * The merge journal of one-record writes (a SCIM request), folded into the source-record write.
 *
 * A merge writes a source record and then the recipients of the emails it touches; a crash between the two must not
 * leave recipients behind acknowledged source records. Batches (sync runs, group memberships) insert a journal entry
 * into `merge_journal` before and delete it after (two commands per batch). For a single record that would be two of
 * the request's five commands, so instead:
 *
 * - each process owns a small pool of journal *slots*, documents `~mj:<owner>:<n>` kept in the source-records
 *   collection, and registers the pool in `merge_journal_owners` (one upsert when the pool grows, and at least every
 *   REGISTER_EVERY_MS before a slot is used);
 * - a write takes a free slot and sends, in ONE ordered `update` command, first the slot (the emails it is about to
 *   touch, and when) and then the source record. Ordered statements apply in order, so the source record is never
 *   written without its journal entry having been written first;
 * - the write holds its slot until its whole merge is done (recipients written, their events appended), so no other
 *   write overwrites a slot whose merge is unfinished. The slot is not cleared afterwards (that would cost the command
 *   saved): the next write through the slot overwrites it. A slot therefore names emails whose merge finished, or one
 *   that a crash interrupted;
 * - concurrent requests' slot-and-record pairs may go out together as one ordered command (src/store/writeBatch.ts):
 *   each pair stays in its order, slot first;
 * - the recovery sweep (replayJournalSlots, part of sweepStore) reads the owners, then their slots by `_id`, and
 *   re-merges the emails of every slot older than its age (idempotent: a finished merge re-derives the same
 *   recipients), then deletes the slot unless it was rewritten meanwhile. The sweep's work is bounded by the number
 *   of slots, not by the number of writes; owners silent for OWNER_SILENCE_MS with no slot left are forgotten.
 *
 * Slot documents carry none of the fields source-record queries select on (`orgId`, `connectionId`, `email`, ...), so
 * no query of source records ever returns one.
 */
export interface JournalSlotDoc {
  _id: string;
  mj: { orgId: string; emails: string[]; at: Date };
}

const SLOT_PREFIX = '~mj:';
/** A live process re-registers before using a slot when its registration is older than this. */
export const REGISTER_EVERY_MS = 5 * 60_000;
/** An owner whose slots are all gone and that has not registered for this long is forgotten by the sweep. */
export const OWNER_SILENCE_MS = 60 * 60_000;

const owner = newId();
let poolSize = 0;
let registeredSlots = 0;
let registeredAt = 0;
const free: number[] = [];

function slotId(ownerId: string, n: number): string {
  return `${SLOT_PREFIX}${ownerId}:${n}`;
}

function slots(): Collection<JournalSlotDoc> {
  return SourceRecord.collection as unknown as Collection<JournalSlotDoc>;
}

/** A slot held by one write until `release`. */
export interface JournalSlot {
  id: string;
  release(): void;
}

/** The registration in flight, if any, and how many slots it registers. */
let registering: { size: number; done: Promise<void> } | null = null;

/**
 * Registers the pool for at least `need` slots, unless done recently enough. A growing pool registers twice what it
 * needs (at least 8), and concurrent takers share one registration in flight: requests hold a slot each until their
 * merge is done, and a burst of them then costs a few registrations, not one per slot. The sweep skips absent slots.
 */
async function registerPool(need: number): Promise<void> {
  if (need <= registeredSlots && Date.now() - registeredAt <= REGISTER_EVERY_MS) return;
  if (registering && registering.size >= need) return registering.done;
  const size = Math.max(need, registeredSlots * 2, 8);
  const at = new Date();
  const register = () => JournalOwner.updateOne({ _id: owner }, { $max: { slots: size }, $set: { seenAt: at } }, { upsert: true }).exec();
  const done = (async () => {
    // Two first writes of this process upserting at once: one loses with a duplicate key, and the retry updates.
    await register().catch((err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err;
      return register();
    });
    registeredSlots = Math.max(registeredSlots, size);
    registeredAt = at.getTime();
  })();
  registering = { size, done };
  try {
    await done;
  } finally {
    if (registering?.done === done) registering = null;
  }
}

/** Takes a free slot of this process (registering the pool first when it grows or the registration is old). */
export async function takeJournalSlot(): Promise<JournalSlot> {
  const n = free.pop() ?? poolSize++;
  try {
    await registerPool(poolSize);
  } catch (err) {
    free.push(n);
    throw err;
  }
  let released = false;
  return {
    id: slotId(owner, n),
    release: () => {
      if (!released) free.push(n);
      released = true;
    },
  };
}

/** The statement that writes a slot: put first in the same ordered command as the source-record write it journals. */
export function journalSlotWrite(slot: JournalSlot, orgId: string, emails: string[], at: Date): AnyBulkWriteOperation<SlotOrRecord> {
  const doc: JournalSlotDoc = { _id: slot.id, mj: { orgId, emails, at } };
  return { replaceOne: { filter: { _id: slot.id }, replacement: doc, upsert: true } };
}

/** What the source-records collection holds: source records, and journal slots (no query of records selects these). */
export type SlotOrRecord = SourceRecordDoc | JournalSlotDoc;

/** The source-records collection as the folded write sees it. */
export function recordsWithSlots(): Collection<SlotOrRecord> {
  return SourceRecord.collection as unknown as Collection<SlotOrRecord>;
}

/** Slots older than `olderThanMs`, of every owner, with the owners that can be forgotten. */
export async function staleJournalSlots(
  olderThanMs: number,
): Promise<{ slots: JournalSlotDoc[]; idleOwners: { _id: string; seenAt: Date }[] }> {
  const cutoff = Date.now() - olderThanMs;
  const owners = await JournalOwner.find({}).lean().exec();
  const out: JournalSlotDoc[] = [];
  const idleOwners: { _id: string; seenAt: Date }[] = [];
  for (const o of owners) {
    const ids = Array.from({ length: o.slots }, (_, i) => slotId(o._id, i));
    const found = storeCapabilities().idInFromIndex
      ? await slots()
          .find({ _id: { $in: ids } })
          .toArray()
      : (await Promise.all(ids.map((id) => slots().findOne({ _id: id })))).filter((d): d is JournalSlotDoc => d !== null);
    for (const s of found) if (s.mj && s.mj.at.getTime() <= cutoff) out.push(s);
    if (!found.length && o.seenAt.getTime() < Date.now() - OWNER_SILENCE_MS) idleOwners.push({ _id: o._id, seenAt: o.seenAt });
  }
  return { slots: out, idleOwners };
}

/** Deletes a replayed slot, unless a write has reused it since (its `at` changed). */
export async function dropJournalSlot(slot: JournalSlotDoc): Promise<void> {
  await slots().deleteOne({ _id: slot._id, 'mj.at': slot.mj.at });
}

/** Forgets an owner that registered nothing since `seenAt`. */
export async function dropJournalOwner(o: { _id: string; seenAt: Date }): Promise<void> {
  await JournalOwner.deleteOne({ _id: o._id, seenAt: o.seenAt }).exec();
}
