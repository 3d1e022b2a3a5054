import { Schema, model, type InferSchemaType } from 'mongoose';
import { DEFAULT_PRIORITY } from '../connectionTypes';

const organizationSchema = new Schema(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    /** Connection types, highest priority first (SPEC §3.5). */
    attributePriority: { type: [String], default: () => [...DEFAULT_PRIORITY] },
    maxDirectoryConnections: { type: Number, default: 2 },
  },
  { timestamps: true, versionKey: false },
);

export type OrganizationDoc = InferSchemaType<typeof organizationSchema> & { _id: string };
export const Organization = model('Organization', organizationSchema, 'organizations');
