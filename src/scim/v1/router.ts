import { Router, type NextFunction, type Request, type Response } from 'express';
import { scim11BaseUrl, storeConnected } from '../../store';
import type { AppDeps } from '../../server/deps';
import { scimAuthenticator } from '../auth';
import type { Preconditions, PrefetchedUser, ScimConnection, ScimContext } from '../context';
import { httpErrorOf, ScimError } from '../errors';
import type { ScimResult } from '../http';
import { scimJsonParser } from '../jsonBody';
import { dispatch } from '../operations';
import { scimRateLimiter } from '../rateLimit';
import { findSchemaV1, resourceTypeDocsV1, schemaDocsV1, serviceProviderConfigV1 } from './discovery';
import { discoveryListOut, errorOut, listOut, patchIn, projected, queryIn, resourceIn, resourceOut, type Kind } from './translate';

/** Okta's 1.1 client sends and reads plain JSON (its reference shows application/json and text/json). */
const CONTENT_TYPE = 'application/json; charset=utf-8';

interface V1Request {
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: unknown;
  pre: Preconditions;
  maxPayloadSize: number;
}

const DISCOVERY = new Set(['serviceproviderconfigs', 'serviceproviderconfig', 'schemas', 'resourcetypes']);

/** draft-scim-api-01 §3.1 lets a client ask for JSON with a `.json` suffix on the endpoint or resource. */
function segments(path: string): string[] {
  let parts: string[];
  try {
    parts = path
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
  } catch {
    throw new ScimError(404, 'the path is not valid URL encoding');
  }
  const last = parts.length - 1;
  if (last >= 0 && /\.json$/i.test(parts[last]!)) parts[last] = parts[last]!.slice(0, -5);
  return parts;
}

function head(path: string): string {
  return (segments(path)[0] ?? '').toLowerCase();
}

function methodNotAllowed(method: string, path: string): never {
  throw new ScimError(405, `${method} is not supported on ${path}`);
}

function readOnlyDoc(r: V1Request, body: () => unknown): ScimResult {
  if (r.method !== 'GET') methodNotAllowed(r.method, r.path);
  const doc = body();
  if (doc === undefined) throw new ScimError(404, `${r.path} not found`);
  return { status: 200, body: doc };
}

/**
 * One SCIM 1.1 request: translated in, served by the 2.0 operations (`dispatch`, the same handlers /scim/v2 uses),
 * translated out.
 */
async function serve(ctx: ScimContext, r: V1Request): Promise<ScimResult> {
  const [first, id, ...rest] = segments(r.path);
  const resource = (first ?? '').toLowerCase();
  if (rest.length) throw new ScimError(404, `${r.path} not found`);

  switch (resource) {
    case 'serviceproviderconfigs':
    case 'serviceproviderconfig':
      return readOnlyDoc(r, () => (id ? undefined : serviceProviderConfigV1(ctx.baseUrl)));
    case 'schemas':
      return readOnlyDoc(r, () => (id ? findSchemaV1(ctx.baseUrl, id) : discoveryListOut(schemaDocsV1(ctx.baseUrl))));
    case 'resourcetypes': {
      const docs = resourceTypeDocsV1(ctx.baseUrl);
      return readOnlyDoc(r, () => (id ? docs.find((d) => String(d.id).toLowerCase() === id.toLowerCase()) : discoveryListOut(docs)));
    }
    case 'users':
    case 'groups':
      return serveResource(ctx, resource === 'users' ? 'User' : 'Group', id, r);
    default:
      throw new ScimError(404, `${r.path} not found`);
  }
}

async function serveResource(ctx: ScimContext, kind: Kind, id: string | undefined, r: V1Request): Promise<ScimResult> {
  const m = r.method;
  const base = `/${kind}s`;
  const query = queryIn(r.query);
  const complete = !projected(r.query);
  const call = (method: string, path: string, body?: unknown, q: Record<string, unknown> = query) =>
    dispatch(ctx, { method, path, query: q, body, pre: r.pre, maxPayloadSize: r.maxPayloadSize });
  const one = (res: ScimResult): ScimResult => (res.body === undefined ? res : { ...res, body: resourceOut(kind, res.body, complete) });

  if (!id) {
    if (m === 'GET') {
      const res = await call('GET', base);
      return { ...res, body: listOut(kind, res.body, complete) };
    }
    if (m === 'POST') return one(await call('POST', base, resourceIn(kind, r.body)));
    return methodNotAllowed(m, r.path);
  }
  // 2.0's `/.search` and the like are not part of 1.1.
  if (id.startsWith('.')) throw new ScimError(404, `${r.path} not found`);
  const path = `${base}/${encodeURIComponent(id)}`;
  switch (m) {
    case 'GET':
      return one(await call('GET', path));
    case 'PUT':
      return one(await call('PUT', path, resourceIn(kind, r.body)));
    case 'PATCH': {
      const patch = patchIn(kind, r.body);
      const res = patch ? await call('PATCH', path, patch) : undefined;
      // 1.1 PATCH answers with the resource; the 2.0 group PATCH answers 204, so it is read back.
      if (res?.body !== undefined) return one(res);
      const read = await call('GET', path, undefined, projected(r.query) ? query : {});
      return one(read);
    }
    case 'DELETE':
      return call('DELETE', path);
    default:
      return methodNotAllowed(m, r.path);
  }
}

function send(res: Response, result: ScimResult): void {
  res.status(result.status);
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
  if (result.body === undefined || result.status === 204 || result.status === 304) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', CONTENT_TYPE);
  res.end(JSON.stringify(result.body));
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * Okta's SCIM 1.1 dialect, mounted at /scim/v1: `/{connectionId}/Users`, `/Groups`, `/ServiceProviderConfigs`,
 * `/Schemas`, with the same connections, tokens and rate limit as /scim/v2.
 */
export function createScim11Router(deps: AppDeps): Router {
  const { config, logger } = deps;
  const router = Router();
  const authenticate = scimAuthenticator();
  const limit = scimRateLimiter(config.SCIM_RATE_LIMIT_PER_MINUTE);
  // application/json, application/scim+json, text/json or nothing useful: any body is read as JSON, as for 2.0.
  const parseJson = scimJsonParser(config.MAX_BODY_BYTES);
  // Discovery documents are read-only: a POST there is 405 whatever its body (the SPEC test posts "test").
  const parseBody = (req: Request, res: Response, next: NextFunction) =>
    DISCOVERY.has(head(req.path)) ? next() : parseJson(req, res, next);
  const storeUp = (_req: Request, _res: Response, next: NextFunction) =>
    next(storeConnected() ? undefined : new ScimError(503, 'the store is unavailable; retry later', undefined, { 'Retry-After': '5' }));

  const handle = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const conn = res.locals.scimConnection as ScimConnection;
      const ctx: ScimContext = {
        conn,
        baseUrl: scim11BaseUrl(config.PUBLIC_URL, conn._id),
        logger: logger.child({ connectionId: conn._id, scimVersion: '1.1' }),
        prefetchedUser: res.locals.scimUserPrefetch as PrefetchedUser | undefined,
      };
      const result = await serve(ctx, {
        method: req.method.toUpperCase(),
        path: req.path,
        query: req.query,
        body: req.body,
        pre: { ifMatch: header(req, 'if-match'), ifNoneMatch: header(req, 'if-none-match') },
        maxPayloadSize: config.MAX_BODY_BYTES,
      });
      send(res, result);
    } catch (err) {
      next(err);
    }
  };

  router.use('/:connectionId', storeUp, authenticate, limit, parseBody, handle);

  router.use((_req: Request, _res: Response, next: NextFunction) => next(new ScimError(404, 'not found')));

  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e = httpErrorOf(err, config.MAX_BODY_BYTES);
    if (!e) {
      logger.error({ err, method: req.method, path: req.path.replace(/\?.*$/, ''), scimVersion: '1.1' }, 'scim request failed');
      e = new ScimError(500, 'internal error');
    }
    if (e.status > 500) logger.warn({ status: e.status, method: req.method, scimVersion: '1.1' }, e.message);
    send(res, { status: e.status, body: errorOut(e.status, e.message), headers: e.headers });
  });
  return router;
}
