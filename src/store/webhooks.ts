import { randomBytes } from 'node:crypto';
import type { Collection } from 'mongodb';
import { duplicateKeyIndexes } from './errors';
import { eventsAfter } from './eventBlocks';
import { headCursor, recordEvent } from './events';
import { newId } from './ids';
import { WebhookDelivery, WebhookEndpoint, type DeliveryOutcome, type WebhookDeliveryDoc, type WebhookEndpointDoc } from './models';
import { decryptSecret, encryptSecret } from './secrets';

/** Webhook endpoints and their delivery state: the store side of src/webhooks/worker.ts. */

function endpoints(): Collection<WebhookEndpointDoc> {
  return WebhookEndpoint.collection as unknown as Collection<WebhookEndpointDoc>;
}
function deliveries(): Collection<WebhookDeliveryDoc> {
  return WebhookDelivery.collection as unknown as Collection<WebhookDeliveryDoc>;
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes, base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface WebhookInput {
  url: string;
  types?: string[];
  enabled?: boolean;
  includeObject?: boolean;
}

/** Creates an endpoint that receives the events written from now on; returns it and its secret (shown once). */
export async function createWebhookEndpoint(
  orgId: string,
  input: WebhookInput,
  secretKey: string,
): Promise<{ endpoint: WebhookEndpointDoc; secret: string }> {
  const secret = newWebhookSecret();
  const now = new Date();
  const endpoint: WebhookEndpointDoc = {
    _id: newId(),
    orgId,
    url: input.url,
    types: [...new Set(input.types ?? [])].sort(),
    enabled: input.enabled ?? true,
    includeObject: Boolean(input.includeObject),
    secretEnc: encryptSecret(secret, secretKey),
    cursor: await headCursor(orgId),
    round: 0,
    attempt: 0,
    firstFailureAt: null,
    nextAttemptAt: null,
    leaseOwner: null,
    leaseUntil: null,
    disabledReason: null,
    createdAt: now,
    updatedAt: now,
  };
  await endpoints().insertOne(endpoint);
  return { endpoint, secret };
}

export async function getWebhookEndpoint(orgId: string, id: string): Promise<WebhookEndpointDoc | null> {
  return endpoints().findOne({ _id: id, orgId });
}

export async function listWebhookEndpoints(orgId: string): Promise<WebhookEndpointDoc[]> {
  return endpoints().find({ orgId }).sort({ _id: 1 }).toArray();
}

/** Changes url, types, enabled; enabling a disabled endpoint clears its failure state (it resumes where it stopped). */
export async function updateWebhookEndpoint(
  orgId: string,
  id: string,
  patch: WebhookInput | Partial<WebhookInput>,
): Promise<WebhookEndpointDoc | null> {
  const set: Partial<WebhookEndpointDoc> = { updatedAt: new Date() };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.types !== undefined) set.types = [...new Set(patch.types)].sort();
  if (patch.includeObject !== undefined) set.includeObject = patch.includeObject;
  if (patch.enabled !== undefined) {
    set.enabled = patch.enabled;
    if (patch.enabled) Object.assign(set, { attempt: 0, firstFailureAt: null, nextAttemptAt: null, disabledReason: null });
  }
  return endpoints().findOneAndUpdate({ _id: id, orgId }, { $set: set }, { returnDocument: 'after' });
}

export async function deleteWebhookEndpoint(orgId: string, id: string): Promise<boolean> {
  const res = await endpoints().deleteOne({ _id: id, orgId });
  if (res.deletedCount) await deliveries().deleteMany({ endpointId: id });
  return res.deletedCount === 1;
}

/** Delivers again every event after `cursor` (a new round: earlier attempts stay in the log). */
export async function replayWebhookEndpoint(orgId: string, id: string, cursor: number): Promise<WebhookEndpointDoc | null> {
  return endpoints().findOneAndUpdate(
    { _id: id, orgId },
    { $set: { cursor, attempt: 0, firstFailureAt: null, nextAttemptAt: null, updatedAt: new Date() }, $inc: { round: 1 } },
    { returnDocument: 'after' },
  );
}

export function webhookSecret(e: WebhookEndpointDoc, secretKey: string): string {
  return decryptSecret(e.secretEnc, secretKey);
}

/** The newest deliveries of an endpoint first, keyset-paged by creation. */
export async function listWebhookDeliveries(endpointId: string, limit: number, before?: Date): Promise<WebhookDeliveryDoc[]> {
  const q: Record<string, unknown> = { endpointId };
  if (before) q.createdAt = { $lt: before };
  return deliveries().find(q).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray();
}

// ---------------------------------------------------------------------------------------------------------------
// The worker's operations.

/** Enabled endpoints whose next attempt is due and whose lease is free. */
export async function dueWebhookEndpoints(now = new Date(), limit = 100): Promise<WebhookEndpointDoc[]> {
  const list = await endpoints()
    .find({ enabled: true })
    .limit(limit * 4)
    .toArray();
  return list.filter((e) => (!e.nextAttemptAt || e.nextAttemptAt <= now) && (!e.leaseUntil || e.leaseUntil <= now)).slice(0, limit);
}

/** Takes the lease of an endpoint (compare-and-set on the lease); null when another worker holds it. */
export async function leaseWebhookEndpoint(id: string, owner: string, ms: number, now = new Date()): Promise<WebhookEndpointDoc | null> {
  return endpoints().findOneAndUpdate(
    { _id: id, enabled: true, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: now } }, { leaseOwner: owner }] },
    { $set: { leaseOwner: owner, leaseUntil: new Date(now.getTime() + ms) } },
    { returnDocument: 'after' },
  );
}

export async function releaseWebhookLease(id: string, owner: string): Promise<void> {
  await endpoints().updateOne({ _id: id, leaseOwner: owner }, { $set: { leaseOwner: null, leaseUntil: null } });
}

/** Moves an endpoint's cursor (events delivered or filtered out), renewing the lease; false when the lease was lost. */
export async function advanceWebhookCursor(e: WebhookEndpointDoc, owner: string, cursor: number, leaseMs: number): Promise<boolean> {
  const res = await endpoints().updateOne(
    { _id: e._id, leaseOwner: owner, round: e.round },
    { $set: { cursor, attempt: 0, firstFailureAt: null, nextAttemptAt: null, leaseUntil: new Date(Date.now() + leaseMs) } },
  );
  return res.modifiedCount === 1 || res.matchedCount === 1;
}

export function deliveryId(endpointId: string, round: number, eventId: string, attempt: number): string {
  return `${endpointId}:${round}:${eventId}:${attempt}`;
}

/** Claims one attempt: false when it was already claimed (another worker sent or is sending it). */
export async function claimDeliveryAttempt(d: DeliveryClaim): Promise<boolean> {
  return (await claimDeliveryAttempts([d])) === 1;
}

export type DeliveryClaim = Omit<WebhookDeliveryDoc, 'outcome' | 'status' | 'latencyMs' | 'error' | 'createdAt'>;

/**
 * Claims consecutive attempts in one ordered insert (the delivery log entries, outcome `sending`); returns how many
 * of the first were claimed: the insert stops at the first attempt already claimed by another worker.
 */
export async function claimDeliveryAttempts(list: DeliveryClaim[]): Promise<number> {
  if (!list.length) return 0;
  const createdAt = new Date();
  try {
    await deliveries().insertMany(
      list.map((d) => ({ ...d, outcome: 'sending' as const, status: null, latencyMs: null, error: null, createdAt })),
      { ordered: true },
    );
    return list.length;
  } catch (err) {
    const refused = duplicateKeyIndexes(err);
    if (!refused) throw err;
    return Math.min(...refused);
  }
}

/** Withdraws claims of attempts that were never sent (the endpoint stopped before them). */
export async function releaseDeliveryClaims(ids: string[]): Promise<void> {
  if (ids.length) await deliveries().deleteMany({ _id: { $in: ids }, outcome: 'sending' });
}

export interface DeliveryResult {
  id: string;
  outcome: DeliveryOutcome;
  status: number | null;
  latencyMs: number;
  error: string | null;
}

/** Updates per command: FerretDB v1 holds a connection per update of one command until it ends (see merge.ts). */
const FINISH_CHUNK = 25;

/** Records the outcomes of sent attempts, a few commands for a page of them. */
export async function finishDeliveryAttempts(results: DeliveryResult[]): Promise<void> {
  for (let i = 0; i < results.length; i += FINISH_CHUNK) {
    await deliveries().bulkWrite(
      results.slice(i, i + FINISH_CHUNK).map((r) => ({
        updateOne: {
          filter: { _id: r.id },
          update: { $set: { outcome: r.outcome, status: r.status, latencyMs: Math.round(r.latencyMs), error: r.error } },
        },
      })),
      { ordered: false },
    );
  }
}

export async function finishDeliveryAttempt(
  id: string,
  outcome: DeliveryOutcome,
  status: number | null,
  latencyMs: number,
  error: string | null,
): Promise<void> {
  await deliveries().updateOne({ _id: id }, { $set: { outcome, status, latencyMs, error } });
}

/** Records a failed attempt: the next one is due at `nextAttemptAt`; releases the lease. */
export async function scheduleWebhookRetry(e: WebhookEndpointDoc, owner: string, attempt: number, nextAttemptAt: Date): Promise<void> {
  await endpoints().updateOne(
    { _id: e._id, leaseOwner: owner, round: e.round },
    { $set: { attempt, nextAttemptAt, firstFailureAt: e.firstFailureAt ?? new Date(), leaseOwner: null, leaseUntil: null } },
  );
}

/** Disables an endpoint whose retries ran out, and says so in the feed. */
export async function disableWebhookEndpoint(e: WebhookEndpointDoc, owner: string, reason: string): Promise<boolean> {
  const res = await endpoints().updateOne(
    { _id: e._id, leaseOwner: owner, enabled: true },
    { $set: { enabled: false, disabledReason: reason, leaseOwner: null, leaseUntil: null, nextAttemptAt: null, updatedAt: new Date() } },
  );
  if (!res.modifiedCount) return false;
  await recordEvent(e.orgId, {
    key: `webhook:${e._id}:disabled:${e.round}:${e.cursor}:${Date.now()}`,
    type: 'webhook_endpoint.disabled',
    connectionId: null,
    data: { webhookId: e._id, reason },
  });
  return true;
}

/** Lag per endpoint (for /metrics): events of its organization written after its cursor. */
export async function webhookLag(): Promise<{ endpointId: string; orgId: string; behind: number }[]> {
  const list = await endpoints()
    .find({ enabled: true }, { projection: { orgId: 1, cursor: 1 } })
    .toArray();
  const out: { endpointId: string; orgId: string; behind: number }[] = [];
  // Cursors are not dense (src/store/eventBlocks.ts): the events after the cursor are counted from their blocks.
  for (const e of list) out.push({ endpointId: e._id, orgId: e.orgId, behind: await eventsAfter(e.orgId, e.cursor) });
  return out;
}

/** Removes delivery log entries older than the event retention. */
export async function sweepWebhookDeliveries(olderThan: Date): Promise<number> {
  return (await deliveries().deleteMany({ createdAt: { $lt: olderThan } })).deletedCount;
}

export async function getDelivery(id: string): Promise<WebhookDeliveryDoc | null> {
  return deliveries().findOne({ _id: id });
}
