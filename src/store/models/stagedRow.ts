import { Schema, model } from 'mongoose';

/**
 * Rows of a full snapshot, kept until the run is applied or discarded (the mass-removal guard may hold it). Only rows
 * that change their source record are staged one by one (`${syncRunId}:${seq}`); the people of a batch the snapshot
 * lists unchanged (or retains) are one document per batch (`${syncRunId}:k${seq of the batch's first row}`) holding
 * their keys, so a re-sync in which little changed writes one small document per 1,000 rows.
 */
export interface StagedRowDoc {
  /** `${syncRunId}:${seq}`, or `${syncRunId}:k${batch start}` for a batch's unchanged keys. */
  _id: string;
  runId: string;
  seq: number;
  record: unknown;
  /** Keys document: the keys of the batch's people the snapshot lists without a change. */
  keys?: string[];
}

const stagedRowSchema = new Schema<StagedRowDoc>(
  {
    _id: { type: String, required: true },
    runId: { type: String, required: true },
    seq: { type: Number, required: true },
    record: { type: Schema.Types.Mixed },
    keys: { type: [String], default: undefined },
  },
  { versionKey: false },
);
stagedRowSchema.index({ runId: 1, seq: 1 });

export const StagedRow = model<StagedRowDoc>('StagedRow', stagedRowSchema, 'staged_rows');
