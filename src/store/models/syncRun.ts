import { Schema, model } from 'mongoose';

/**
 * A run's status moves only forward (src/store/syncRunState.ts has the transitions):
 * queued → running → succeeded | completed_with_errors | failed | needs_review | pending;
 * needs_review → applying → applied | failed, or needs_review → discarded.
 * `completed_with_errors`: applied, but some rows were rejected (a run whose every row was rejected is `failed`).
 * `pending`: an HRIS sync that found the provider's data not ready yet (Finch answered 202 `data_sync_in_progress`):
 * nothing changed, and the connection is retried later. It ends the run like `succeeded` or `failed` do.
 */
export const SYNC_RUN_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'completed_with_errors',
  'failed',
  'needs_review',
  'applying',
  'applied',
  'discarded',
  'pending',
] as const;
export type SyncRunStatus = (typeof SYNC_RUN_STATUSES)[number];

/** Where a running full snapshot is: reading rows, staging them, the mass-removal guard, applying. */
export const SYNC_RUN_PHASES = ['read', 'stage', 'guard', 'apply'] as const;
export type SyncRunPhase = (typeof SYNC_RUN_PHASES)[number];

/**
 * The changes of a batch being applied, as parallel lists (FerretDB stores no nested arrays): each change's key, the
 * source record's version before it (0: none) and the outcome predicted for it.
 */
export interface JournalBatch {
  keys: string[];
  versions: number[];
  outcomes: string[];
}

/**
 * The apply journal of a run: `cursor` staged rows are applied and counted; `pending` is the batch being applied now
 * (written before it is applied, cleared with the counts after), so an interrupted apply can count exactly what the
 * batch changed and resume after it.
 */
export interface ApplyJournal {
  cursor: number;
  /** Removal batches of a full snapshot have started (staged rows are all applied). */
  removing?: boolean;
  /**
   * A full snapshot into a connection without live people (a first load): nobody can leave, so there is nothing for
   * the mass-removal guard to hold, and rows are applied as they are read (no staging). `cursor` then counts the input
   * rows (accepted and rejected) whose changes are applied and counted; a stored file resumes after them.
   */
  direct?: boolean;
  pending?: (JournalBatch & { toSeq: number | null; op: 'rows' | 'remove' }) | null;
}

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
  /** The phase of a running full snapshot (null for other runs). */
  phase?: SyncRunPhase | null;
  /** Apply journal (see ApplyJournal). */
  journal?: ApplyJournal | null;
  /** The process working on the run (host, pid, process start): a run whose process is gone is abandoned at once. */
  owner?: { host: string; pid: number; since: number } | null;
  /** Times a run's apply was resumed after its process stopped. */
  resumed?: number | null;
  /** Rows processed (`applied`: rows of a held run applied so far), of `total` when known up front. */
  progress: {
    processed: number;
    total: number | null;
    applied?: number | null;
    applyTotal?: number | null;
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
  /** The first row errors (capped; all of them are in sync_run_items); `counts.rejected` has the total. */
  errors: { line: number | null; reason: string }[];
  /** Why a run failed or was held. */
  message?: string | null;
  /** Mass-removal guard numbers, when a full snapshot was evaluated. */
  review?: { existing: number; wouldRemove: number; wouldDeactivate: number; threshold: number } | null;
  /** Rows of the input that were accepted (not rejected), once reading ended. */
  accepted?: number | null;
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
    phase: { type: String, default: null },
    journal: { type: Schema.Types.Mixed, default: null },
    resumed: { type: Number, default: 0 },
    owner: { type: Schema.Types.Mixed, default: null },
    progress: {
      processed: { type: Number, default: 0 },
      total: { type: Number, default: null },
      applied: { type: Number, default: null },
      phase: { type: String, default: null },
      pages: { type: Number, default: null },
      applyTotal: { type: Number, default: null },
    },
    input: {
      type: new Schema(
        {
          bytesRead: Number,
          bytesTotal: Number,
          rows: Number,
          fileId: String,
          name: String,
          dir: String,
          sha256: String,
          encoding: String,
          encodingError: String,
          resultAt: Date,
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
    accepted: { type: Number, default: null },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false, suppressReservedKeysWarning: true },
);
syncRunSchema.index({ orgId: 1, connectionId: 1, createdAt: -1 });

export const SyncRun = model<SyncRunDoc>('SyncRun', syncRunSchema, 'sync_runs');
