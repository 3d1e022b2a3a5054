import { readCsv, type ReadCsvOptions } from './readCsv';

/**
 * Reads a whole file once without applying anything, so that a file-level problem found late (an unclosed quote,
 * undecodable bytes) rejects the file before any of its rows is applied. Throws the CsvFileError; else counts rows.
 */
export async function checkCsvFile(
  input: AsyncIterable<Buffer | string | Uint8Array>,
  opts: Pick<ReadCsvOptions, 'mode' | 'encoding' | 'mapping'>,
): Promise<{ rows: number; rejected: number }> {
  let rows = 0;
  let rejected = 0;
  for await (const item of readCsv(input, opts)) {
    rows++;
    if (item.error !== undefined) rejected++;
  }
  return { rows, rejected };
}
