import { rawCollection } from './collections';
import { newId } from './ids';
import { LiveBound } from './models';

/**
 * A connection's live-record bound: an upper bound on how many of its source records are live (not tombstoned), kept
 * by the merge so that the mass-removal guard can tell "this full snapshot removes nobody" without counting the
 * connection's records (a count that cannot use an index on FerretDB v1, so there it reads every connection's records).
 *
 * Why it never counts low:
 * - The merge raises it *before* a write that may make records live (a create, or a tombstone brought back), and lowers
 *   it only *after* the store has confirmed a write that made records not live, or confirmed that a create it raised
 *   for was refused (another writer made the record first, and raised for it). A lost race read back says less than
 *   that (another writer's removal would look like ours and be counted twice), so it lowers nothing.
 * - The bound is a ledger of inserted entries (`live_bounds`), summed when read. An `$inc` is read-modify-write on
 *   FerretDB v1 and loses concurrent increments (of 200 at once, 18 remained); an insert loses nothing.
 * - A process that stops between a raise and its write, or a reply lost after a removal, leaves the bound high. A high
 *   bound only sends the guard to the exact count, as if there were no bound.
 * - On a store whose version-checked replaces are not isolated (FerretDB v1: two writers racing on one record may both
 *   be told they matched), a tombstone, which is a replace, lowers nothing: an HRIS connection's bound there stays high
 *   once people were offboarded, and its guard counts. Deletions (csv, sftp) report exact counts on every store.
 *
 * Kept only for connections that take full snapshots (csv, sftp, hris), so a SCIM write sends no extra command, and
 * only where the connection's genesis entry (0, written when it was created) exists: a connection created before the
 * bound existed has none, and its guard counts. (Starting a bound later, while writes run, could not be made exact.)
 *
 * The ledger grows by an entry per merge batch that creates or removes people (a first load of 1,000,000: 1,000);
 * entries go with their connection.
 */
export function keepsLiveBound(type: string): boolean {
  return type === 'csv' || type === 'sftp' || type === 'hris';
}

/** Starts a new connection's bound at 0 (it has no records yet). */
export async function startLiveBound(connectionId: string): Promise<void> {
  await rawCollection(LiveBound).insertOne({ _id: `${connectionId}:genesis`, connectionId, n: 0, g: 1, at: new Date() });
}

/** Raises the bound before a write that may make `n` records live. */
export async function raiseLiveBound(connectionId: string, n: number): Promise<void> {
  await moveLiveBound(connectionId, n);
}

/** Lowers the bound after the store confirmed that `n` records stopped being live (or that raised-for creates were refused). */
export async function lowerLiveBound(connectionId: string, n: number): Promise<void> {
  await moveLiveBound(connectionId, -n);
}

async function moveLiveBound(connectionId: string, by: number): Promise<void> {
  if (by === 0) return;
  await rawCollection(LiveBound).insertOne({ _id: newId(), connectionId, n: by, g: 0, at: new Date() });
}

/** The connection's bound, or null when it keeps none (its type keeps none, or it predates the bound). */
export async function liveBound(conn: { _id: string; type: string }): Promise<number | null> {
  if (!keepsLiveBound(conn.type)) return null;
  // Summed here, not by `$group`: FerretDB v1 answers a `$group` with two `$sum`s wrongly (the second comes back 0).
  // The entries are small, and all come in the first reply.
  const entries = await rawCollection(LiveBound)
    .find({ connectionId: conn._id }, { projection: { n: 1, g: 1 }, batchSize: 100_000 })
    .toArray();
  let n = 0;
  let genesis = false;
  for (const e of entries) {
    n += e.n;
    genesis ||= e.g === 1;
  }
  return genesis ? n : null;
}

/** Drops a deleted connection's ledger. */
export async function dropLiveBound(connectionId: string): Promise<void> {
  await rawCollection(LiveBound).deleteMany({ connectionId });
}
