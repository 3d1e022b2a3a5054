import type { Request } from 'express';
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
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { ApiError } from '../problem';
import { Webhook, WebhookCreated, WebhookDeliveryList, WebhookList, eventCursor, idParams, queryInt } from '../schemas';

/**
 * The document describes URLs naming a host by a DNS name (address literals are judged against the private ranges,
 * which a pattern cannot state); the server also takes address literals that are public.
 */
const HOST_URL =
  "^https?://[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.[A-Za-z]{2,63}(?::[1-9][0-9]{0,3})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$";
const url = z
  .string()
  .trim()
  .max(2000)
  .url('url must be an absolute http(s) URL')
  .refine((u) => /^https?:\/\//i.test(u), 'url must be an http or https URL')
  .meta({ format: 'uri', pattern: HOST_URL, maxLength: 2000 });
const types = z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length);
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
  limit: queryInt('limit', 1, 500, 50),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'the cursor is not one this API returned')
    .optional()
    .meta({ description: 'nextCursor of the previous page' }),
});

export const webhookOps = {
  create: operation({
    method: 'post',
    path: '/webhooks',
    access: 'manage',
    summary:
      'Create a webhook endpoint; the whsec_ signing secret is shown once. Deliveries follow Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), one event per request, in order, retried with backoff for about a day, then the endpoint is disabled',
    body: createSchema,
    responses: { 201: { description: 'OK', json: WebhookCreated } },
  }),
  list: operation({
    method: 'get',
    path: '/webhooks',
    access: 'manage',
    summary: 'List webhook endpoints',
    responses: { 200: { description: 'OK', json: WebhookList } },
  }),
  get: operation({
    method: 'get',
    path: '/webhooks/{id}',
    access: 'manage',
    summary: 'Read a webhook endpoint',
    params: idParams,
    responses: { 200: { description: 'OK', json: Webhook } },
  }),
  patch: operation({
    method: 'patch',
    path: '/webhooks/{id}',
    access: 'manage',
    summary: 'Change url, types, enabled (enabling resumes where it stopped), includeObject',
    params: idParams,
    body: patchSchema,
    responses: { 200: { description: 'OK', json: Webhook } },
  }),
  delete: operation({
    method: 'delete',
    path: '/webhooks/{id}',
    access: 'manage',
    summary: 'Delete a webhook endpoint',
    params: idParams,
    responses: { 204: { description: 'done' } },
  }),
  replay: operation({
    method: 'post',
    path: '/webhooks/{id}/replay',
    access: 'manage',
    summary: 'Deliver again every event after a cursor',
    params: idParams,
    query: replayQuery,
    responses: { 202: { description: 'accepted; deliveries follow', json: Webhook } },
  }),
  deliveries: operation({
    method: 'get',
    path: '/webhooks/{id}/deliveries',
    access: 'manage',
    summary: 'The delivery log of an endpoint, newest first (status, latency, attempt)',
    params: idParams,
    query: deliveriesQuery,
    responses: { 200: { description: 'OK', json: WebhookDeliveryList } },
  }),
};

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
export function webhookRoutes(api: ApiRoutes, config: Config): void {
  const load = async (req: Request, id: string) => {
    const e = await getWebhookEndpoint(principal(req).orgId, id);
    if (!e) throw new ApiError(404, 'not-found', 'no such webhook endpoint in this organization');
    return e;
  };

  api.add(webhookOps.create, async (req, res, { body }) => {
    const p = principal(req);
    checkLiteral(body.url, config);
    const { endpoint, secret } = await createWebhookEndpoint(p.orgId, body, config.SECRET_KEY);
    await recordAudit(p.orgId, p.tokenId, 'webhook.create', endpoint._id, { types: endpoint.types });
    res
      .status(201)
      .location(`/api/v1/webhooks/${endpoint._id}`)
      .json({ ...presentWebhook(endpoint), secret });
  });

  api.add(webhookOps.list, async (req, res) => {
    res.json({ items: (await listWebhookEndpoints(principal(req).orgId)).map(presentWebhook), nextCursor: null });
  });

  api.add(webhookOps.get, async (req, res, { params }) => {
    res.json(presentWebhook(await load(req, params.id)));
  });

  api.add(webhookOps.patch, async (req, res, { params, body }) => {
    const p = principal(req);
    const e = await load(req, params.id);
    if (body.url) checkLiteral(body.url, config);
    const next = await updateWebhookEndpoint(p.orgId, e._id, body);
    if (!next) throw new ApiError(404, 'not-found', 'no such webhook endpoint in this organization');
    await recordAudit(p.orgId, p.tokenId, 'webhook.update', e._id, { fields: Object.keys(body) });
    res.json(presentWebhook(next));
  });

  api.add(webhookOps.delete, async (req, res, { params }) => {
    const p = principal(req);
    const e = await load(req, params.id);
    await deleteWebhookEndpoint(p.orgId, e._id);
    await recordAudit(p.orgId, p.tokenId, 'webhook.delete', e._id);
    res.status(204).end();
  });

  api.add(webhookOps.replay, async (req, res, { params, query: q }) => {
    const p = principal(req);
    const e = await load(req, params.id);
    const next = await replayWebhookEndpoint(p.orgId, e._id, q.after);
    if (!next) throw new ApiError(404, 'not-found', 'no such webhook endpoint in this organization');
    await recordAudit(p.orgId, p.tokenId, 'webhook.replay', e._id, { after: q.after });
    res.status(202).json(presentWebhook(next));
  });

  api.add(webhookOps.deliveries, async (req, res, { params, query: q }) => {
    const e = await load(req, params.id);
    const list = await listWebhookDeliveries(e._id, q.limit + 1, q.cursor ? new Date(Number(q.cursor)) : undefined);
    const items = list.slice(0, q.limit);
    const last = items[items.length - 1];
    res.json({ items: items.map(presentDelivery), nextCursor: list.length > q.limit && last ? String(last.createdAt.getTime()) : null });
  });
}
