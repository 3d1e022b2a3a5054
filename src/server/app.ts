import express, { type Express } from 'express';
import { createApiRouter } from '../api/router';
import { createFinchWebhookRouter } from '../hris/webhooks';
import { createScimRouter } from '../scim/router';
import { createScim11Router } from '../scim/v1/router';
import { pingStore } from '../store';
import type { AppDeps } from './deps';
import { httpDuration, httpRequests, registry } from './metrics';

function familyOf(path: string): string {
  if (path.startsWith('/scim/')) return 'scim';
  if (path.startsWith('/api/')) return 'api';
  return 'other';
}

/** The HTTP service: SCIM, the admin API and the operational endpoints. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    // Taken now: a mounted router trims req.path to what it sees (`/Users`) before the response finishes.
    const path = req.path;
    const family = familyOf(path);
    const end = httpDuration.startTimer({ family });
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      end();
      httpRequests.inc({ family, method: req.method, status: String(res.statusCode) });
      // Built only when it is logged: this runs for every request.
      if (!deps.logger.isLevelEnabled('debug')) return;
      deps.logger.debug(
        {
          method: req.method,
          path: path.replace(/[^/]+@[^/]+/g, '[redacted]'),
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await pingStore();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'store unreachable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });

  app.use('/webhooks/finch', createFinchWebhookRouter(deps));
  app.use('/scim/v2', createScimRouter(deps));
  app.use('/scim/v1', createScim11Router(deps));
  app.use('/api/v1', createApiRouter(deps));

  // Outside the SCIM and API routers (which answer in their own error formats): an RFC 9457 problem document.
  app.use((req, res) => {
    res
      .status(404)
      .type('application/problem+json')
      .json({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `no resource at ${req.path}`,
      });
  });
  return app;
}
