import { isDuplicateKeyError } from './errors';
import { recordConnectionEvent } from './events';
import { Connection, InboundWebhook, SyncRun, type SyncRunDoc, type SyncRunStatus } from './models';
import { PROCESS_OWNER, transitionRun, writeActiveRun } from './syncRunState';
import { createSyncRun } from './syncRuns';

/**
 * What the HRIS poller (src/hris) and the API need from the store about `hris` connections and their sync runs, so
 * neither touches a model.
 */

export interface HrisConnection {
  _id: string;
  orgId: string;
  type: 'hris';
  name: string;
  mode: 'automated' | 'assisted';
  /** Finch access token, encrypted (decrypt only when calling Finch). */
  accessTokenEnc: string | null;
  /** Interval override such as `24h`, `7d`, `30m`; null: the mode's default. */
  schedule: string | null;
  massRemovalThreshold: number;
  needsReauth: boolean;
  nextSyncAt: Date | null;
  /** A webhook asked for a sync at this time (debounced); null when none is waiting. */
  webhookSyncAt: Date | null;
  lastSyncAt: Date | null;
  finchConnectionId: string | null;
  finchCompanyId: string | null;
}

/** Finch's /introspect answer as kept on the connection (no secrets: Finch never returns the token there). */
export interface HrisIntrospection {
  providerId: string | null;
  connectionId: string | null;
  companyId: string | null;
  products: string[];
  connectionStatus: string | null;
  connectionStatusMessage: string | null;
  lastSuccessfulSync: string | null;
  authenticationMethods: string[];
  clientType: string | null;
}

interface RawHris {
  mode?: string | null;
  accessTokenEnc?: string | null;
  schedule?: string | null;
  needsReauth?: boolean | null;
  nextSyncAt?: Date | null;
  webhookSyncAt?: Date | null;
  lastSyncAt?: Date | null;
  finchConnectionId?: string | null;
  finchCompanyId?: string | null;
}

interface RawConnection {
  _id: string;
  orgId: string;
  type: string;
  name: string;
  massRemovalThreshold?: number | null;
  deleting?: boolean | null;
  hris?: RawHris | null;
}

function toHris(c: RawConnection): HrisConnection | null {
  if (c.type !== 'hris' || c.deleting) return null;
  const h = c.hris ?? {};
  return {
    _id: c._id,
    orgId: c.orgId,
    type: 'hris',
    name: c.name,
    mode: h.mode === 'assisted' ? 'assisted' : 'automated',
    accessTokenEnc: h.accessTokenEnc ?? null,
    schedule: h.schedule ?? null,
    massRemovalThreshold: c.massRemovalThreshold ?? 0.2,
    needsReauth: Boolean(h.needsReauth),
    nextSyncAt: h.nextSyncAt ?? null,
    webhookSyncAt: h.webhookSyncAt ?? null,
    lastSyncAt: h.lastSyncAt ?? null,
    finchConnectionId: h.finchConnectionId ?? null,
    finchCompanyId: h.finchCompanyId ?? null,
  };
}

export async function loadHrisConnection(id: string): Promise<HrisConnection | null> {
  const c = (await Connection.findOne({ _id: id }).lean().exec()) as RawConnection | null;
  return c ? toHris(c) : null;
}

/** Every live hris connection (the scheduler's view; a few fields each). */
export async function listHrisConnections(): Promise<HrisConnection[]> {
  const docs = (await Connection.find({ type: 'hris', deleting: { $ne: true } })
    .lean()
    .exec()) as RawConnection[];
  return docs.map(toHris).filter((c): c is HrisConnection => c !== null);
}

/** The hris connections Finch's webhook ids point at (Finch connection id first, else its company id). */
export async function findHrisConnectionsByFinchIds(ids: {
  connectionId?: string | null;
  companyId?: string | null;
}): Promise<HrisConnection[]> {
  const find = async (filter: Record<string, string>) =>
    (
      (await Connection.find({ type: 'hris', ...filter })
        .lean()
        .exec()) as RawConnection[]
    )
      .map(toHris)
      .filter((c): c is HrisConnection => c !== null);
  // The connection id names one connection; a company may have several (one per provider), so it is only the fallback.
  if (ids.connectionId) {
    const byConnection = await find({ 'hris.finchConnectionId': ids.connectionId });
    if (byConnection.length) return byConnection;
  }
  return ids.companyId ? find({ 'hris.finchCompanyId': ids.companyId }) : [];
}

export async function setHrisNextSyncAt(id: string, at: Date): Promise<void> {
  await Connection.updateOne({ _id: id, type: 'hris' }, { $set: { 'hris.nextSyncAt': at } }).exec();
}

/** A webhook asks for a sync: (re)arms the debounce timer so a burst of events makes one sync. */
export async function requestHrisWebhookSync(id: string, at: Date): Promise<void> {
  await Connection.updateOne({ _id: id, type: 'hris' }, { $set: { 'hris.webhookSyncAt': at } }).exec();
}

/**
 * Marks a connection whose token Finch refused; the first refusal after the token last worked is a
 * `connection.needs_reauth` event (later runs refused with the same token add none).
 */
export async function markHrisNeedsReauth(id: string, reason: string): Promise<void> {
  const set = { 'hris.needsReauth': true, 'hris.reauthReason': reason };
  const res = await Connection.updateOne({ _id: id, type: 'hris', 'hris.needsReauth': { $ne: true } }, { $set: set }).exec();
  if (!res.modifiedCount) {
    // Already marked: keep the newest reason, no new event.
    await Connection.updateOne({ _id: id, type: 'hris' }, { $set: set }).exec();
    return;
  }
  const conn = await Connection.findOne({ _id: id }, { orgId: 1 }).lean().exec();
  if (conn) await recordConnectionEvent(conn.orgId, id, 'needs_reauth', { type: 'hris', reason });
}

export async function recordHrisIntrospection(id: string, introspection: HrisIntrospection, now = new Date()): Promise<void> {
  const set: Record<string, unknown> = { 'hris.introspection': introspection, 'hris.introspectedAt': now };
  if (introspection.connectionId) set['hris.finchConnectionId'] = introspection.connectionId;
  if (introspection.companyId) set['hris.finchCompanyId'] = introspection.companyId;
  await Connection.updateOne({ _id: id, type: 'hris' }, { $set: set }).exec();
}

export interface HrisRunEnd {
  runId: string;
  status: SyncRunStatus;
  startedAt: Date;
  nextSyncAt: Date;
  /** Data was read from Finch (succeeded or held for review). */
  reachedFinch: boolean;
  /** Finch accepted the access token (any outcome but needs_reauth): clears needs_reauth. */
  tokenAccepted: boolean;
}

/** Records how a run ended on its connection: last run, next run; a working token clears needs_reauth. */
export async function recordHrisRunEnd(id: string, end: HrisRunEnd, now = new Date()): Promise<void> {
  const set: Record<string, unknown> = {
    'hris.lastRunId': end.runId,
    'hris.lastRunStatus': end.status,
    'hris.nextSyncAt': end.nextSyncAt,
  };
  if (end.tokenAccepted) set['hris.needsReauth'] = false;
  if (end.reachedFinch) set['hris.lastSyncAt'] = now;
  await Connection.updateOne({ _id: id, type: 'hris' }, { $set: set }).exec();
  // Webhook requests that arrived before the run started are served by it; later ones keep their timer.
  await Connection.updateOne(
    { _id: id, type: 'hris', 'hris.webhookSyncAt': { $lte: end.startedAt } },
    { $unset: { 'hris.webhookSyncAt': 1 } },
  ).exec();
}

const ACTIVE: SyncRunStatus[] = ['queued', 'running', 'applying'];

/**
 * Asks for an on-demand sync: a queued hris run the worker's scheduler picks up. When a run of the connection is
 * already queued or running, that run is the answer (one run per connection at a time).
 */
export async function requestHrisSync(conn: HrisConnection, label = 'on demand'): Promise<{ runId: string; created: boolean }> {
  const active = await SyncRun.findOne({ connectionId: conn._id, source: 'hris', status: { $in: ACTIVE } }, { _id: 1 })
    .lean()
    .exec();
  if (active) return { runId: active._id, created: false };
  const run = await createSyncRun(conn, { mode: 'full', source: 'hris', label });
  // Queued runs are visibly alive (the abandoned-run sweep judges by silence) until a worker takes them.
  await SyncRun.updateOne({ _id: run._id }, { $set: { heartbeatAt: new Date() } }).exec();
  return { runId: run._id, created: true };
}

/** The queued hris runs, oldest first (at most one per connection is ever created by requestHrisSync). */
export async function listQueuedHrisRuns(): Promise<{ runId: string; connectionId: string }[]> {
  const docs = (await SyncRun.find({ source: 'hris', status: 'queued' }, { _id: 1, connectionId: 1 }).sort({ _id: 1 }).lean().exec()) as {
    _id: string;
    connectionId: string;
  }[];
  return docs.map((d) => ({ runId: d._id, connectionId: d.connectionId }));
}

/** The active (queued or running) hris run of a connection, if any. */
export async function findActiveHrisRun(connectionId: string): Promise<SyncRunDoc | null> {
  return await SyncRun.findOne({ connectionId, source: 'hris', status: { $in: ACTIVE } })
    .lean()
    .exec();
}

export async function loadSyncRun(id: string): Promise<SyncRunDoc | null> {
  return await SyncRun.findOne({ _id: id }).lean().exec();
}

/** Takes a queued run for work (it becomes running); false when another process took it first or it ended. */
export async function startQueuedRun(id: string, now = new Date()): Promise<boolean> {
  return transitionRun(id, 'running', { startedAt: now, heartbeatAt: now, owner: PROCESS_OWNER });
}

/** A running run's heartbeat with its progress (phase, pages, people). */
export async function heartbeatSyncRun(
  id: string,
  progress: { phase?: string; pages?: number; processed?: number },
  now = new Date(),
): Promise<void> {
  const set: Record<string, unknown> = { heartbeatAt: now };
  if (progress.phase !== undefined) set['progress.phase'] = progress.phase;
  if (progress.pages !== undefined) set['progress.pages'] = progress.pages;
  if (progress.processed !== undefined) set['progress.processed'] = progress.processed;
  // Through the run's serialized writes: a heartbeat never overlaps (and undoes) the run's final status write.
  await writeActiveRun(id, set);
}

/** Ends an active run without applying anything (pending: Finch's data is not ready yet). */
export async function endRunUnapplied(
  id: string,
  status: 'pending' | 'failed',
  message: string,
  now = new Date(),
): Promise<SyncRunDoc | null> {
  await transitionRun(id, status, { message, finishedAt: now, phase: null });
  return loadSyncRun(id);
}

/** How many hris connections wait for a new access token (for /metrics). */
export async function countHrisNeedsReauth(): Promise<number> {
  return Connection.countDocuments({ type: 'hris', 'hris.needsReauth': true, deleting: { $ne: true } }).exec();
}

/**
 * Remembers a webhook delivery by its event id; false when it was already accepted (a replay). Deliveries older than
 * `keepMs` are forgotten (signatures older than Finch's 5-minute tolerance are refused anyway).
 */
export async function recordWebhookDelivery(eventId: string, source: string, keepMs = 24 * 3600_000, now = new Date()): Promise<boolean> {
  try {
    await InboundWebhook.create({ _id: `${source}:${eventId}`, source, receivedAt: now });
  } catch (err) {
    if (isDuplicateKeyError(err)) return false;
    throw err;
  }
  if (Math.random() < 0.01) await InboundWebhook.deleteMany({ receivedAt: { $lt: new Date(now.getTime() - keepMs) } }).exec();
  return true;
}

/** The lease that makes one HRIS sync per connection at a time (src/store/leases.ts). */
export function hrisSyncLeaseName(connectionId: string): string {
  return `hris-sync:${connectionId}`;
}

/** A connection's organization and type (to tell "not an hris connection" from "no such connection"). */
export async function connectionKind(id: string): Promise<{ orgId: string; type: string } | null> {
  const c = (await Connection.findOne({ _id: id, deleting: { $ne: true } }, { orgId: 1, type: 1 })
    .lean()
    .exec()) as { orgId: string; type: string } | null;
  return c ? { orgId: c.orgId, type: c.type } : null;
}
