import { SnapshotPreview, type SyncConnection, type SyncCounts } from '../store';
import { namedGroupId } from '../store/namedGroups';
import type { CsvEncoding } from './encoding';
import type { ColumnChoice, ColumnMapping } from './headers';
import { readCsv } from './readCsv';

/** What uploading a file would do, told without doing it (`?dryRun=true`). */
export interface CsvDryRun {
  dryRun: true;
  connectionId: string;
  mode: 'full' | 'delta';
  encoding: CsvEncoding;
  delimiter: string;
  /** Every column: its target and how it was chosen (explicit: the connection's mapping; detected; ignored). */
  columns: ColumnChoice[];
  /** Mapping entries that name no header of the file. */
  unusedMapping: string[];
  /** `rows`: data rows read; the others are what the sync run would count. */
  counts: SyncCounts & { rows: number };
  /** The first rejected rows. */
  rejectedRows: { line: number | null; reason: string }[];
  guard: { held: boolean; reason: string | null; existing: number; wouldRemove: number; wouldDeactivate: number; threshold: number };
}

/**
 * Reads a whole CSV file the way an upload would (same columns, same row checks, same full-file rules) and previews its
 * effect through SnapshotPreview: nothing is written (no sync run, no groups, no people). A file that cannot be read
 * as a whole throws the CsvFileError an upload would fail with.
 */
export async function dryRunCsv(
  conn: SyncConnection,
  input: AsyncIterable<Buffer | string | Uint8Array>,
  opts: { mode: 'full' | 'delta'; encoding: CsvEncoding; mapping?: ColumnMapping | null },
): Promise<CsvDryRun> {
  let columns: ColumnChoice[] = [];
  let unusedMapping: string[] = [];
  let delimiter = ',';
  const preview = await SnapshotPreview.start(conn, opts.mode);
  const full = opts.mode === 'full';
  const rejectedKeys = new Set<string>();
  const listed = new Set<string>();
  let rows = 0;
  const items = readCsv(input, {
    mode: opts.mode,
    encoding: opts.encoding,
    mapping: opts.mapping,
    onColumns: (plan, d) => {
      columns = plan.choices;
      unusedMapping = plan.unusedMapping;
      delimiter = d;
    },
  });
  for await (const item of items) {
    rows++;
    if (item.error !== undefined) {
      preview.reject(item.line, item.error);
      if (full && item.key !== undefined) rejectedKeys.add(item.key);
    } else if (item.change.op === 'delete') {
      await preview.add({ op: 'delete', key: item.change.key }, item.line);
    } else {
      const c = item.change;
      if (full) listed.add(c.key);
      // Group ids are derived from the names (namedGroupId), so the preview needs no group to exist.
      const groups = c.groups?.map((name) => namedGroupId(conn._id, name));
      await preview.add(
        { op: 'upsert', key: c.key, email: c.email, active: c.active, attributes: c.attributes, groups, raw: c.raw },
        item.line,
      );
    }
  }
  if (full) preview.keepAsTheyAre([...rejectedKeys].filter((k) => !listed.has(k)));
  const result = await preview.finish();
  return {
    dryRun: true,
    connectionId: conn._id,
    mode: opts.mode,
    encoding: opts.encoding,
    delimiter,
    columns,
    unusedMapping,
    counts: { rows, ...result.counts },
    rejectedRows: result.errors,
    guard: result.guard,
  };
}
