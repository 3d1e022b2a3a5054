import { Schema, model } from 'mongoose';

/**
 * A file in an SFTP account's tree (`inbox/full`, `inbox/delta`, `results`, `archive/YYYY-MM-DD`). The bytes are a
 * GridFS file in the same database (`fileId`); the tree lives only in the store, never on a local disk.
 */
export interface FileEntryDoc {
  _id: string;
  orgId: string;
  connectionId: string;
  /** The folder, without leading or trailing slash: `inbox/full`, `results`, `archive/2026-11-30`. */
  dir: string;
  name: string;
  /** The GridFS file (ObjectId as hex). */
  fileId: string;
  size: number;
  sha256: string | null;
  mtime: Date;
  /** How the bytes read as text (decided as they arrived), or why they cannot be read. */
  encoding?: string | null;
  encodingError?: string | null;
  /** The sync run processing this file (inbox files with a final name). */
  runId: string | null;
  createdAt: Date;
}

const fileEntrySchema = new Schema<FileEntryDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    connectionId: { type: String, required: true },
    dir: { type: String, required: true },
    name: { type: String, required: true },
    fileId: { type: String, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, default: null },
    mtime: { type: Date, required: true },
    encoding: { type: String, default: null },
    encodingError: { type: String, default: null },
    runId: { type: String, default: null },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
fileEntrySchema.index({ connectionId: 1, dir: 1, name: 1 }, { unique: true });

export const FileEntry = model<FileEntryDoc>('FileEntry', fileEntrySchema, 'sftp_files');
