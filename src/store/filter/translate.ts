import { parse, type Filter } from 'scim2-parse-filter';

/**
 * The one translator from SCIM filter syntax (RFC 7644 §3.4.2.2) to MongoDB queries, used by segments and by the SCIM
 * server. It refuses what it cannot translate faithfully (FilterError) rather than answer wrongly.
 */
export class FilterError extends Error {
  readonly scimType = 'invalidFilter';
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

export type FieldType = 'string' | 'boolean' | 'number' | 'date' | 'complex' | 'reference';

export interface FieldSpec {
  /** The document path the attribute is stored at. */
  path: string;
  type: FieldType;
  /** SCIM `caseExact`; false (the default) compares strings case-insensitively. */
  caseExact?: boolean;
  /** A stored lower-cased copy of the value: case-insensitive `eq`, `sw` and ordering then use the index. */
  lowerPath?: string;
  /** Multi-valued complex attribute: sub-attributes, for `attr[filter]` and `attr.sub`. */
  subAttributes?: Record<string, FieldSpec>;
}

/** Resolves an attribute path (as written in the filter; names are case-insensitive) to where it is stored. */
export type FieldResolver = (attrPath: string) => FieldSpec | undefined;

/** Builds a resolver from a table keyed by lower-cased attribute path. */
export function tableResolver(table: Record<string, FieldSpec>, fallback?: FieldResolver): FieldResolver {
  const lower = new Map(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]));
  return (attrPath) => lower.get(attrPath.toLowerCase()) ?? fallback?.(attrPath);
}

export function parseFilter(text: string): Filter {
  if (typeof text !== 'string' || !text.trim()) throw new FilterError('the filter is empty');
  if (text.length > 4096) throw new FilterError('the filter is longer than 4096 characters');
  try {
    return parse(text);
  } catch (err) {
    throw new FilterError(`the filter could not be parsed: ${(err as Error).message}`);
  }
}

export type MongoQuery = Record<string, unknown>;

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Parses and translates in one step. */
export function translateFilterText(text: string, resolve: FieldResolver): MongoQuery {
  return translateFilter(parseFilter(text), resolve);
}

export function translateFilter(filter: Filter, resolve: FieldResolver, prefix = ''): MongoQuery {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const parts = filter.filters.map((f) => translateFilter(f, resolve, prefix));
      return { [filter.op === 'and' ? '$and' : '$or']: parts };
    }
    case 'not':
      return { $nor: [translateFilter(filter.filter, resolve, prefix)] };
    case '[]': {
      const spec = resolveOrThrow(filter.attrPath, resolve);
      if (!spec.subAttributes) throw new FilterError(`"${filter.attrPath}" has no sub-attributes to filter on`);
      const sub = tableResolver(spec.subAttributes);
      const inner = translateFilter(filter.valFilter, sub);
      return { [prefix + spec.path]: { $elemMatch: inner } };
    }
    case 'pr': {
      const { spec, path } = resolveAttr(filter.attrPath, resolve);
      void spec;
      return { [prefix + path]: { $exists: true, $nin: [null, '', []] } };
    }
    default: {
      const { spec, path } = resolveAttr(filter.attrPath, resolve);
      return compare(filter.op, prefix + path, spec, filter.compValue, prefix);
    }
  }
}

/** Resolves `attr` or `attr.sub` (a sub-attribute of a multi-valued complex attribute). */
function resolveAttr(attrPath: string, resolve: FieldResolver): { spec: FieldSpec; path: string } {
  const direct = resolve(attrPath);
  if (direct) {
    if (direct.type === 'complex' && direct.subAttributes?.value) {
      // `emails eq "x"` means the `value` sub-attribute (RFC 7644 §3.4.2.2).
      return { spec: direct.subAttributes.value, path: `${direct.path}.${direct.subAttributes.value.path}` };
    }
    return { spec: direct, path: direct.path };
  }
  const dot = attrPath.lastIndexOf('.');
  if (dot > 0) {
    const parent = resolve(attrPath.slice(0, dot));
    const subName = attrPath.slice(dot + 1).toLowerCase();
    const sub = parent?.subAttributes
      ? Object.entries(parent.subAttributes).find(([k]) => k.toLowerCase() === subName)?.[1]
      : undefined;
    if (parent && sub) return { spec: sub, path: `${parent.path}.${sub.path}` };
  }
  throw new FilterError(`unknown or unfilterable attribute "${attrPath}"`);
}

function resolveOrThrow(attrPath: string, resolve: FieldResolver): FieldSpec {
  const spec = resolve(attrPath);
  if (!spec) throw new FilterError(`unknown or unfilterable attribute "${attrPath}"`);
  return spec;
}

function compare(op: string, path: string, spec: FieldSpec, value: unknown, prefix: string): MongoQuery {
  if (spec.type === 'complex') throw new FilterError(`"${path}" is complex; filter on one of its sub-attributes`);
  if (value === null) {
    if (op === 'eq') return { [path]: { $in: [null, ''] } };
    if (op === 'ne') return { [path]: { $exists: true, $nin: [null, ''] } };
    throw new FilterError(`"${op}" cannot compare with null`);
  }
  switch (spec.type) {
    case 'boolean': {
      const b = typeof value === 'string' ? parseBoolString(value) : value;
      if (typeof b !== 'boolean') throw new FilterError(`"${path}" is boolean; compare it with true or false`);
      if (op === 'eq') return { [path]: b };
      if (op === 'ne') return { [path]: { $ne: b } };
      throw new FilterError(`"${op}" is not defined for the boolean attribute "${path}"`);
    }
    case 'number': {
      if (typeof value !== 'number') throw new FilterError(`"${path}" is numeric; compare it with a number`);
      return numericOrDate(op, path, value);
    }
    case 'date': {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
        throw new FilterError(`"${path}" is a date-time; compare it with an xsd:dateTime string`);
      }
      return numericOrDate(op, path, new Date(value));
    }
    default:
      break;
  }
  if (typeof value !== 'string') {
    if (typeof value === 'boolean' || typeof value === 'number') value = String(value);
    else throw new FilterError(`"${path}" is a string; compare it with a string`);
  }
  const s = value as string;
  const exact = spec.caseExact === true;
  const lowerPath = spec.lowerPath ? prefix + pathBeside(path, spec) : undefined;
  const cmpPath = !exact && lowerPath ? lowerPath : path;
  const cmpValue = !exact && lowerPath ? s.toLowerCase() : s;
  const regex = (pattern: string) => (exact ? { $regex: pattern } : { $regex: pattern, $options: 'i' });
  switch (op) {
    case 'eq':
      return exact || lowerPath ? { [cmpPath]: cmpValue } : { [path]: regex(`^${escapeRegex(s)}$`) };
    case 'ne':
      return exact || lowerPath ? { [cmpPath]: { $ne: cmpValue } } : { $nor: [{ [path]: regex(`^${escapeRegex(s)}$`) }] };
    case 'co':
      return { [cmpPath]: lowerPath && !exact ? { $regex: escapeRegex(cmpValue) } : regex(escapeRegex(s)) };
    case 'sw':
      return { [cmpPath]: lowerPath && !exact ? { $regex: `^${escapeRegex(cmpValue)}` } : regex(`^${escapeRegex(s)}`) };
    case 'ew':
      return { [cmpPath]: lowerPath && !exact ? { $regex: `${escapeRegex(cmpValue)}$` } : regex(`${escapeRegex(s)}$`) };
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      if (!exact && !lowerPath) {
        throw new FilterError(`"${op}" on the case-insensitive attribute "${path}" is not supported`);
      }
      return { [cmpPath]: { [`$${op === 'ge' ? 'gte' : op === 'le' ? 'lte' : op}`]: cmpValue } };
    default:
      throw new FilterError(`unknown operator "${op}"`);
  }
}

/** The lower-cased copy lives at `lowerPath`, relative to the same parent as `path`. */
function pathBeside(path: string, spec: FieldSpec): string {
  const own = spec.path;
  const base = path.endsWith(own) ? path.slice(0, path.length - own.length) : '';
  return base + spec.lowerPath;
}

function numericOrDate(op: string, path: string, value: number | Date): MongoQuery {
  switch (op) {
    case 'eq':
      return { [path]: value };
    case 'ne':
      return { [path]: { $ne: value } };
    case 'gt':
      return { [path]: { $gt: value } };
    case 'ge':
      return { [path]: { $gte: value } };
    case 'lt':
      return { [path]: { $lt: value } };
    case 'le':
      return { [path]: { $lte: value } };
    default:
      throw new FilterError(`"${op}" is not defined for "${path}"`);
  }
}

function parseBoolString(v: string): boolean | string {
  const l = v.toLowerCase();
  return l === 'true' ? true : l === 'false' ? false : v;
}
