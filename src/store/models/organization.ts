import { Schema, model } from 'mongoose';
import { DEFAULT_MAX_DIRECTORY_CONNECTIONS, DEFAULT_PRIORITY } from '../defaults';

export interface OrganizationDoc {
  _id: string;
  name: string;
  /** Connection types, highest priority first (SPEC §3.5). */
  attributePriority: string[];
  maxDirectoryConnections: number;
  /** Set while a settings change's re-merge of every person is owed (cleared when done; the sweep finishes it). */
  remergeSince?: Date;
  createdAt: Date;
  updatedAt: Date;
}

const organizationSchema = new Schema<OrganizationDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    /** Connection types, highest priority first (SPEC §3.5). */
    attributePriority: { type: [String], default: () => [...DEFAULT_PRIORITY] },
    maxDirectoryConnections: { type: Number, default: DEFAULT_MAX_DIRECTORY_CONNECTIONS },
    remergeSince: { type: Date, default: undefined },
  },
  { timestamps: true, versionKey: false },
);

export const Organization = model<OrganizationDoc>('Organization', organizationSchema, 'organizations');
