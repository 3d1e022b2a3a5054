import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import {
  advanceWebhookCursor,
  claimDeliveryAttempts,
  deliveryId,
  disableWebhookEndpoint,
  dueWebhookEndpoints,
  finishDeliveryAttempt,
  finishDeliveryAttempts,
  getDelivery,
  leaseWebhookEndpoint,
  presentEvent,
  readEvents,
  releaseDeliveryClaims,
  releaseWebhookLease,
  scheduleWebhookRetry,
  webhookSecret,
  type DeliveryOutcome,
  type DeliveryResult,
  type EventDoc,
  type WebhookEndpointDoc,
} from '../store';
import { DestinationRefusedError, postChecked, type Resolver } from './outbound';

/**
 * Seconds to wait after each failed attempt (the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h, about 27.5 hours in all); when the attempt after the last wait fails too, the endpoint is disabled.
 */
/** Attempts claimed in one insert, and deliveries between writes of the endpoint's cursor. */
const CLAIM_RUN = 50;

/** The outcome writes of the last run sent (see serveEndpoint). */
interface Logging {
  p: Promise<void>;
}

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
    // Outcomes of the run just sent are written while the next run is sent (they are log entries: nothing later
    // depends on them); at most one such write is in flight, and the lease is released only after it.
    const logging: Logging = { p: Promise.resolve() };
    try {
      const secret = webhookSecret(e, this.o.secretKey);
      const signer = new Webhook(secret);
      for (;;) {
        if (this.stopped) return delivered;
        const page = await readEvents(e.orgId, { after: e.cursor, limit: this.o.batch, types: e.types.length ? e.types : undefined });
        // Deliveries go in runs of up to CLAIM_RUN events: their attempts are claimed in one insert, sent one by one in
        // order, their outcomes logged and the endpoint's cursor moved once per run (a few store writes per run, not
        // two per event).
        for (let i = 0; i < page.items.length; i += CLAIM_RUN) {
          const run = page.items.slice(i, i + CLAIM_RUN);
          const r = await this.deliverRun(e, run, signer, logging);
          delivered += r.delivered;
          if (r.delivered) e = { ...e, cursor: run[r.delivered - 1]!.seq, attempt: 0, firstFailureAt: null };
          if (r.stop) return delivered;
        }
        // Events the type filter skipped.
        if (page.cursor > e.cursor) {
          if (!(await advanceWebhookCursor(e, this.owner, page.cursor, this.o.leaseMs))) return delivered;
          e = { ...e, cursor: page.cursor };
        }
        if (!page.more) return delivered;
      }
    } finally {
      try {
        await logging.p;
      } finally {
        await releaseWebhookLease(id, this.owner);
      }
    }
  }

  /**
   * Claims and sends a run of events in order; stops at the first that is not delivered (its retry is scheduled).
   * The cursor moves past the delivered ones before the run returns.
   */
  private async deliverRun(
    e: WebhookEndpointDoc,
    run: EventDoc[],
    signer: Webhook,
    logging: Logging,
  ): Promise<{ delivered: number; stop: boolean }> {
    // Only the first event can have failed attempts before: the cursor moves past each event once delivered.
    const claims = run.map((ev, k) => ({
      _id: deliveryId(e._id, e.round, ev.eid, k === 0 ? e.attempt + 1 : 1),
      orgId: e.orgId,
      endpointId: e._id,
      eventId: ev.eid,
      eventType: ev.type,
      seq: ev.seq,
      attempt: k === 0 ? e.attempt + 1 : 1,
    }));
    const claimed = await claimDeliveryAttempts(claims);
    if (claimed === 0) {
      await this.settleClaimed(e, claims[0]!._id, claims[0]!.attempt);
      return { delivered: 0, stop: true };
    }
    const results: DeliveryResult[] = [];
    let stopAt = -1;
    for (let k = 0; k < claimed; k++) {
      if (this.stopped) {
        stopAt = k;
        break;
      }
      const r = await this.send(e, run[k]!, signer, claims[k]!._id);
      results.push(r);
      this.o.onDelivery?.(r.outcome, r.latencyMs);
      if (r.outcome !== 'delivered') {
        stopAt = k + 1;
        break;
      }
    }
    // At most one outcome write in flight: the previous run's ends before this run's starts, so a backlog of runs
    // never queues their results in memory.
    await logging.p;
    logging.p = finishDeliveryAttempts(results);
    // Awaited later (serveEndpoint); marked handled now so a failure is not reported before that.
    logging.p.catch(() => undefined);
    if (stopAt >= 0) {
      await logging.p;
      await releaseDeliveryClaims(claims.slice(stopAt, claimed).map((c) => c._id));
    }
    const ok = results.filter((r) => r.outcome === 'delivered').length;
    const last = results[results.length - 1];
    if (ok && !(await advanceWebhookCursor(e, this.owner, run[ok - 1]!.seq, this.o.leaseMs))) return { delivered: ok, stop: true };
    if (last && last.outcome !== 'delivered') {
      const attempt = claims[ok]!.attempt;
      this.o.logger?.info(
        { webhookId: e._id, eventId: run[ok]!.eid, attempt, status: last.status, outcome: last.outcome },
        'webhook delivery failed',
      );
      await this.failed(ok ? { ...e, cursor: run[ok - 1]!.seq, attempt: 0, firstFailureAt: null } : e, attempt);
      return { delivered: ok, stop: true };
    }
    // A run cut short by stop(), or by an attempt another worker claimed.
    return { delivered: ok, stop: this.stopped || claimed < run.length };
  }

  /**
   * The attempt was claimed before: by a worker that stopped mid-way (its lease ran out), or that finished it and
   * stopped before recording the outcome on the endpoint. Settle it from the log, never by sending again.
   */
  private async settleClaimed(e: WebhookEndpointDoc, did: string, attempt: number): Promise<'stop'> {
    const prior = await getDelivery(did);
    if (prior?.outcome === 'delivered') {
      // Move past it; the next pass goes on from there.
      await advanceWebhookCursor(e, this.owner, prior.seq, this.o.leaseMs);
      return 'stop';
    }
    // Another worker is sending it right now (leases are compare-and-set, but FerretDB v1 does not apply a
    // findAndModify atomically, so two workers can both believe they hold one): leave it to them.
    if (prior?.outcome === 'sending' && Date.now() - prior.createdAt.getTime() < this.o.leaseMs) return 'stop';
    if (prior?.outcome === 'sending') await finishDeliveryAttempt(did, 'failed', null, 0, 'the worker sending this attempt stopped');
    await this.failed(e, attempt);
    return 'stop';
  }

  /** Sends one attempt of one event (already claimed). */
  private async send(e: WebhookEndpointDoc, ev: EventDoc, signer: Webhook, did: string): Promise<DeliveryResult> {
    const payload = JSON.stringify(presentEvent(ev, e.includeObject));
    const now = new Date();
    const headers = {
      'webhook-id': ev.eid,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signer.sign(ev.eid, now, payload),
    };
    const started = performance.now();
    try {
      const res = await postChecked(e.url, payload, headers, {
        allowLoopback: this.o.allowLoopback,
        resolver: this.o.resolver,
        timeoutMs: this.o.timeoutMs,
      });
      const ok = res.status >= 200 && res.status < 300;
      const error = ok
        ? null
        : res.status >= 300 && res.status < 400
          ? `answered ${res.status} (redirects are not followed)`
          : `answered ${res.status}`;
      return { id: did, outcome: ok ? 'delivered' : 'failed', status: res.status, latencyMs: res.latencyMs, error };
    } catch (err) {
      return {
        id: did,
        outcome: err instanceof DestinationRefusedError ? 'refused' : 'failed',
        status: null,
        latencyMs: performance.now() - started,
        error: (err as Error).message.slice(0, 300),
      };
    }
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
