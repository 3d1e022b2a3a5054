import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import { z } from 'zod';
import {
  CsvFileError,
  EncodingInspector,
  dryRunCsv,
  encodingOfCharset,
  failInterrupted,
  ingestPreparedFile,
  prepareCsvFile,
  type PreparedFile,
  type StoredCsv,
} from '../../csv';
import {
  SnapshotIngest,
  findConnection,
  readColumnMapping,
  recordAudit,
  runInBackground,
  syncConnectionOf,
  type SyncConnection,
} from '../../store';
import type { AppDeps } from '../../server/deps';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { loadOwned } from '../owned';
import { ApiError } from '../problem';
import { UploadAccepted, UploadDryRun, idParams } from '../schemas';

/** Prefix of an upload's spool directory (a stopped process's are removed at start: src/server/tempFiles.ts). */
export const UPLOAD_SPOOL_DIR_PREFIX = 'audience-upload-';

const CSV_TYPES = [
  'text/csv',
  'application/csv',
  'text/plain',
  'application/vnd.ms-excel',
  'application/octet-stream',
  'text/tab-separated-values',
];

const uploadQuery = z.object({
  mode: z.enum(['full', 'delta'], { error: 'mode must be full (the file lists everyone) or delta (only the rows it names)' }),
  filename: z.string().max(255).optional(),
  /** true: answer what the upload would do (columns, counts, rejected rows, the guard's verdict) and change nothing. */
  dryRun: z
    .enum(['true', 'false'], { error: 'dryRun is true or false' })
    .optional()
    .meta({ description: 'true: answer 200 with what the upload would do and change nothing (also on sftp connections)' }),
});

export const uploadOps = {
  upload: operation({
    method: 'post',
    path: '/connections/{id}/uploads',
    access: 'manage',
    summary:
      'Upload a CSV to a csv connection (streamed); processing continues after the answer. Encoding: a byte-order mark, else the charset of Content-Type, else UTF-8 when valid, else Windows-1252. Delimiter , ; tab or | (detected). Headers are matched to the attribute set by their words (Workday, BambooHR, ADP, UKG, Rippling, HiBob, Personio, Gusto, Paylocity, Namely exports; the best column for a target wins, ties take nothing and tied email columns refuse the file), after the connection column mapping (PUT /connections/{id}/column-mapping); unknown columns become custom.<name>; optional status, groups (names separated by ; or |) and action (delete) columns',
    params: idParams,
    query: uploadQuery,
    rawBody: { 'text/csv': { type: 'string' } },
    responses: {
      202: { description: 'accepted; follow the sync run', json: UploadAccepted },
      200: {
        description: 'dryRun=true: the columns, counts, first rejected rows and the guard verdict; nothing was stored',
        json: UploadDryRun,
      },
      409: { description: 'not a csv connection (dry runs: nor an sftp one): wrong-connection-type', problem: true },
      413: { description: 'the file is too large', problem: true },
      415: { description: 'not a CSV media type', problem: true },
      422: {
        description:
          'the file cannot be read as a whole (binary, undecodable, no email column, ambiguous email columns); nothing was applied',
        problem: true,
      },
    },
  }),
};

const tooLarge = (limit: number) =>
  new ApiError(413, 'too-large', `an upload may be at most ${limit} bytes (MAX_UPLOAD_BYTES)`, { maxBytes: limit });

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

function dispositionFilename(header: string | undefined): string | undefined {
  const m = header ? /filename\s*=\s*"?([^";]+)"?/i.exec(header) : null;
  return m ? m[1]!.trim().slice(0, 255) : undefined;
}

/** `POST /connections/{id}/uploads?mode=full|delta`: a CSV body for a csv connection → 202 {syncRunId}. */
export function uploadRoutes(api: ApiRoutes, deps: AppDeps): void {
  const limit = deps.config.MAX_UPLOAD_BYTES;
  api.add(uploadOps.upload, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const doc = await loadOwned(findConnection, params.id, p.orgId, 'connection');
    const dryRun = q.dryRun === 'true';
    // A dry run also lets an administrator try a file on an sftp connection before its first drop.
    if (doc.type !== 'csv' && !(dryRun && doc.type === 'sftp')) {
      throw new ApiError(
        409,
        'wrong-connection-type',
        `uploads go to csv connections${dryRun ? ' (dry runs also to sftp connections)' : ''}; this one is ${doc.type}`,
      );
    }
    if (req.is(CSV_TYPES) === false) throw new ApiError(415, 'unsupported-media-type', 'send the file as text/csv');
    const charset = /;\s*charset\s*=\s*("?)([^";\s]+)\1/i.exec(req.get('content-type') ?? '')?.[2];
    const declared = encodingOfCharset(charset);
    if (declared === null)
      throw new ApiError(415, 'unsupported-media-type', `charset ${charset} is not supported: send UTF-8, UTF-16 or Windows-1252`);
    const conn: SyncConnection = syncConnectionOf(doc);
    const label = q.filename ?? dispositionFilename(req.get('content-disposition')) ?? null;
    const mapping = (await readColumnMapping(p.orgId, doc._id))?.mapping ?? {};
    // A declared length over the limit is refused before a byte is read.
    const declaredLength = Number(req.get('content-length'));
    if (Number.isFinite(declaredLength) && declaredLength > limit) throw tooLarge(limit);

    const dir = await mkdtemp(join(tmpdir(), UPLOAD_SPOOL_DIR_PREFIX));
    let handedOff = false;
    let prepared: PreparedFile | undefined;
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
      if (dryRun) {
        // Nothing is stored: no sync run, no audit event; a file-level problem is answered like an upload's, without a run.
        try {
          res.json(await dryRunCsv(conn, createReadStream(file), { mode: q.mode, encoding: inspector.result(true, declared), mapping }));
        } catch (err) {
          if (err instanceof CsvFileError) throw new ApiError(422, 'unreadable-file', err.message);
          throw err;
        }
        return;
      }
      const rejectWhole = async (message: string): Promise<never> => {
        const failed = await (await SnapshotIngest.start(conn, { mode: q.mode, source: 'api', label })).fail(message);
        await recordAudit(p.orgId, p.tokenId, 'upload.reject', doc._id, { syncRunId: failed._id, mode: q.mode });
        throw new ApiError(422, 'unreadable-file', message, { syncRunId: failed._id });
      };
      try {
        const stored: StoredCsv = { open: () => createReadStream(file), bytes: size, encoding: inspector.result(true, declared) };
        // A first pass finds file-level problems anywhere in the file; they get this response and nothing is applied.
        prepared = await prepareCsvFile(stored, q.mode, mapping);
      } catch (err) {
        if (err instanceof CsvFileError) return await rejectWhole(err.message);
        throw err;
      }
      const ready = prepared;
      // The run records what its progress is measured against (see presentProgress).
      const ingest = await SnapshotIngest.start(conn, {
        mode: q.mode,
        source: 'api',
        label,
        input: { bytesRead: ready.read.bytes, bytesTotal: size, rows: ready.rows },
      });
      await recordAudit(p.orgId, p.tokenId, 'upload.create', doc._id, { syncRunId: ingest.id, mode: q.mode, bytes: size });
      handedOff = true;
      runInBackground(
        async (signal) => {
          try {
            const run = await ingestPreparedFile(ingest, conn, ready, { logger: deps.logger, signal, what: 'csv upload' });
            if (run === null) await failInterrupted(ingest, signal);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
        { syncRunId: ingest.id, progress: () => ({ 'input.bytesRead': ready.read.bytes }) },
      );
      res.status(202).location(`/api/v1/sync-runs/${ingest.id}`).json({ syncRunId: ingest.id });
    } finally {
      if (!handedOff) {
        await prepared?.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
}
