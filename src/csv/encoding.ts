import iconv from 'iconv-lite';
import { CsvFileError } from './errors';

/** The encodings a CSV may come in: UTF-8 (with or without BOM), UTF-16 by BOM, else Windows-1252. */
export type CsvEncoding = 'utf8' | 'utf16le' | 'utf16be' | 'windows1252';

const SIGNATURES: { bytes: number[]; what: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a ZIP archive (an Excel .xlsx workbook?); export the sheet as CSV' },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0], what: 'an Office document (an Excel .xls workbook?); export the sheet as CSV' },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
  { bytes: [0x1f, 0x8b], what: 'a gzip archive; upload the uncompressed CSV' },
  { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image' },
  { bytes: [0xff, 0xd8, 0xff], what: 'a JPEG image' },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], what: 'an executable' },
];

function startsWith(buf: Buffer, bytes: number[]): boolean {
  return buf.length >= bytes.length && bytes.every((b, i) => buf[i] === b);
}

/** UTF-16 without a BOM: in Latin text, one byte of each pair is zero. */
function utf16WithoutBom(head: Buffer): 'utf16le' | 'utf16be' | null {
  const pairs = Math.floor(Math.min(head.length, 4096) / 2);
  if (pairs < 4) return null;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < pairs; i++) {
    if (head[2 * i] === 0) evenZero++;
    if (head[2 * i + 1] === 0) oddZero++;
  }
  if (oddZero / pairs > 0.7 && evenZero / pairs < 0.05) return 'utf16le';
  if (evenZero / pairs > 0.7 && oddZero / pairs < 0.05) return 'utf16be';
  return null;
}

/** Control characters other than tab, line breaks, form feed and DOS end-of-file: text files have next to none. */
function looksBinary(text: string): boolean {
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 0x1a) || c === 0xfffd) control++;
  }
  return control > 0 && control / Math.max(text.length, 1) > 0.001;
}

/**
 * Decides how to read a file from its bytes. Feed every chunk (or at least the first 64 KiB) to `push`; `result`
 * throws a CsvFileError for a binary or undecodable file. Fed the whole file, it only picks UTF-8 for a file that is
 * valid UTF-8 throughout, so a Windows-1252 byte deep inside a file is not found after rows were applied.
 */
export class EncodingInspector {
  private head: Buffer[] = [];
  private headBytes = 0;
  private bytes = 0;
  private utf8 = new TextDecoder('utf-8', { fatal: true });
  private utf8Error: number | null = null;
  private sawNul = false;

  static readonly HEAD_BYTES = 64 * 1024;

  push(chunk: Buffer): void {
    if (this.headBytes < EncodingInspector.HEAD_BYTES) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
    }
    if (this.utf8Error === null) {
      try {
        this.utf8.decode(chunk, { stream: true });
      } catch {
        this.utf8Error = this.bytes;
      }
    }
    if (!this.sawNul && chunk.includes(0)) this.sawNul = true;
    this.bytes += chunk.length;
  }

  get size(): number {
    return this.bytes;
  }

  /**
   * The encoding to read the whole file with. `complete`: every byte was pushed. `declared`: what the sender said
   * (an HTTP charset); a byte-order mark still wins, and binary content is refused whatever was declared.
   */
  result(complete = true, declared?: CsvEncoding): CsvEncoding {
    const head = Buffer.concat(this.head).subarray(0, EncodingInspector.HEAD_BYTES);
    if (this.bytes === 0) throw new CsvFileError('the file is empty');
    if (complete && this.utf8Error === null) {
      try {
        this.utf8.decode();
      } catch {
        this.utf8Error = this.bytes;
      }
    }
    let encoding: CsvEncoding;
    if (startsWith(head, [0xff, 0xfe]) || startsWith(head, [0xfe, 0xff])) {
      encoding = head[0] === 0xff ? 'utf16le' : 'utf16be';
      if (complete && this.bytes % 2 !== 0)
        throw new CsvFileError('the file has a UTF-16 byte-order mark but an odd number of bytes: it is truncated or not UTF-16');
    } else if (startsWith(head, [0xef, 0xbb, 0xbf])) {
      if (this.utf8Error !== null) {
        throw new CsvFileError(
          `the file starts with a UTF-8 byte-order mark but is not valid UTF-8 (at byte ${this.utf8Error} or after); save it again as UTF-8`,
        );
      }
      encoding = 'utf8';
    } else {
      const sig = SIGNATURES.find((s) => startsWith(head, s.bytes));
      if (sig) throw new CsvFileError(`this is not a CSV file: it looks like ${sig.what}`);
      if (declared === 'utf16le' || declared === 'utf16be') {
        if (complete && this.bytes % 2 !== 0) throw new CsvFileError('the file was declared UTF-16 but has an odd number of bytes');
        return this.checked(head, declared);
      }
      if (declared === 'windows1252') {
        if (this.sawNul) throw new CsvFileError('this is not a text file: it contains NUL bytes (a binary file?)');
        return this.checked(head, declared);
      }
      const u16 = this.sawNul ? utf16WithoutBom(head) : null;
      if (u16) encoding = u16;
      else if (this.sawNul) throw new CsvFileError('this is not a text file: it contains NUL bytes (a binary file?)');
      else encoding = this.utf8Error === null ? 'utf8' : 'windows1252';
    }
    return this.checked(head, encoding);
  }

  private checked(head: Buffer, encoding: CsvEncoding): CsvEncoding {
    if (looksBinary(decodeHead(head, encoding))) {
      throw new CsvFileError(
        `this is not a text file: it contains control characters when read as ${encodingLabel(encoding)} (a binary file?)`,
      );
    }
    return encoding;
  }
}

export function encodingLabel(e: CsvEncoding): string {
  return { utf8: 'UTF-8', utf16le: 'UTF-16LE', utf16be: 'UTF-16BE', windows1252: 'Windows-1252' }[e];
}

function decodeHead(head: Buffer, encoding: CsvEncoding): string {
  // The head may end inside a character; ignore the last few bytes.
  const cut = head.length >= EncodingInspector.HEAD_BYTES ? head.subarray(0, head.length - 4) : head;
  return encoding === 'utf8' ? cut.toString('utf8') : iconv.decode(cut, iconvName(encoding));
}

export function iconvName(e: CsvEncoding): string {
  return e === 'windows1252' ? 'win1252' : e;
}

/** Decodes chunks of a file in the chosen encoding (BOM stripped); invalid UTF-8 is a CsvFileError. */
export async function* decodeChunks(chunks: AsyncIterable<Buffer>, encoding: CsvEncoding): AsyncGenerator<string> {
  if (encoding === 'utf8') {
    const dec = new TextDecoder('utf-8', { fatal: true });
    let offset = 0;
    try {
      for await (const c of chunks) {
        const s = dec.decode(c, { stream: true });
        offset += c.length;
        if (s) yield s;
      }
      const tail = dec.decode();
      if (tail) yield tail;
    } catch (err) {
      if (err instanceof TypeError) throw new CsvFileError(`the file is not valid UTF-8 (near byte ${offset}); save it as UTF-8`);
      throw err;
    }
    return;
  }
  const dec = iconv.getDecoder(iconvName(encoding), { stripBOM: true });
  for await (const c of chunks) {
    const s = dec.write(c);
    if (s) yield s;
  }
  const tail = dec.end();
  if (tail) yield tail;
}

/**
 * The encoding an HTTP charset names: undefined for UTF-8 or none (the bytes decide: UTF-8 when valid, else
 * Windows-1252), null for a charset this reader does not support.
 */
export function encodingOfCharset(charset: string | undefined): CsvEncoding | undefined | null {
  if (!charset) return undefined;
  const c = charset.trim().toLowerCase().replace(/^"|"$/g, '');
  if (c === 'utf-8' || c === 'utf8') return undefined;
  if (c === 'utf-16le') return 'utf16le';
  if (c === 'utf-16be') return 'utf16be';
  if (c === 'utf-16') return 'utf16le';
  if (['windows-1252', 'cp1252', 'iso-8859-1', 'latin1', 'iso-8859-15', 'us-ascii', 'ascii'].includes(c)) return 'windows1252';
  return null;
}
