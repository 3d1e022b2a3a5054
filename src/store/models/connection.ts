import { Schema, model, type InferSchemaType } from 'mongoose';
import { CONNECTION_TYPES } from '../connectionTypes';

const connectionSchema = new Schema(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    type: { type: String, enum: CONNECTION_TYPES, required: true },
    name: { type: String, required: true },
    /** SCIM: identity provider dialect. */
    provider: { type: String },
    /** Directory connections sync the full attribute set only when this is on (SPEC §3.6). */
    extendedAttributes: { type: Boolean, default: false },
    /** Fraction of a source's people a full snapshot may remove or offboard before it is held (SPEC §3.8). */
    massRemovalThreshold: { type: Number, default: 0.2 },
    /** SCIM bearer token hash (SHA-256). */
    scimTokenHash: { type: String },
    sftp: {
      username: { type: String },
      passwordHash: { type: String },
      publicKeys: { type: [String], default: undefined },
      /** Largest file the account may upload (bytes); unset: the daemon's default (2 GiB). */
      maxFileBytes: { type: Number },
    },
    hris: {
      mode: { type: String, enum: ['automated', 'assisted'] },
      /** Finch access token, AES-256-GCM ciphertext. */
      accessTokenEnc: { type: String },
      schedule: { type: String },
      lastSyncAt: { type: Date },
    },
    deleting: { type: Boolean, default: false },
  },
  { timestamps: true, versionKey: false },
);
connectionSchema.index({ orgId: 1, type: 1 });
connectionSchema.index({ scimTokenHash: 1 }, { sparse: true });
connectionSchema.index({ 'sftp.username': 1 }, { sparse: true });

export type ConnectionDoc = InferSchemaType<typeof connectionSchema> & { _id: string };
export const Connection = model('Connection', connectionSchema, 'connections');
