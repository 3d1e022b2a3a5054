import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import {
  advanceWebhookCursor,
  claimDeliveryAttempt,
  deliveryId,
  disableWebhookEndpoint,
  dueWebhookEndpoints,
  finishDeliveryAttempt,
  getDelivery,
  leaseWebhookEndpoint,
  presentEvent,
  readEvents,
  releaseWebhookLease,
  scheduleWebhookRetry,
  webhookSecret,
  type DeliveryOutcome,
  type EventDoc,
  type WebhookEndpointDoc,
} from '../store';
import { DestinationRefusedError, postChecked, type Resolver } from './outbound';

/**
 * Seconds to wait after each failed attempt (the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h, about 27.5 hours in all); when the attempt after the last wait fails too, the endpoint is disabled.
 */
/** Deliveries between writes of the endpoint's cursor. */
const CURSOR_EVERY = 50;

export const RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;

export interface WebhookWorkerOptions {
  secretKey: string;
  allowLoopback: boolean;
  /** Per request. */
  timeoutMs?: number;
  /** Multiplies every retry wait (tests compress a day into seconds); 1 in production. */
  retryScale?: number;
  pollMs?: number;
  leaseMs?: number;
  /** Events read per page. */
  batch?: number;
  owner?: string;
  resolver?: Resolver;
  logger?: Logger;
  onDelivery?: (outcome: DeliveryOutcome, latencyMs: number) => void;
}

/**
 * Delivers the feed to webhook endpoints: one event per request, in cursor order per endpoint, at least once. Each
 * endpoint is leased (compare-and-set in the store) by one worker at a time, and each attempt is claimed by inserting
 * its delivery log entry first, so any number of workers send each attempt once.
 */
export class WebhookWorker {
  readonly owner: string;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly o: Required<Omit<WebhookWorkerOptions, 'resolver' | 'logger' | 'onDelivery' | 'owner'>> & WebhookWorkerOptions;

  constructor(opts: WebhookWorkerOptions) {
    this.owner = opts.owner ?? randomUUID();
    this.o = { timeoutMs: 10_000, retryScale: 1, pollMs: 500, leaseMs: 30_000, batch: 100, ...opts };
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: Error) => this.o.logger?.warn({ errName: err?.name, err: err?.message }, 'webhook delivery pass failed'))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(loop, this.o.pollMs);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every due endpoint; returns how many deliveries succeeded. */
  async tick(): Promise<number> {
    const due = await dueWebhookEndpoints();
    const done = await Promise.all(due.map((e) => this.serveEndpoint(e._id)));
    return done.reduce((a, b) => a + b, 0);
  }

  private delay(attempt: number): number {
    const base = RETRY_SCHEDULE_S[attempt - 1] ?? RETRY_SCHEDULE_S[RETRY_SCHEDULE_S.length - 1]!;
    const jitter = 0.8 + Math.random() * 0.4;
    return base * 1000 * this.o.retryScale * jitter;
  }

  private async serveEndpoint(id: string): Promise<number> {
    const leased = await leaseWebhookEndpoint(id, this.owner, this.o.leaseMs);
    if (!leased) return 0;
    let e: WebhookEndpointDoc = leased;
    let delivered = 0;
    try {
      const secret = webhookSecret(e, this.o.secretKey);
      const signer = new Webhook(secret);
      for (;;) {
        if (this.stopped) return delivered;
        const page = await readEvents(e.orgId, { after: e.cursor, limit: this.o.batch, types: e.types.length ? e.types : undefined });
        // The endpoint's cursor is written every CURSOR_EVERY deliveries and at the end of a page, not after each: a
        // worker that stops in between leaves deliveries logged as delivered, which the next one settles from the log
        // (see deliver) instead of sending them again.
        let unsaved = 0;
        for (const ev of page.items) {
          const r = await this.deliver(e, ev, signer, async () => {
            if (unsaved && !(await advanceWebhookCursor(e, this.owner, e.cursor, this.o.leaseMs))) return false;
            unsaved = 0;
            return true;
          });
          if (r === 'stop') return delivered;
          delivered++;
          e = { ...e, cursor: ev.seq, attempt: 0, firstFailureAt: null };
          if (++unsaved >= CURSOR_EVERY) {
            if (!(await advanceWebhookCursor(e, this.owner, e.cursor, this.o.leaseMs))) return delivered;
            unsaved = 0;
          }
        }
        // Delivered events not saved yet, and events the type filter skipped.
        const to = Math.max(page.cursor, e.cursor);
        if (unsaved || to > e.cursor) {
          if (!(await advanceWebhookCursor(e, this.owner, to, this.o.leaseMs))) return delivered;
          e = { ...e, cursor: to };
        }
        if (!page.more) return delivered;
      }
    } finally {
      await releaseWebhookLease(id, this.owner);
    }
  }

  /** Sends one attempt of one event; 'next' once it is delivered, 'stop' when the endpoint must wait. */
  private async deliver(
    e: WebhookEndpointDoc,
    ev: EventDoc,
    signer: Webhook,
    saveCursor: () => Promise<boolean>,
  ): Promise<'next' | 'stop'> {
    const attempt = e.attempt + 1;
    const did = deliveryId(e._id, e.round, ev.eid, attempt);
    const claimed = await claimDeliveryAttempt({
      _id: did,
      orgId: e.orgId,
      endpointId: e._id,
      eventId: ev.eid,
      eventType: ev.type,
      seq: ev.seq,
      attempt,
    });
    if (!claimed) {
      // This attempt was claimed before: by a worker that stopped mid-way (its lease ran out), or that finished it
      // and stopped before recording the outcome on the endpoint. Settle it from the log, never by sending again.
      const prior = await getDelivery(did);
      if (prior?.outcome === 'delivered') return 'next';
      // Another worker is sending it right now (leases are compare-and-set, but FerretDB v1 does not apply a
      // findAndModify atomically, so two workers can both believe they hold one): leave it to them.
      if (prior?.outcome === 'sending' && Date.now() - prior.createdAt.getTime() < this.o.leaseMs) return 'stop';
      if (prior?.outcome === 'sending') await finishDeliveryAttempt(did, 'failed', null, 0, 'the worker sending this attempt stopped');
      if (!(await saveCursor())) return 'stop';
      await this.failed(e, attempt);
      return 'stop';
    }
    const payload = JSON.stringify(presentEvent(ev, e.includeObject));
    const now = new Date();
    const headers = {
      'webhook-id': ev.eid,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signer.sign(ev.eid, now, payload),
    };
    let outcome: DeliveryOutcome;
    let status: number | null = null;
    let latency: number;
    let error: string | null = null;
    const started = performance.now();
    try {
      const res = await postChecked(e.url, payload, headers, {
        allowLoopback: this.o.allowLoopback,
        resolver: this.o.resolver,
        timeoutMs: this.o.timeoutMs,
      });
      status = res.status;
      latency = res.latencyMs;
      outcome = status >= 200 && status < 300 ? 'delivered' : 'failed';
      if (outcome === 'failed')
        error = status >= 300 && status < 400 ? `answered ${status} (redirects are not followed)` : `answered ${status}`;
    } catch (err) {
      latency = performance.now() - started;
      outcome = err instanceof DestinationRefusedError ? 'refused' : 'failed';
      error = (err as Error).message.slice(0, 300);
    }
    await finishDeliveryAttempt(did, outcome, status, Math.round(latency), error);
    this.o.onDelivery?.(outcome, latency);
    if (outcome === 'delivered') return 'next';
    if (!(await saveCursor())) return 'stop';
    this.o.logger?.info({ webhookId: e._id, eventId: ev.eid, attempt, status, outcome }, 'webhook delivery failed');
    await this.failed(e, attempt);
    return 'stop';
  }

  private async failed(e: WebhookEndpointDoc, attempt: number): Promise<void> {
    if (attempt > RETRY_SCHEDULE_S.length) {
      const reason = `disabled after ${attempt} failed attempts at one event over the retry schedule`;
      if (await disableWebhookEndpoint(e, this.owner, reason)) this.o.logger?.warn({ webhookId: e._id }, 'webhook endpoint disabled');
      return;
    }
    await scheduleWebhookRetry(e, this.owner, attempt, new Date(Date.now() + this.delay(attempt)));
  }
}
