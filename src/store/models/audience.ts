import { Schema, model } from 'mongoose';

export interface AudienceSelection {
  groups: string[];
  segments: string[];
  recipients: string[];
}

export interface AudienceDoc {
  _id: string;
  orgId: string;
  name: string;
  include: AudienceSelection;
  exclude: AudienceSelection;
  createdAt: Date;
  updatedAt: Date;
}

const selection = {
  groups: { type: [String], default: [] },
  segments: { type: [String], default: [] },
  recipients: { type: [String], default: [] },
};

const audienceSchema = new Schema<AudienceDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    name: { type: String, required: true },
    include: selection,
    exclude: selection,
  },
  { timestamps: true, versionKey: false },
);
audienceSchema.index({ orgId: 1 });

export const Audience = model<AudienceDoc>('Audience', audienceSchema, 'audiences');
