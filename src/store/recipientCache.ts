import { onStoreReset } from './db';
import type { RecipientDoc } from './models';

/**
 * Recipients this process last wrote (or read for a one-person merge), by `_id`: the base of its next write of the
 * same person, so that a SCIM request's merge need not read the recipient first.
 *
 * Safe because every recipient write is conditional on the version and incarnation it was computed from (`v` and
 * `createdAt`, see merge.ts): a copy that another process (or a batch of this one) has since changed fails that
 * condition, is forgotten, and the merge reads the recipient and retries, as it does after any lost race. `createdAt`
 * tells a recipient deleted and created again (whose `v` starts over) from the one cached.
 *
 * Bounded (least recently used first out). Documents in it are never modified: the merge builds each new version as a
 * new object. Batch merges (sync runs) only refresh copies already here, so a large run neither fills nor churns it.
 */
export const RECIPIENT_CACHE_MAX = 10_000;

/**
 * Writes based on cached copies are judged in windows of this many: when more than STALE_LIMIT of a window's were
 * stale, the cache stands aside for PAUSE_MS. That is the case of several instances writing the same people (behind
 * a round-robin balancer, each write of a person goes to another instance than the last), where a stale copy costs a
 * failed write and a read more than reading first would.
 */
export const CACHE_WINDOW = 50;
const STALE_LIMIT = 0.2;
export const CACHE_PAUSE_MS = 60_000;

const cache = new Map<string, RecipientDoc>();
let used = 0;
let stale = 0;
let pausedUntil = 0;

/** The cached copies of all `ids`, or undefined if any is missing or the cache stands aside (the caller then reads). */
export function cachedRecipients(ids: string[]): Map<string, RecipientDoc> | undefined {
  if (Date.now() < pausedUntil) return undefined;
  const out = new Map<string, RecipientDoc>();
  for (const id of ids) {
    const doc = cache.get(id);
    if (!doc) return undefined;
    // Most recently used last: Map keeps insertion order.
    cache.delete(id);
    cache.set(id, doc);
    out.set(id, doc);
  }
  return out;
}

/** Keeps `doc` as the latest known version of its recipient; `refreshOnly`: only if a copy is already here. */
export function rememberRecipient(doc: RecipientDoc, refreshOnly = false): void {
  if (cache.has(doc._id)) cache.delete(doc._id);
  else if (refreshOnly) return;
  cache.set(doc._id, doc);
  if (cache.size > RECIPIENT_CACHE_MAX) cache.delete(cache.keys().next().value!);
}

export function forgetRecipient(id: string): void {
  cache.delete(id);
}

/** Notes how a write based on cached copies went: `wasStale` when a copy was not the stored version. */
export function noteCachedWrite(wasStale: boolean): void {
  used++;
  if (wasStale) stale++;
  if (used < CACHE_WINDOW) return;
  if (stale > used * STALE_LIMIT) pausedUntil = Date.now() + CACHE_PAUSE_MS;
  used = 0;
  stale = 0;
}

/** Whether the cache stands aside now (tests). */
export function recipientCachePaused(): boolean {
  return Date.now() < pausedUntil;
}

function reset(): void {
  cache.clear();
  used = 0;
  stale = 0;
  pausedUntil = 0;
}

onStoreReset(reset);
