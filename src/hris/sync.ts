import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { APIError, AuthenticationError } from '@tryfinch/finch-api';
import type { Introspection } from '@tryfinch/finch-api/resources/account';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import {
  SnapshotIngest,
  acquireLease,
  createSyncRun,
  endRunUnapplied,
  findActiveHrisRun,
  heartbeatSyncRun,
  hrisSyncLeaseName,
  loadHrisConnection,
  loadSyncRun,
  markHrisNeedsReauth,
  recordHrisIntrospection,
  recordHrisRunEnd,
  releaseLease,
  renewLease,
  startQueuedRun,
  type HrisConnection,
  type HrisIntrospection,
  type SyncRunDoc,
} from '../store';
import { createFinchClient, type FinchConnectionClient, type FinchProduct } from './client';
import { finchCallDuration, finchCalls, hrisRuns } from './metrics';
import {
  managerId,
  mapPerson,
  summarize,
  type FinchDirectoryEntry,
  type FinchEmployment,
  type FinchIndividual,
  type PersonSummary,
} from './mapping';
import type { RollingWindowLimiter } from './pacing';
import { nextSyncAt } from './schedule';

/**
 * One HRIS sync run (SPEC §3.7): introspect, the whole directory, individuals and employments in batches, then one
 * full snapshot through the store's SnapshotIngest (which stages it, applies the mass-removal guard and tombstones
 * people missing from it). Nothing is written to source records until every Finch answer is in: a 202 (data not ready),
 * a refused token or a Finch outage anywhere ends the run with nothing changed.
 */

export type HrisOutcome = 'succeeded' | 'needs_review' | 'pending' | 'needs_reauth' | 'failed';

export interface HrisDeps {
  config: Config;
  logger: Logger;
  /** Who holds the lease while this process syncs (one id per process). */
  holder?: string;
  /** Tests and the bench: backoff base for retries (default 1 s). */
  backoffBaseMs?: number;
  limiters?: Map<FinchProduct, RollingWindowLimiter>;
  /** Raised to stop a run (shutdown): the run fails, nothing applied unless the merge had begun. */
  signal?: AbortSignal;
}

export interface HrisRunResult {
  run: SyncRunDoc;
  outcome: HrisOutcome;
  /** Finch HTTP requests (attempts) and 429s received. */
  calls: number;
  rateLimited: number;
}

let processHolder: string | null = null;
/** This process's lease-holder id: host, pid and a random part (pids repeat across hosts and restarts). */
export function leaseHolderId(): string {
  processHolder ??= `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  return processHolder;
}

class PendingError extends Error {
  constructor(readonly where: string) {
    super(
      `Finch is still syncing this connection's data from the HRIS (202 data_sync_in_progress at ${where}); nothing was changed; the sync is retried later`,
    );
  }
}

class LeaseLostError extends Error {
  constructor() {
    super('this sync lost its lease (it went silent too long and another process may run the connection); nothing more was applied');
  }
}

function introspectionOf(i: Introspection): HrisIntrospection {
  return {
    providerId: i.provider_id ?? null,
    connectionId: i.connection_id ?? null,
    companyId: i.company_id ?? null,
    products: Array.isArray(i.products) ? i.products : [],
    connectionStatus: i.connection_status?.status ?? null,
    connectionStatusMessage: i.connection_status?.message ?? null,
    lastSuccessfulSync: i.connection_status?.last_successful_sync ?? null,
    authenticationMethods: (i.authentication_methods ?? []).map((m) => m.type),
    clientType: i.client_type ?? null,
  };
}

function today(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** What an error of a batch item says, for the run's row errors. */
function itemError(kind: string, id: string, code: number, body: unknown): string {
  const b = (body ?? {}) as { finch_code?: unknown; name?: unknown; message?: unknown };
  const what = [
    typeof b.finch_code === 'string' ? b.finch_code : typeof b.name === 'string' ? b.name : null,
    typeof b.message === 'string' ? b.message : null,
  ]
    .filter(Boolean)
    .join(': ');
  return `${kind} ${id}: Finch answered ${code}${what ? ` (${what})` : ''}; what was stored for this person is kept`;
}

interface Progress {
  phase: string;
  pages: number;
  processed: number;
}

/**
 * Runs one sync of a connection under its lease. `runId`: a queued run (on demand) to take. Returns null when another
 * process holds the connection's lease (a run is already going on).
 */
export interface RunOptions {
  /** A queued (on-demand) run to take. */
  runId?: string;
  label?: string;
  /** Checked once the lease is held: false skips the run (another process ran the connection meanwhile). */
  stillDue?: (conn: HrisConnection) => boolean;
}

export async function runHrisSync(connectionId: string, deps: HrisDeps, opts: RunOptions = {}): Promise<HrisRunResult | null> {
  const holder = deps.holder ?? leaseHolderId();
  const leaseMs = deps.config.HRIS_LEASE_SECONDS * 1000;
  const lease = hrisSyncLeaseName(connectionId);
  if (!(await acquireLease(lease, holder, leaseMs))) return null;
  const log = deps.logger.child({ connectionId });
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(deps.signal?.reason ?? new Error('stopped'));
  deps.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let runId: string | null = null;
  const progress: Progress = { phase: 'introspect', pages: 0, processed: 0 };
  // Heartbeat: the lease (a third of its life) and the run (the abandoned-run sweep judges runs by silence).
  const beat = setInterval(
    () => {
      void (async () => {
        if (!(await renewLease(lease, holder, leaseMs))) {
          stop.abort(new LeaseLostError());
          return;
        }
        if (runId) await heartbeatSyncRun(runId, progress);
      })().catch((err: Error) => log.warn({ errName: err?.name }, 'hris heartbeat failed'));
    },
    Math.max(100, Math.min(leaseMs / 3, 10_000)),
  );
  beat.unref();
  try {
    const conn = await loadHrisConnection(connectionId);
    if (!conn) {
      if (opts.runId) await endRunUnapplied(opts.runId, 'failed', 'the connection was deleted');
      const run = opts.runId ? await loadSyncRun(opts.runId) : null;
      return run ? { run, outcome: 'failed', calls: 0, rateLimited: 0 } : null;
    }
    if (!opts.runId && opts.stillDue && !opts.stillDue(conn)) return null;
    runId = await takeRun(conn, opts);
    if (!runId) return null;
    const startedAt = new Date();
    const result = await syncOnce(conn, runId, deps, progress, stop.signal, log);
    hrisRuns.inc({ outcome: result.outcome });
    await recordHrisRunEnd(conn._id, {
      runId,
      status: result.run.status,
      startedAt,
      nextSyncAt: nextSyncAt(conn, result.outcome, new Date(), deps.config),
      reachedFinch: result.outcome === 'succeeded' || result.outcome === 'needs_review',
      // A failure before Finch answered anything (no token, store error) says nothing about the token either.
      tokenAccepted: result.outcome === 'succeeded' || result.outcome === 'needs_review' || result.outcome === 'pending',
    });
    log.info(
      { syncRunId: runId, outcome: result.outcome, counts: result.run.counts, calls: result.calls, rateLimited: result.rateLimited },
      'hris sync finished',
    );
    return result;
  } finally {
    clearInterval(beat);
    deps.signal?.removeEventListener('abort', onOuterAbort);
    await releaseLease(lease, holder).catch(() => undefined);
  }
}

/** The run this sync works on: the given queued run, else the connection's queued run (on demand), else a new one. */
async function takeRun(conn: HrisConnection, opts: { runId?: string; label?: string }): Promise<string | null> {
  if (opts.runId) return (await startQueuedRun(opts.runId)) ? opts.runId : null;
  const active = await findActiveHrisRun(conn._id);
  if (active?.status === 'queued' && (await startQueuedRun(active._id))) return active._id;
  // A run left `running` under an expired lease belongs to a process that died: fail it so it is not counted active.
  if (active?.status === 'running') {
    await endRunUnapplied(
      active._id,
      'failed',
      'interrupted: the process running this sync stopped before it finished (its lease expired); a new run started clean',
    );
  }
  const run = await createSyncRun(conn, { mode: 'full', source: 'hris', label: opts.label ?? 'scheduled' });
  return (await startQueuedRun(run._id)) ? run._id : null;
}

async function syncOnce(
  conn: HrisConnection,
  runId: string,
  deps: HrisDeps,
  progress: Progress,
  signal: AbortSignal,
  log: Logger,
): Promise<HrisRunResult> {
  const { config } = deps;
  if (!conn.accessTokenEnc) {
    const run = await endRunUnapplied(
      runId,
      'failed',
      'this connection has no Finch access token; set one with POST /api/v1/connections/{id}/credentials',
    );
    return { run: run!, outcome: 'failed', calls: 0, rateLimited: 0 };
  }
  const client = createFinchClient(conn.accessTokenEnc, config.SECRET_KEY, {
    baseURL: config.FINCH_BASE_URL,
    timeoutMs: config.FINCH_TIMEOUT_SECONDS * 1000,
    maxAttempts: config.FINCH_MAX_ATTEMPTS,
    ratePerMinute: config.FINCH_RATE_LIMIT_PER_MINUTE,
    logger: log,
    backoffBaseMs: deps.backoffBaseMs,
    limiters: deps.limiters,
    signal,
    onCall: (c) => {
      finchCalls.inc({ product: c.product, status: String(c.status) });
      finchCallDuration.observe({ product: c.product }, c.durationMs / 1000);
    },
  });
  const done = async (status: 'pending' | 'failed', outcome: HrisOutcome, message: string): Promise<HrisRunResult> => {
    const run = await endRunUnapplied(runId, status, message);
    return { run: run!, outcome, calls: client.stats.calls, rateLimited: client.stats.rateLimited };
  };
  let ingest: SnapshotIngest | null = null;
  try {
    const people = await readFinch(conn, runId, client, config, progress);
    signal.throwIfAborted();
    progress.phase = 'merge';
    progress.processed = 0;
    await heartbeatSyncRun(runId, progress);
    const run = await loadSyncRun(runId);
    if (!run) throw new Error('the sync run disappeared');
    ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'hris' }, run);
    const now = today();
    for (const id of people.ids) {
      signal.throwIfAborted();
      const problem = people.errors.get(id);
      if (problem) {
        ingest.reject(null, problem);
        await ingest.retain(id);
      } else {
        const mId = managerId({ directory: people.directory.get(id), employment: people.employments.get(id) });
        const mapped = mapPerson({
          id,
          directory: people.directory.get(id),
          individual: people.individuals.get(id),
          employment: people.employments.get(id),
          manager: mId ? (people.summaries.get(mId) ?? null) : null,
          today: now,
        });
        await ingest.add({ op: 'upsert', key: mapped.key, email: mapped.email, active: mapped.active, attributes: mapped.attributes });
        if (mapped.problem) ingest.flag(null, mapped.problem);
      }
      progress.processed++;
    }
    const finished = await ingest.finish();
    // Applied with some rows rejected (per-item errors, people without an email) is still a sync that reached Finch.
    const applied = finished.status === 'succeeded' || finished.status === 'completed_with_errors';
    const outcome: HrisOutcome = finished.status === 'needs_review' ? 'needs_review' : applied ? 'succeeded' : 'failed';
    return { run: finished, outcome, calls: client.stats.calls, rateLimited: client.stats.rateLimited };
  } catch (err) {
    if (err instanceof PendingError) return done('pending', 'pending', err.message);
    if (err instanceof AuthenticationError || (err instanceof APIError && err.status === 401)) {
      const body: unknown = (err as APIError).error;
      const code =
        typeof body === 'object' && body !== null && 'finch_code' in body && typeof body.finch_code === 'string'
          ? body.finch_code
          : 'invalid_token';
      const reason = `Finch refused the access token (401 ${code}): the employer must reconnect through Finch Connect and the new token be set on this connection`;
      await markHrisNeedsReauth(conn._id, reason);
      log.warn({ finchCode: code }, 'hris connection needs re-authentication');
      return done('failed', 'needs_reauth', reason);
    }
    const reason: unknown = signal.aborted ? signal.reason : err;
    const message =
      reason instanceof LeaseLostError
        ? reason.message
        : reason instanceof APIError
          ? `Finch answered ${reason.status ?? 'no status'} after ${config.FINCH_MAX_ATTEMPTS} attempts; nothing was changed; the sync is retried later`
          : `the sync failed: ${(reason as Error)?.message ?? String(reason)}`;
    log.warn({ errName: (reason as Error)?.name, status: reason instanceof APIError ? reason.status : undefined }, 'hris sync failed');
    if (ingest) {
      const run = await ingest.fail(message);
      return { run, outcome: 'failed', calls: client.stats.calls, rateLimited: client.stats.rateLimited };
    }
    return done('failed', 'failed', message);
  }
}

interface FinchPeople {
  /** Directory order, each once. */
  ids: string[];
  directory: Map<string, FinchDirectoryEntry>;
  individuals: Map<string, FinchIndividual>;
  employments: Map<string, FinchEmployment>;
  summaries: Map<string, PersonSummary>;
  /** Per-person batch errors (the person is kept as stored). */
  errors: Map<string, string>;
}

/** Reads everything the snapshot needs from Finch; throws PendingError on any 202. */
async function readFinch(
  conn: HrisConnection,
  runId: string,
  client: FinchConnectionClient,
  config: Config,
  progress: Progress,
): Promise<FinchPeople> {
  const { sdk, stats } = client;
  const checkPending = (where: string, status?: number) => {
    if (status === 202 || stats.pending) throw new PendingError(where);
  };

  progress.phase = 'introspect';
  const intro = await sdk.account.introspect().withResponse();
  checkPending('introspect', intro.response.status);
  const introspection = introspectionOf(intro.data);
  if (!introspection.companyId) {
    const company = await sdk.hris.company.retrieve().withResponse();
    checkPending('company', company.response.status);
    introspection.companyId = company.data.id ?? null;
  }
  await recordHrisIntrospection(conn._id, introspection);

  progress.phase = 'directory';
  await heartbeatSyncRun(runId, progress);
  const directory = new Map<string, FinchDirectoryEntry>();
  const ids: string[] = [];
  const first = await sdk.hris.directory.list({ limit: config.FINCH_PAGE_SIZE }).withResponse();
  checkPending('directory page 1', first.response.status);
  // Auto-pagination: the SDK follows paging.offset/count; every page's status goes through the client's fetch.
  for await (const page of first.data.iterPages()) {
    checkPending(`directory page ${progress.pages + 1}`);
    progress.pages++;
    for (const e of page.getPaginatedItems()) {
      if (!e?.id || directory.has(e.id)) continue;
      directory.set(e.id, {
        id: e.id,
        first_name: e.first_name,
        middle_name: e.middle_name,
        last_name: e.last_name,
        is_active: e.is_active,
        department: e.department ? { name: e.department.name ?? null } : null,
        manager: e.manager ? { id: e.manager.id } : null,
      });
      ids.push(e.id);
    }
    progress.processed = ids.length;
  }

  const errors = new Map<string, string>();
  const individuals = new Map<string, FinchIndividual>();
  const employments = new Map<string, FinchEmployment>();
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += config.FINCH_BATCH_SIZE) batches.push(ids.slice(i, i + config.FINCH_BATCH_SIZE));

  // Individuals and employments are separate Finch products (separate rate limits): read them side by side.
  progress.phase = 'individuals';
  progress.processed = 0;
  let individualsDone = false;
  let stopped = false;
  const readIndividuals = async () => {
    for (const batch of batches) {
      if (stopped) return;
      const res = await sdk.hris.individuals.retrieveMany({ requests: batch.map((individual_id) => ({ individual_id })) }).withResponse();
      checkPending('individuals', res.response.status);
      const answered = new Set<string>();
      for (const r of res.data.getPaginatedItems()) {
        answered.add(r.individual_id);
        const body = r.body as FinchIndividual & { code?: number };
        if (r.code === 200 && body && !('code' in body && typeof body.code === 'number' && body.code >= 400)) {
          individuals.set(r.individual_id, {
            first_name: body.first_name,
            last_name: body.last_name,
            preferred_name: body.preferred_name,
            emails: (body.emails ?? []).map((e) => ({ data: e?.data ?? null, type: e?.type ?? null })),
          });
        } else if (!errors.has(r.individual_id)) {
          errors.set(r.individual_id, itemError('individual', r.individual_id, r.code, r.body));
        }
      }
      for (const id of batch) {
        if (!answered.has(id) && !errors.has(id))
          errors.set(id, `individual ${id}: Finch's answer left this person out; what was stored for this person is kept`);
      }
      progress.processed += batch.length;
    }
    individualsDone = true;
    progress.phase = 'employments';
  };
  const readEmployments = async () => {
    for (const batch of batches) {
      if (stopped) return;
      const res = await sdk.hris.employments.retrieveMany({ requests: batch.map((individual_id) => ({ individual_id })) }).withResponse();
      checkPending('employments', res.response.status);
      const answered = new Set<string>();
      for (const r of res.data.getPaginatedItems()) {
        answered.add(r.individual_id);
        const body = r.body as FinchEmployment & { code?: number };
        if (r.code === 200 && body && !('code' in body && typeof body.code === 'number' && body.code >= 400)) {
          employments.set(r.individual_id, {
            title: body.title,
            department: body.department ? { name: body.department.name } : null,
            manager: body.manager ? { id: body.manager.id } : null,
            employment: body.employment ? { type: body.employment.type, subtype: body.employment.subtype } : null,
            employment_status: body.employment_status,
            is_active: body.is_active,
            start_date: body.start_date,
            end_date: body.end_date,
            latest_rehire_date: body.latest_rehire_date,
            location: body.location,
            source_id: body.source_id,
            work_id: body.work_id,
            custom_fields: body.custom_fields,
            first_name: body.first_name,
            last_name: body.last_name,
          });
        } else if (!errors.has(r.individual_id)) {
          errors.set(r.individual_id, itemError('employment', r.individual_id, r.code, r.body));
        }
      }
      for (const id of batch) {
        if (!answered.has(id) && !errors.has(id))
          errors.set(id, `employment ${id}: Finch's answer left this person out; what was stored for this person is kept`);
      }
      if (individualsDone) progress.processed += batch.length;
    }
  };
  // When one side fails (a 202, a refused token), the other stops at its next batch; the first error is the answer.
  const guarded = (work: () => Promise<void>) =>
    work().catch((err: unknown) => {
      stopped = true;
      throw err;
    });
  const settled = await Promise.allSettled([guarded(readIndividuals), guarded(readEmployments)]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;

  const summaries = new Map<string, PersonSummary>();
  for (const id of ids) summaries.set(id, summarize(individuals.get(id), directory.get(id)));
  return { ids, directory, individuals, employments, summaries, errors };
}
