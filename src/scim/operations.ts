import type { Preconditions, ScimContext } from './context';
import { ScimError } from './errors';
import type { ScimResult } from './http';
import { isObject } from './normalize';
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
      return type.get(ctx, id, r.query, r.pre);
    case 'PUT':
      return type.replace(ctx, id, r.body, r.query, r.pre);
    case 'PATCH':
      return type.patch(ctx, id, r.body, r.query, r.pre);
    case 'DELETE':
      return type.remove(ctx, id, r.pre);
    default:
      return methodNotAllowed(m, r.path);
  }
}

/** Routes one SCIM operation; shared by the HTTP router and /Bulk. */
export async function dispatch(ctx: ScimContext, r: ScimRequest, bulk?: (body: unknown) => Promise<ScimResult>): Promise<ScimResult> {
  const parts = r.path
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  const [head, id, ...rest] = parts;
  const m = r.method.toUpperCase();
  const resource = (head ?? '').toLowerCase();
  if (rest.length) throw new ScimError(404, `${r.path} not found`);

  switch (resource) {
    case 'serviceproviderconfig':
      if (m !== 'GET') methodNotAllowed(m, r.path);
      if (id) throw new ScimError(404, `${r.path} not found`);
      return { status: 200, body: connectionServiceProviderConfig(ctx, r.maxPayloadSize) };
    case 'resourcetypes':
    case 'schemas': {
      if (m !== 'GET') methodNotAllowed(m, r.path);
      const docs: { id: string }[] = resource === 'schemas' ? connectionSchemaDocs(ctx) : connectionResourceTypeDocs(ctx);
      if (!id) return list(docs);
      const doc = docs.find((d) => d.id.toLowerCase() === id.toLowerCase());
      if (!doc) throw new ScimError(404, `${r.path} not found`);
      return { status: 200, body: doc };
    }
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
