import { Router } from 'express';
import type { AppDeps } from '../server/deps';
import { authenticate } from './auth';
import { openApiDocument } from './openapi';
import { ApiError, problemHandler } from './problem';
import { auditEventRoutes } from './routes/auditEvents';
import { audienceRoutes } from './routes/audiences';
import { connectionRoutes } from './routes/connections';
import { groupRoutes } from './routes/groups';
import { organizationRoutes } from './routes/organization';
import { recipientRoutes } from './routes/recipients';
import { segmentRoutes } from './routes/segments';
import { syncRunRoutes } from './routes/syncRuns';
import { tokenRoutes } from './routes/tokens';
import { uploadRoutes } from './routes/uploads';
import { jsonBody } from './validate';

/** Admin API, mounted at /api/v1. */
export function createApiRouter(deps: AppDeps): Router {
  const r = Router();
  const json = jsonBody(deps.config.MAX_BODY_BYTES);
  const doc = openApiDocument(deps.config.PUBLIC_URL);

  r.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });

  r.use(authenticate);
  r.use('/organization', organizationRoutes(json));
  r.use('/tokens', tokenRoutes(json));
  r.use('/connections', uploadRoutes(deps), connectionRoutes(json, deps.config));
  r.use('/recipients', recipientRoutes(json, deps.config));
  r.use('/sync-runs', syncRunRoutes());
  r.use('/groups', groupRoutes());
  r.use('/segments', segmentRoutes(json));
  r.use('/audiences', audienceRoutes(json));
  r.use('/audit-events', auditEventRoutes());

  r.use((req) => {
    throw new ApiError(404, 'not-found', `there is no ${req.method} ${req.baseUrl}${req.path.length > 200 ? '' : req.path}`);
  });
  r.use(problemHandler(deps.logger));
  return r;
}
