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

/** The stored path to sort by for `sortBy` (the lower-cased copy for case-insensitive strings). */
export function sortPath(sortBy: string, resolve: FieldResolver): string {
  const field = resolveField(sortBy, resolve);
  if (!field) throw badRequest('invalidValue', `cannot sort by unknown attribute "${sortBy}"`);
  const { spec, base } = field;
  if (spec.type === 'complex') throw badRequest('invalidValue', `cannot sort by the complex attribute "${sortBy}"`);
  // Case-insensitive strings sort by their lower-cased copy.
  return base + (spec.lowerPath && !spec.caseExact ? spec.lowerPath : spec.path);
}

/** True when the filter is `<attr> eq "<string>"` for an attribute the resolver maps to `path`. */
export function eqOn(ast: Filter, resolve: FieldResolver, path: string): string | undefined {
  if (ast.op !== 'eq' || typeof ast.compValue !== 'string') return undefined;
  return resolve(ast.attrPath)?.path === path ? ast.compValue : undefined;
}
