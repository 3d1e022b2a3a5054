import { Schema, model } from 'mongoose';

/**
 * Without multi-document transactions (FerretDB v1 has none), a merge writes source records and then recipients.
 * A journal entry names what a batch touches before it writes and is removed after; entries left by a crash are
 * replayed at start so that recipients always catch up with acknowledged source records.
 */
export interface MergeJournalDoc {
  _id: string;
  orgId: string;
  emails: string[];
  createdAt: Date;
}

const mergeJournalSchema = new Schema<MergeJournalDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    emails: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const MergeJournal = model<MergeJournalDoc>('MergeJournal', mergeJournalSchema, 'merge_journal');
