import { Schema, model } from 'mongoose';

/** Rows of a full snapshot, kept until the run is applied or discarded (the mass-removal guard may hold it). */
export interface StagedRowDoc {
  /** `${syncRunId}:${seq}` */
  _id: string;
  runId: string;
  seq: number;
  record: unknown;
}

const stagedRowSchema = new Schema<StagedRowDoc>(
  {
    _id: { type: String, required: true },
    runId: { type: String, required: true },
    seq: { type: Number, required: true },
    record: { type: Schema.Types.Mixed },
  },
  { versionKey: false },
);
stagedRowSchema.index({ runId: 1, seq: 1 });

export const StagedRow = model<StagedRowDoc>('StagedRow', stagedRowSchema, 'staged_rows');
