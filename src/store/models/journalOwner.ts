import { Schema, model } from 'mongoose';

/**
 * A process that keeps merge-journal slots (src/store/mergeJournal.ts): how many, and when it last said it was alive.
 * The recovery sweep reads these to find every slot without scanning the collection the slots live in.
 */
export interface JournalOwnerDoc {
  _id: string;
  /** Slots `0 .. slots-1` of this owner may exist. */
  slots: number;
  seenAt: Date;
}

const journalOwnerSchema = new Schema<JournalOwnerDoc>(
  {
    _id: { type: String, required: true },
    slots: { type: Number, required: true },
    seenAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const JournalOwner = model<JournalOwnerDoc>('JournalOwner', journalOwnerSchema, 'merge_journal_owners');
