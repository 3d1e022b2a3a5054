import { onStoreReset } from './db';
import type { RecipientDoc, SourceRecordDoc } from './models';

/**
 * Documents this process last wrote, by `_id`: the base of its next write of the same document, so that a SCIM
 * request need not read it first. Two of them: recipients (the merge's, see merge.ts) and SCIM users' source records
 * (PATCH and PUT, see src/scim/users.ts).
 *
 * Safe because every write based on a cached copy is conditional on the version and incarnation it was computed from
 * (`v` and `createdAt`): a copy that another process (or a batch of this one) has since changed fails that condition,
 * is forgotten, and the writer reads the document and retries, as it does after any lost race. `createdAt` tells a
 * document deleted and created again (whose `v` starts over) from the one cached. A read that answers a client (GET,
 * a search) never comes from here.
 *
 * Bounded (least recently used first out). Documents in it are never modified: writers build each new version as a
 * new object. Batches (sync runs) only refresh copies already here, so a large run neither fills nor churns it.
 */
export class WriteBaseCache<T extends { _id: string }> {
  private readonly docs = new Map<string, T>();
  private used = 0;
  private stale = 0;
  private pausedUntil = 0;

  constructor(private readonly max = CACHE_MAX) {
    onStoreReset(() => this.reset());
  }

  /** The cached copies of all `ids`, or undefined if any is missing or the cache stands aside (the caller then reads). */
  getAll(ids: string[]): Map<string, T> | undefined {
    if (this.paused()) return undefined;
    const out = new Map<string, T>();
    for (const id of ids) {
      const doc = this.docs.get(id);
      if (!doc) return undefined;
      // Most recently used last: a Map keeps insertion order.
      this.docs.delete(id);
      this.docs.set(id, doc);
      out.set(id, doc);
    }
    return out;
  }

  get(id: string): T | undefined {
    return this.getAll([id])?.get(id);
  }

  /** Keeps `doc` as the latest known version of its document; `refreshOnly`: only if a copy is already here. */
  remember(doc: T, refreshOnly = false): void {
    if (this.docs.has(doc._id)) this.docs.delete(doc._id);
    else if (refreshOnly) return;
    this.docs.set(doc._id, doc);
    if (this.docs.size > this.max) this.docs.delete(this.docs.keys().next().value!);
  }

  forget(id: string): void {
    this.docs.delete(id);
  }

  /**
   * Notes how a write based on cached copies went (`wasStale`: a copy was not the stored version). Judged in windows
   * of CACHE_WINDOW: when more than STALE_LIMIT of a window's were stale, the cache stands aside for CACHE_PAUSE_MS.
   * That is the case of several instances writing the same people (behind a round-robin balancer each write of a
   * person goes to another instance than the last), where a stale copy costs a failed write and a read more than
   * reading first would.
   */
  noteWrite(wasStale: boolean): void {
    this.used++;
    if (wasStale) this.stale++;
    if (this.used < CACHE_WINDOW) return;
    if (this.stale > this.used * STALE_LIMIT) this.pausedUntil = Date.now() + CACHE_PAUSE_MS;
    this.used = 0;
    this.stale = 0;
  }

  /** Whether the cache stands aside now. */
  paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  private reset(): void {
    this.docs.clear();
    this.used = 0;
    this.stale = 0;
    this.pausedUntil = 0;
  }
}

/** Documents kept per cache. */
const CACHE_MAX = 10_000;
export const CACHE_WINDOW = 50;
const STALE_LIMIT = 0.2;
const CACHE_PAUSE_MS = 60_000;

/** Recipients written (or read for a one-person merge) by this process. */
export const recipientCache = new WriteBaseCache<RecipientDoc>();
/** Live source records written by a one-record merge of this process (a SCIM request). */
export const recordCache = new WriteBaseCache<SourceRecordDoc>();
