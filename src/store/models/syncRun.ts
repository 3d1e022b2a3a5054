import { Schema, model } from 'mongoose';

/**
 * `pending`: an HRIS sync that found the provider's data not ready yet (Finch answered 202 `data_sync_in_progress`):
 * nothing changed, and the connection is retried later. It ends the run like `succeeded` or `failed` do.
 */
export const SYNC_RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'needs_review', 'discarded', 'pending'] as const;
export type SyncRunStatus = (typeof SYNC_RUN_STATUSES)[number];

export interface SyncCounts {
  created: number;
  updated: number;
  unchanged: number;
  deactivated: number;
  removed: number;
  rejected: number;
}

export interface SyncRunInput {
  bytesRead?: number | null;
  bytesTotal?: number | null;
  rows?: number | null;
  /** A file kept in the store (GridFS, SFTP uploads): a queued run with one is claimed and processed by a worker. */
  fileId?: string | null;
  /** The file's name and folder in its account's tree (`inbox/full`), and its SHA-256 (duplicates are not applied). */
  name?: string | null;
  dir?: string | null;
  sha256?: string | null;
  /** How the bytes read (decided as they arrived), or why the file cannot be read as text. */
  encoding?: string | null;
  encodingError?: string | null;
  /** When the result file was written back to the account. */
  resultAt?: Date | null;
}

export interface SyncRunDoc {
  _id: string;
  orgId: string;
  connectionId: string;
  /** What started it: hris, sftp file, api upload, ... */
  source: string;
  mode: 'full' | 'delta';
  /** e.g. the SFTP file name. */
  label?: string | null;
  status: SyncRunStatus;
  /** Rows processed (`applied`: rows of a held run applied so far), of `total` when known up front. */
  progress: {
    processed: number;
    total: number | null;
    applied?: number | null;
    /** HRIS syncs: the phase (introspect, directory, individuals, employments, merge) and directory pages fetched. */
    phase?: string | null;
    pages?: number | null;
  };
  /** The file a run reads, when it reads one (uploads): its size, bytes read so far and rows (from the pre-check). */
  input?: SyncRunInput | null;
  /** Written while a process works on the run; a queued or running run silent for long was abandoned. */
  heartbeatAt?: Date | null;
  /** Stored-input runs: the process that claimed the run (compare-and-set from queued). */
  claimedBy?: string | null;
  counts: SyncCounts;
  /** The first row errors (capped); `counts.rejected` has the total. */
  errors: { line: number | null; reason: string }[];
  /** Why a run failed or was held. */
  message?: string | null;
  /** Mass-removal guard numbers, when a full snapshot was evaluated. */
  review?: { existing: number; wouldRemove: number; wouldDeactivate: number; threshold: number } | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const syncRunSchema = new Schema<SyncRunDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    connectionId: { type: String, required: true },
    source: { type: String, required: true },
    mode: { type: String, enum: ['full', 'delta'], required: true },
    label: { type: String, default: null },
    status: { type: String, required: true },
    progress: {
      processed: { type: Number, default: 0 },
      total: { type: Number, default: null },
      applied: { type: Number, default: null },
      phase: { type: String, default: null },
      pages: { type: Number, default: null },
    },
    input: {
      type: new Schema(
        {
          bytesRead: Number, bytesTotal: Number, rows: Number, fileId: String, name: String, dir: String, sha256: String,
          encoding: String, encodingError: String, resultAt: Date,
        },
        { _id: false },
      ),
      default: null,
    },
    heartbeatAt: { type: Date, default: null },
    claimedBy: { type: String, default: null },
    counts: {
      created: { type: Number, default: 0 },
      updated: { type: Number, default: 0 },
      unchanged: { type: Number, default: 0 },
      deactivated: { type: Number, default: 0 },
      removed: { type: Number, default: 0 },
      rejected: { type: Number, default: 0 },
    },
    errors: { type: Schema.Types.Mixed, default: [] },
    message: { type: String, default: null },
    review: { type: Schema.Types.Mixed, default: null },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false, suppressReservedKeysWarning: true },
);
syncRunSchema.index({ orgId: 1, connectionId: 1, createdAt: -1 });

export const SyncRun = model<SyncRunDoc>('SyncRun', syncRunSchema, 'sync_runs');
