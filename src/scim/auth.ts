import type { NextFunction, Request, Response } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { authenticateScimConnection } from '../store';
import type { ScimConnection } from './context';
import { ScimError } from './errors';

/**
 * Bearer authentication per connection: the token must be the one of the connection named in the URL. A private
 * Passport instance keeps this strategy out of the process-wide one.
 */
export function scimAuthenticator(): (req: Request, res: Response, next: NextFunction) => void {
  const passport = new Passport();
  passport.use(
    'scim-bearer',
    new BearerStrategy({ passReqToCallback: true }, (req: Request, token: string, done: (err: unknown, user?: unknown) => void) => {
      const connectionId = String(req.params.connectionId ?? '');
      if (!/^[0-9a-f]{24}$/i.test(connectionId) || token.length > 512) return done(null, false);
      authenticateScimConnection(connectionId, token).then(
        (conn) => {
          if (!conn) return done(null, false);
          const user: ScimConnection = {
            _id: conn._id,
            orgId: conn.orgId,
            type: 'scim',
            provider: conn.provider ?? 'generic',
            extendedAttributes: Boolean(conn.extendedAttributes),
            interopProfile: conn.interopProfile === 'strict' ? 'strict' : 'lenient',
            customAttributes: conn.customAttributes ?? [],
          };
          done(null, user);
        },
        (err: unknown) => done(err),
      );
    }),
  );
  const unauthorized = (message: string) =>
    new ScimError(401, message, undefined, {
      'WWW-Authenticate': 'Bearer realm="SCIM"',
    });
  return (req, res, next) => {
    // passport-http-bearer also reads `access_token` from the query string and the body (RFC 6750 §2.2, §2.3). Tokens
    // in URLs end up in access logs and proxies: only the Authorization header is accepted.
    if (Object.keys(req.query ?? {}).some((k) => k.toLowerCase() === 'access_token')) {
      return next(unauthorized('access tokens are accepted only in the Authorization header, never in the URL'));
    }
    if (!/^bearer\s/i.test(req.headers.authorization ?? '')) {
      return next(unauthorized('a valid bearer token for this connection is required (Authorization: Bearer ...)'));
    }
    const authenticate = passport.authenticate('scim-bearer', { session: false }, (err: unknown, user: ScimConnection | false) => {
      if (err) return next(err);
      if (!user) return next(unauthorized('a valid bearer token for this connection is required'));
      res.locals.scimConnection = user;
      next();
    }) as (req: Request, res: Response, next: NextFunction) => void;
    authenticate(req, res, next);
  };
}
