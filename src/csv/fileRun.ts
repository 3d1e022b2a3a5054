import type { Logger } from 'pino';
import { INTERRUPTED_BY_SHUTDOWN, type SnapshotIngest, type SyncConnection, type SyncRunDoc } from '../store';
import { checkCsvFile } from './check';
import { decodeChunks, type CsvEncoding } from './encoding';
import { CsvFileError } from './errors';
import { ingestCsvRows } from './ingest';
import { readCsv, type CsvItem, type ReadCsvOptions } from './readCsv';

/**
 * One stored CSV file ingested as one sync run: the pipeline shared by API uploads (a spooled request body) and the
 * SFTP daemon (a file stored in the store). The encoding was decided while the bytes arrived (EncodingInspector); the
 * file is checked whole (a file-level problem rejects it before any row is applied), then read again row by row into a
 * SnapshotIngest, which finishes the run or holds it for review.
 */
export interface StoredCsv {
  /** Reads the file from its first byte (called once for the check and once for the rows). */
  open(): AsyncIterable<Buffer>;
  bytes: number;
  encoding: CsvEncoding;
}

/** A file that passed the check, its first row read (a header problem shows there). */
export interface PreparedFile {
  rows: number;
  /** Bytes the reader took so far (the run's progress). */
  read: { bytes: number };
  it: AsyncIterator<CsvItem>;
  first: IteratorResult<CsvItem>;
  /** Stops reading (closes the file) when the rows are not going to be ingested. */
  close(): Promise<void>;
}

/** Counts the bytes the reader takes from a file. */
async function* counted(input: AsyncIterable<Buffer>, counter: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    counter.bytes += chunk.length;
    yield chunk;
  }
}

/** Rows that stop coming once `signal` is raised (shutdown): the next read throws. */
function stoppable<T>(it: AsyncIterator<T>, signal: AbortSignal | undefined): AsyncIterator<T> {
  if (!signal) return it;
  return {
    next: () => {
      signal.throwIfAborted();
      return it.next();
    },
    return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined as never }),
  };
}

/** Remembers the rejected rows' lines and reasons as they pass (for an errors file), at most `max`. */
function noting(it: AsyncIterator<CsvItem>, into: Map<number, string>, max: number): AsyncIterator<CsvItem> {
  return {
    next: async () => {
      const r = await it.next();
      if (!r.done && r.value.error !== undefined && into.size < max) into.set(r.value.line, r.value.error);
      return r;
    },
    return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined as never }),
  };
}

/**
 * Checks the whole file and opens its rows, with the connection's explicit column mapping when it has one. Throws a
 * CsvFileError for a file that cannot be read as a whole.
 */
export async function prepareCsvFile(file: StoredCsv, mode: 'full' | 'delta', mapping?: ReadCsvOptions['mapping']): Promise<PreparedFile> {
  const rows = (await checkCsvFile(file.open(), { mode, encoding: file.encoding, mapping })).rows;
  const read = { bytes: 0 };
  const it = readCsv(counted(file.open(), read), { mode, encoding: file.encoding, mapping })[Symbol.asyncIterator]();
  const close = async () => {
    await it.return?.(undefined).catch(() => undefined);
  };
  try {
    return { rows, read, it, first: await it.next(), close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface IngestFileOptions {
  logger: Logger;
  /** Raised by shutdown: the run fails with the signal's reason (or, for stored files, goes back to the queue). */
  signal?: AbortSignal;
  /** Rejected rows by line (for an errors file); at most `maxNoted` are kept. */
  rejected?: Map<number, string>;
  maxNoted?: number;
  /** What the log lines call the file: `csv upload`, `sftp file`. */
  what?: string;
}

/**
 * Feeds the rows of a prepared file into its sync run and finishes it; a file-level error found while reading fails the
 * run. Returns the run as it ended, or null when shutdown stopped it (`signal`).
 */
export async function ingestPreparedFile(
  ingest: SnapshotIngest,
  conn: SyncConnection,
  file: PreparedFile,
  opts: IngestFileOptions,
): Promise<SyncRunDoc | null> {
  const what = opts.what ?? 'csv file';
  // Shutdown stops the reading at the next row and an apply at the next batch (the apply is then resumed from its
  // journal after restart, never left half-done).
  ingest.signal = opts.signal;
  let rows = stoppable(file.it, opts.signal);
  if (opts.rejected) rows = noting(rows, opts.rejected, opts.maxNoted ?? 10_000);
  if (opts.rejected && file.first.done === false && file.first.value.error !== undefined)
    opts.rejected.set(file.first.value.line, file.first.value.error);
  try {
    const run = await ingestCsvRows(ingest, conn, rows, file.first);
    opts.logger.info({ syncRunId: run._id, connectionId: conn._id, status: run.status, counts: run.counts }, `${what} processed`);
    return run;
  } catch (err) {
    await file.close();
    if (opts.signal?.aborted) {
      opts.logger.warn({ syncRunId: ingest.id, connectionId: conn._id }, `${what} interrupted by shutdown`);
      return null;
    }
    const message = err instanceof CsvFileError ? err.message : 'processing stopped on an internal error; upload the file again';
    opts.logger[err instanceof CsvFileError ? 'info' : 'error']({ syncRunId: ingest.id, errName: (err as Error)?.name }, `${what} failed`);
    return ingest.fail(message).catch(() => null);
  }
}

/** Fails a run stopped by shutdown with the signal's reason (API uploads: their spooled file is gone with the process). */
export async function failInterrupted(ingest: SnapshotIngest, signal: AbortSignal): Promise<void> {
  await ingest.fail(typeof signal.reason === 'string' ? signal.reason : INTERRUPTED_BY_SHUTDOWN).catch(() => undefined);
}

/**
 * The original text of some physical lines of a file (for an errors file: the rows that were rejected), decoded in
 * the file's encoding; a row spanning lines (a quoted line break) shows its first line.
 */
export async function linesOf(file: StoredCsv, wanted: ReadonlySet<number>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (!wanted.size) return out;
  const last = Math.max(...wanted);
  let line = 1;
  let pending = '';
  for await (const text of decodeChunks(file.open(), file.encoding)) {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      if (wanted.has(line))
        out.set(
          line,
          pending
            .slice(0, nl)
            .replace(/\r$/, '')
            .replace(/^\uFEFF/, ''),
        );
      pending = pending.slice(nl + 1);
      if (++line > last) return out;
    }
  }
  if (pending && wanted.has(line)) out.set(line, pending.replace(/\r$/, ''));
  return out;
}
