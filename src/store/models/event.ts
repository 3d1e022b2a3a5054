import { Schema, model } from 'mongoose';

/**
 * One entry of an organization's change feed (SPEC §4 Events), written in the same store pass as the change it
 * describes. `seq` is the per-organization cursor; `eid` is derived from what changed (deterministic), so a replayed
 * merge re-emits an event it already wrote as a duplicate key, never twice.
 */
export interface EventDoc {
  /**
   * `${orgId}:${seq}`: readers fetch a range of cursors as `_id $in [...]`, which every MongoDB-compatible server
   * (FerretDB v1 included) serves from the primary index; a range query on `seq` would scan there.
   */
  _id: string;
  /** The public event id (`evt_...`), derived from what changed: unique, so a replay cannot write an event twice. */
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

const eventSchema = new Schema<EventDoc>(
  {
    _id: { type: String, required: true },
    eid: { type: String, required: true },
    orgId: { type: String, required: true },
    seq: { type: Number, required: true },
    type: { type: String, required: true },
    createdAt: { type: Date, required: true },
    connectionId: { type: String, default: null },
    data: { type: Schema.Types.Mixed, default: {} },
    object: { type: Schema.Types.Mixed, default: null },
    subject: { type: String, default: null },
    inc: { type: Number, default: null },
  },
  { versionKey: false, minimize: false },
);
eventSchema.index({ eid: 1 }, { unique: true });
eventSchema.index({ orgId: 1, seq: 1 });
eventSchema.index({ createdAt: 1 });
eventSchema.index({ subject: 1, seq: 1 });

export const Event = model<EventDoc>('Event', eventSchema, 'events');

/** Per-organization cursor allocation and the retention watermark. */
export interface EventSeqDoc {
  _id: string;
  seq: number;
  /** Events with seq ≤ this were removed by retention; a cursor below it is gone (410). */
  sweptThrough?: number;
}

const eventSeqSchema = new Schema<EventSeqDoc>(
  { _id: { type: String, required: true }, seq: { type: Number, required: true }, sweptThrough: { type: Number } },
  { versionKey: false },
);

export const EventSeq = model<EventSeqDoc>('EventSeq', eventSeqSchema, 'event_seq');
