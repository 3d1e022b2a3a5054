import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Request } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CsvFileError, EncodingInspector, checkCsvFile, encodingOfCharset, ingestCsvRows, readCsv, type CsvItem } from '../../csv';
import { Connection, SnapshotIngest, recordAudit, type ConnectionDoc, type SyncConnection } from '../../store';
import type { AppDeps } from '../../server/deps';
import { principal, requireAccess } from '../auth';
import { INTERRUPTED_BY_SHUTDOWN, runInBackground } from '../jobs';
import { loadOwned } from '../owned';
import { ApiError } from '../problem';
import { idParam, parseQuery } from '../validate';

const CSV_TYPES = ['text/csv', 'application/csv', 'text/plain', 'application/vnd.ms-excel', 'application/octet-stream', 'text/tab-separated-values'];

const uploadQuery = z.object({
  mode: z.enum(['full', 'delta'], { error: 'mode must be full (the file lists everyone) or delta (only the rows it names)' }),
  filename: z.string().max(255).optional(),
});

const tooLarge = (limit: number) => new ApiError(413, 'too-large', `an upload may be at most ${limit} bytes (MAX_UPLOAD_BYTES)`, { maxBytes: limit });

/**
 * Spools the request body to `path` (uploads are never held in memory), at most `limit` bytes; returns its size. A body
 * over the limit stops the copy without destroying the request, so the 413 still reaches the client.
 */
async function spool(req: Request, path: string, inspector: EncodingInspector, limit: number): Promise<number> {
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > limit) return cb(tooLarge(limit));
      inspector.push(chunk);
      cb(null, chunk);
    },
  });
  // The request is piped rather than part of the pipeline: a failing pipeline would destroy it (and the socket).
  const broken = () => {
    if (!req.complete) meter.destroy(new Error('the upload ended early'));
  };
  req.once('error', broken);
  req.once('close', broken);
  req.pipe(meter);
  try {
    await pipeline(meter, createWriteStream(path));
  } finally {
    req.off('error', broken);
    req.off('close', broken);
    req.unpipe(meter);
  }
  return size;
}

/** Counts the bytes the reader takes from a file. */
async function* counted(input: AsyncIterable<Buffer>, counter: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    counter.bytes += chunk.length;
    yield chunk;
  }
}

/** Rows that stop coming once `signal` is raised (shutdown): the next read throws. */
function stoppable<T>(it: AsyncIterator<T>, signal: AbortSignal): AsyncIterator<T> {
  return {
    next: () => {
      signal.throwIfAborted();
      return it.next();
    },
    return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value: undefined as never }),
  };
}

/** Feeds the rows of an upload into its sync run; a file-level error fails the run. */
async function ingestRows(
  ingest: SnapshotIngest, conn: SyncConnection, rows: AsyncIterator<CsvItem>, first: IteratorResult<CsvItem>, logger: Logger, signal: AbortSignal,
): Promise<void> {
  ingest.signal = signal;
  try {
    const run = await ingestCsvRows(ingest, conn, stoppable(rows, signal), first);
    logger.info({ syncRunId: run._id, connectionId: conn._id, status: run.status, counts: run.counts }, 'csv upload processed');
  } catch (err) {
    await rows.return?.(undefined).catch(() => undefined);
    if (signal.aborted) {
      logger.warn({ syncRunId: ingest.id, connectionId: conn._id }, 'csv upload interrupted by shutdown');
      await ingest.fail(typeof signal.reason === 'string' ? signal.reason : INTERRUPTED_BY_SHUTDOWN).catch(() => undefined);
      return;
    }
    const message = err instanceof CsvFileError ? err.message : 'processing stopped on an internal error; upload the file again';
    logger[err instanceof CsvFileError ? 'info' : 'error']({ syncRunId: ingest.id, errName: (err as Error)?.name }, 'csv upload failed');
    await ingest.fail(message).catch(() => undefined);
  }
}

function dispositionFilename(header: string | undefined): string | undefined {
  const m = header ? /filename\s*=\s*"?([^";]+)"?/i.exec(header) : null;
  return m ? m[1]!.trim().slice(0, 255) : undefined;
}

/** `POST /connections/{id}/uploads?mode=full|delta`: a CSV body for a csv connection → 202 {syncRunId}. */
export function uploadRoutes(deps: AppDeps): Router {
  const r = Router();
  const limit = deps.config.MAX_UPLOAD_BYTES;
  r.post('/:id/uploads', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const doc = (await loadOwned(Connection as never, idParam(req), p.orgId, 'connection')) as ConnectionDoc;
    if (doc.type !== 'csv') throw new ApiError(400, 'wrong-connection-type', `uploads go to csv connections; this one is ${doc.type}`);
    const q = parseQuery(uploadQuery, req.query);
    if (req.is(CSV_TYPES) === false) throw new ApiError(415, 'unsupported-media-type', 'send the file as text/csv');
    const charset = /;\s*charset\s*=\s*("?)([^";\s]+)\1/i.exec(req.get('content-type') ?? '')?.[2];
    const declared = encodingOfCharset(charset);
    if (declared === null) throw new ApiError(415, 'unsupported-media-type', `charset ${charset} is not supported: send UTF-8, UTF-16 or Windows-1252`);
    const conn: SyncConnection = { _id: doc._id, orgId: doc.orgId, type: doc.type, massRemovalThreshold: doc.massRemovalThreshold };
    const label = q.filename ?? dispositionFilename(req.get('content-disposition')) ?? null;
    // A declared length over the limit is refused before a byte is read.
    const declaredLength = Number(req.get('content-length'));
    if (Number.isFinite(declaredLength) && declaredLength > limit) throw tooLarge(limit);

    const dir = await mkdtemp(join(tmpdir(), 'audience-upload-'));
    let handedOff = false;
    let rows: AsyncIterator<CsvItem> | undefined;
    try {
      const inspector = new EncodingInspector();
      const file = join(dir, 'upload.csv');
      let size: number;
      try {
        size = await spool(req, file, inspector, limit);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        // The client went away or the connection broke: nothing was read, nothing is queued.
        throw new ApiError(400, 'incomplete-upload', 'the upload ended before the whole file arrived');
      }
      const rejectWhole = async (message: string): Promise<never> => {
        const failed = await (await SnapshotIngest.start(conn, { mode: q.mode, source: 'api', label })).fail(message);
        await recordAudit(p.orgId, p.tokenId, 'upload.reject', doc._id, { syncRunId: failed._id, mode: q.mode });
        throw new ApiError(422, 'unreadable-file', message, { syncRunId: failed._id });
      };
      let first: IteratorResult<CsvItem>;
      let rowCount: number;
      const read = { bytes: 0 };
      try {
        const encoding = inspector.result(true, declared);
        // A first pass finds file-level problems anywhere in the file; they get this response and nothing is applied.
        rowCount = (await checkCsvFile(createReadStream(file), { mode: q.mode, encoding })).rows;
        rows = readCsv(counted(createReadStream(file), read), { mode: q.mode, encoding })[Symbol.asyncIterator]();
        first = await rows.next();
      } catch (err) {
        if (err instanceof CsvFileError) return await rejectWhole(err.message);
        throw err;
      }
      // The run records what its progress is measured against (see presentProgress).
      const ingest = await SnapshotIngest.start(conn, { mode: q.mode, source: 'api', label, input: { bytesRead: read.bytes, bytesTotal: size, rows: rowCount } });
      await recordAudit(p.orgId, p.tokenId, 'upload.create', doc._id, { syncRunId: ingest.id, mode: q.mode, bytes: size });
      handedOff = true;
      const it = rows!;
      runInBackground(
        (signal) => ingestRows(ingest, conn, it, first, deps.logger, signal).finally(() => rm(dir, { recursive: true, force: true })),
        { syncRunId: ingest.id, progress: () => ({ 'input.bytesRead': read.bytes }) },
      );
      res.status(202).location(`/api/v1/sync-runs/${ingest.id}`).json({ syncRunId: ingest.id });
    } finally {
      if (!handedOff) {
        await rows?.return?.(undefined).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
  return r;
}
