import { Router, type NextFunction, type Request, type Response } from 'express';
import { StoreUnavailableError, storeConnected } from '../store';
import type { AppDeps } from '../server/deps';
import { scimAuthenticator } from './auth';
import { runBulk } from './bulk';
import type { PrefetchedUser, ScimConnection, ScimContext } from './context';
import { errorBody, httpErrorOf, ScimError } from './errors';
import { scimJsonParser } from './jsonBody';
import { send } from './http';
import { dispatch } from './operations';
import { refuseFilterOutsideGet } from './interopProfile';
import { scimRateLimiter } from './rateLimit';

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * SCIM 2.0 service provider, mounted at /scim/v2: `/{connectionId}/Users`, `/Groups`, `/Bulk` and discovery, each
 * connection with its own bearer token. Every response, errors included, is application/scim+json.
 */
export function createScimRouter(deps: AppDeps): Router {
  const { config, logger } = deps;
  const router = Router();
  const authenticate = scimAuthenticator();
  const limit = scimRateLimiter(config.SCIM_RATE_LIMIT_PER_MINUTE);
  const parseJson = scimJsonParser(config.MAX_BODY_BYTES);
  const storeUp = (_req: Request, _res: Response, next: NextFunction) =>
    next(storeConnected() ? undefined : new StoreUnavailableError('the store is not connected'));

  const handle = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const conn = res.locals.scimConnection as ScimConnection;
      const ctx: ScimContext = {
        conn,
        baseUrl: `${config.PUBLIC_URL.replace(/\/+$/, '')}/scim/v2/${conn._id}`,
        logger: logger.child({ connectionId: conn._id }),
        strict: conn.interopProfile === 'strict',
        prefetchedUser: res.locals.scimUserPrefetch as PrefetchedUser | undefined,
      };
      refuseFilterOutsideGet(ctx, req.method, req.query);
      const maxPayloadSize = config.MAX_BODY_BYTES;
      const result = await dispatch(
        ctx,
        {
          method: req.method,
          path: req.path,
          query: req.query,
          body: req.body,
          pre: { ifMatch: header(req, 'if-match'), ifNoneMatch: header(req, 'if-none-match') },
          maxPayloadSize,
        },
        (body) => runBulk(ctx, body, maxPayloadSize),
      );
      send(res, result);
    } catch (err) {
      next(err);
    }
  };

  // Authenticate first: the request budget is the identity provider's, and only its token may spend it (a caller who
  // merely knows the connection id gets 401s, never the provider's 429s).
  router.use('/:connectionId', storeUp, authenticate, limit, parseJson, handle);

  router.use((_req: Request, _res: Response, next: NextFunction) => next(new ScimError(404, 'not found')));

  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e = httpErrorOf(err, config.MAX_BODY_BYTES);
    if (!e) {
      logger.error({ err, method: req.method, path: req.path.replace(/\?.*$/, '') }, 'scim request failed');
      e = new ScimError(500, 'internal error');
    }
    if (e.status >= 500 && e.status !== 500) logger.warn({ status: e.status, method: req.method }, e.message);
    send(res, { status: e.status, body: errorBody(e.status, e.message, e.scimType), headers: e.headers });
  });
  return router;
}
