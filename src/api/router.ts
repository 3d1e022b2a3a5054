import { Router, type NextFunction, type Request, type Response } from 'express';
import type { AppDeps } from '../server/deps';
import { authenticate } from './auth';
import { openApiDocument } from './openapi';
import { ApiError, problemHandler } from './problem';
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

/** Admin API, mounted at /api/v1. */
export function createApiRouter(deps: AppDeps): Router {
  const r = Router();
  const json = jsonBody(deps.config.MAX_BODY_BYTES);
  const doc = openApiDocument(deps.config.PUBLIC_URL);

  r.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  r.all(
    '/openapi.json',
    methodNotAllowed(() => ['GET', 'HEAD', 'OPTIONS']),
    problemHandler(deps.logger),
  );

  r.use(authenticate);
  r.use('/organization', organizationRoutes(json, deps.logger));
  r.use('/tokens', tokenRoutes(json));
  r.use('/connections', uploadRoutes(deps), hrisSyncRoutes(), columnMappingRoutes(json), connectionRoutes(json, deps.config, deps.logger));
  r.use('/recipients', recipientRoutes(json, deps.config));
  r.use('/sync-runs', syncRunRoutes());
  r.use('/groups', groupRoutes());
  r.use('/segments', segmentRoutes(json));
  r.use('/audiences', audienceChangeRoutes(), audienceRoutes(json));
  r.use('/audit-events', auditEventRoutes());
  r.use('/events', eventRoutes());
  r.use('/webhooks', webhookRoutes(json, deps.config));

  // A known path asked with a method it does not have: 405 with the methods it has (RFC 9110 §15.5.6).
  r.use(methodNotAllowed(allowedMethods(doc)));
  r.use((req) => {
    throw new ApiError(404, 'not-found', `there is no ${req.method} ${req.baseUrl}${req.path.length > 200 ? '' : req.path}`);
  });
  r.use(problemHandler(deps.logger));
  return r;
}
