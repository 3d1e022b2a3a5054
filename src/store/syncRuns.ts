import { refreshFileResult } from './accountFiles';
import { isIdentitySource } from './connectionTypes';
import { rawCollection } from './collections';
import { DEFAULT_MASS_REMOVAL_THRESHOLD } from './defaults';
import { InvalidStateError, NotFoundError } from './errors';
import { massRemovalVerdict } from './massRemovalGuard';
import { newId } from './ids';
import type { MergeSettings } from './derive';
import { applySourceChanges, type ChangeResult, type ConnectionRef, type SourceChange } from './merge';
import { SourceRecord, StagedRow, SyncRun, type SyncCounts, type SyncRunDoc, type SyncRunInput } from './models';
import { mergeSettingsFor } from './settings';

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
/** A staged marker: the person is still in the snapshot but this run has nothing new to say about them. */
interface RetainRow {
  op: 'retain';
  key: string;
}
type StagedChange = RowChange | RetainRow;
const isRowChange = (c: StagedChange): c is RowChange => c.op !== 'retain';

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
  private buffer: StagedChange[] = [];
  private counts = emptyCounts();
  private errors: { line: number | null; reason: string }[] = [];
  private processed = 0;
  private seq = 0;
  private staging = false;
  private keysSeen = new Map<string, number | null>();
  private settings: MergeSettings | undefined;

  private constructor(readonly run: SyncRunDoc, readonly conn: SyncConnection) {}

  static async start(conn: SyncConnection, opts: StartOptions, existingRun?: SyncRunDoc): Promise<SnapshotIngest> {
    const run = existingRun ?? (await createSyncRun(conn, opts));
    const ingest = new SnapshotIngest(run, conn);
    if (run.mode === 'full') {
      const any = await SourceRecord.findOne({ connectionId: conn._id, deleted: false }, { _id: 1 }).lean().exec();
      ingest.staging = Boolean(any);
    }
    ingest.settings = await mergeSettingsFor(conn);
    // A run that started earlier (an HRIS sync reads Finch before it ingests) keeps its start time.
    await SyncRun.updateOne({ _id: run._id }, { $set: { status: 'running', startedAt: run.startedAt ?? new Date() } }).exec();
    return ingest;
  }

  get id(): string {
    return this.run._id;
  }

  /** Records what the run's input turned out to hold (e.g. the rows a file's check counted). */
  async setInput(input: Partial<SyncRunInput>): Promise<void> {
    const set: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) set[`input.${k}`] = v;
    await SyncRun.updateOne({ _id: this.run._id }, { $set: set }).exec();
  }

  /**
   * Reports a problem with a row that is still applied (e.g. a person stored without a usable email): counted as
   * rejected and listed with the errors, without counting the row twice as processed.
   */
  flag(line: number | null, reason: string): void {
    this.counts.rejected++;
    if (this.errors.length < MAX_STORED_ERRORS) this.errors.push({ line, reason });
  }

  /**
   * Full snapshots: the person is still listed, but this run cannot say what about them (their details could not be
   * read); what the source asserted before stays as it is, and they are not taken for gone.
   */
  async retain(key: string, line: number | null = null): Promise<void> {
    if (this.run.mode !== 'full' || this.keysSeen.has(key)) return;
    this.keysSeen.set(key, line);
    if (this.staging) this.buffer.push({ op: 'retain', key });
    if (this.buffer.length >= BATCH_SIZE) await this.flush();
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
      await rawCollection(StagedRow).insertMany(rows, { ordered: false });
    } else {
      const changes = batch.filter(isRowChange);
      if (changes.length) tally(this.counts, await applySourceChanges(this.conn, changes, this.settings));
    }
    await this.saveProgress();
  }

  private async saveProgress(extra: Record<string, unknown> = {}): Promise<void> {
    await SyncRun.updateOne(
      { _id: this.run._id },
      { $set: { 'progress.processed': this.processed, 'progress.total': null, counts: this.counts, errors: this.errors, ...extra } },
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
    return (await SyncRun.findOne({ _id: this.run._id }).lean().exec()) as SyncRunDoc;
  }

  /** Marks the run failed (an unreadable file, a source that went away); staged rows are dropped. */
  async fail(message: string): Promise<SyncRunDoc> {
    await StagedRow.deleteMany({ runId: this.run._id }).exec();
    await this.saveProgress({ status: 'failed', message, finishedAt: new Date() });
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
  if (!run) throw new NotFoundError('sync run not found');

  const existing = new Map<string, boolean>();
  for await (const r of SourceRecord.find({ connectionId: conn._id, deleted: false }, { key: 1, active: 1 }).lean().cursor()) {
    existing.set(r.key, r.active);
  }
  const seen = new Map<string, null>();
  let wouldDeactivate = 0;
  for await (const row of StagedRow.find({ runId }, { record: 1 }).lean().cursor()) {
    const rec = row.record as StagedChange;
    seen.set(rec.key, null);
    if (rec.op === 'upsert' && !rec.active && existing.get(rec.key) === true) wouldDeactivate++;
  }
  let wouldRemove = 0;
  let existingActive = 0;
  for (const [key, active] of existing) {
    if (active) existingActive++;
    if (!seen.has(key)) wouldRemove++;
  }
  const threshold = conn.massRemovalThreshold ?? DEFAULT_MASS_REMOVAL_THRESHOLD;
  const review = { existing: existing.size, wouldRemove, wouldDeactivate, threshold };
  const verdict = massRemovalVerdict(review);
  if (!force && verdict.held) {
    await SyncRun.updateOne({ _id: runId }, { $set: { status: 'needs_review', review, message: `${verdict.reason}; apply or discard it` } }).exec();
    return (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc;
  }
  void existingActive;

  await SyncRun.updateOne({ _id: runId }, { $set: { status: 'running', review } }).exec();
  const counts: SyncCounts = { ...run.counts, created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0 };
  const settings = await mergeSettingsFor(conn);
  let batch: RowChange[] = [];
  let processed = 0;
  const flush = async () => {
    tally(counts, await applySourceChanges(conn, batch, settings));
    processed += batch.length;
    batch = [];
    await SyncRun.updateOne({ _id: runId }, { $set: { counts, 'progress.applied': processed } }).exec();
  };
  for await (const row of StagedRow.find({ runId }, { record: 1 }).lean().cursor()) {
    const rec = row.record as StagedChange;
    if (rec.op === 'retain') continue;
    batch.push(rec);
    if (batch.length >= BATCH_SIZE) await flush();
  }
  if (batch.length) await flush();
  counts.removed += await removeMissing(conn, seen, counts);
  await StagedRow.deleteMany({ runId }).exec();
  await SyncRun.updateOne({ _id: runId }, { $set: { status: 'succeeded', counts, finishedAt: new Date(), message: null } }).exec();
  return (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc;
}

/** One sync run by id (callers check its organization), or null. */
export async function getSyncRun(id: string): Promise<SyncRunDoc | null> {
  return SyncRun.findOne({ _id: id }).lean<SyncRunDoc>().exec();
}

/** Applies a run held by the mass-removal guard. */
export async function applyHeldRun(runId: string, conn: SyncConnection): Promise<SyncRunDoc> {
  const claimed = await SyncRun.findOneAndUpdate({ _id: runId, status: 'needs_review' }, { $set: { status: 'running' } }).lean().exec();
  if (!claimed) throw new InvalidStateError('only a sync run held for review (needs_review) can be applied');
  const done = await evaluateAndApply(runId, conn, true);
  // An SFTP file's result file says what became of it.
  await refreshFileResult(runId);
  return done;
}

/** Discards a run held by the mass-removal guard: nothing it staged is applied. */
export async function discardHeldRun(runId: string): Promise<SyncRunDoc> {
  const claimed = await SyncRun.findOneAndUpdate(
    { _id: runId, status: 'needs_review' },
    { $set: { status: 'discarded', finishedAt: new Date() } },
  ).lean().exec();
  if (!claimed) throw new InvalidStateError('only a sync run held for review (needs_review) can be discarded');
  await StagedRow.deleteMany({ runId }).exec();
  await refreshFileResult(runId);
  return (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc;
}
