import { Schema, model } from 'mongoose';
import type { Attributes } from '../attributes';

/**
 * What one connection says about one person, kept as received (`raw`) beside the fields the merge reads.
 * `_id` is `${connectionId}:${key}`, key being the connection's own id for the person.
 */
export interface SourceRecordDoc {
  _id: string;
  orgId: string;
  connectionId: string;
  connectionType: string;
  key: string;
  /** Normalized email, or null when the record has no usable email (stored and reported, no recipient). */
  email: string | null;
  emailDisplay: string | null;
  active: boolean;
  /** A tombstone: deleted by SCIM or absent from a full HRIS directory; inactive and hidden, but it still offboards. */
  deleted: boolean;
  /** When the `active`/`deleted` state last changed (see nextStatusSeq). */
  statusSeq: number;
  attributes: Attributes;
  groups: string[];
  raw?: unknown;
  /** Extra lookup fields an ingest path needs (e.g. lower-cased SCIM userName), indexed per connection. */
  lookup?: Record<string, unknown>;
  v: number;
  createdAt: Date;
  updatedAt: Date;
}

const sourceRecordSchema = new Schema<SourceRecordDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    connectionId: { type: String, required: true },
    connectionType: { type: String, required: true },
    key: { type: String, required: true },
    email: { type: String, default: null },
    emailDisplay: { type: String, default: null },
    active: { type: Boolean, required: true },
    deleted: { type: Boolean, default: false },
    statusSeq: { type: Number, required: true },
    attributes: { type: Schema.Types.Mixed, default: {} },
    groups: { type: [String], default: [] },
    raw: { type: Schema.Types.Mixed },
    lookup: { type: Schema.Types.Mixed },
    v: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
sourceRecordSchema.index({ orgId: 1, email: 1 });
sourceRecordSchema.index({ connectionId: 1, key: 1 });
sourceRecordSchema.index({ connectionId: 1, groups: 1 });
// SCIM lookups (userName, externalId, emails.value filters) on a real MongoDB; see src/scim/userSearch.ts.
sourceRecordSchema.index({ connectionId: 1, 'lookup.userName': 1 });
sourceRecordSchema.index({ connectionId: 1, 'lookup.externalId': 1 });
sourceRecordSchema.index({ connectionId: 1, 'lookup.emails.value': 1 });

export const SourceRecord = model<SourceRecordDoc>('SourceRecord', sourceRecordSchema, 'source_records');
