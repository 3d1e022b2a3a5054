import { Schema, model } from 'mongoose';

/**
 * One entry of an organization's change feed (SPEC §4 Events), as readers get it. `seq` is the per-organization
 * cursor; `eid` is derived from what changed (deterministic), so a replayed merge re-emits an event it already wrote
 * with the same id. Stored in blocks (EventBlockDoc), not one document each.
 */
export interface EventDoc {
  /** `${orgId}:${seq}` (not stored: events live in blocks). */
  _id: string;
  /** The public event id (`evt_...`), derived from what changed. */
  eid: string;
  orgId: string;
  seq: number;
  type: string;
  createdAt: Date;
  connectionId: string | null;
  /** Ids, email and changed attribute names only. */
  data: Record<string, unknown>;
  /** The full object after the change, shown only to subscribers that ask for it. */
  object: Record<string, unknown> | null;
  /** The subject (a recipient `_id`), for the journal replay's lookups. */
  subject: string | null;
  /** The subject's incarnation (a recipient's `createdAt` in ms), for the journal replay. */
  inc: number | null;
}

/**
 * A run of consecutive events of one organization written in one store pass (a merge batch's events are a few
 * blocks of one insert): cursors `seq` .. `seq + n - 1`, the events compressed in `z` (raw deflate of a JSON array
 * of [eid, type, connectionId, data, object, subject, inc]). One small document per block instead of one indexed
 * document per event is what keeps the feed's cost on the merge low (see bench/RESULTS.md, issue 11). An empty block
 * (n 0) seals a position nobody wrote (src/store/eventBlocks.ts).
 */
export interface EventBlockDoc {
  /**
   * `${orgId}:${position}`: readers fetch a window of positions as `_id $in [...]`, which every MongoDB-compatible
   * server (FerretDB v1 with the `_id $in` pushdown included) serves from the primary index. The position is
   * `seq / 256`; in a feed written before positions (legacy) it is `seq`.
   */
  _id: string;
  orgId: string;
  /** The cursor of its first event. */
  seq: number;
  n: number;
  createdAt: Date;
  z: Buffer;
}

const eventBlockSchema = new Schema<EventBlockDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    seq: { type: Number, required: true },
    n: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    z: { type: Buffer, required: true },
  },
  { versionKey: false },
);
// No secondary index: every read is by `_id` (windows of positions), so an insert writes one index entry.

export const EventBlock = model<EventBlockDoc>('EventBlock', eventBlockSchema, 'event_blocks');

/**
 * Per organization: where the feed's positions start, a hint of its head and the retention watermarks. Never written
 * by an append (src/store/eventBlocks.ts).
 */
export interface EventSeqDoc {
  _id: string;
  /** The head of a feed written by the cursor counter before positions (legacy); 0 otherwise. */
  seq: number;
  /** The first block position (legacy head + 1); set by the first writer of an organization. */
  base?: number;
  /** A position known to hold a block (moved by the sweep and by cold starts far from it). */
  hint?: number;
  /** Events with cursors ≤ this were removed by retention; a cursor below it is gone (410). */
  sweptThrough?: number;
  /** Blocks at positions ≤ this were removed by retention. */
  sweptPos?: number;
}

const eventSeqSchema = new Schema<EventSeqDoc>(
  {
    _id: { type: String, required: true },
    seq: { type: Number, required: true },
    base: { type: Number },
    hint: { type: Number },
    sweptThrough: { type: Number },
    sweptPos: { type: Number },
  },
  { versionKey: false },
);

export const EventSeq = model<EventSeqDoc>('EventSeq', eventSeqSchema, 'event_seq');
