import { Schema, model } from 'mongoose';

export interface SegmentDoc {
  _id: string;
  orgId: string;
  name: string;
  /** SCIM filter syntax over recipient fields and attributes. */
  filter: string;
  createdAt: Date;
  updatedAt: Date;
}

const segmentSchema = new Schema<SegmentDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    name: { type: String, required: true },
    filter: { type: String, required: true },
  },
  { timestamps: true, versionKey: false },
);
segmentSchema.index({ orgId: 1 });

export const Segment = model<SegmentDoc>('Segment', segmentSchema, 'segments');
