import { parseAttrPath, stripCoreSchema } from '../filter';
import type { ScimContext } from './context';
import { ScimError } from './errors';
import type { ScimResult } from './http';
import { listParams, param } from './listParams';
import { isObject, NO_EXTENSIONS, USER_EXTENSIONS, type Extensions, type Json } from './normalize';
import { parseProjection, project } from './projection';
import { RESOURCE_TYPES, type ResourceType } from './resourceTypes';
import { LIST_SCHEMA, MAX_RESULTS } from './schemas';
import { parseScimFilter } from './search';

/**
 * Queries at the server root (RFC 7644 §3.4.2.1 and §3.4.3: `GET {base}?filter=...`, `POST {base}/.search`): every
 * resource type is searched with the same parameters and the results are one list. A filter naming an attribute a type
 * does not have matches none of its resources (a `userName` filter finds no group); a filter no type can serve is the
 * first type's 400.
 */

const EXTENSIONS: Record<ResourceType['name'], Extensions> = { User: USER_EXTENSIONS, Group: NO_EXTENSIONS };

interface TypeList {
  type: ResourceType;
  total: number;
  resources: Json[];
}

function listBody(r: ScimResult): { total: number; resources: Json[] } {
  const body = isObject(r.body) ? r.body : {};
  const resources = Array.isArray(body.Resources) ? (body.Resources as unknown[]).filter(isObject) : [];
  return { total: typeof body.totalResults === 'number' ? body.totalResults : resources.length, resources };
}

/** Lists one type; undefined when the filter cannot apply to it (an attribute it lacks). */
async function listType(ctx: ScimContext, type: ResourceType, query: Json): Promise<{ total: number; resources: Json[] } | ScimError> {
  try {
    return listBody(await type.list(ctx, query));
  } catch (err) {
    if (err instanceof ScimError && err.status === 400) return err;
    throw err;
  }
}

/** Reads the first `n` resources of one type in its own order (the endpoints serve at most MAX_RESULTS per page). */
async function firstOf(ctx: ScimContext, type: ResourceType, query: Json, n: number): Promise<TypeList | ScimError> {
  const resources: Json[] = [];
  for (;;) {
    const page = await listType(ctx, type, {
      ...query,
      startIndex: resources.length + 1,
      count: Math.min(MAX_RESULTS, n - resources.length),
    });
    if (page instanceof ScimError) return page;
    resources.push(...page.resources);
    if (!page.resources.length || resources.length >= Math.min(n, page.total)) return { type, total: page.total, resources };
  }
}

/** The value a rendered resource sorts by: names case-insensitive, a multi-valued attribute by its primary element. */
function renderedSortValue(resource: Json, sortBy: string): string | number | boolean | undefined {
  const { urn, names } = parseAttrPath(stripCoreSchema(sortBy), Object.keys(USER_EXTENSIONS));
  let v: unknown = urn === undefined ? resource : resource[Object.keys(resource).find((k) => k.toLowerCase() === urn.toLowerCase()) ?? urn];
  for (const name of names) {
    if (Array.isArray(v)) v = v.find((e) => isObject(e) && e.primary === true) ?? v[0];
    if (!isObject(v)) return undefined;
    const obj: Json = v;
    v = obj[Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name];
  }
  if (Array.isArray(v)) v = v.find((e) => isObject(e) && e.primary === true) ?? v[0];
  if (isObject(v)) v = v.value;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
  return typeof v === 'string' && !/^(id|externalId)$/i.test(names.join('.')) ? v.toLowerCase() : v;
}

function compareSorted(a: Json, b: Json, sortBy: string, descending: boolean): number {
  const x = renderedSortValue(a, sortBy);
  const y = renderedSortValue(b, sortBy);
  // RFC 7644 §3.4.2.3: resources without a value sort last ascending, first descending.
  if (x === undefined || y === undefined) return x === y ? 0 : (x === undefined ? 1 : -1) * (descending ? -1 : 1);
  const c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x < typeof y ? -1 : 1;
  return descending ? -c : c;
}

export async function rootQuery(ctx: ScimContext, query: Json): Promise<ScimResult> {
  const p = listParams(query);
  // A filter that does not parse is refused once, not per type.
  if (p.filter) parseScimFilter(p.filter);
  // The types are asked for complete resources; the projection is applied to the merged page.
  const typeQuery: Json = {};
  for (const name of ['filter', 'sortBy', 'sortOrder']) {
    const v = param(query, name);
    if (v !== undefined) typeQuery[name] = v;
  }
  const offset = p.startIndex - 1;
  const lists: TypeList[] = [];
  let firstError: ScimError | undefined;
  if (!p.sortBy) {
    // No sort: the types one after the other (Users, then Groups), each in its own order.
    let skip = offset;
    let room = p.count;
    for (const type of RESOURCE_TYPES) {
      const page = await listType(ctx, type, { ...typeQuery, startIndex: skip + 1, count: room });
      if (page instanceof ScimError) {
        firstError ??= page;
        continue;
      }
      lists.push({ type, ...page });
      skip = Math.max(0, skip - page.total);
      room -= page.resources.length;
    }
  } else {
    const { sortBy: _sortBy, sortOrder: _sortOrder, ...unsortedQuery } = typeQuery;
    for (const type of RESOURCE_TYPES) {
      let list = await firstOf(ctx, type, typeQuery, offset + p.count);
      if (list instanceof ScimError) {
        // A type without the sort attribute (Groups for `userName`): all its resources sort as having no value.
        const unsorted = await firstOf(ctx, type, unsortedQuery, offset + p.count);
        if (!(unsorted instanceof ScimError)) list = unsorted;
      }
      if (list instanceof ScimError) firstError ??= list;
      else lists.push(list);
    }
  }
  if (!lists.length && firstError) throw firstError;
  const tagged = lists.flatMap((l) => l.resources.map((r) => ({ type: l.type, r })));
  let page = tagged;
  if (p.sortBy) {
    const sortBy = p.sortBy;
    page = tagged.sort((a, b) => compareSorted(a.r, b.r, sortBy, p.descending)).slice(offset, offset + p.count);
  }
  const resources = page.map(({ type, r }) => project(r, parseProjection(query, EXTENSIONS[type.name])));
  return {
    status: 200,
    body: {
      schemas: [LIST_SCHEMA],
      totalResults: lists.reduce((n, l) => n + l.total, 0),
      startIndex: p.startIndex,
      itemsPerPage: resources.length,
      Resources: resources,
    },
  };
}
