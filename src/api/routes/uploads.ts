import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CsvFileError, EncodingInspector, checkCsvFile, encodingOfCharset, ingestCsvRows, readCsv, type CsvItem } from '../../csv';
import { Connection, SnapshotIngest, recordAudit, type ConnectionDoc, type SyncConnection } from '../../store';
import type { AppDeps } from '../../server/deps';
import { principal, requireAccess } from '../auth';
import { runInBackground } from '../jobs';
import { loadOwned } from '../owned';
import { ApiError } from '../problem';
import { idParam, parseQuery } from '../validate';

/** Uploads are spooled to disk, never held in memory; this bounds the disk a single upload may take. */
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;
const CSV_TYPES = ['text/csv', 'application/csv', 'text/plain', 'application/vnd.ms-excel', 'application/octet-stream', 'text/tab-separated-values'];

const uploadQuery = z.object({
  mode: z.enum(['full', 'delta'], { error: 'mode must be full (the file lists everyone) or delta (only the rows it names)' }),
  filename: z.string().max(255).optional(),
});

async function spool(req: NodeJS.ReadableStream, path: string, inspector: EncodingInspector): Promise<void> {
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > MAX_UPLOAD_BYTES) return cb(new ApiError(413, 'too-large', `an upload may be at most ${MAX_UPLOAD_BYTES} bytes`));
      inspector.push(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(req, meter, createWriteStream(path));
}

/** Feeds the rows of an upload into its sync run; a file-level error fails the run. */
async function ingestRows(
  ingest: SnapshotIngest, conn: SyncConnection, rows: AsyncIterator<CsvItem>, first: IteratorResult<CsvItem>, logger: Logger,
): Promise<void> {
  try {
    const run = await ingestCsvRows(ingest, conn, rows, first);
    logger.info({ syncRunId: run._id, connectionId: conn._id, status: run.status, counts: run.counts }, 'csv upload processed');
  } catch (err) {
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

    const dir = await mkdtemp(join(tmpdir(), 'audience-upload-'));
    let handedOff = false;
    let rows: AsyncIterator<CsvItem> | undefined;
    try {
      const inspector = new EncodingInspector();
      const file = join(dir, 'upload.csv');
      try {
        await spool(req, file, inspector);
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
      try {
        const encoding = inspector.result(true, declared);
        // A first pass finds file-level problems anywhere in the file; they get this response and nothing is applied.
        await checkCsvFile(createReadStream(file), { mode: q.mode, encoding });
        rows = readCsv(createReadStream(file), { mode: q.mode, encoding })[Symbol.asyncIterator]();
        first = await rows.next();
      } catch (err) {
        if (err instanceof CsvFileError) return await rejectWhole(err.message);
        throw err;
      }
      const ingest = await SnapshotIngest.start(conn, { mode: q.mode, source: 'api', label });
      await recordAudit(p.orgId, p.tokenId, 'upload.create', doc._id, { syncRunId: ingest.id, mode: q.mode, bytes: inspector.size });
      handedOff = true;
      runInBackground(ingestRows(ingest, conn, rows!, first, deps.logger).finally(() => rm(dir, { recursive: true, force: true })));
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
