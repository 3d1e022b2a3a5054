import type { Filter } from 'scim2-parse-filter';
import { FilterError, parseFilter, translateFilter, type FieldResolver, type FieldSpec, type MongoQuery } from '../store';
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

/** The stored path to sort by for `sortBy` (the lower-cased copy for case-insensitive strings). */
export function sortPath(sortBy: string, resolve: FieldResolver): string {
  const direct = resolve(sortBy);
  // lowerPath sits beside path (for top-level specs it is a full path, for sub-attributes a leaf name).
  const leaf = (spec: FieldSpec, _base: string) => (spec.lowerPath && !spec.caseExact ? spec.lowerPath : spec.path);
  if (direct) {
    if (direct.type === 'complex' && direct.subAttributes?.value) return `${direct.path}.${leaf(direct.subAttributes.value, '')}`;
    if (direct.type === 'complex') throw badRequest('invalidValue', `cannot sort by the complex attribute "${sortBy}"`);
    return leaf(direct, '');
  }
  const dot = sortBy.lastIndexOf('.');
  if (dot > 0) {
    const parent = resolve(sortBy.slice(0, dot));
    const name = sortBy.slice(dot + 1).toLowerCase();
    const sub = parent?.subAttributes ? Object.entries(parent.subAttributes).find(([k]) => k.toLowerCase() === name)?.[1] : undefined;
    if (parent && sub) return `${parent.path}.${leaf(sub, '')}`;
  }
  throw badRequest('invalidValue', `cannot sort by unknown attribute "${sortBy}"`);
}

/** True when the filter is `<attr> eq "<string>"` for an attribute the resolver maps to `path`. */
export function eqOn(ast: Filter, resolve: FieldResolver, path: string): string | undefined {
  if (ast.op !== 'eq' || typeof ast.compValue !== 'string') return undefined;
  return resolve(ast.attrPath)?.path === path ? ast.compValue : undefined;
}
