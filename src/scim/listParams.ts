import { badRequest } from './errors';
import { scalarText } from './normalize';
import { MAX_RESULTS } from './schemas';

/** Query parameters of a list or .search request (RFC 7644 §3.4.2), names case-insensitive. */
export interface ListParams {
  filter?: string;
  startIndex: number;
  count: number;
  sortBy?: string;
  descending: boolean;
}

export function param(query: Record<string, unknown>, name: string): unknown {
  const k = Object.keys(query).find((x) => x.toLowerCase() === name.toLowerCase());
  const v = k === undefined ? undefined : query[k];
  return Array.isArray(v) ? v[0] : v;
}

function int(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  if (!Number.isFinite(n)) throw badRequest('invalidValue', `"${name}" must be an integer`);
  return Math.trunc(n);
}

export function listParams(query: Record<string, unknown>): ListParams {
  const filter = param(query, 'filter');
  if (filter !== undefined && typeof filter !== 'string') throw badRequest('invalidFilter', '"filter" must be a string');
  const startIndex = Math.max(1, int(param(query, 'startIndex'), 'startIndex') ?? 1);
  const count = Math.min(MAX_RESULTS, Math.max(0, int(param(query, 'count'), 'count') ?? MAX_RESULTS));
  const sortBy = param(query, 'sortBy');
  const sortOrder = scalarText(param(query, 'sortOrder') ?? 'ascending').toLowerCase();
  if (sortOrder !== 'ascending' && sortOrder !== 'descending')
    throw badRequest('invalidValue', '"sortOrder" must be ascending or descending');
  return {
    filter: filter && filter.trim() ? filter : undefined,
    startIndex,
    count,
    sortBy: typeof sortBy === 'string' && sortBy.trim() ? sortBy.trim() : undefined,
    descending: sortOrder === 'descending',
  };
}
