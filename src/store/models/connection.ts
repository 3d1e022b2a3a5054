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
    },
    hris: {
      mode: { type: String, enum: ['automated', 'assisted'] },
      /** Finch access token, AES-256-GCM ciphertext. */
      accessTokenEnc: { type: String },
      schedule: { type: String },
      lastSyncAt: { type: Date },
      /** Finch answered 401 (reauthenticate_user / invalid token): syncs stop until a new access token is given. */
      needsReauth: { type: Boolean, default: false },
      reauthReason: { type: String },
      /** When the scheduler runs this connection next (set after every run, with jitter). */
      nextSyncAt: { type: Date },
      /** A webhook asked for a sync at this time (debounced: each event moves it). */
      webhookSyncAt: { type: Date },
      lastRunId: { type: String },
      lastRunStatus: { type: String },
      /** Finch's /introspect answer from the last run (provider, products, connection status), and its ids. */
      introspection: { type: Schema.Types.Mixed },
      introspectedAt: { type: Date },
      finchConnectionId: { type: String },
      finchCompanyId: { type: String },
    },
    deleting: { type: Boolean, default: false },
  },
  { timestamps: true, versionKey: false },
);
connectionSchema.index({ orgId: 1, type: 1 });
connectionSchema.index({ scimTokenHash: 1 }, { sparse: true });
connectionSchema.index({ 'sftp.username': 1 }, { sparse: true });
connectionSchema.index({ 'hris.finchConnectionId': 1 }, { sparse: true });

export type ConnectionDoc = InferSchemaType<typeof connectionSchema> & { _id: string };
export const Connection = model('Connection', connectionSchema, 'connections');
