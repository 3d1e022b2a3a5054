import { Schema, model } from 'mongoose';

export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];
export const PERMISSIONS = ['recipients:read'] as const;

export interface ApiTokenDoc {
  _id: string;
  orgId: string;
  role: Role;
  permissions: string[];
  /** SHA-256 of the token; the token itself is shown once and never stored. */
  tokenHash: string;
  name?: string | null;
  lastUsedAt?: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const apiTokenSchema = new Schema<ApiTokenDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    role: { type: String, enum: ROLES, required: true },
    permissions: { type: [String], default: [] },
    tokenHash: { type: String, required: true },
    name: { type: String, default: null },
    lastUsedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);
apiTokenSchema.index({ tokenHash: 1 }, { unique: true });
apiTokenSchema.index({ orgId: 1 });

export const ApiToken = model<ApiTokenDoc>('ApiToken', apiTokenSchema, 'api_tokens');
