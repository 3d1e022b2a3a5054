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

const recipientSchema = new Schema<RecipientDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    email: { type: String, required: true },
    emailDisplay: { type: String, required: true },
    listed: { type: Boolean, required: true },
    status: { type: String, required: true },
    firstName: { type: String, default: null },
    lastName: { type: String, default: null },
    attributes: { type: Schema.Types.Mixed, default: {} },
    groups: { type: [String], default: [] },
    sources: { type: Schema.Types.Mixed, default: [] },
    contribs: { type: Schema.Types.Mixed, default: [] },
    ev: { type: Schema.Types.Mixed, default: undefined },
    v: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
recipientSchema.index({ orgId: 1, listed: 1, status: 1, groups: 1 });
recipientSchema.index({ 'contribs.cid': 1 });

export const Recipient = model<RecipientDoc>('Recipient', recipientSchema, 'recipients');
