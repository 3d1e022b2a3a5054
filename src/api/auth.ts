import type { NextFunction, Request, Response } from 'express';
import { findApiToken, touchApiToken, type ApiTokenDoc, type Role } from '../store';
import { ApiError } from './problem';

/** Who is calling: the token's organization, role and permissions (never the token itself). */
export interface Principal {
  tokenId: string;
  orgId: string;
  role: Role;
  permissions: string[];
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const LAST_USED_EVERY_MS = 60_000;

/** Bearer authentication on the API tokens (SPEC §4): 401 without a valid token. */
export async function authenticate(req: Request, _res: Response, next: NextFunction): Promise<void> {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) throw new ApiError(401, 'unauthenticated', 'send an API token as "Authorization: Bearer <token>"');
  const doc = await findApiToken(m[1]!);
  if (!doc) throw new ApiError(401, 'unauthenticated', 'the API token is not valid (revoked or mistyped)');
  req.principal = { tokenId: doc._id, orgId: doc.orgId, role: doc.role, permissions: doc.permissions ?? [] };
  touch(doc);
  next();
}

/** Records when a token was last used, at most once a minute, without delaying the request. */
function touch(doc: ApiTokenDoc): void {
  const last = doc.lastUsedAt ? new Date(doc.lastUsedAt).getTime() : 0;
  if (Date.now() - last < LAST_USED_EVERY_MS) return;
  touchApiToken(doc._id).catch(() => undefined);
}

export function principal(req: Request): Principal {
  if (!req.principal) throw new ApiError(401, 'unauthenticated', 'authentication required');
  return req.principal;
}

export type Access = 'owner' | 'manage' | 'read';

/**
 * owner: tokens. manage: owners and admins (connections, uploads, sync runs, segments, audiences, manual entries).
 * read: owners, admins, and members holding `recipients:read` (recipients, groups, segments, audiences).
 */
export function allows(p: Principal, access: Access): boolean {
  if (p.role === 'owner') return true;
  if (access === 'owner') return false;
  if (p.role === 'admin') return true;
  return access === 'read' && p.permissions.includes('recipients:read');
}

export function requireAccess(access: Access) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const p = principal(req);
    if (!allows(p, access)) {
      const need =
        access === 'owner' ? 'the owner role' : access === 'manage' ? 'the owner or admin role' : 'the recipients:read permission';
      throw new ApiError(403, 'forbidden', `this token's role does not allow this: it needs ${need}`);
    }
    next();
  };
}
