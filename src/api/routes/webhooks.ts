import { Router, type RequestHandler } from 'express';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Config } from '../../config/config';
import {
  EVENT_TYPES,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  recordAudit,
  replayWebhookEndpoint,
  updateWebhookEndpoint,
  type WebhookDeliveryDoc,
  type WebhookEndpointDoc,
} from '../../store';
import { classifyAddress } from '../../webhooks/outbound';
import { principal, requireAccess } from '../auth';
import { ApiError } from '../problem';
import { idParam, parseBody, parseQuery } from '../validate';
import { eventCursor } from './events';

const url = z
  .string()
  .trim()
  .max(2000)
  .url('url must be an absolute http(s) URL')
  .refine((u) => /^https?:\/\//i.test(u), 'url must be an http or https URL');
const types = z.array(z.enum(EVENT_TYPES as unknown as [string, ...string[]])).max(EVENT_TYPES.length);
const createSchema = z.strictObject({
  url,
  types: types.optional(),
  enabled: z.boolean().optional(),
  includeObject: z.boolean().optional(),
});
const patchSchema = z.strictObject({
  url: url.optional(),
  types: types.optional(),
  enabled: z.boolean().optional(),
  includeObject: z.boolean().optional(),
});
const replayQuery = z.object({ after: eventCursor });
const deliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'the cursor is not one this API returned')
    .optional(),
});

export function presentWebhook(e: WebhookEndpointDoc) {
  return {
    id: e._id,
    url: e.url,
    types: e.types,
    enabled: e.enabled,
    includeObject: e.includeObject,
    cursor: String(e.cursor),
    failedAttempts: e.attempt,
    nextAttemptAt: e.nextAttemptAt ? e.nextAttemptAt.toISOString() : null,
    disabledReason: e.disabledReason,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

function presentDelivery(d: WebhookDeliveryDoc) {
  return {
    id: d._id,
    eventId: d.eventId,
    eventType: d.eventType,
    cursor: String(d.seq),
    attempt: d.attempt,
    outcome: d.outcome,
    status: d.status,
    latencyMs: d.latencyMs,
    error: d.error,
    createdAt: d.createdAt.toISOString(),
  };
}

/** An address literal in the URL is judged now (a name is resolved and judged at each delivery). */
function checkLiteral(u: string, config: Config): void {
  const host = new URL(u).hostname.replace(/^\[|\]$/g, '');
  if (!isIP(host)) return;
  const c = classifyAddress(host);
  if (c === 'public' || (c === 'loopback' && config.WEBHOOK_ALLOW_LOOPBACK)) return;
  throw new ApiError(400, 'invalid-body', `url: webhooks are never sent to a ${c} address`);
}

/** Webhook endpoints (owners and admins): the signing secret is shown once, at creation. */
export function webhookRoutes(json: RequestHandler, config: Config): Router {
  const r = Router();
  const load = async (req: Parameters<RequestHandler>[0]) => {
    const e = await getWebhookEndpoint(principal(req).orgId, idParam(req));
    if (!e) throw new ApiError(404, 'not-found', 'no such webhook endpoint in this organization');
    return e;
  };

  r.post('/', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(createSchema, req.body);
    checkLiteral(body.url, config);
    const { endpoint, secret } = await createWebhookEndpoint(p.orgId, body, config.SECRET_KEY);
    await recordAudit(p.orgId, p.tokenId, 'webhook.create', endpoint._id, { types: endpoint.types });
    res
      .status(201)
      .location(`/api/v1/webhooks/${endpoint._id}`)
      .json({ ...presentWebhook(endpoint), secret });
  });

  r.get('/', requireAccess('manage'), async (req, res) => {
    res.json({ items: (await listWebhookEndpoints(principal(req).orgId)).map(presentWebhook), nextCursor: null });
  });

  r.get('/:id', requireAccess('manage'), async (req, res) => {
    res.json(presentWebhook(await load(req)));
  });

  r.patch('/:id', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const e = await load(req);
    const body = parseBody(patchSchema, req.body);
    if (body.url) checkLiteral(body.url, config);
    const next = await updateWebhookEndpoint(p.orgId, e._id, body);
    if (!next) throw new ApiError(404, 'not-found', 'no such webhook endpoint in this organization');
    await recordAudit(p.orgId, p.tokenId, 'webhook.update', e._id, { fields: Object.keys(body) });
    res.json(presentWebhook(next));
  });

  r.delete('/:id', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const e = await load(req);
    await deleteWebhookEndpoint(p.orgId, e._id);
    await recordAudit(p.orgId, p.tokenId, 'webhook.delete', e._id);
    res.status(204).end();
  });

  r.post('/:id/replay', requireAccess('manage'), async (req, res) => {
    const p = principal(req);
    const e = await load(req);
    const q = parseQuery(replayQuery, req.query);
    const next = await replayWebhookEndpoint(p.orgId, e._id, q.after);
    if (!next) throw new ApiError(404, 'not-found', 'no such webhook endpoint in this organization');
    await recordAudit(p.orgId, p.tokenId, 'webhook.replay', e._id, { after: q.after });
    res.status(202).json(presentWebhook(next));
  });

  r.get('/:id/deliveries', requireAccess('manage'), async (req, res) => {
    const e = await load(req);
    const q = parseQuery(deliveriesQuery, req.query);
    const list = await listWebhookDeliveries(e._id, q.limit + 1, q.cursor ? new Date(Number(q.cursor)) : undefined);
    const items = list.slice(0, q.limit);
    const last = items[items.length - 1];
    res.json({ items: items.map(presentDelivery), nextCursor: list.length > q.limit && last ? String(last.createdAt.getTime()) : null });
  });
  return r;
}
