import type { Preconditions, ScimContext } from './context';
import { createGroup, deleteGroup, getGroup, listGroups, patchGroup, replaceGroup } from './groups';
import type { ScimResult } from './http';
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from './schemas';
import { createUser, deleteUser, getUser, listUsers, patchUser, replaceUser } from './users';

type Query = Record<string, unknown>;

/**
 * The resource types we serve (RFC 7643 §6): what /ResourceTypes advertises and the operations their endpoints route
 * to, in one table for the router, /Bulk and discovery.
 */
export interface ResourceType {
  /** The `id` and `name` in /ResourceTypes, and `meta.resourceType` of its resources. */
  name: 'User' | 'Group';
  /** Relative to the connection's base URL. */
  endpoint: string;
  description: string;
  schema: string;
  /** Extension schemas a resource may carry (none is required). */
  extensions: readonly string[];
  /** GET on the endpoint, or POST to `.search` with the query in the body. */
  list: (ctx: ScimContext, query: Query) => Promise<ScimResult>;
  create: (ctx: ScimContext, body: unknown, query: Query) => Promise<ScimResult>;
  get: (ctx: ScimContext, id: string, query: Query, pre: Preconditions) => Promise<ScimResult>;
  replace: (ctx: ScimContext, id: string, body: unknown, query: Query, pre: Preconditions) => Promise<ScimResult>;
  patch: (ctx: ScimContext, id: string, body: unknown, query: Query, pre: Preconditions) => Promise<ScimResult>;
  remove: (ctx: ScimContext, id: string, pre: Preconditions) => Promise<ScimResult>;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    name: 'User',
    endpoint: '/Users',
    description: 'User Account',
    schema: USER_SCHEMA,
    extensions: [ENTERPRISE_SCHEMA],
    list: listUsers,
    create: createUser,
    get: getUser,
    replace: replaceUser,
    patch: patchUser,
    remove: deleteUser,
  },
  {
    name: 'Group',
    endpoint: '/Groups',
    description: 'Group',
    schema: GROUP_SCHEMA,
    extensions: [],
    list: listGroups,
    create: createGroup,
    get: getGroup,
    replace: replaceGroup,
    patch: patchGroup,
    remove: deleteGroup,
  },
];

/** The resource type served at `/{segment}` (e.g. `Users`), compared case-insensitively. */
export function resourceTypeAt(segment: string): ResourceType | undefined {
  const l = `/${segment.toLowerCase()}`;
  return RESOURCE_TYPES.find((t) => t.endpoint.toLowerCase() === l);
}

/** The /ResourceTypes documents. */
export function resourceTypeDocs(base: string) {
  return RESOURCE_TYPES.map((t) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: t.name,
    name: t.name,
    endpoint: t.endpoint,
    description: t.description,
    schema: t.schema,
    schemaExtensions: t.extensions.map((schema) => ({ schema, required: false })),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${t.name}` },
  }));
}
