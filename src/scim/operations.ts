import type { Preconditions, ScimContext } from './context';
import { ScimError } from './errors';
import { createGroup, deleteGroup, getGroup, listGroups, patchGroup, replaceGroup } from './groups';
import type { ScimResult } from './http';
import { isObject } from './normalize';
import { resourceTypeDocs, schemaDocs, serviceProviderConfig, LIST_SCHEMA } from './schemas';
import { createUser, deleteUser, getUser, listUsers, patchUser, replaceUser } from './users';

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

/** Routes one SCIM operation; shared by the HTTP router and /Bulk. */
export async function dispatch(ctx: ScimContext, r: ScimRequest, bulk?: (body: unknown) => Promise<ScimResult>): Promise<ScimResult> {
  const parts = r.path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  const [head, id, ...rest] = parts;
  const m = r.method.toUpperCase();
  const resource = (head ?? '').toLowerCase();
  if (rest.length) throw new ScimError(404, `${r.path} not found`);
  const searchBody = () => (isObject(r.body) ? r.body : {});

  switch (resource) {
    case 'serviceproviderconfig':
      if (m !== 'GET') methodNotAllowed(m, r.path);
      if (id) throw new ScimError(404, `${r.path} not found`);
      return { status: 200, body: serviceProviderConfig(ctx.baseUrl, r.maxPayloadSize) };
    case 'resourcetypes':
    case 'schemas': {
      if (m !== 'GET') methodNotAllowed(m, r.path);
      const docs: { id: string }[] = resource === 'schemas' ? schemaDocs(ctx.baseUrl) : resourceTypeDocs(ctx.baseUrl);
      if (!id) return list(docs);
      const doc = docs.find((d) => d.id.toLowerCase() === id.toLowerCase());
      if (!doc) throw new ScimError(404, `${r.path} not found`);
      return { status: 200, body: doc };
    }
    case 'users':
      if (!id) {
        if (m === 'GET') return listUsers(ctx, r.query);
        if (m === 'POST') return createUser(ctx, r.body, r.query);
        methodNotAllowed(m, r.path);
      }
      if (id === '.search') {
        if (m !== 'POST') methodNotAllowed(m, r.path);
        return listUsers(ctx, searchBody());
      }
      switch (m) {
        case 'GET':
          return getUser(ctx, id, r.query, r.pre);
        case 'PUT':
          return replaceUser(ctx, id, r.body, r.query, r.pre);
        case 'PATCH':
          return patchUser(ctx, id, r.body, r.query, r.pre);
        case 'DELETE':
          return deleteUser(ctx, id, r.pre);
        default:
          return methodNotAllowed(m, r.path);
      }
    case 'groups':
      if (!id) {
        if (m === 'GET') return listGroups(ctx, r.query);
        if (m === 'POST') return createGroup(ctx, r.body, r.query);
        methodNotAllowed(m, r.path);
      }
      if (id === '.search') {
        if (m !== 'POST') methodNotAllowed(m, r.path);
        return listGroups(ctx, searchBody());
      }
      switch (m) {
        case 'GET':
          return getGroup(ctx, id, r.query, r.pre);
        case 'PUT':
          return replaceGroup(ctx, id, r.body, r.query, r.pre);
        case 'PATCH':
          return patchGroup(ctx, id, r.body, r.query, r.pre);
        case 'DELETE':
          return deleteGroup(ctx, id, r.pre);
        default:
          return methodNotAllowed(m, r.path);
      }
    case 'bulk':
      if (m !== 'POST' || id || !bulk) methodNotAllowed(m, r.path);
      return bulk(r.body);
    default:
      throw new ScimError(404, `${r.path} not found`);
  }
}
