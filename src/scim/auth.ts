import type { NextFunction, Request, Response } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { authenticateScimConnection, cachedSourceRecord, findSourceRecord } from '../store';
import type { PrefetchedUser, ScimConnection } from './context';
import { ScimError } from './errors';
import { findUserByName, lookedUpUserName } from './users';

const CONNECTION_ID = /^[0-9a-f]{24}$/i;

/**
 * The record of the user a request names (`/Users/{id}`: GET, PUT, PATCH, DELETE), or of the user holding the userName
 * a list asks for (`GET /Users?filter=userName eq "..."`, sent by identity providers before every create), read while
 * the token is checked, so that the reads go out together instead of one after the other. Nothing of it reaches the
 * handler unless the token is the connection's (res.locals, then ScimContext.prefetchedUser), and the handler checks
 * it as it checks a read of its own (liveScimUser; the organization and userName in findUsers). The reads are sent
 * after the request arrived, so they are no older than the request.
 */
function prefetchUser(req: Request): PrefetchedUser | undefined {
  const connectionId = String(req.params.connectionId ?? '');
  if (!CONNECTION_ID.test(connectionId)) return undefined;
  if (req.method === 'GET' && /^\/users\/?$/i.test(req.path)) {
    const userName = lookedUpUserName((req.query as Record<string, unknown> | undefined)?.filter);
    if (userName === undefined) return undefined;
    const record = findUserByName(connectionId, userName);
    record.catch(() => undefined); // awaited by the handler; unused (and harmless) when the token is refused
    return { userName, record };
  }
  const m = /^\/users\/([^/]+)\/?$/i.exec(req.path);
  if (!m || req.method === 'POST') return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  if (id === '.search') return undefined;
  // A PATCH or PUT of a user this process wrote last starts from its copy: the write is conditional on that version,
  // and whatever the copy alone would decide is checked on a read (src/scim/users.ts, modifyUser).
  const cached = req.method === 'PATCH' || req.method === 'PUT' ? cachedSourceRecord(connectionId, id) : undefined;
  if (cached) return { id, record: Promise.resolve(cached), cached: true };
  const record = findSourceRecord(connectionId, id);
  record.catch(() => undefined); // awaited by the handler; unused (and harmless) when the token is refused
  return { id, record };
}

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
      if (!CONNECTION_ID.test(connectionId) || token.length > 512) return done(null, false);
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
    res.locals.scimUserPrefetch = prefetchUser(req);
    const authenticate = passport.authenticate('scim-bearer', { session: false }, (err: unknown, user: ScimConnection | false) => {
      if (err) return next(err);
      if (!user) return next(unauthorized('a valid bearer token for this connection is required'));
      res.locals.scimConnection = user;
      next();
    }) as (req: Request, res: Response, next: NextFunction) => void;
    authenticate(req, res, next);
  };
}
