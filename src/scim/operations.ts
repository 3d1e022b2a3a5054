import type { Preconditions, ScimContext } from './context';
import { ScimError } from './errors';
import type { ScimResult } from './http';
import { param } from './listParams';
import { refusePasswordChange } from './password';
import { isObject } from './normalize';
import { rootQuery } from './rootSearch';
import { resourceTypeAt, type ResourceType } from './resourceTypes';
import { LIST_SCHEMA } from './schemas';
import { connectionResourceTypeDocs, connectionSchemaDocs, connectionServiceProviderConfig } from './interopProfile';

export interface ScimRequest {
  method: string;
  /** Path below the connection's base URL, e.g. `/Users/{id}`. */
  path: string;
  query: Record<string, unknown>;
  body: unknown;
  pre: Preconditions;
  maxPayloadSize: number;
}

function list(resources: unknown[]): ScimResult {
  return {
    status: 200,
    body: { schemas: [LIST_SCHEMA], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources },
  };
}

function methodNotAllowed(method: string, path: string): never {
  throw new ScimError(405, `${method} is not supported on ${path}`);
}

/**
 * A GET whose If-Match names another version answers 412 (RFC 7232 §3.1, which RFC 7644 §3.14 refers to): the client
 * asked for the resource only as it was at that version.
 */
async function getChecked(res: Promise<ScimResult>, pre: Preconditions): Promise<ScimResult> {
  const out = await res;
  const etag = out.headers?.ETag;
  if (pre.ifMatch && out.status === 200 && etag && !ifMatchHolds(pre.ifMatch, etag)) {
    throw new ScimError(412, `the resource has changed (its version is ${etag})`);
  }
  return out;
}

/** If-Match against an entity tag: `*`, or one of the listed tags, compared weakly (a `W/` prefix is ignored). */
function ifMatchHolds(header: string, etag: string): boolean {
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const s = t.trim();
    return s === '*' || s.replace(/^W\//, '') === bare;
  });
}

/** Discovery documents are not searchable: a filter is refused with 403 (RFC 7644 §4), never silently ignored. */
function refuseFilter(r: ScimRequest): void {
  if (param(r.query, 'filter') !== undefined) {
    throw new ScimError(403, `${r.path} does not support filtering (RFC 7644 §4); request it without "filter"`);
  }
}

/** The operations on a resource type's endpoint: `/{endpoint}`, `/{endpoint}/.search` and `/{endpoint}/{id}`. */
function routeResource(ctx: ScimContext, type: ResourceType, r: ScimRequest, m: string, id: string | undefined): Promise<ScimResult> {
  if (!id) {
    if (m === 'GET') return type.list(ctx, r.query);
    if (m === 'POST') return type.create(ctx, r.body, r.query);
    return methodNotAllowed(m, r.path);
  }
  if (id === '.search') {
    if (m !== 'POST') methodNotAllowed(m, r.path);
    return type.list(ctx, isObject(r.body) ? r.body : {});
  }
  switch (m) {
    case 'GET':
      return getChecked(type.get(ctx, id, r.query, r.pre), r.pre);
    case 'PUT':
      return type.replace(ctx, id, r.body, r.query, r.pre);
    case 'PATCH':
      if (type.name === 'User') refusePasswordChange(r.body);
      return type.patch(ctx, id, r.body, r.query, r.pre);
    case 'DELETE':
      return type.remove(ctx, id, r.pre);
    default:
      return methodNotAllowed(m, r.path);
  }
}

/** Routes one SCIM operation; shared by the HTTP router and /Bulk. */
export async function dispatch(ctx: ScimContext, r: ScimRequest, bulk?: (body: unknown) => Promise<ScimResult>): Promise<ScimResult> {
  let parts: string[];
  try {
    parts = r.path
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
  } catch {
    throw new ScimError(404, `${r.path} is not a valid URL path`);
  }
  const [head, id, ...rest] = parts;
  const m = r.method.toUpperCase();
  const resource = (head ?? '').toLowerCase();
  if (rest.length) throw new ScimError(404, `${r.path} not found`);

  switch (resource) {
    case 'serviceproviderconfig':
      if (m !== 'GET') methodNotAllowed(m, r.path);
      refuseFilter(r);
      if (id) throw new ScimError(404, `${r.path} not found`);
      return { status: 200, body: connectionServiceProviderConfig(ctx, r.maxPayloadSize) };
    case 'resourcetypes':
    case 'schemas': {
      if (m !== 'GET') methodNotAllowed(m, r.path);
      refuseFilter(r);
      const docs: { id: string }[] = resource === 'schemas' ? connectionSchemaDocs(ctx) : connectionResourceTypeDocs(ctx);
      if (!id) return list(docs);
      const doc = docs.find((d) => d.id.toLowerCase() === id.toLowerCase());
      if (!doc) throw new ScimError(404, `${r.path} not found`);
      return { status: 200, body: doc };
    }
    case '':
    case '.search':
      // Server-root queries (RFC 7644 §3.4.2.1, §3.4.3) across Users and Groups.
      if (resource === '' && m !== 'GET') methodNotAllowed(m, r.path);
      if (resource === '.search' && (m !== 'POST' || id)) methodNotAllowed(m, r.path);
      return rootQuery(ctx, resource === '' ? r.query : isObject(r.body) ? r.body : {});
    case 'bulk':
      if (m !== 'POST' || id || !bulk) methodNotAllowed(m, r.path);
      return bulk(r.body);
    default: {
      const type = resourceTypeAt(resource);
      if (!type) throw new ScimError(404, `${r.path} not found`);
      return routeResource(ctx, type, r, m, id);
    }
  }
}
