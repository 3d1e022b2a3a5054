import { deleteStagedRows } from './stagedRows';
import { KeyIndex } from './keyIndex';
import { refreshFileResult } from './accountFiles';
import { findByIds } from './batchRead';
import { rawCollection } from './collections';
import { isIdentitySource } from './connectionTypes';
import { DEFAULT_MASS_REMOVAL_THRESHOLD } from './defaults';
import type { MergeSettings } from './derive';
import { InvalidStateError, NotFoundError, duplicateKeyIndexes, isDuplicateKeyError } from './errors';
import { massRemovalVerdict } from './massRemovalGuard';
import { liveBound } from './liveCount';
import { newId, sourceRecordId } from './ids';
import { applySourceChanges, nextRecord, predictSourceChanges, type ChangeResult, type ConnectionRef, type SourceChange } from './merge';
import {
  Connection,
  liveOfConnection,
  SourceRecord,
  StagedRow,
  SyncRun,
  SyncRunItem,
  syncRunItemId,
  type ApplyJournal,
  type SyncCounts,
  type ConnectionDoc,
  type SyncRunDoc,
  type SyncRunInput,
  type SyncRunItemDoc,
  type SyncRunPhase,
  type SyncRunStatus,
  type StagedRowDoc,
  type SourceRecordDoc,
} from './models';
import { liveRecordStates } from './sourceRecords';
import { mergeSettingsFor } from './settings';
import {
  PROCESS_OWNER,
  markRunDone,
  markRunLive,
  readRun,
  transitionRun,
  writeActiveRun,
  writeRunInfo,
  type RunFields,
} from './syncRunState';

export const BATCH_SIZE = 1000;
/** Row errors kept on a sync run's document; all of them are in sync_run_items, `counts.rejected` has the total. */
export const MAX_STORED_ERRORS = 100;
/** Why a run whose every row was rejected failed. */
export const EVERY_ROW_REJECTED = 'every row was rejected; nothing was applied (the errors say why, row by row)';

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

/** Thrown into a run's worker when the run stopped being active under it (failed by shutdown or by the sweep). */
export class SyncRunNotActiveError extends InvalidStateError {
  constructor(runId: string) {
    super(`sync run ${runId} is no longer active`);
  }
}

function emptyCounts(): SyncCounts {
  return { created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 };
}

function count(counts: SyncCounts, outcome: string): void {
  if (outcome === 'created' || outcome === 'updated' || outcome === 'unchanged' || outcome === 'deactivated' || outcome === 'removed') {
    counts[outcome]++;
  }
}

function tally(counts: SyncCounts, results: ChangeResult[]): void {
  for (const r of results) count(counts, r.outcome);
}

/** The status a run that applied its changes ends with. */
function endStatus(counts: SyncCounts): SyncRunStatus {
  return counts.rejected > 0 ? 'completed_with_errors' : 'succeeded';
}

async function mustWrite(runId: string, set: RunFields): Promise<void> {
  if (!(await writeActiveRun(runId, set))) throw new SyncRunNotActiveError(runId);
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
    phase: null,
    journal: null,
    progress: { processed: 0, total: null },
    counts: emptyCounts(),
    errors: [],
    createdAt: now,
    updatedAt: now,
  });
  return doc.toObject();
}

/**
 * Applies one batch of changes under the run's apply journal: the batch's keys, their versions and predicted outcomes
 * are written to the run first, the counts after. If the process stops in between, `settlePending` later counts
 * exactly the changes of the batch that were written (by their versions), so the run's counts match what changed.
 */
async function journaledApply(
  runId: string,
  conn: SyncConnection,
  batch: SourceChange[],
  counts: SyncCounts,
  journal: ApplyJournal,
  op: 'rows' | 'remove',
  toSeq: number | null,
  settings: MergeSettings | undefined,
  commit: RunFields = {},
  /** The journaled batch of an interrupted apply that `batch` finishes (its keys that did not reach the store). */
  carried: ApplyJournal['pending'] = null,
): Promise<ChangeResult[]> {
  // The records the prediction reads are handed to the merge, which then does not read them again (its writes are
  // version-checked: a record changed in between costs a conflict and a re-read, never a lost write).
  const known = new Map<string, SourceRecordDoc | null>();
  const predicted = await predictSourceChanges(conn, batch, known);
  // A carried batch is journaled as it was: settling it again (another stop) counts each of its changes once.
  journal.pending = carried ?? {
    keys: predicted.map((p) => p.key),
    versions: predicted.map((p) => p.v),
    outcomes: predicted.map((p) => p.outcome),
    toSeq,
    op,
  };
  await mustWrite(runId, { journal });
  const results = await applySourceChanges(conn, batch, settings, { known });
  tally(counts, results);
  journal.pending = null;
  if (toSeq !== null) journal.cursor = toSeq;
  await mustWrite(runId, { journal, counts, ...commit });
  return results;
}

/**
 * Counts the changes of an interrupted batch that reached the store; returns the keys that did not (to apply again).
 * A change reached the store when its source record's version moved (or the record appeared or went away).
 */
async function settlePending(
  conn: SyncConnection,
  pending: NonNullable<ApplyJournal['pending']>,
  counts: SyncCounts,
): Promise<Set<string>> {
  const current = await findByIds(
    SourceRecord,
    pending.keys.map((key) => sourceRecordId(conn._id, key)),
  );
  const unapplied = new Set<string>();
  for (let i = 0; i < pending.keys.length; i++) {
    const key = pending.keys[i]!;
    const v = pending.versions[i] ?? 0;
    const outcome = pending.outcomes[i] ?? 'unchanged';
    const cur = current.get(sourceRecordId(conn._id, key));
    const writes = outcome !== 'unchanged' && outcome !== 'missing' && outcome !== 'conflict';
    const applied = !writes || (v === 0 ? cur !== undefined : cur === undefined || cur.v !== v);
    if (applied) count(counts, outcome);
    else unapplied.add(key);
  }
  return unapplied;
}

/**
 * Feeds one snapshot (a file, an HRIS directory) into the store. Delta rows are applied batch by batch; full snapshots
 * are staged, checked by the mass-removal guard (SPEC §3.8) and applied at `finish()` under an apply journal, so an
 * apply that a stop cuts short resumes after restart (`resumeApply`) instead of staying half-applied.
 */
export class SnapshotIngest {
  private buffer: StagedChange[] = [];
  private counts = emptyCounts();
  private errors: { line: number | null; reason: string }[] = [];
  private errorItems: SyncRunItemDoc[] = [];
  private errorSeq = 0;
  private processed = 0;
  private accepted = 0;
  private seq = 0;
  private phase: SyncRunPhase | null = null;
  private journal: ApplyJournal = { cursor: 0, pending: null };
  private keysSeen = new KeyIndex();
  /** Full snapshots: what staging learnt from the stored records (see `stage`), for the guard's count-only check. */
  private staged: StagingTally = { liveSeen: 0, deactivations: 0 };
  private settings: MergeSettings | undefined;
  /** A first load (ApplyJournal.direct): batches are applied as they are read, as a delta run's are. */
  private direct = false;
  /**
   * A first load resumed from its journal (a stored file read again after a stop): input rows before `cursor` are
   * applied and counted already; of the rows up to `end` (the batch the stop cut short), only the `unapplied` keys are
   * applied, journaled as the `carried` batch.
   */
  private resume: { cursor: number; end: number; carried: ApplyJournal['pending']; unapplied: Set<string> } | null = null;
  /** Raised by shutdown: reading stops; an apply stops at the next batch, left for `resumeApply`. */
  signal: AbortSignal | undefined;

  private constructor(
    readonly run: SyncRunDoc,
    readonly conn: SyncConnection,
  ) {}

  static async start(conn: SyncConnection, opts: StartOptions, existingRun?: SyncRunDoc): Promise<SnapshotIngest> {
    const run = existingRun ?? (await createSyncRun(conn, opts));
    const ingest = new SnapshotIngest(run, conn);
    markRunLive(run._id);
    ingest.settings = await mergeSettingsFor(conn);
    if (run.mode === 'full') {
      ingest.phase = 'read';
      if (run.journal?.direct) await ingest.resumeDirect(run, run.journal);
      // A first load: with no live people, the snapshot can remove or deactivate nobody.
      else if (!(await mayHaveLiveRecords(conn))) {
        ingest.direct = true;
        ingest.journal = { cursor: 0, pending: null, direct: true };
      }
    }
    // A run that started earlier (an HRIS sync reads Finch before it ingests, a stored file was claimed) keeps its start
    // time and is already running.
    const fields = { phase: ingest.phase, owner: PROCESS_OWNER };
    if (!(await transitionRun(run._id, 'running', { ...fields, startedAt: run.startedAt ?? new Date() }))) await mustWrite(run._id, fields);
    return ingest;
  }

  get id(): string {
    return this.run._id;
  }

  /**
   * Takes up a first load where its journal left it: the counts and errors it stored, plus the changes of its
   * interrupted batch that reached the store (settlePending); the input is read again from its first row (`add` and
   * `reject` skip what is counted).
   */
  private async resumeDirect(run: SyncRunDoc, journal: ApplyJournal): Promise<void> {
    this.direct = true;
    this.counts = { ...emptyCounts(), ...run.counts };
    this.errors = [...(run.errors ?? [])];
    // Error items are numbered in order; those of the interrupted batch may be stored already (re-inserting is a no-op).
    this.errorSeq = this.counts.rejected;
    const carried = journal.pending ?? null;
    const unapplied = carried ? await settlePending(this.conn, carried, this.counts) : new Set<string>();
    this.journal = { cursor: journal.cursor, pending: null, direct: true };
    this.resume = { cursor: journal.cursor, end: carried?.toSeq ?? journal.cursor, carried, unapplied };
  }

  /** Records what the run's input turned out to hold (e.g. the rows a file's check counted). */
  async setInput(input: Partial<SyncRunInput>): Promise<void> {
    const set: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) set[`input.${k}`] = v;
    await writeRunInfo(this.run._id, set);
  }

  /**
   * Reports a problem with a row that is still applied (e.g. a person stored without a usable email): counted as
   * rejected and listed with the errors, without counting the row twice as processed.
   */
  flag(line: number | null, reason: string): void {
    this.counts.rejected++;
    this.recordError(line, reason);
  }

  /**
   * Full snapshots: the person is still listed, but this run cannot say what about them (their details could not be
   * read); what the source asserted before stays as it is, and they are not taken for gone.
   */
  async retain(key: string, line: number | null = null): Promise<void> {
    if (this.run.mode !== 'full' || this.keysSeen.has(key)) return;
    this.keysSeen.add(key, line);
    this.buffer.push({ op: 'retain', key });
    if (this.buffer.length >= BATCH_SIZE) await this.flush();
  }

  private recordError(line: number | null, reason: string): void {
    if (this.errors.length < MAX_STORED_ERRORS) this.errors.push({ line, reason });
    const n = this.errorSeq++;
    this.errorItems.push({ _id: syncRunItemId(this.run._id, 'error', n), runId: this.run._id, kind: 'error', n, line, reason });
  }

  /** Whether an accepted row (or a retained person) of this run named `key`. */
  lists(key: string): boolean {
    return this.keysSeen.has(key);
  }

  /** Records a rejected row (it changes nothing). */
  reject(line: number | null, reason: string): void {
    if (this.resume && this.processed < this.resume.cursor) {
      // Counted before the stop.
      this.processed++;
      return;
    }
    this.counts.rejected++;
    this.processed++;
    this.recordError(line, reason);
  }

  async add(change: RowChange, line: number | null = null): Promise<void> {
    if (this.run.mode === 'full' && change.op !== 'upsert') {
      this.reject(line, 'a full snapshot lists people; removal rows belong in delta files');
      return;
    }
    // One row per person and file, in full and delta files alike: a second row for the same person is a mistake in
    // the file, not an instruction (which row would win would depend on batch boundaries).
    const first = this.keysSeen.get(change.key);
    if (first !== undefined) {
      this.reject(line, `duplicate of ${first === null ? 'an earlier row' : `line ${first}`} (same person)`);
      return;
    }
    this.keysSeen.add(change.key, line);
    if (this.resume && this.processed < this.resume.end) {
      // A resumed first load re-reads what it applied: only the interrupted batch's unapplied changes are applied.
      const at = this.processed++;
      this.accepted++;
      if (at >= this.resume.cursor && this.resume.unapplied.has(change.key)) this.buffer.push(change);
      if (this.processed >= this.resume.end) await this.flush();
      return;
    }
    this.buffer.push(change);
    this.processed++;
    this.accepted++;
    if (this.buffer.length >= BATCH_SIZE) await this.flush();
  }

  private async flushErrors(): Promise<void> {
    if (!this.errorItems.length) return;
    const items = this.errorItems;
    this.errorItems = [];
    try {
      await rawCollection(SyncRunItem).insertMany(items, { ordered: false });
    } catch (err) {
      // A resumed first load records the interrupted batch's rejected rows again, under the same ids.
      if (!(this.direct && (isDuplicateKeyError(err) || duplicateKeyIndexes(err)))) throw err;
    }
  }

  private async flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length) this.signal?.throwIfAborted();
    await this.flushErrors();
    if (this.direct) {
      await this.applyDirect(batch.filter(isRowChange));
      return;
    }
    if (batch.length && this.run.mode === 'delta') {
      // Progress is written with the batch's counts.
      await journaledApply(
        this.run._id,
        this.conn,
        batch.filter(isRowChange),
        this.counts,
        this.journal,
        'rows',
        null,
        this.settings,
        this.progressFields(),
      );
      return;
    }
    if (batch.length) {
      await this.stage(batch);
      this.phase = 'stage';
    }
    await mustWrite(this.run._id, this.progressFields());
  }

  /**
   * Applies a batch of a first load under the journal, with the counts and the input position (`cursor`) it reached,
   * in one write: counts and cursor always agree, so a resume counts every row once. Written even without rows to
   * apply (rejected rows are counted with it).
   */
  private async applyDirect(batch: RowChange[]): Promise<void> {
    const carried = this.resume && this.processed >= this.resume.end ? this.resume.carried : null;
    if (this.resume && this.processed >= this.resume.end) this.resume = null;
    if (!batch.length && !carried) {
      this.journal.cursor = this.processed;
      await mustWrite(this.run._id, { journal: this.journal, ...this.progressFields() });
      return;
    }
    await journaledApply(
      this.run._id,
      this.conn,
      batch,
      this.counts,
      this.journal,
      'rows',
      this.processed,
      this.settings,
      this.progressFields(),
      carried,
    );
  }

  /**
   * Stages one batch of a full snapshot. The batch's stored source records are read (one batched `_id` read) and each
   * row is compared with its record as the merge would (`nextRecord`): a row that would change its record is staged
   * whole; the keys of the rows that change nothing (and of retained people) go into one keys document for the batch.
   * A re-sync in which 1 % changed thus writes ~11 small documents per 1,000 rows instead of 1,000, and its apply
   * re-reads and merges only the changed rows. Counts of the live records seen feed the guard's count-only check.
   */
  private async stage(batch: StagedChange[]): Promise<void> {
    const runId = this.run._id;
    const stored = await findByIds(
      SourceRecord,
      batch.map((c) => sourceRecordId(this.conn._id, c.key)),
    );
    const now = new Date();
    const base = this.seq;
    const keys: string[] = [];
    let unchanged = 0;
    const docs: StagedRowDoc[] = [];
    for (const change of batch) {
      const seq = this.seq++;
      const prev = stored.get(sourceRecordId(this.conn._id, change.key));
      if (prev && !prev.deleted) this.staged.liveSeen++;
      if (change.op === 'retain') {
        keys.push(change.key);
        continue;
      }
      const { outcome } = nextRecord(this.conn, change, prev, now);
      if (outcome === 'unchanged') {
        keys.push(change.key);
        unchanged++;
        continue;
      }
      if (outcome === 'deactivated') this.staged.deactivations++;
      docs.push({ _id: `${runId}:${seq}`, runId, seq, record: change });
    }
    if (keys.length) docs.push({ _id: stagedKeysId(runId, base), runId, seq: base, record: { unchanged }, keys });
    if (docs.length) await rawCollection(StagedRow).insertMany(docs, { ordered: false });
  }

  private progressFields(): RunFields {
    return { 'progress.processed': this.processed, counts: this.counts, errors: this.errors, phase: this.phase };
  }

  /** Ends the input. Returns the run as stored (succeeded, completed_with_errors, failed, or needs_review). */
  async finish(): Promise<SyncRunDoc> {
    try {
      return await this.finishRun();
    } finally {
      markRunDone(this.run._id);
    }
  }

  private async finishRun(): Promise<SyncRunDoc> {
    await this.flush();
    if (this.accepted === 0 && this.counts.rejected > 0) return this.fail(EVERY_ROW_REJECTED);
    if (this.run.mode === 'full' && !this.direct) {
      this.phase = 'guard';
      await mustWrite(this.run._id, {
        ...this.progressFields(),
        accepted: this.accepted,
        'progress.applyTotal': this.seq,
        'progress.applied': 0,
      });
      return evaluateAndApply(this.run._id, this.conn, false, this.signal, this.staged);
    }
    // A delta run, or a first load (applied as read: nobody could leave, and its guard numbers say so), ends as its
    // batches left it.
    const review = this.direct
      ? { existing: 0, wouldRemove: 0, wouldDeactivate: 0, threshold: this.conn.massRemovalThreshold ?? DEFAULT_MASS_REMOVAL_THRESHOLD }
      : undefined;
    await transitionRun(this.run._id, endStatus(this.counts), {
      ...this.progressFields(),
      phase: null,
      journal: null,
      ...(review ? { review } : {}),
      accepted: this.accepted,
      finishedAt: new Date(),
    });
    return (await readRun(this.run._id))!;
  }

  /**
   * Marks the run failed (an unreadable file, a source that went away); staged rows are dropped. A full snapshot
   * already applying is not failed (it is never left half-applied): it is left to finish, or to `resumeApply`.
   */
  async fail(message: string): Promise<SyncRunDoc> {
    markRunDone(this.run._id);
    const stored = await readRun(this.run._id);
    if (stored?.phase === 'apply' || stored?.status === 'applying') return stored;
    await this.flushErrors().catch(() => undefined);
    // A first load applies as it reads: its counts say what the batch an error cut short wrote.
    const pending = this.direct ? this.journal.pending : null;
    if (pending) await settlePending(this.conn, pending, this.counts).catch(() => undefined);
    const failed = await transitionRun(
      this.run._id,
      'failed',
      {
        'progress.processed': this.processed,
        counts: this.counts,
        errors: this.errors,
        message,
        finishedAt: new Date(),
        phase: null,
      },
      { phase: { $ne: 'apply' } },
    );
    if (failed) await deleteStagedRows(this.run._id);
    return (await readRun(this.run._id))!;
  }
}

/** What staging a full snapshot learnt: live records it lists, rows that would deactivate a live active person. */
interface StagingTally {
  liveSeen: number;
  deactivations: number;
}

/** The `_id` of the keys document of the staged batch starting at `base`. */
function stagedKeysId(runId: string, base: number): string {
  return `${runId}:k${base}`;
}

/** One staged batch: the rows to apply, the keys listed without a change, and how many of those are unchanged rows. */
interface StagedBatch {
  rows: RowChange[];
  keys: string[];
  unchanged: number;
}

/**
 * Reads the staged batch `from` ≤ seq < `to` (batches start at multiples of BATCH_SIZE) in one batched `_id` read: its
 * changed rows (`${runId}:${seq}`, in order) and its keys document.
 */
async function stagedBatch(runId: string, from: number, to: number): Promise<StagedBatch> {
  if (to - from > BATCH_SIZE) {
    // Several staged batches (an apply batch gathers the changed rows of several): one read each.
    const all: StagedBatch = { rows: [], keys: [], unchanged: 0 };
    for (let s = from; s < to; s += BATCH_SIZE) {
      const b = await stagedBatch(runId, s, Math.min(to, s + BATCH_SIZE));
      all.rows.push(...b.rows);
      all.keys.push(...b.keys);
      all.unchanged += b.unchanged;
    }
    return all;
  }
  const ids: string[] = [];
  for (let s = from; s < to; s++) ids.push(`${runId}:${s}`);
  const keysId = stagedKeysId(runId, from);
  const found = await findByIds(StagedRow, [...ids, keysId]);
  const batch: StagedBatch = { rows: [], keys: [], unchanged: 0 };
  for (const id of ids) {
    const record = found.get(id)?.record as StagedChange | undefined;
    if (!record) continue;
    if (isRowChange(record)) batch.rows.push(record);
    else batch.keys.push(record.key);
  }
  const keysDoc = found.get(keysId);
  if (keysDoc) {
    batch.keys.push(...(keysDoc.keys ?? []));
    batch.unchanged = (keysDoc.record as { unchanged?: number } | null)?.unchanged ?? 0;
  }
  return batch;
}

/** The keys of a staged snapshot (people listed without a change map to a retain marker). */
async function stagedKeys(runId: string, total: number): Promise<Map<string, StagedChange>> {
  const keys = new Map<string, StagedChange>();
  for (let s = 0; s < total; s += BATCH_SIZE) {
    const batch = await stagedBatch(runId, s, Math.min(total, s + BATCH_SIZE));
    for (const key of batch.keys) keys.set(key, { op: 'retain', key });
    for (const r of batch.rows) keys.set(r.key, r);
  }
  return keys;
}

/** Live people of the connection whose key is not in `keep`. */
async function missingKeys(conn: SyncConnection, keep: Map<string, unknown>): Promise<string[]> {
  const missing: string[] = [];
  for await (const r of SourceRecord.find(liveOfConnection(conn._id), { key: 1 }).lean().cursor()) {
    if (!keep.has(r.key)) missing.push(r.key);
  }
  return missing;
}

/**
 * Applies a staged snapshot from its journal's cursor: the staged rows batch by batch, then the removal (or, for
 * identity sources, tombstoning) of the live people it does not list. Each batch is journaled (`journaledApply`).
 */
async function applyStaged(run: SyncRunDoc, conn: SyncConnection, signal?: AbortSignal): Promise<SyncCounts> {
  const counts: SyncCounts = { ...emptyCounts(), ...run.counts };
  const journal: ApplyJournal = {
    cursor: run.journal?.cursor ?? 0,
    removing: run.journal?.removing ?? false,
    pending: run.journal?.pending ?? null,
  };
  const total = run.progress?.applyTotal ?? 0;
  const settings = await mergeSettingsFor(conn);
  const progress = () => ({ 'progress.applied': Math.min(journal.cursor, total) });

  // A batch cut short by a stop: count what reached the store, apply the rest.
  if (journal.pending) {
    const pending = journal.pending;
    const unapplied = await settlePending(conn, pending, counts);
    journal.pending = null;
    if (pending.op === 'rows' && pending.toSeq !== null) {
      const staged = await stagedBatch(run._id, journal.cursor, pending.toSeq);
      // The batch's unchanged rows are counted with its commit, which the stop cut off.
      counts.unchanged += staged.unchanged;
      const rest = staged.rows.filter((r) => unapplied.has(r.key));
      if (rest.length) tally(counts, await applySourceChanges(conn, rest, settings));
      journal.cursor = pending.toSeq;
    }
    await mustWrite(run._id, { journal, counts, ...progress() });
  }

  if (!journal.removing) {
    let writtenAt = Date.now();
    // The changed rows of consecutive staged batches are gathered into apply batches of up to BATCH_SIZE rows (a re-sync
    // in which 1 % changed merges ten rows per staged batch: gathering them makes one merge of ~1,000 instead of 100).
    let gathered: RowChange[] = [];
    let unchanged = 0;
    /** Applies (or, with nothing changed, records) what was gathered, up to staged row `to`. */
    const commit = async (to: number) => {
      // Unchanged rows cost nothing more: counted here, committed with the cursor (together, so a resume counts once).
      counts.unchanged += unchanged;
      if (!gathered.length) {
        // Nothing to write but the cursor and counts, written at most once a second: a stop before the write only
        // means these batches are read again on resume (they write nothing).
        journal.cursor = to;
        if (to >= total || Date.now() - writtenAt >= 1000) {
          await mustWrite(run._id, { journal, counts, 'progress.applied': to });
          writtenAt = Date.now();
        }
      } else {
        await journaledApply(run._id, conn, gathered, counts, journal, 'rows', to, settings, { 'progress.applied': to });
        writtenAt = Date.now();
      }
      gathered = [];
      unchanged = 0;
    };
    for (let s = journal.cursor; s < total;) {
      signal?.throwIfAborted();
      const to = Math.min(total, s + BATCH_SIZE);
      const staged = await stagedBatch(run._id, s, to);
      // Never more than BATCH_SIZE rows in one apply (a stop waits for the batch in flight).
      if (gathered.length && gathered.length + staged.rows.length > BATCH_SIZE) await commit(s);
      gathered.push(...staged.rows);
      unchanged += staged.unchanged;
      s = to;
      if (gathered.length < BATCH_SIZE && s < total) continue;
      await commit(to);
    }
    journal.removing = true;
    await mustWrite(run._id, { journal });
  }

  // The guard found nobody to remove (it counted the live records against those the snapshot lists): no scan.
  if (run.review?.wouldRemove === 0) return counts;
  const keep = await stagedKeys(run._id, total);
  const op = isIdentitySource(conn.type) ? 'tombstone' : 'delete';
  const missing = await missingKeys(conn, keep);
  for (let i = 0; i < missing.length; i += BATCH_SIZE) {
    signal?.throwIfAborted();
    const batch = missing.slice(i, i + BATCH_SIZE).map((key): SourceChange => ({ op, key }));
    await journaledApply(run._id, conn, batch, counts, journal, 'remove', null, settings);
  }
  return counts;
}

/** Writes who a held run would remove or deactivate (review items), replacing any earlier list. */
async function writeReviewItems(
  runId: string,
  list: { key: string; change: 'remove' | 'deactivate' }[],
  conn: SyncConnection,
): Promise<void> {
  await SyncRunItem.deleteMany({ runId, kind: 'review' }).exec();
  for (let i = 0; i < list.length; i += BATCH_SIZE) {
    const chunk = list.slice(i, i + BATCH_SIZE);
    const recs = await findByIds(
      SourceRecord,
      chunk.map((c) => sourceRecordId(conn._id, c.key)),
    );
    const items: SyncRunItemDoc[] = chunk.map((c, j) => ({
      _id: syncRunItemId(runId, 'review', i + j),
      runId,
      kind: 'review',
      n: i + j,
      key: c.key,
      email: recs.get(sourceRecordId(conn._id, c.key))?.email ?? null,
      change: c.change,
    }));
    await rawCollection(SyncRunItem).insertMany(items, { ordered: false });
  }
}

/**
 * Evaluates the guard over the staged snapshot and applies it, or holds it as needs_review. `force` applies a held run
 * (an administrator's decision; the run is `applying` and ends `applied`).
 */
export async function evaluateAndApply(
  runId: string,
  conn: SyncConnection,
  force: boolean,
  signal?: AbortSignal,
  tally?: StagingTally,
): Promise<SyncRunDoc> {
  const run = await readRun(runId);
  if (!run) throw new NotFoundError('sync run not found');
  const total = run.progress?.applyTotal ?? (await StagedRow.countDocuments({ runId }).exec());
  const threshold = conn.massRemovalThreshold ?? DEFAULT_MASS_REMOVAL_THRESHOLD;

  // Count-only check, right after staging: if the connection has no more live records than the snapshot's staging saw,
  // nobody would be removed, and the deactivations were counted while staging. Otherwise (or held) the full check below.
  // The connection's live-record bound answers without counting when it is no higher than what staging saw (it never
  // counts low, so then it is exact: src/store/liveCount.ts); a higher bound (people to remove, or a stop between a
  // raise and its write) is checked by the exact count.
  if (!force && tally) {
    const bound = await liveBound(conn);
    const existing = bound !== null && bound <= tally.liveSeen ? bound : await countLiveRecords(conn._id);
    if (existing <= tally.liveSeen) {
      const review = { existing, wouldRemove: 0, wouldDeactivate: tally.deactivations, threshold };
      if (!massRemovalVerdict(review).held) return startApply(run, conn, review, total, signal);
    }
  }

  const existing = await liveRecordStates(conn._id);
  const staged = await stagedKeys(runId, total);
  const list: { key: string; change: 'remove' | 'deactivate' }[] = [];
  for (const [key, rec] of staged) {
    if (rec.op === 'upsert' && !rec.active && existing.get(key) === true) list.push({ key, change: 'deactivate' });
  }
  for (const key of existing.keys()) if (!staged.has(key)) list.push({ key, change: 'remove' });
  const wouldDeactivate = list.filter((l) => l.change === 'deactivate').length;
  const wouldRemove = list.length - wouldDeactivate;
  const review = { existing: existing.size, wouldRemove, wouldDeactivate, threshold };
  const verdict = massRemovalVerdict(review);
  if (!force && verdict.held) {
    await writeReviewItems(runId, list, conn);
    await transitionRun(runId, 'needs_review', { review, phase: null, message: `${verdict.reason}; apply or discard it` });
    return (await readRun(runId))!;
  }
  return startApply(run, conn, review, total, signal);
}

/**
 * False only when the connection has no live (not tombstoned) source record. Its live-record bound answers (0: none;
 * above: taken as some, since a bound is never low; one left high only costs a first load its direct path). Without a
 * bound one existence read decides: a `limit 1` read, which stops at the first live record where the store serves it
 * from the index (a count would read them all, on every re-sync). On FerretDB v1 that read scans the records of every
 * connection stored before this one's, about 7 s for 50,000 of them in bench/sftp's profile.
 */
async function mayHaveLiveRecords(conn: SyncConnection): Promise<boolean> {
  const bound = await liveBound(conn);
  if (bound !== null) return bound > 0;
  return (await SourceRecord.findOne(liveOfConnection(conn._id), { _id: 1 }).lean().exec()) !== null;
}

/** Live (not tombstoned) source records of a connection: an exact count, no documents sent. */
async function countLiveRecords(connectionId: string): Promise<number> {
  return SourceRecord.countDocuments(liveOfConnection(connectionId)).exec();
}

async function startApply(
  run: SyncRunDoc,
  conn: SyncConnection,
  review: NonNullable<SyncRunDoc['review']>,
  total: number,
  signal?: AbortSignal,
): Promise<SyncRunDoc> {
  await mustWrite(run._id, {
    review,
    phase: 'apply',
    'progress.applyTotal': total,
    'progress.applied': 0,
    counts: { ...run.counts, created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0 },
    journal: { cursor: 0, pending: null },
  });
  const started = (await readRun(run._id))!;
  return finishApply(started, conn, signal);
}

/** Applies (or goes on applying) a run whose apply phase started, and ends it. */
async function finishApply(run: SyncRunDoc, conn: SyncConnection, signal?: AbortSignal): Promise<SyncRunDoc> {
  const counts = await applyStaged(run, conn, signal);
  await deleteStagedRows(run._id);
  const to: SyncRunStatus = run.status === 'applying' ? 'applied' : endStatus(counts);
  await transitionRun(run._id, to, {
    counts,
    finishedAt: new Date(),
    message: null,
    phase: null,
    journal: null,
    'progress.applied': run.progress?.applyTotal ?? 0,
  });
  return (await readRun(run._id))!;
}

/**
 * Resumes the apply of a run whose process stopped during its apply phase (SIGTERM past the shutdown bound, SIGKILL,
 * a crash): counts what the interrupted batch wrote and applies the rest. The run ends as it would have.
 */
export async function resumeApply(runId: string): Promise<SyncRunDoc | null> {
  const run = await readRun(runId);
  if (!run || !(run.status === 'applying' || (run.status === 'running' && run.phase === 'apply'))) return run;
  const c = (await Connection.findOne({ _id: run.connectionId }).lean().exec()) as ConnectionDoc | null;
  if (!c || c.deleting) {
    await transitionRun(runId, 'failed', { message: 'the connection of this sync run was deleted', finishedAt: new Date(), phase: null });
    await deleteStagedRows(runId);
    return readRun(runId);
  }
  markRunLive(runId);
  try {
    return await finishApply(run, { _id: c._id, orgId: c.orgId, type: c.type, massRemovalThreshold: c.massRemovalThreshold });
  } finally {
    markRunDone(runId);
  }
}

/**
 * Counts what the last, interrupted batch of a streamed (delta) run wrote, so a run failed after its process stopped
 * says what changed. Returns the counts to store.
 */
export async function settleInterruptedDelta(run: SyncRunDoc): Promise<SyncCounts> {
  const counts: SyncCounts = { ...emptyCounts(), ...run.counts };
  const pending = run.journal?.pending;
  if (!pending) return counts;
  await settlePending({ _id: run.connectionId, orgId: run.orgId, type: '' }, pending, counts);
  return counts;
}

/** A sync run as stored, or null. */
export async function getSyncRun(id: string): Promise<SyncRunDoc | null> {
  return readRun(id);
}

/** Applies a run held by the mass-removal guard. */
export async function applyHeldRun(runId: string, conn: SyncConnection): Promise<SyncRunDoc> {
  if (!(await transitionRun(runId, 'applying', { message: null, owner: PROCESS_OWNER }))) {
    throw new InvalidStateError('only a sync run held for review (needs_review) can be applied');
  }
  markRunLive(runId);
  try {
    const done = await evaluateAndApply(runId, conn, true);
    // An SFTP file's result file says what became of it.
    await refreshFileResult(runId);
    return done;
  } finally {
    markRunDone(runId);
  }
}

/** Discards a run held by the mass-removal guard: nothing it staged is applied. */
export async function discardHeldRun(runId: string): Promise<SyncRunDoc> {
  if (!(await transitionRun(runId, 'discarded', { finishedAt: new Date(), phase: null }))) {
    throw new InvalidStateError('only a sync run held for review (needs_review) can be discarded');
  }
  await deleteStagedRows(runId);
  await refreshFileResult(runId);
  return (await readRun(runId))!;
}

/** Records `input` fields (bytes read) on a run whatever its status (progress that does not make it active). */
export async function recordRunInput(runId: string, set: Record<string, unknown>): Promise<void> {
  await writeRunInfo(runId, set);
}
