import { z } from 'zod';
import type { Response } from 'express';
import { FULL_ATTRIBUTE_SET, type ExportedRecipient } from '../store';

const OTHER_ATTRIBUTES = FULL_ATTRIBUTE_SET.filter((n) => n !== 'first_name' && n !== 'last_name');
export const EXPORT_COLUMNS = ['email', 'first_name', 'last_name', ...OTHER_ATTRIBUTES] as const;

const NEEDS_QUOTES = /[",\r\n]/;
/** A cell a spreadsheet would run as a formula: it starts with = + - @, a tab or a carriage return (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell (RFC 4180). A value a spreadsheet would take for a formula is neutralised as OWASP's CSV-injection
 * guidance says: prefixed with a single quote and quoted, so Excel and LibreOffice show it as text.
 */
export function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  const formula = typeof v === 'string' && FORMULA_START.test(s);
  if (formula) s = `'${s}`;
  return formula || NEEDS_QUOTES.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The UTF-8 byte-order mark Excel needs to read a CSV as UTF-8 (`?bom=true`). */
export const UTF8_BOM = '\uFEFF';

/** True when the request asks for an Excel-compatible export (`?bom=true` or `?bom=1`). */
/** The `bom` query parameter of CSV exports. */
export const bomQuery = z.enum(['true', 'false', '1', '0'], { error: 'bom is true or false' }).optional();

export function wantsBom(query: Record<string, unknown>): boolean {
  const v = query.bom;
  return v === 'true' || v === '1';
}

export function exportRow(r: ExportedRecipient): string {
  const a = (r.attributes ?? {}) as Record<string, string | undefined>;
  let line = `${cell(r.emailDisplay || r.email)},${cell(r.firstName)},${cell(r.lastName)}`;
  for (const n of OTHER_ATTRIBUTES) line += `,${cell(a[n])}`;
  return line + '\r\n';
}

const CHUNK_CHARS = 64 * 1024;

/** Resolves when the response can take more, or is gone; leaves no listeners behind. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams recipients as RFC 4180 CSV (UTF-8, CRLF), in chunks and honouring backpressure, so memory stays flat
 * whatever the audience size. Stops when the client goes away.
 */
export async function streamCsv(
  res: Response,
  rows: AsyncIterable<ExportedRecipient>,
  filename: string,
  opts: { bom?: boolean } = {},
): Promise<number> {
  return streamCsvLines(res, EXPORT_COLUMNS, mapRows(rows, exportRow), filename, opts);
}

async function* mapRows<T>(rows: AsyncIterable<T>, fn: (r: T) => string): AsyncGenerator<string> {
  for await (const r of rows) yield fn(r);
}

/** Streams CSV lines (each ending in CRLF) under a header row; with `bom`, the file starts with a UTF-8 BOM. */
export async function streamCsvLines(
  res: Response,
  header: readonly string[],
  lines: AsyncIterable<string>,
  filename: string,
  opts: { bom?: boolean } = {},
): Promise<number> {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
  let buf = (opts.bom ? UTF8_BOM : '') + header.map(cell).join(',') + '\r\n';
  let count = 0;
  for await (const line of lines) {
    if (res.destroyed) break;
    buf += line;
    count++;
    if (buf.length >= CHUNK_CHARS) {
      const ok = res.write(buf);
      buf = '';
      if (!ok) await drained(res);
    }
  }
  if (!res.destroyed) res.end(buf);
  return count;
}
