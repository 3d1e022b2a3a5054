import { hostname } from 'node:os';
import type { Logger } from 'pino';
import {
  SnapshotIngest,
  claimStoredRun,
  completeStoredFile,
  endedRunsWithoutResult,
  findDuplicateRun,
  finishDuplicateRun,
  loadSyncConnection,
  readColumnMapping,
  readStoredFile,
  requeueAbandonedStoredRuns,
  requeueStoredRun,
  runInBackground,
  interruptBackgroundJobs,
  settledWithin,
  type SyncRunDoc,
} from '../store';
import type { CsvEncoding } from './encoding';
import { CsvFileError } from './errors';
import { ingestPreparedFile, linesOf, prepareCsvFile, type StoredCsv } from './fileRun';
import { localCopyOf } from './localCopy';

/**
 * The worker side of stored files (SFTP uploads): claims queued runs whose input is a file in the store, processes
 * each through the shared file-run pipeline, writes the result back to the account and archives the file. Any number of
 * processes may run it on one store: the claim is a compare-and-set, and a run whose process died is re-queued.
 */
export interface FileQueueOptions {
  logger: Logger;
  /** How often to look for queued files when nothing told this process about one. */
  pollMs?: number;
  /** Called after each file ends (metrics). */
  onFinished?: (run: SyncRunDoc) => void;
}

export interface FileQueue {
  /** Look now (an upload was just queued by this process). */
  poke(): void;
  /** Stops claiming; a file still being processed at `deadline` is stopped and goes back to the queue. */
  stop(deadline?: number): Promise<void>;
}

const ENCODINGS: readonly CsvEncoding[] = ['utf8', 'utf16le', 'utf16be', 'windows1252'];
/** How long a stop waits for the claim loop once its processing was stopped (the loop's last store command). */
const STOP_WAIT_AFTER_INTERRUPT_MS = 1_000;
/** Rejected rows listed in an errors file at most. */
export const MAX_ERROR_ROWS = 10_000;

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Processes one claimed run to its end (or back to the queue when `signal` stops it). */
export async function processStoredRun(run: SyncRunDoc, logger: Logger, signal?: AbortSignal): Promise<SyncRunDoc | null> {
  const input = run.input;
  const log = logger.child({ syncRunId: run._id, connectionId: run.connectionId });
  const conn = await loadSyncConnection(run.connectionId);
  if (!input?.fileId || !conn) {
    const ingest = await SnapshotIngest.start(
      { _id: run.connectionId, orgId: run.orgId, type: 'sftp' },
      { mode: run.mode, source: run.source },
      run,
    );
    return ingest.fail(conn ? 'the run has no stored file' : 'the connection was deleted');
  }
  const dup = await findDuplicateRun(run);
  if (dup) {
    const ended = await finishDuplicateRun(run, dup);
    await completeStoredFile(ended, null, dup._id);
    log.info({ duplicateOf: dup._id }, 'sftp file is a duplicate; not applied');
    return ended;
  }
  const fileId = input.fileId;
  const finish = async (ended: SyncRunDoc, rejected: Map<number, string>, file: StoredCsv | null) => {
    let errorsCsv: Buffer | null = null;
    if (rejected.size && file) {
      const lines = await linesOf(file, new Set(rejected.keys()));
      const out = ['line,reason,row'];
      for (const [line, reason] of [...rejected].sort((a, b) => a[0] - b[0]))
        out.push([String(line), csvField(reason), csvField(lines.get(line) ?? '')].join(','));
      errorsCsv = Buffer.from(out.join('\r\n') + '\r\n', 'utf8');
    }
    await completeStoredFile(ended, errorsCsv);
    return ended;
  };
  const ingestOf = () => SnapshotIngest.start(conn, { mode: run.mode, source: run.source }, run);
  if (input.encodingError || !input.encoding || !ENCODINGS.includes(input.encoding as CsvEncoding)) {
    const ended = await (await ingestOf()).fail(input.encodingError ?? 'the file cannot be read as text');
    return finish(ended, new Map(), null);
  }
  const copy = await localCopyOf(() => readStoredFile(fileId));
  // The copy is deleted however the processing ends.
  try {
    const file: StoredCsv = { open: () => copy.open(), bytes: input.bytesTotal ?? 0, encoding: input.encoding as CsvEncoding };
    let prepared;
    try {
      prepared = await prepareCsvFile(file, run.mode, (await readColumnMapping(conn.orgId, conn._id))?.mapping);
    } catch (err) {
      if (!(err instanceof CsvFileError)) throw err;
      const ended = await (await ingestOf()).fail(err.message);
      log.info('sftp file rejected whole');
      return await finish(ended, new Map(), null);
    }
    const ready = prepared;
    try {
      const ingest = await SnapshotIngest.start(
        conn,
        { mode: run.mode, source: run.source },
        { ...run, input: { ...input, rows: ready.rows } },
      );
      await ingestStoredRows(ingest, ready.rows);
      const rejected = new Map<number, string>();
      const ended = await ingestPreparedFile(ingest, conn, ready, {
        logger: log,
        signal,
        rejected,
        maxNoted: MAX_ERROR_ROWS,
        what: 'sftp file',
      });
      if (ended === null) return null;
      return await finish(ended, rejected, file);
    } finally {
      await ready.close();
    }
  } finally {
    await copy.dispose();
  }
}

/** Records the row count found by the check (the run's progress is measured against it). */
async function ingestStoredRows(ingest: SnapshotIngest, rows: number): Promise<void> {
  await ingest.setInput({ rows });
}

/** Starts claiming and processing queued stored files. */
export function startFileQueue(opts: FileQueueOptions): FileQueue {
  const worker = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const pollMs = opts.pollMs ?? 1_000;
  let stopped = false;
  let wake: (() => void) | null = null;
  let busy: Promise<void> = Promise.resolve();
  let lastSweep = 0;

  const step = async (): Promise<boolean> => {
    if (Date.now() - lastSweep > 5_000) {
      lastSweep = Date.now();
      const requeued = await requeueAbandonedStoredRuns();
      if (requeued.length) opts.logger.warn({ syncRunIds: requeued }, 'stored files whose process stopped are queued again');
      for (const run of await endedRunsWithoutResult(30_000)) await completeStoredFile(run, null);
    }
    const claim = await claimStoredRun(worker);
    if (!claim) return false;
    const run = claim.run;
    opts.logger.info(
      { syncRunId: run._id, connectionId: run.connectionId, file: run.input?.name, claim: claim.token },
      'sftp file claimed',
    );
    let result: Promise<void> = Promise.resolve();
    runInBackground(
      (signal) => {
        result = processStoredRun(run, opts.logger, signal).then(
          async (ended) => {
            if (ended) {
              await claim.release();
              opts.onFinished?.(ended);
            } else {
              // Stopped by shutdown: back to the queue for the next worker.
              claim.stopHeartbeat();
              await requeueStoredRun(run._id).catch(() => false);
              await claim.release().catch(() => undefined);
            }
          },
          async (err: Error) => {
            // A store outage or a bug: the file is still stored, so the run goes back to the queue.
            opts.logger.error({ syncRunId: run._id, errName: err?.name, err: err?.message }, 'sftp file processing stopped; queued again');
            claim.stopHeartbeat();
            await requeueStoredRun(run._id).catch(() => false);
            await claim.release().catch(() => undefined);
          },
        );
        return result;
      },
      // The claim carries the heartbeat (see src/store/fileRuns.ts); the run is written only by its processing.
      { syncRunId: run._id, requeueOnInterrupt: true, heartbeat: false },
    );
    await new Promise<void>((r) => setImmediate(r));
    await result;
    return true;
  };

  const loop = async () => {
    while (!stopped) {
      let worked = false;
      try {
        worked = await step();
      } catch (err) {
        opts.logger.warn({ errName: (err as Error)?.name }, 'file queue: store unavailable; retrying');
      }
      if (worked || stopped) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        t.unref();
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  };
  busy = loop();
  return {
    poke: () => wake?.(),
    async stop(deadline = Infinity) {
      stopped = true;
      wake?.();
      // The file in processing finishes within the bound, or is stopped and goes back to the queue. One whose batch in
      // flight outlasts the grace is left to it: the claim's heartbeat ends with this process, and another worker takes
      // the run over (its apply resumes from the journal).
      if (await settledWithin([busy], deadline - Date.now())) return;
      await interruptBackgroundJobs();
      await settledWithin([busy], STOP_WAIT_AFTER_INTERRUPT_MS);
    },
  };
}
