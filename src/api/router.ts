import { Router, type NextFunction, type Request, type Response } from 'express';
import type { AppDeps } from '../server/deps';
import { authenticate } from './auth';
import { openApiDocument } from './openapi';
import { ApiRoutes, type OperationSpec } from './operation';
import { ApiError, problemHandler } from './problem';
import { API_OPERATIONS, openApiOp } from './routeTable';
import { auditEventRoutes } from './routes/auditEvents';
import { columnMappingRoutes } from './routes/columnMapping';
import { audienceRoutes } from './routes/audiences';
import { connectionRoutes } from './routes/connections';
import { audienceChangeRoutes, eventRoutes } from './routes/events';
import { groupRoutes } from './routes/groups';
import { hrisSyncRoutes } from './routes/hrisSync';
import { organizationRoutes } from './routes/organization';
import { recipientRoutes } from './routes/recipients';
import { segmentRoutes } from './routes/segments';
import { syncRunRoutes } from './routes/syncRuns';
import { tokenRoutes } from './routes/tokens';
import { uploadRoutes } from './routes/uploads';
import { webhookRoutes } from './routes/webhooks';
import { jsonBody } from './validate';

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

/**
 * The methods each documented path has (the OpenAPI document lists exactly the routes, a test holds it to that), as a
 * lookup from a request path to its Allow list; null for a path the API does not have.
 */
export function allowedMethods(doc: Record<string, unknown>): (path: string) => string[] | null {
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  const matchers = Object.entries(paths).map(([template, item]) => {
    const pattern = template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    const methods = METHODS.filter((m) => m in item).map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    return { re: new RegExp(`^${pattern}/?$`, 'i'), allow: [...methods, 'OPTIONS'] };
  });
  return (path) => matchers.find((m) => m.re.test(path))?.allow ?? null;
}

/** Answers a request for a known path whose method that path does not have: 405 (OPTIONS: 204) with `Allow`. */
function methodNotAllowed(allowed: (path: string) => string[] | null) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const allow = allowed(req.path);
    if (!allow) return next();
    res.set('Allow', allow.join(', '));
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    const where = `${req.baseUrl}${req.path.length > 200 ? '' : req.path}`;
    next(new ApiError(405, 'method-not-allowed', `${req.method} is not allowed on ${where}; allowed: ${allow.join(', ')}`, { allow }));
  };
}

const key = (op: OperationSpec) => `${op.method.toUpperCase()} ${op.path}`;

/** Admin API, mounted at /api/v1: the operations of the route table (routeTable.ts), each validated by its schemas. */
export function createApiRouter(deps: AppDeps): Router {
  const r = Router();
  const api = new ApiRoutes(r, jsonBody(deps.config.MAX_BODY_BYTES));
  const doc = openApiDocument(deps.config.PUBLIC_URL);

  // The document is public: registered before authentication.
  api.add(openApiOp, (_req, res) => {
    res.json(doc);
  });
  r.all(
    '/openapi.json',
    methodNotAllowed(() => ['GET', 'HEAD', 'OPTIONS']),
    problemHandler(deps.logger),
  );

  r.use(authenticate);
  organizationRoutes(api, deps.logger);
  tokenRoutes(api);
  connectionRoutes(api, deps.config, deps.logger);
  hrisSyncRoutes(api);
  uploadRoutes(api, deps);
  columnMappingRoutes(api);
  recipientRoutes(api, deps.config);
  syncRunRoutes(api);
  groupRoutes(api);
  segmentRoutes(api);
  audienceRoutes(api);
  audienceChangeRoutes(api);
  eventRoutes(api);
  auditEventRoutes(api);
  webhookRoutes(api, deps.config);

  // The routes served are exactly the route table (the document): a handler without an operation cannot be added,
  // and an operation without a handler stops the start here.
  const served = api.registered.map(key).sort();
  const table = API_OPERATIONS.map(key).sort();
  if (JSON.stringify(served) !== JSON.stringify(table)) {
    throw new Error(`the API router serves ${served.join(', ')} but the route table lists ${table.join(', ')}`);
  }

  // A known path asked with a method it does not have: 405 with the methods it has (RFC 9110 §15.5.6).
  r.use(methodNotAllowed(allowedMethods(doc)));
  r.use((req) => {
    throw new ApiError(404, 'not-found', `there is no ${req.method} ${req.baseUrl}${req.path.length > 200 ? '' : req.path}`);
  });
  r.use(problemHandler(deps.logger));
  return r;
}
