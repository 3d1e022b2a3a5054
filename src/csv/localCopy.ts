import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A stored file read from the store once per processing: the first read (the check pass) copies the bytes to a local
 * temporary file as they pass, and every later read (the rows, the rejected rows' lines) reads that copy. So the
 * ingest, like an API upload's, reads local disk and sends the store only its own reads and writes: on FerretDB v1 a
 * 1 MiB chunk read cost ~100 ms of store time in the middle of the merge's commands (40 ms per 1,000 rows at 200,000
 * rows, both passes together). The copy is a cache: it is deleted when the processing ends (`dispose`), and another
 * instance that takes the run over reads the store again. If the copy cannot be written (a full disk), reads go on
 * from the store.
 */
export interface LocalCopy {
  open(): AsyncIterable<Buffer>;
  /** The copy's temporary directory (null when none could be made: every read goes to the store). */
  dir: string | null;
  /** Deletes the copy. */
  dispose(): Promise<void>;
}

/** Prefix of a local copy's temporary directory (a stopped process's are removed at start: src/server/tempFiles.ts). */
export const LOCAL_COPY_DIR_PREFIX = 'audience-file-';

export async function localCopyOf(read: () => AsyncIterable<Buffer>): Promise<LocalCopy> {
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), LOCAL_COPY_DIR_PREFIX));
  } catch {
    return { open: read, dir: null, dispose: async () => undefined };
  }
  const path = join(dir, 'file');
  let copied = false;
  let copying = false;

  async function* copyWhileReading(): AsyncGenerator<Buffer> {
    copying = true;
    const out = createWriteStream(path);
    let failed = false;
    out.on('error', () => {
      failed = true;
    });
    let whole = false;
    try {
      for await (const chunk of read()) {
        // events.once removes its error listener when the drain comes (one added per chunk would pile up).
        if (!failed && !out.write(chunk)) await once(out, 'drain').catch(() => undefined);
        yield chunk;
      }
      whole = true;
    } finally {
      await new Promise<void>((resolve) => out.end(() => resolve()));
      // Only a copy of the whole file, written without an error, is read again.
      copied = whole && !failed;
      copying = false;
    }
  }

  return {
    open: () => (copied ? createReadStream(path) : copying ? read() : copyWhileReading()),
    dir,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
