import type { SourceRecordDoc } from '../store';
import type { Logger } from 'pino';

/** Everything one request needs, built per request (no request state lives on shared objects). */
export interface ScimConnection {
  _id: string;
  orgId: string;
  type: 'scim';
  provider: string;
  extendedAttributes: boolean;
  /** `strict`: the SCIM 2.0 Interoperability Profile is enforced (on the SCIM 2.0 base URL); unset: lenient. */
  interopProfile?: 'strict' | 'lenient';
  /** Custom attributes the administrator declared (src/scim/customAttributes.ts). */
  customAttributes?: readonly { name: string; type: 'string' | 'boolean' | 'integer' | 'decimal' | 'dateTime'; multiValued: boolean }[];
}

export interface ScimContext {
  conn: ScimConnection;
  /** The base URL of the dialect serving the request: `{PUBLIC_URL}/scim/v2/{connectionId}` (or `/scim/v1/` for Okta's SCIM 1.1) */
  baseUrl: string;
  logger: Logger;
  /** The connection's interoperability profile is `strict` and the request came to its SCIM 2.0 base URL. */
  strict?: boolean;
  /**
   * The source record of the user the URL names (`/Users/{id}`), or of the user holding the userName a list filter asks
   * for (`userName eq "..."`), read while the token was checked (src/scim/auth.ts). Taken once, by the first read of
   * that user (takePrefetchedUser, takePrefetchedLookup); a retry reads again.
   */
  prefetchedUser?: PrefetchedUser;
}

export interface PrefetchedUser {
  /** The user the URL names (`/Users/{id}`). */
  id?: string;
  /** The userName a list filter asks for (`GET /Users?filter=userName eq "..."`), as the filter parser read it. */
  userName?: string;
  /** The record; for a userName, the live user holding it or null (src/store/scimUsers.ts, findScimUserByKey). */
  record: Promise<SourceRecordDoc | null>;
  /**
   * The record is the copy this process kept of its last write (PATCH and PUT only, src/scim/auth.ts), not a read: a
   * base for a conditional write, never an answer by itself (src/scim/users.ts, modifyUser).
   */
  cached?: boolean;
}

/** The prefetched record of user `id`, once; undefined when there is none for that id (then read it). */
export function takePrefetchedUser(ctx: ScimContext, id: string): PrefetchedUser | undefined {
  const p = ctx.prefetchedUser;
  if (!p || p.id === undefined || p.id !== id) return undefined;
  ctx.prefetchedUser = undefined;
  return p;
}

/** The prefetched lookup of `userName`, once; undefined when the request's prefetch was of something else. */
export function takePrefetchedLookup(ctx: ScimContext, userName: string): PrefetchedUser | undefined {
  const p = ctx.prefetchedUser;
  if (!p || p.userName === undefined || p.userName !== userName) return undefined;
  ctx.prefetchedUser = undefined;
  return p;
}

export function etagOf(v: number): string {
  return `W/"${v}"`;
}

/** Compares an If-Match / If-None-Match header with a version; `*` matches any existing resource. */
export function etagMatches(header: string | undefined, v: number): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const s = t.trim();
    return s === '*' || s.replace(/^W\//, '') === `"${v}"`;
  });
}

export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}
