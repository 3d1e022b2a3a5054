import { Schema, model } from 'mongoose';
import type { Attributes } from '../attributes';
import type { EventDraft } from '../events';

/**
 * A copy of what one source record contributes to a recipient. The recipient embeds them so that the merge reads and
 * writes one document per email, by `_id`, without querying source records.
 */
export interface Contribution {
  sid: string;
  cid: string;
  ct: string;
  a: boolean;
  d: boolean;
  s: number;
  e: string | null;
  at: Attributes;
  g: string[];
}

export type RecipientStatus = 'active' | 'inactive' | 'offboarded';

/**
 * A recipient as the rest of the code sees it: what the merge derives (SPEC §3) and the contributions it derives
 * from. The store keeps it slimmer (StoredRecipient, src/store/recipientDocs.ts reads and writes it).
 */
export interface RecipientDoc {
  /** `${orgId}:${email}` */
  _id: string;
  orgId: string;
  email: string;
  emailDisplay: string;
  /** False while only tombstones remain: the person is removed from every read but the offboarding holds. */
  listed: boolean;
  status: RecipientStatus;
  firstName: string | null;
  lastName: string | null;
  attributes: Attributes;
  groups: string[];
  sources: { connectionId: string; type: string; active: boolean }[];
  contribs: Contribution[];
  /**
   * The feed events of the write that made this version, written with it: the merge journal replay re-appends them
   * (idempotently) when a process stopped between the write and the append.
   */
  ev?: string | EventDraft[];
  v: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A recipient document as stored. Only what cannot be derived, in as few fields as the queries allow (issue #15: the
 * store decodes and re-encodes the whole document on every write, and FerretDB v1 keeps a type schema beside every
 * field and every array element, so nested arrays of objects cost several times their data):
 * - `emailDisplay` only where it differs from `email`;
 * - `contribs` as one JSON string (no query reads inside it), naming the recipient's own attribute values and email
 *   rather than copying them (recipientDocs.ts);
 * - no `firstName`/`lastName` (the attributes' first_name/last_name) and no `sources` (the live contributions).
 * Documents written before keep those fields and an array of contributions; reads ignore the copies and derive them.
 */
export interface StoredRecipient {
  _id: string;
  orgId: string;
  email: string;
  emailDisplay?: string;
  listed: boolean;
  status: RecipientStatus;
  attributes: Attributes;
  groups: string[];
  contribs: string | Contribution[];
  ev?: string | EventDraft[];
  v: number;
  createdAt: Date;
  updatedAt: Date;
  /** Written by earlier versions; ignored. */
  firstName?: string | null;
  lastName?: string | null;
  sources?: unknown;
}

const recipientSchema = new Schema<StoredRecipient>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    email: { type: String, required: true },
    emailDisplay: { type: String },
    listed: { type: Boolean, required: true },
    status: { type: String, required: true },
    attributes: { type: Schema.Types.Mixed, default: {} },
    groups: { type: [String], default: [] },
    contribs: { type: Schema.Types.Mixed, required: true },
    ev: { type: Schema.Types.Mixed, default: undefined },
    v: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
recipientSchema.index({ orgId: 1, listed: 1, status: 1, groups: 1 });

export const Recipient = model<StoredRecipient>('Recipient', recipientSchema, 'recipients');
