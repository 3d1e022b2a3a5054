import { parse, type CsvError, type Info } from 'csv-parse';
import { decodeChunks, EncodingInspector, type CsvEncoding } from './encoding';
import { CsvFileError } from './errors';
import { planColumns, type ColumnMapping, type ColumnPlan, type ColumnTarget } from './headers';
import { rowToChange, type CsvChange } from './rows';

export interface ReadCsvOptions {
  mode: 'full' | 'delta';
  /**
   * The file's encoding, when a caller inspected the whole file first (EncodingInspector). Without it the first
   * 64 KiB decide, and invalid UTF-8 found later fails the read part-way.
   */
  encoding?: CsvEncoding;
  /** The connection's explicit column mapping (header → target); headers it does not name are detected. */
  mapping?: ColumnMapping | null;
  /** Called once with the columns chosen for the header row (the dry run reports them). */
  onColumns?: (plan: ColumnPlan, delimiter: string) => void;
}

/** One data row: the change it asks for, or why it is rejected. `line` is the 1-based line of the file. */
export type CsvItem =
  | { line: number; change: CsvChange; error?: undefined; key?: undefined }
  /** `key`: the person a rejected row names, when the row says who it is. */
  | { line: number; error: string; change?: undefined; key?: string };

const DELIMITERS = [',', ';', '\t', '|'] as const;

/** The delimiter used most often in the header line, outside quotes (comma on ties or when none is found). */
export function detectDelimiter(firstLine: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of firstLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ',';
  for (const d of DELIMITERS) if (counts.get(d)! > counts.get(best)!) best = d;
  return best;
}

async function* toBuffers(input: AsyncIterable<Buffer | string | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of input) yield typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.isBuffer(c) ? c : Buffer.from(c);
}

/** Reads the first chunks (up to 64 KiB) so the encoding can be decided, then replays them. */
async function headAndRest(input: AsyncIterable<Buffer>): Promise<{ head: Buffer[]; rest: AsyncIterator<Buffer>; ended: boolean }> {
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let n = 0;
  while (n < EncodingInspector.HEAD_BYTES) {
    const r = await it.next();
    if (r.done) return { head, rest: it, ended: true };
    head.push(r.value);
    n += r.value.length;
  }
  return { head, rest: it, ended: false };
}

async function* chain(head: Buffer[], rest: AsyncIterator<Buffer>, ended: boolean): AsyncGenerator<Buffer> {
  yield* head;
  if (ended) return;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

/** Lines a report may put above its header row (a title, a run date) and that are looked at for the header. */
export const MAX_PREAMBLE_ROWS = 10;

/**
 * The delimiter of the first line that has one (a report title above the header has none), else of the first line.
 */
export function detectDelimiterOfLines(lines: string[]): string {
  for (const line of lines) {
    let quoted = false;
    for (const ch of line) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && (DELIMITERS as readonly string[]).includes(ch)) return detectDelimiter(line);
    }
  }
  return detectDelimiter(lines[0] ?? '');
}

/** Splits decoded text so the first lines (the header, and any lines above it) are known before the parser starts. */
async function* textWithFirstLines(text: AsyncIterable<string>, onFirstLines: (lines: string[]) => void): AsyncGenerator<string> {
  let pending = '';
  let done = false;
  const lines = (t: string) => t.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '');
  for await (const s of text) {
    if (done) {
      yield s;
      continue;
    }
    pending += s;
    const found = lines(pending);
    if (found.length > MAX_PREAMBLE_ROWS || pending.length > 1_000_000) {
      onFirstLines(found.slice(0, MAX_PREAMBLE_ROWS));
      done = true;
      yield pending;
      pending = '';
    }
  }
  if (!done) {
    onFirstLines(lines(pending));
    if (pending) yield pending;
  }
}

/**
 * Reads a CSV file (a byte stream) into changes for one source, row by row with bounded memory: the encoding and the
 * delimiter are detected, headers are mapped to the SPEC's attribute names (with common HR-export spellings), and
 * every data row yields either a change or the reason it is rejected, with its line number. A file that cannot be
 * read as a whole (binary, undecodable, no email column) throws a CsvFileError.
 */
export async function* readCsv(input: AsyncIterable<Buffer | string | Uint8Array>, opts: ReadCsvOptions): AsyncGenerator<CsvItem> {
  const { head, rest, ended } = await headAndRest(toBuffers(input));
  let encoding = opts.encoding;
  if (!encoding) {
    const inspector = new EncodingInspector();
    for (const c of head) inspector.push(c);
    encoding = inspector.result(ended);
  }

  let delimiter = ',';
  const text = textWithFirstLines(decodeChunks(chain(head, rest, ended), encoding), (lines) => {
    delimiter = detectDelimiterOfLines(lines);
  });

  // The first decoded text decides the delimiter before the parser is built.
  const textIt = text[Symbol.asyncIterator]();
  const first = await textIt.next();
  if (first.done || !first.value.trim()) throw new CsvFileError('the file is empty');

  const skipped: { line: number; error: string }[] = [];
  let lastLine = 0;
  let lastEmpty = 0;
  let unclosedQuote = false;
  const parser = parse({
    delimiter,
    bom: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: 1_000_000,
    info: true,
    on_skip: (err: CsvError | undefined) => {
      const e: (CsvError & { lines?: number }) | undefined = err;
      // A quote never closed swallows every row after it: nothing in the file can be trusted to be a row.
      if (e?.code === 'CSV_QUOTE_NOT_CLOSED') {
        unclosedQuote = true;
        return undefined;
      }
      skipped.push({ line: e?.lines ?? 0, error: `malformed CSV: ${(e?.message ?? 'unreadable row').replace(/ at line \d+.*$/, '')}` });
      return undefined;
    },
  });
  // Resolves when the parser takes more input or is gone (destroyed by a consumer that stopped reading).
  const writable = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        parser.off('drain', done);
        parser.off('close', done);
        resolve();
      };
      parser.on('drain', done);
      parser.on('close', done);
    });
  const pump = (async () => {
    try {
      if (!parser.write(first.value)) await writable();
      for (;;) {
        if (parser.destroyed) return;
        const r = await textIt.next();
        if (r.done) break;
        if (parser.destroyed) return;
        if (!parser.write(r.value)) await writable();
      }
      parser.end();
    } catch (err) {
      parser.destroy(err as Error);
    } finally {
      // Close the input (a file stream) when reading stops early.
      await textIt.return?.(undefined).catch(() => undefined);
    }
  })();

  let headers: string[] | null = null;
  let columns: ColumnTarget[] = [];
  let hasGroups = false;
  /** The first record, when it has no email column: it is the header unless a later record (a report title above it) is. */
  let firstRecord: string[] | null = null;
  let looked = 0;
  const noEmailColumn = (record: string[]) => {
    const shown = record
      .slice(0, 12)
      .map((h) => JSON.stringify(h.slice(0, 40)))
      .join(', ');
    return new CsvFileError(
      `the header row has no email column (found ${shown || 'nothing'}); name one column "email", "Email Address" or "Work Email"`,
    );
  };
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      while (skipped.length) yield skipped.shift()!;
      // The line a record starts on: a quoted field may span lines, and skipped blank lines come before it.
      const line = lastLine + 1 + (item.info.empty_lines - lastEmpty);
      lastLine = item.info.lines;
      lastEmpty = item.info.empty_lines;
      if (!headers) {
        const record = item.record.map((h) => h.replace(/^\uFEFF/, ''));
        const plan = planColumns(record, opts.mapping);
        if (!plan.ambiguousEmail && !plan.columns.some((c) => c.kind === 'email')) {
          // Reports put a title or a run date (a row of one or two cells) above the header: look a few rows further.
          firstRecord ??= record;
          const preambleLike = record.filter((v) => v.trim() !== '').length <= 2;
          if (!preambleLike || ++looked >= MAX_PREAMBLE_ROWS) throw noEmailColumn(firstRecord);
          continue;
        }
        headers = record;
        columns = plan.columns;
        opts.onColumns?.(plan, delimiter);
        if (plan.ambiguousEmail) {
          throw new CsvFileError(
            `ambiguous email columns: ${plan.ambiguousEmail.map((h) => JSON.stringify(h.slice(0, 40))).join(', ')}; map one of them to email in the connection's column mapping`,
          );
        }
        hasGroups = columns.some((c) => c.kind === 'groups');
        continue;
      }
      // A row of empty fields (spreadsheet exports add them) is no row.
      if (item.record.every((v) => v.trim() === '')) continue;
      const res = rowToChange(headers, columns, item.record, hasGroups);
      if ('error' in res) yield res.key === undefined ? { line, error: res.error } : { line, error: res.error, key: res.key };
      else if (opts.mode === 'full' && res.change.op === 'delete') {
        yield { line, error: 'a full file removes people by leaving them out; delete rows belong in delta files' };
      } else yield { line, change: res.change };
    }
    while (skipped.length) yield skipped.shift()!;
    if (unclosedQuote) {
      throw new CsvFileError(`a quoted field of the row after line ${lastLine} is never closed, so the rows after it cannot be read`);
    }
    if (!headers) throw firstRecord ? noEmailColumn(firstRecord) : new CsvFileError('the file has no header row');
  } catch (err) {
    if (err instanceof CsvFileError) throw err;
    const e = err as CsvError & { lines?: number };
    if (e?.code && String(e.code).startsWith('CSV_')) throw new CsvFileError(`the file is not valid CSV: ${e.message}`);
    throw err;
  } finally {
    if (!parser.destroyed) parser.destroy();
    await pump;
  }
}
