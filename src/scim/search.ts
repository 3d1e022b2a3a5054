import { FilterError, parseFilter, resolveField, translateFilter, type FieldResolver, type Filter, type MongoQuery } from '../filter';
import { badRequest } from './errors';

/** Parses a filter, answering 400 invalidFilter for anything the translator cannot serve faithfully. */
export function parseScimFilter(text: string): Filter {
  try {
    return parseFilter(text);
  } catch (err) {
    if (err instanceof FilterError) throw badRequest('invalidFilter', err.message);
    throw err;
  }
}

export function translateScimFilter(ast: Filter, resolve: FieldResolver): MongoQuery {
  try {
    return translateFilter(ast, resolve);
  } catch (err) {
    if (err instanceof FilterError) throw badRequest('invalidFilter', err.message);
    throw err;
  }
}

/**
 * Where a `sortBy` attribute is stored. `path` is the value to sort by (the lower-cased copy for case-insensitive
 * strings); for a sub-attribute of a multi-valued attribute (`emails`, `emails.value`), `list` is the list's path and
 * `sub` the sub-attribute's path within each element: such a resource sorts by its primary element (or its first).
 */
export interface SortField {
  path: string;
  list?: { path: string; sub: string };
}

export function sortField(sortBy: string, resolve: FieldResolver): SortField {
  const field = resolveField(sortBy, resolve);
  if (!field) throw badRequest('invalidValue', `cannot sort by unknown attribute "${sortBy}"`);
  const { spec, base, parent } = field;
  if (spec.type === 'complex') throw badRequest('invalidValue', `cannot sort by the complex attribute "${sortBy}"`);
  // Case-insensitive strings sort by their lower-cased copy.
  const sub = spec.lowerPath && !spec.caseExact ? spec.lowerPath : spec.path;
  return parent?.multiValued ? { path: base + sub, list: { path: parent.path, sub } } : { path: base + sub };
}

/** The stored path to sort by for `sortBy`. */
export function sortPath(sortBy: string, resolve: FieldResolver): string {
  return sortField(sortBy, resolve).path;
}

export interface SortedPage<T> {
  total: number;
  docs: T[];
}

export type StoreSearch<T> = (
  query: MongoQuery | undefined,
  page: { sort: Record<string, 1 | -1>; skip: number; limit: number },
) => Promise<SortedPage<T>>;

const and = (q: MongoQuery | undefined, extra: MongoQuery): MongoQuery => (q ? { $and: [q, extra] } : extra);

/**
 * A page sorted as RFC 7644 §3.4.2.3 asks: resources without a value for the sort attribute come last ascending and
 * first descending (MongoDB puts them first ascending). Served as two store queries, those with a value and those
 * without, and the page cut across both; ties and the resources without a value are in `_id` order.
 */
export async function sortedSearch<T>(
  search: StoreSearch<T>,
  query: MongoQuery | undefined,
  field: SortField | undefined,
  descending: boolean,
  skip: number,
  limit: number,
): Promise<SortedPage<T>> {
  if (!field) return search(query, { sort: { _id: 1 }, skip, limit });
  const withValue = and(query, { [field.path]: { $ne: null } });
  const without = and(query, { [field.path]: null });
  const parts: { q: MongoQuery; sort: Record<string, 1 | -1> }[] = [
    { q: withValue, sort: { [field.path]: descending ? -1 : 1, _id: 1 } },
    { q: without, sort: { _id: 1 } },
  ];
  if (descending) parts.reverse();
  const first = await search(parts[0]!.q, { sort: parts[0]!.sort, skip, limit });
  const rest = Math.max(0, limit - first.docs.length);
  const second = await search(parts[1]!.q, { sort: parts[1]!.sort, skip: Math.max(0, skip - first.total), limit: rest });
  return { total: first.total + second.total, docs: [...first.docs, ...second.docs] };
}

/** What a dotted path reaches in a document: objects are stepped through, a list by its first element. */
function valueAt(doc: unknown, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('.')) {
    if (Array.isArray(v)) v = v[0];
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v;
}

/**
 * The value a document sorts by, undefined when it has none: for a multi-valued attribute, the primary element's (or
 * the first element's) sub-attribute.
 */
export function sortValue(doc: unknown, field: SortField): unknown {
  let v: unknown;
  if (field.list) {
    const list = valueAt(doc, field.list.path);
    const elements: unknown[] = Array.isArray(list) ? list : list === undefined || list === null ? [] : [list];
    const chosen =
      elements.find((e) => typeof e === 'object' && e !== null && (e as Record<string, unknown>).primary === true) ?? elements[0];
    v = chosen === undefined ? undefined : valueAt(chosen, field.list.sub);
  } else v = valueAt(doc, field.path);
  if (Array.isArray(v)) v = v[0];
  return v === null ? undefined : v;
}

function rank(v: unknown): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (v instanceof Date) return 2;
  if (typeof v === 'boolean') return 3;
  return 4;
}

function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  const x = a instanceof Date ? a.getTime() : a;
  const y = b instanceof Date ? b.getTime() : b;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : x > y ? 1 : 0;
  if (typeof x === 'boolean' && typeof y === 'boolean') return Number(x) - Number(y);
  return 0;
}

/**
 * Sorts documents in memory as `sortedSearch` does in the store (RFC 7644 §3.4.2.3: those without a value last
 * ascending, first descending; ties by `_id`). For multi-valued attributes, which MongoDB sorts by their smallest or
 * largest element rather than the primary one, and for FerretDB answers the store cannot give.
 */
export function sortInMemory<T extends { _id: string }>(docs: T[], field: SortField | undefined, descending: boolean): T[] {
  const byId = (a: T, b: T) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
  if (!field) return [...docs].sort(byId);
  const keyed = docs.map((d) => ({ d, k: sortValue(d, field) }));
  keyed.sort((a, b) => {
    const am = a.k === undefined;
    const bm = b.k === undefined;
    if (am || bm) return am === bm ? byId(a.d, b.d) : (am ? 1 : -1) * (descending ? -1 : 1);
    return (descending ? -compareValues(a.k, b.k) : compareValues(a.k, b.k)) || byId(a.d, b.d);
  });
  return keyed.map((x) => x.d);
}

/** True when the filter is `<attr> eq "<string>"` for an attribute the resolver maps to `path`. */
export function eqOn(ast: Filter, resolve: FieldResolver, path: string): string | undefined {
  if (ast.op !== 'eq' || typeof ast.compValue !== 'string') return undefined;
  return resolve(ast.attrPath)?.path === path ? ast.compValue : undefined;
}
