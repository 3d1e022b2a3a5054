import { Schema, model } from 'mongoose';

/**
 * One move of a connection's live-record bound (src/store/liveCount.ts): the bound is the sum of a connection's
 * entries. Entries are only inserted, never updated: an insert cannot lose a concurrent one, where an `$inc` can on a
 * store whose updates are read-modify-write (FerretDB v1).
 */
export interface LiveBoundDoc {
  /** Random, or `${connectionId}:genesis` for the entry written when the connection was created. */
  _id: string;
  connectionId: string;
  /** Records that may have become live (+) or that stopped being live (−). */
  n: number;
  /** 1 on the genesis entry: without it the connection keeps no bound (it predates the bound). */
  g: number;
  at: Date;
}

const liveBoundSchema = new Schema<LiveBoundDoc>(
  {
    _id: { type: String, required: true },
    connectionId: { type: String, required: true },
    n: { type: Number, required: true },
    g: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
liveBoundSchema.index({ connectionId: 1 });

export const LiveBound = model<LiveBoundDoc>('LiveBound', liveBoundSchema, 'live_bounds');
