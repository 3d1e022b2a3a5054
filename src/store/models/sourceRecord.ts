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
/*
 * The secondary indexes are partial. The collection also holds the SCIM userName keys and the merge journal's slots
 * (src/store/lookupKeys.ts, mergeJournal.ts), which have no `orgId` or `connectionId`, and the records of HRIS, SFTP and
 * CSV connections (most rows) have no `lookup`: none of them gets an entry it would never be found by. Every query these
 * serve names the indexed field by value, which implies the filter, so the server still picks them (an equality or
 * `$in` on a field implies `$exists: true`; the group index is the exception, below). A connection's records need no
 * index of their own (ofConnection). Each index a write maintains costs: on FerretDB v2 with DocumentDB about as much
 * as the insert itself. (FerretDB v1 keeps none: see ensureIndexes.)
 */
/** Part of every query of records by group, so that it can be answered from `records_group_members`. */
export const inSomeGroup = { 'groups.0': { $exists: true } } as const;

/**
 * The records of one connection as a query the primary index answers. A record's `_id` is `${connectionId}:${key}`
 * (ids.ts), so a connection's records are one `_id` range and no secondary index has to list them again (that index,
 * `records_connection_key`, cost about 115 bytes and one more index write per record on DocumentDB). `connectionId`
 * keeps out the connection's userName keys, whose `_id`s share the prefix (lookupKeys.ts). Only for queries no other
 * index serves (not by group, not by an indexed SCIM lookup field): DocumentDB's planner takes the range over those.
 */
export function ofConnection(connectionId: string): { connectionId: string; _id: { $gte: string; $lt: string } } {
  return { connectionId, _id: { $gte: `${connectionId}:`, $lt: `${connectionId};` } };
}

/** The live (not tombstoned) records of one connection, as ofConnection's range. */
export function liveOfConnection(connectionId: string): ReturnType<typeof ofConnection> & { deleted: false } {
  return { ...ofConnection(connectionId), deleted: false };
}

sourceRecordSchema.index({ orgId: 1, email: 1 }, { name: 'records_org_email', partialFilterExpression: { orgId: { $exists: true } } });
// Only records in some group: most rows (HRIS, SFTP, CSV, and SCIM users in no group) have none, and an empty array
// would still take an entry. A query by group names the filter itself (`inSomeGroup`): a planner does not infer
// `groups.0` from `groups: id`.
sourceRecordSchema.index({ connectionId: 1, groups: 1 }, { name: 'records_group_members', partialFilterExpression: inSomeGroup });
/** The SCIM lookup fields with an index of their own (`lookup.<field>`): userName, externalId, emails.value filters. */
export const indexedLookupFields = ['userName', 'externalId', 'emails.value'] as const;
for (const field of indexedLookupFields) {
  sourceRecordSchema.index(
    { connectionId: 1, [`lookup.${field}`]: 1 },
    { name: `records_scim_${field}`, partialFilterExpression: { [`lookup.${field}`]: { $exists: true } } },
  );
}

/** Indexes earlier versions created on the source records, dropped at connect (ensureIndexes): the partial ones above replace them. */
export const retiredSourceRecordIndexes = [
  'orgId_1_email_1',
  'connectionId_1_key_1',
  'connectionId_1_groups_1',
  'connectionId_1_lookup.userName_1',
  'connectionId_1_lookup.externalId_1',
  'connectionId_1_lookup.emails.value_1',
  // partial on connectionId alone, which still gave every record outside any group an entry: records_group_members
  'records_connection_groups',
  // a connection's records are an `_id` range (ofConnection)
  'records_connection_key',
];

export const SourceRecord = model<SourceRecordDoc>('SourceRecord', sourceRecordSchema, 'source_records');
