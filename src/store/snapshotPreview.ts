import { DEFAULT_MASS_REMOVAL_THRESHOLD } from './defaults';
import { KeyIndex } from './keyIndex';
import { findByIds } from './batchRead';
import { sourceRecordId } from './ids';
import { massRemovalVerdict, type MassRemovalReview } from './massRemovalGuard';
import { nextRecord, type SourceChange } from './merge';
import { SourceRecord, type SourceRecordDoc, type SyncCounts } from './models';
import { liveRecordStates } from './sourceRecords';
import { BATCH_SIZE, type SyncConnection } from './syncRuns';

type RowChange = Extract<SourceChange, { op: 'upsert' } | { op: 'delete' }>;

/** Rejected rows a preview keeps (with their lines); `counts.rejected` has the total. */
export const PREVIEW_ERRORS = 20;

export interface SnapshotPreviewResult {
  counts: SyncCounts;
  errors: { line: number | null; reason: string }[];
  /** The mass-removal guard's verdict on this snapshot (delta snapshots are never held). */
  guard: MassRemovalReview & { held: boolean; reason: string | null };
}

/**
 * A dry run of SnapshotIngest: takes the same rows and tells what applying them would do (the counts a real run would
 * end with, and whether the mass-removal guard would hold it) while writing nothing. Each row is classified by the
 * merge's own nextRecord against what the connection stores now (and, in a delta file, against earlier rows of the
 * same person).
 */
export class SnapshotPreview {
  private counts: SyncCounts = { created: 0, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 };
  private errors: { line: number | null; reason: string }[] = [];
  private buffer: RowChange[] = [];
  private keysSeen = new KeyIndex();
  /** Delta files: the state a person would be in after the rows read so far. */
  private planned = new Map<string, SourceRecordDoc | null>();
  private wouldDeactivate = 0;

  private constructor(
    readonly conn: SyncConnection,
    readonly mode: 'full' | 'delta',
    /** Live people of the source now: key → active. */
    private existing: Map<string, boolean>,
  ) {}

  static async start(conn: SyncConnection, mode: 'full' | 'delta'): Promise<SnapshotPreview> {
    return new SnapshotPreview(conn, mode, await liveRecordStates(conn._id));
  }

  reject(line: number | null, reason: string): void {
    this.counts.rejected++;
    if (this.errors.length < PREVIEW_ERRORS) this.errors.push({ line, reason });
  }

  /** The same checks as SnapshotIngest.add (removal rows in full snapshots; one row per person in every file). */
  async add(change: RowChange, line: number | null = null): Promise<void> {
    if (this.mode === 'full' && change.op !== 'upsert')
      return this.reject(line, 'a full snapshot lists people; removal rows belong in delta files');
    const first = this.keysSeen.get(change.key);
    if (first !== undefined) return this.reject(line, `duplicate of ${first === null ? 'an earlier row' : `line ${first}`} (same person)`);
    this.keysSeen.add(change.key, line);
    if (change.op === 'upsert' && !change.active && this.existing.get(change.key) === true) this.wouldDeactivate++;
    this.buffer.push(change);
    if (this.buffer.length >= BATCH_SIZE) await this.flush();
  }

  /** A full file restates people whose rows were rejected as they are (csv/ingest.ts): they count as unchanged. */
  keepAsTheyAre(keys: string[]): void {
    for (const key of keys) {
      if (this.keysSeen.has(key) || !this.existing.has(key)) continue;
      this.keysSeen.add(key, null);
      this.counts.unchanged++;
    }
  }

  private async flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (!batch.length) return;
    const stored = await findByIds(
      SourceRecord,
      batch.map((c) => sourceRecordId(this.conn._id, c.key)),
    );
    const now = new Date();
    for (const change of batch) {
      const id = sourceRecordId(this.conn._id, change.key);
      const prev = this.planned.has(change.key) ? (this.planned.get(change.key) ?? undefined) : stored.get(id);
      const { next, outcome } = nextRecord(this.conn, change, prev, now);
      if (outcome === 'created' || outcome === 'updated' || outcome === 'unchanged' || outcome === 'deactivated' || outcome === 'removed')
        this.counts[outcome]++;
      if (this.mode === 'delta') this.planned.set(change.key, next);
    }
  }

  async finish(): Promise<SnapshotPreviewResult> {
    await this.flush();
    let wouldRemove = 0;
    if (this.mode === 'full') for (const key of this.existing.keys()) if (!this.keysSeen.has(key)) wouldRemove++;
    const review: MassRemovalReview = {
      existing: this.existing.size,
      wouldRemove,
      wouldDeactivate: this.wouldDeactivate,
      threshold: this.conn.massRemovalThreshold ?? DEFAULT_MASS_REMOVAL_THRESHOLD,
    };
    const verdict = this.mode === 'full' ? massRemovalVerdict(review) : { held: false, reason: null };
    // The counts are those of applying the file (after an administrator's "apply" when the guard holds it).
    this.counts.removed += wouldRemove;
    return { counts: this.counts, errors: this.errors, guard: { ...review, ...verdict } };
  }
}
