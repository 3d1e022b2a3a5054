import { Schema, model } from 'mongoose';
import { CONNECTION_TYPES, type ConnectionType } from '../connectionTypes';
import { DEFAULT_MASS_REMOVAL_THRESHOLD } from '../defaults';

export interface SftpSettings {
  username?: string | null;
  passwordHash?: string | null;
  /** OpenSSH public key lines accepted besides the password. */
  publicKeys?: string[];
}

export interface HrisSettings {
  mode?: 'automated' | 'assisted' | null;
  /** Finch access token, AES-256-GCM ciphertext. */
  accessTokenEnc?: string | null;
  /** Interval between automatic syncs (e.g. `24h`). */
  schedule?: string | null;
  lastSyncAt?: Date | null;
  /** Finch answered 401 (reauthenticate_user / invalid token): syncs stop until a new access token is given. */
  needsReauth?: boolean;
  reauthReason?: string | null;
  /** When the scheduler runs this connection next (set after every run, with jitter). */
  nextSyncAt?: Date | null;
  /** A webhook asked for a sync at this time (debounced: each event moves it). */
  webhookSyncAt?: Date | null;
  lastRunId?: string | null;
  lastRunStatus?: string | null;
  /** Finch's /introspect answer from the last run (provider, products, connection status), and its ids. */
  introspection?: Record<string, unknown> | null;
  introspectedAt?: Date | null;
  finchConnectionId?: string | null;
  finchCompanyId?: string | null;
}

export interface ConnectionDoc {
  _id: string;
  orgId: string;
  type: ConnectionType;
  name: string;
  /** SCIM: identity provider dialect. */
  provider?: string | null;
  /** Directory connections sync the full attribute set only when this is on (SPEC §3.6). */
  extendedAttributes: boolean;
  /** Fraction of a source's people a full snapshot may remove or offboard before it is held (SPEC §3.8). */
  massRemovalThreshold: number;
  /** SCIM bearer token hash (SHA-256). */
  scimTokenHash?: string | null;
  sftp?: SftpSettings | null;
  hris?: HrisSettings | null;
  /** Set while the connection is being deleted: it no longer serves anything. */
  deleting: boolean;
  /** csv and sftp: the administrator's column mapping (header → target), in order; see src/store/columnMappings.ts. */
  columnMapping?: { header: string; target: string }[];
  /** Set while a settings change's re-merge of the connection's people is owed (cleared when done; the sweep finishes it). */
  remergeSince?: Date;
  /** scim: `strict` enforces the SCIM 2.0 Interoperability Profile; unset means `lenient` (src/store/scimSettings.ts). */
  interopProfile?: 'strict' | 'lenient' | null;
  /** scim: custom attributes the administrator declares (served under the connection's custom extension schema). */
  customAttributes?: { name: string; type: 'string' | 'boolean' | 'integer' | 'decimal' | 'dateTime'; multiValued: boolean }[];
  /** scim: attribute names an identity provider sent that no schema declares, first sighting each (ignored, not stored). */
  unknownScimAttributes?: { name: string; firstSeenAt: Date }[];
  createdAt: Date;
  updatedAt: Date;
}

const connectionSchema = new Schema<ConnectionDoc>(
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
    massRemovalThreshold: { type: Number, default: DEFAULT_MASS_REMOVAL_THRESHOLD },
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
    /** csv and sftp: the administrator's column mapping (header → target), in order; see src/store/columnMappings.ts. */
    columnMapping: {
      type: [{ _id: false, header: { type: String, required: true }, target: { type: String, required: true } }],
      default: undefined,
    },
    deleting: { type: Boolean, default: false },
    remergeSince: { type: Date, default: undefined },
    interopProfile: { type: String, enum: ['strict', 'lenient'] },
    customAttributes: {
      type: [
        {
          _id: false,
          name: { type: String, required: true },
          type: { type: String, enum: ['string', 'boolean', 'integer', 'decimal', 'dateTime'], required: true },
          multiValued: { type: Boolean, default: false },
        },
      ],
      default: undefined,
    },
    unknownScimAttributes: {
      type: [{ _id: false, name: { type: String, required: true }, firstSeenAt: { type: Date, required: true } }],
      default: undefined,
    },
  },
  { timestamps: true, versionKey: false },
);
connectionSchema.index({ orgId: 1, type: 1 });
connectionSchema.index({ scimTokenHash: 1 }, { sparse: true });
connectionSchema.index({ 'sftp.username': 1 }, { sparse: true });
connectionSchema.index({ 'hris.finchConnectionId': 1 }, { sparse: true });

export const Connection = model<ConnectionDoc>('Connection', connectionSchema, 'connections');
