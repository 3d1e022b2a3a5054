import { Schema, model } from 'mongoose';

/**
 * A natural key claimed by one entity, keyed by `_id` (e.g. `${connectionId}:userName:${lower-cased userName}`).
 * Inserting one is an atomic uniqueness check on every MongoDB-compatible server (a duplicate `_id` fails), and reading
 * one is an `_id` lookup, which even FerretDB v1 serves from its index.
 */
export interface LookupKeyDoc {
  _id: string;
  orgId: string;
  connectionId: string;
  /** The entity that holds the key (e.g. a SCIM id). */
  ref: string;
  createdAt: Date;
}

const lookupKeySchema = new Schema<LookupKeyDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    connectionId: { type: String, required: true },
    ref: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
lookupKeySchema.index({ connectionId: 1 });

export const LookupKey = model<LookupKeyDoc>('LookupKey', lookupKeySchema, 'lookup_keys');
