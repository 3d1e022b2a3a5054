import Finch from '@tryfinch/finch-api';
import express, { Router } from 'express';
import type { AppDeps } from '../server/deps';
import { findHrisConnectionsByFinchIds, recordWebhookDelivery, requestHrisWebhookSync } from '../store';

/**
 * POST /webhooks/finch: Finch's signed webhooks. The signature is checked on the raw body with the SDK's
 * `webhooks.unwrap` (HMAC-SHA256 over `event id . timestamp . body` with the FINCH_WEBHOOK_SECRET, timestamps within
 * 5 minutes); a delivery whose event id was already accepted is a replay. Both answer 400 and change nothing.
 * Directory, employment and individual events and completed data syncs (re)arm a debounced sync of the matching
 * automated connections (found by the Finch connection id, else company id, cached from /introspect): a burst of
 * events makes one sync, HRIS_WEBHOOK_DEBOUNCE_SECONDS after the last one.
 */

const SYNC_EVENTS =
  /^(directory|employment|individual)\.(created|updated|deleted)$|^job\.(data_sync_all\.completed|initial_data_sync_org\.succeeded)$/;

type Deps = Pick<AppDeps, 'config' | 'logger'>;

function problem(status: number, title: string, detail: string) {
  return { type: 'about:blank', title, status, detail };
}

export function createFinchWebhookRouter(deps: Deps): Router {
  const r = Router();
  const log = deps.logger.child({ component: 'finch-webhooks' });
  // Only for verification: no token, never calls Finch.
  const finch = new Finch({ accessToken: null, clientID: null, clientSecret: null, webhookSecret: null, logLevel: 'off' });

  r.post('/', express.raw({ type: () => true, limit: deps.config.MAX_BODY_BYTES }), async (req, res) => {
    const secret = deps.config.FINCH_WEBHOOK_SECRET;
    if (!secret) {
      res
        .status(503)
        .type('application/problem+json')
        .json(problem(503, 'Service Unavailable', 'Finch webhooks are not configured here (FINCH_WEBHOOK_SECRET is not set)'));
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let event: ReturnType<typeof finch.webhooks.unwrap>;
    try {
      event = finch.webhooks.unwrap(body, req.headers, secret);
    } catch (err) {
      log.warn({ reason: (err as Error)?.message }, 'finch webhook refused');
      res
        .status(400)
        .type('application/problem+json')
        .json(problem(400, 'Bad Request', `the webhook signature does not verify: ${(err as Error)?.message ?? 'invalid'}`));
      return;
    }
    const eventId = String(req.headers['finch-event-id'] ?? '');
    if (!(await recordWebhookDelivery(eventId, 'finch'))) {
      log.warn({ eventId }, 'finch webhook replayed');
      res
        .status(400)
        .type('application/problem+json')
        .json(problem(400, 'Bad Request', `event ${eventId} was already delivered (a replay); ignored`));
      return;
    }
    const type = typeof event.event_type === 'string' ? event.event_type : '';
    let scheduled = 0;
    if (SYNC_EVENTS.test(type)) {
      const conns = await findHrisConnectionsByFinchIds({ connectionId: event.connection_id ?? null, companyId: event.company_id ?? null });
      const at = new Date(Date.now() + deps.config.HRIS_WEBHOOK_DEBOUNCE_SECONDS * 1000);
      for (const c of conns) {
        if (c.mode !== 'automated') continue;
        await requestHrisWebhookSync(c._id, at);
        scheduled++;
      }
    }
    log.info({ eventId, type, scheduled }, 'finch webhook accepted');
    res.status(200).json({ received: true, scheduled });
  });
  return r;
}
