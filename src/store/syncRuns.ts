import { isIdentitySource } from './connectionTypes';
import { newId } from './ids';
import { syncRunEvent } from './events';
import { applySourceChanges, type ChangeResult, type ConnectionRef, type SourceChange } from './merge';
import { SourceRecord, StagedRow, SyncRun, type SyncCounts, type SyncRunDoc, type SyncRunInput } from './models';
import { loadMergeSettings } from './settings';

export const BATCH_SIZE = 1000;
/** Row errors kept on a sync run; `counts.rejected` has the total. */
export const MAX_STORED_ERRORS = 1000;

export interface SyncConnection extends ConnectionRef {
  massRemovalThreshold?: number | null;
}

export interface StartOptions {
  mode: 'full' | 'delta';
  /** What started the run: `hris`, `sftp`, `api`, ... */
  source: string;
  label?: string | null;
  /** The file the run reads, when it reads one (its size and rows, known before processing). */
  input?: SyncRunInput | null;
}

type RowChange = Extract<SourceChange, { op: 'upsert' } | { op: 'delete' }>;

export class SyncRunError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

function emptyCounts(): SyncCounts {
  return { created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 };
}

function tally(counts: SyncCounts, results: ChangeResult[]): void {
  for (const r of results) {
    if (r.outcome === 'created' || r.outcome === 'updated' || r.outcome === 'unchanged' || r.outcome === 'deactivated' || r.outcome === 'removed') {
      counts[r.outcome]++;
    }
  }
}

export async function createSyncRun(conn: SyncConnection, opts: StartOptions): Promise<SyncRunDoc> {
  const now = new Date();
  const doc = await SyncRun.create({
    _id: newId(),
    orgId: conn.orgId,
    connectionId: conn._id,
    source: opts.source,
    mode: opts.mode,
    label: opts.label ?? null,
    input: opts.input ?? null,
    status: 'queued',
    progress: { processed: 0, total: null },
    counts: emptyCounts(),
    errors: [],
    createdAt: now,
    updatedAt: now,
  });
  return doc.toObject() as SyncRunDoc;
}

/**
 * Feeds one snapshot (a file, an HRIS directory) into the store. Delta rows are applied batch by batch; full snapshots
 * are staged and applied at `finish()` unless the mass-removal guard (SPEC §3.8) holds them for review. A first full
 * snapshot of an empty source cannot remove anyone, so it is applied as it streams, without staging.
 */
export class SnapshotIngest {
  private buffer: RowChange[] = [];
  private counts = emptyCounts();
  private errors: { line: number | null; reason: string }[] = [];
  private processed = 0;
  private seq = 0;
  private staging = false;
  private keysSeen = new Map<string, number | null>();
  private settings: Awaited<ReturnType<typeof loadMergeSettings>> | undefined;

  private constructor(readonly run: SyncRunDoc, readonly conn: SyncConnection) {}

  static async start(conn: SyncConnection, opts: StartOptions, existingRun?: SyncRunDoc): Promise<SnapshotIngest> {
    const run = existingRun ?? (await createSyncRun(conn, opts));
    const ingest = new SnapshotIngest(run, conn);
    if (run.mode === 'full') {
      const any = await SourceRecord.findOne({ connectionId: conn._id, deleted: false }, { _id: 1 }).lean().exec();
      ingest.staging = Boolean(any);
    }
    ingest.settings = await loadMergeSettings(conn.orgId);
    await SyncRun.updateOne({ _id: run._id }, { $set: { status: 'running', startedAt: new Date() } }).exec();
    return ingest;
  }

  get id(): string {
    return this.run._id;
  }

  /** Records a rejected row (it changes nothing). */
  reject(line: number | null, reason: string): void {
    this.counts.rejected++;
    this.processed++;
    if (this.errors.length < MAX_STORED_ERRORS) this.errors.push({ line, reason });
  }

  async add(change: RowChange, line: number | null = null): Promise<void> {
    if (this.run.mode === 'full') {
      if (change.op !== 'upsert') {
        this.reject(line, 'a full snapshot lists people; removal rows belong in delta files');
        return;
      }
      const first = this.keysSeen.get(change.key);
      if (first !== undefined) {
        this.reject(line, `duplicate of ${first === null ? 'an earlier row' : `line ${first}`} (same person)`);
        return;
      }
      this.keysSeen.set(change.key, line);
    }
    this.buffer.push(change);
    this.processed++;
    if (this.buffer.length >= BATCH_SIZE) await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (!batch.length) return;
    if (this.staging) {
      const rows = batch.map((record) => ({ _id: `${this.run._id}:${this.seq}`, runId: this.run._id, seq: this.seq++, record }));
      await StagedRow.collection.insertMany(rows as never[], { ordered: false });
    } else {
      tally(this.counts, await applySourceChanges(this.conn, batch, this.settings));
    }
    await this.saveProgress();
  }

  private async saveProgress(extra: Record<string, unknown> = {}): Promise<void> {
    await SyncRun.updateOne(
      { _id: this.run._id },
      { $set: { progress: { processed: this.processed, total: null }, counts: this.counts, errors: this.errors, ...extra } },
    ).exec();
  }

  /** Ends the input. Returns the run as stored (succeeded, or needs_review when the guard held it). */
  async finish(): Promise<SyncRunDoc> {
    await this.flush();
    if (this.run.mode === 'full' && this.staging) {
      await this.saveProgress();
      return evaluateAndApply(this.run._id, this.conn, false);
    }
    if (this.run.mode === 'full') {
      // First snapshot of an empty source: nothing to remove, but records stored earlier may have been tombstoned.
      this.counts.removed += await removeMissing(this.conn, this.keysSeen, this.counts);
    }
    await this.saveProgress({ status: 'succeeded', finishedAt: new Date() });
    await syncRunEvent(this.run._id, 'succeeded');
    return (await SyncRun.findOne({ _id: this.run._id }).lean().exec()) as SyncRunDoc;
  }

  /** Marks the run failed (an unreadable file, a source that went away); staged rows are dropped. */
  async fail(message: string): Promise<SyncRunDoc> {
    await StagedRow.deleteMany({ runId: this.run._id }).exec();
    await this.saveProgress({ status: 'failed', message, finishedAt: new Date() });
    await syncRunEvent(this.run._id, 'failed');
    return (await SyncRun.findOne({ _id: this.run._id }).lean().exec()) as SyncRunDoc;
  }
}

/** Removes (or, for identity sources, tombstones) the connection's live people whose key is not in `keep`. */
async function removeMissing(conn: SyncConnection, keep: Map<string, unknown>, counts: SyncCounts): Promise<number> {
  const op = isIdentitySource(conn.type) ? 'tombstone' : 'delete';
  let batch: SourceChange[] = [];
  let removed = 0;
  const flush = async () => {
    const results = await applySourceChanges(conn, batch);
    removed += results.filter((r) => r.outcome === 'removed').length;
    batch = [];
  };
  const missing: string[] = [];
  for await (const r of SourceRecord.find({ connectionId: conn._id, deleted: false }, { key: 1 }).lean().cursor()) {
    if (!keep.has(r.key)) missing.push(r.key);
  }
  for (const key of missing) {
    batch.push({ op, key } as SourceChange);
    if (batch.length >= BATCH_SIZE) await flush();
  }
  if (batch.length) await flush();
  void counts;
  return removed;
}

/**
 * Evaluates the guard over the staged snapshot and applies it, or holds it as needs_review. `force` applies a held run
 * (an administrator's decision).
 */
export async function evaluateAndApply(runId: string, conn: SyncConnection, force: boolean): Promise<SyncRunDoc> {
  const run = (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc | null;
  if (!run) throw new SyncRunError('sync run not found', 404);

  const existing = new Map<string, boolean>();
  for await (const r of SourceRecord.find({ connectionId: conn._id, deleted: false }, { key: 1, active: 1 }).lean().cursor()) {
    existing.set(r.key, r.active);
  }
  const seen = new Map<string, null>();
  let wouldDeactivate = 0;
  for await (const row of StagedRow.find({ runId }, { record: 1 }).lean().cursor()) {
    const rec = row.record as RowChange;
    seen.set(rec.key, null);
    if (rec.op === 'upsert' && !rec.active && existing.get(rec.key) === true) wouldDeactivate++;
  }
  let wouldRemove = 0;
  let existingActive = 0;
  for (const [key, active] of existing) {
    if (active) existingActive++;
    if (!seen.has(key)) wouldRemove++;
  }
  const threshold = conn.massRemovalThreshold ?? 0.2;
  const base = Math.max(existing.size, 1);
  const review = { existing: existing.size, wouldRemove, wouldDeactivate, threshold };
  if (!force && existing.size > 0 && (wouldRemove + wouldDeactivate) / base > threshold) {
    await SyncRun.updateOne(
      { _id: runId },
      {
        $set: {
          status: 'needs_review',
          review,
          message: `this full snapshot would remove ${wouldRemove} and deactivate ${wouldDeactivate} of ${existing.size} people (more than ${Math.round(threshold * 100)} %); apply or discard it`,
        },
      },
    ).exec();
    await syncRunEvent(runId, 'needs_review');
    return (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc;
  }
  void existingActive;

  await SyncRun.updateOne({ _id: runId }, { $set: { status: 'running', review } }).exec();
  const counts: SyncCounts = { ...run.counts, created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0 };
  const settings = await loadMergeSettings(conn.orgId);
  let batch: RowChange[] = [];
  let processed = 0;
  const flush = async () => {
    tally(counts, await applySourceChanges(conn, batch, settings));
    processed += batch.length;
    batch = [];
    await SyncRun.updateOne({ _id: runId }, { $set: { counts, 'progress.applied': processed } }).exec();
  };
  for await (const row of StagedRow.find({ runId }, { record: 1 }).lean().cursor()) {
    batch.push(row.record as RowChange);
    if (batch.length >= BATCH_SIZE) await flush();
  }
  if (batch.length) await flush();
  counts.removed += await removeMissing(conn, seen, counts);
  await StagedRow.deleteMany({ runId }).exec();
  await SyncRun.updateOne({ _id: runId }, { $set: { status: 'succeeded', counts, finishedAt: new Date(), message: null } }).exec();
  await syncRunEvent(runId, force ? 'applied' : 'succeeded');
  return (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc;
}

/** Applies a run held by the mass-removal guard. */
export async function applyHeldRun(runId: string, conn: SyncConnection): Promise<SyncRunDoc> {
  const claimed = await SyncRun.findOneAndUpdate({ _id: runId, status: 'needs_review' }, { $set: { status: 'running' } }).lean().exec();
  if (!claimed) throw new SyncRunError('only a sync run held for review (needs_review) can be applied', 409);
  return evaluateAndApply(runId, conn, true);
}

/** Discards a run held by the mass-removal guard: nothing it staged is applied. */
export async function discardHeldRun(runId: string): Promise<SyncRunDoc> {
  const claimed = await SyncRun.findOneAndUpdate(
    { _id: runId, status: 'needs_review' },
    { $set: { status: 'discarded', finishedAt: new Date() } },
  ).lean().exec();
  if (!claimed) throw new SyncRunError('only a sync run held for review (needs_review) can be discarded', 409);
  await StagedRow.deleteMany({ runId }).exec();
  await syncRunEvent(runId, 'discarded');
  return (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc;
}
