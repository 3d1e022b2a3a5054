import { ensureNamedGroups, findSourceRecord, type SnapshotIngest, type SyncConnection, type SyncRunDoc } from '../store';
import type { CsvItem } from './readCsv';

/**
 * A full file whose row for a person was rejected (a typo in one cell) does not remove that person: what the
 * connection said about them before is restated unchanged.
 */
async function keepAsTheyWere(ingest: SnapshotIngest, conn: SyncConnection, keys: string[]): Promise<void> {
  for (const key of keys) {
    const rec = await findSourceRecord(conn._id, key);
    if (!rec || rec.deleted) continue;
    await ingest.add({
      op: 'upsert',
      key,
      email: rec.emailDisplay ?? rec.email,
      active: rec.active,
      attributes: rec.attributes,
      groups: rec.groups,
      raw: rec.raw,
      lookup: rec.lookup,
    });
  }
}

/**
 * Feeds the rows of a CSV file (from readCsv) into a sync run and finishes it: rejected rows are recorded with their
 * lines, group names become the connection's groups, and the run ends succeeded or held by the mass-removal guard.
 * A CsvFileError (or any other error) is thrown to the caller, which fails the run. Shared by API uploads and SFTP.
 */
export async function ingestCsvRows(
  ingest: SnapshotIngest,
  conn: SyncConnection,
  rows: AsyncIterable<CsvItem> | AsyncIterator<CsvItem>,
  first?: IteratorResult<CsvItem>,
): Promise<SyncRunDoc> {
  const it = Symbol.asyncIterator in rows ? rows[Symbol.asyncIterator]() : rows;
  const full = ingest.run.mode === 'full';
  // Group names already ensured in this run: a file names the same few groups on many rows.
  const ensured = new Map<string, string>();
  const groupIds = async (names: string[]): Promise<string[]> => {
    const missing = names.filter((n) => !ensured.has(n.toLowerCase()));
    if (missing.length) {
      const ids = await ensureNamedGroups(conn, missing);
      missing.forEach((n, i) => ensured.set(n.toLowerCase(), ids[i]!));
    }
    return names.map((n) => ensured.get(n.toLowerCase())!);
  };
  // Full files: people named by rejected rows (the people valid rows list are the ingest's: `lists`, one key set per
  // run, which at a million rows is tens of MB).
  const rejectedKeys = new Set<string>();
  let listedAny = false;
  for (let r = first ?? (await it.next()); !r.done; r = await it.next()) {
    const item = r.value;
    if (item.error !== undefined) {
      ingest.reject(item.line, item.error);
      if (full && item.key !== undefined) rejectedKeys.add(item.key);
    } else if (item.change.op === 'delete') {
      await ingest.add({ op: 'delete', key: item.change.key }, item.line);
    } else {
      const c = item.change;
      listedAny = true;
      const groups = c.groups ? await groupIds(c.groups) : undefined;
      await ingest.add(
        { op: 'upsert', key: c.key, email: c.email, active: c.active, attributes: c.attributes, groups, raw: c.raw },
        item.line,
      );
    }
  }
  // A file without one valid row restates no one: its run fails as "every row was rejected".
  if (full && listedAny)
    await keepAsTheyWere(
      ingest,
      conn,
      [...rejectedKeys].filter((k) => !ingest.lists(k)),
    );
  return ingest.finish();
}
