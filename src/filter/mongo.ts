import { FilterError, parseFilter, type CompareOp, type Filter } from './parse';
import { splitSubAttribute } from './path';

/**
 * The MongoDB backend: a filter tree as a MongoDB query, over fields described by a table the caller passes (recipient
 * fields in the store, SCIM resource fields in src/scim). It refuses what it cannot translate faithfully (FilterError)
 * rather than answer wrongly.
 */
export type FieldType = 'string' | 'boolean' | 'number' | 'date' | 'complex' | 'reference';

export interface FieldSpec {
  /** The document path the attribute is stored at. */
  path: string;
  type: FieldType;
  /** SCIM `caseExact`; false (the default) compares strings case-insensitively. */
  caseExact?: boolean;
  /** A stored lower-cased copy of the value: case-insensitive `eq`, `sw` and ordering then use the index. */
  lowerPath?: string;
  /** Complex attribute: sub-attributes, for `attr[filter]` and `attr.sub`. */
  subAttributes?: Record<string, FieldSpec>;
  /** A list of complex values: whether a sub-attribute is present is asked of each element. */
  multiValued?: boolean;
}

/** Resolves an attribute path (as written in the filter; names are case-insensitive) to where it is stored. */
export type FieldResolver = (attrPath: string) => FieldSpec | undefined;

/** Builds a resolver from a table keyed by attribute path (looked up case-insensitively). */
export function tableResolver(table: Record<string, FieldSpec>, fallback?: FieldResolver): FieldResolver {
  const lower = new Map(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]));
  return (attrPath) => lower.get(attrPath.toLowerCase()) ?? fallback?.(attrPath);
}

export type MongoQuery = Record<string, unknown>;

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Where an attribute path is stored: `attr`, or `attr.sub` of a complex attribute. `base` is the parent's path with a
 * trailing dot ('' for a top-level attribute): the value sits at `base + spec.path`, its lower-cased copy at
 * `base + spec.lowerPath`. A complex attribute with a `value` sub-attribute stands for it (`emails eq "x"` compares
 * `emails.value`, RFC 7644 §3.4.2.2).
 */
export interface StoredField {
  spec: FieldSpec;
  base: string;
  /** The complex attribute `spec` is a sub-attribute of. */
  parent?: FieldSpec;
}

export function resolveField(attrPath: string, resolve: FieldResolver): StoredField | undefined {
  const direct = resolve(attrPath);
  if (direct) {
    const value = direct.type === 'complex' ? direct.subAttributes?.value : undefined;
    return value ? { spec: value, base: `${direct.path}.`, parent: direct } : { spec: direct, base: '' };
  }
  const split = splitSubAttribute(attrPath);
  if (!split) return undefined;
  const parent = resolve(split.parent);
  const name = split.sub.toLowerCase();
  const sub = parent?.subAttributes ? Object.entries(parent.subAttributes).find(([k]) => k.toLowerCase() === name)?.[1] : undefined;
  return parent && sub ? { spec: sub, base: `${parent.path}.`, parent } : undefined;
}

function unknownAttribute(attrPath: string): FilterError {
  return new FilterError(`unknown or unfilterable attribute "${attrPath}"`, 'attribute');
}

/** Parses and translates in one step. */
export function translateFilterText(text: string, resolve: FieldResolver): MongoQuery {
  return translateFilter(parseFilter(text), resolve);
}

export function translateFilter(filter: Filter, resolve: FieldResolver): MongoQuery {
  switch (filter.op) {
    case 'and':
      return { $and: filter.filters.map((f) => translateFilter(f, resolve)) };
    case 'or':
      return { $or: filter.filters.map((f) => translateFilter(f, resolve)) };
    case 'not':
      return { $nor: [translateFilter(filter.filter, resolve)] };
    case '[]': {
      const spec = resolve(filter.attrPath);
      if (!spec) throw unknownAttribute(filter.attrPath);
      if (!spec.subAttributes) throw new FilterError(`"${filter.attrPath}" has no sub-attributes to filter on`, 'attribute');
      return { [spec.path]: { $elemMatch: translateFilter(filter.valFilter, tableResolver(spec.subAttributes)) } };
    }
    case 'pr': {
      const field = resolveField(filter.attrPath, resolve);
      if (!field) throw unknownAttribute(filter.attrPath);
      const present = { $exists: true, $nin: [null, '', []] };
      // Through a list, MongoDB reads an element without the sub-attribute as null, failing `$nin` for the whole list:
      // ask each element instead (`emails.type pr` holds when one email has a type).
      if (field.parent?.multiValued) return { [field.parent.path]: { $elemMatch: { [field.spec.path]: present } } };
      return { [field.base + field.spec.path]: present };
    }
    default: {
      const field = resolveField(filter.attrPath, resolve);
      if (!field) throw unknownAttribute(filter.attrPath);
      return compare(filter.op, field, filter.compValue);
    }
  }
}

function compare(op: CompareOp, { spec, base }: StoredField, value: unknown): MongoQuery {
  const path = base + spec.path;
  if (spec.type === 'complex') throw new FilterError(`"${path}" is complex; filter on one of its sub-attributes`, 'attribute');
  if (value === null) {
    if (op === 'eq') return { [path]: { $in: [null, ''] } };
    if (op === 'ne') return { [path]: { $exists: true, $nin: [null, ''] } };
    throw new FilterError(`"${op}" cannot compare with null`, 'operator');
  }
  switch (spec.type) {
    case 'boolean': {
      const b = typeof value === 'string' ? parseBoolString(value) : value;
      if (typeof b !== 'boolean') throw new FilterError(`"${path}" is boolean; compare it with true or false`, 'value');
      if (op === 'eq') return { [path]: b };
      if (op === 'ne') return { [path]: { $ne: b } };
      throw new FilterError(`"${op}" is not defined for the boolean attribute "${path}"`, 'operator');
    }
    case 'number':
      if (typeof value !== 'number') throw new FilterError(`"${path}" is numeric; compare it with a number`, 'value');
      return numericOrDate(op, path, value);
    case 'date':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
        throw new FilterError(`"${path}" is a date-time; compare it with an xsd:dateTime string`, 'value');
      }
      return numericOrDate(op, path, new Date(value));
    case 'string':
    case 'reference':
      break;
  }
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'boolean' || typeof value === 'number') s = String(value);
  else throw new FilterError(`"${path}" is a string; compare it with a string`, 'value');
  const exact = spec.caseExact === true;
  // Case-insensitive with a lower-cased copy: compare the copy with the lower-cased value (indexable); without one, an
  // anchored case-insensitive regex.
  const lowerPath = spec.lowerPath !== undefined && !exact ? base + spec.lowerPath : undefined;
  const cmpPath = lowerPath ?? path;
  const cmpValue = lowerPath !== undefined ? s.toLowerCase() : s;
  const regex = (pattern: string) => (exact || lowerPath !== undefined ? { $regex: pattern } : { $regex: pattern, $options: 'i' });
  switch (op) {
    case 'eq':
      return exact || lowerPath !== undefined ? { [cmpPath]: cmpValue } : { [path]: regex(`^${escapeRegex(s)}$`) };
    case 'ne':
      return exact || lowerPath !== undefined ? { [cmpPath]: { $ne: cmpValue } } : { $nor: [{ [path]: regex(`^${escapeRegex(s)}$`) }] };
    case 'co':
      return { [cmpPath]: regex(escapeRegex(cmpValue)) };
    case 'sw':
      return { [cmpPath]: regex(`^${escapeRegex(cmpValue)}`) };
    case 'ew':
      return { [cmpPath]: regex(`${escapeRegex(cmpValue)}$`) };
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      if (!exact && lowerPath === undefined) {
        throw new FilterError(`"${op}" on the case-insensitive attribute "${path}" is not supported`, 'operator');
      }
      return { [cmpPath]: { [MONGO_ORDER[op]]: cmpValue } };
  }
}

const MONGO_ORDER = { gt: '$gt', ge: '$gte', lt: '$lt', le: '$lte' } as const;

function numericOrDate(op: CompareOp, path: string, value: number | Date): MongoQuery {
  switch (op) {
    case 'eq':
      return { [path]: value };
    case 'ne':
      return { [path]: { $ne: value } };
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      return { [path]: { [MONGO_ORDER[op]]: value } };
    case 'co':
    case 'sw':
    case 'ew':
      throw new FilterError(`"${op}" is not defined for "${path}"`, 'operator');
  }
}

function parseBoolString(v: string): boolean | string {
  const l = v.toLowerCase();
  return l === 'true' ? true : l === 'false' ? false : v;
}
