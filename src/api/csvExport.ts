import type { Response } from 'express';
import { FULL_ATTRIBUTE_SET, type ExportedRecipient } from '../store';

const OTHER_ATTRIBUTES = FULL_ATTRIBUTE_SET.filter((n) => n !== 'first_name' && n !== 'last_name');
export const EXPORT_COLUMNS = ['email', 'first_name', 'last_name', ...OTHER_ATTRIBUTES] as const;

const NEEDS_QUOTES = /[",\r\n]/;
function cell(v: string | null | undefined): string {
  if (v === null || v === undefined) return '';
  return NEEDS_QUOTES.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
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
export async function streamCsv(res: Response, rows: AsyncIterable<ExportedRecipient>, filename: string): Promise<number> {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
  let buf = EXPORT_COLUMNS.join(',') + '\r\n';
  let count = 0;
  for await (const r of rows) {
    if (res.destroyed) break;
    buf += exportRow(r);
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
