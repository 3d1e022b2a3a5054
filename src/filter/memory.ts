import { FilterError, type CompareOp, type Filter } from './parse';
import { parseAttrPath } from './path';

/**
 * The in-memory backend: evaluates a filter tree against one JSON value (a SCIM resource, or one element of a
 * multi-valued attribute for PATCH value paths such as `emails[type eq "work"]`), with the case rules of the attribute
 * definitions the caller passes (SCIM's schema definitions fit this shape).
 */
export interface MemoryAttr {
  name: string;
  /** SCIM attribute type; `boolean` and `complex` change how values compare, every other type compares as text or number. */
  type: string;
  caseExact?: boolean;
  subAttributes?: readonly MemoryAttr[];
}

/** Extension schemas of the value: URN → attributes (their objects sit under the URN as key). */
export type MemoryExtensions = Readonly<Record<string, readonly MemoryAttr[]>>;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function attrNamed(defs: readonly MemoryAttr[] | undefined, name: string): MemoryAttr | undefined {
  const l = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === l);
}

export function matches(filter: Filter, value: unknown, defs: readonly MemoryAttr[], ext: MemoryExtensions = {}): boolean {
  switch (filter.op) {
    case 'and':
      return filter.filters.every((f) => matches(f, value, defs, ext));
    case 'or':
      return filter.filters.some((f) => matches(f, value, defs, ext));
    case 'not':
      return !matches(filter.filter, value, defs, ext);
    case '[]': {
      const { def, values } = lookup(filter.attrPath, value, defs, ext, false);
      return values.some((v) => matches(filter.valFilter, v, def?.subAttributes ?? []));
    }
    case 'pr': {
      const { values } = lookup(filter.attrPath, value, defs, ext);
      return values.some((v) => v !== null && v !== undefined && v !== '' && !(isObject(v) && Object.keys(v).length === 0));
    }
    default: {
      const { def, values } = lookup(filter.attrPath, value, defs, ext);
      if (filter.op === 'ne') return !values.some((v) => compare('eq', v, filter.compValue, def));
      return values.some((v) => compare(filter.op, v, filter.compValue, def));
    }
  }
}

/** The values an attribute path reaches in `value` (multi-valued attributes contribute each element), and its definition. */
function lookup(
  attrPath: string,
  value: unknown,
  defs: readonly MemoryAttr[],
  ext: MemoryExtensions,
  unwrap = true,
): { def: MemoryAttr | undefined; values: unknown[] } {
  const path = parseAttrPath(attrPath, Object.keys(ext));
  let current: unknown[] = [value];
  let scope: readonly MemoryAttr[] | undefined = defs;
  if (path.urn !== undefined) {
    // An unknown schema, or a whole extension, reaches no value.
    const extDefs = path.knownUrn ? ext[path.urn] : undefined;
    if (!extDefs || path.names.length === 0) return { def: undefined, values: [] };
    const obj = isObject(value) ? value[path.urn] : undefined;
    current = isObject(obj) ? [obj] : [];
    scope = extDefs;
  }
  let def: MemoryAttr | undefined;
  for (const part of path.names) {
    def = attrNamed(scope, part);
    const name = (def?.name ?? part).toLowerCase();
    const next: unknown[] = [];
    for (const c of current) {
      if (!isObject(c)) continue;
      const key = Object.keys(c).find((k) => k.toLowerCase() === name);
      const v = key === undefined ? undefined : c[key];
      if (Array.isArray(v)) next.push(...(v as unknown[]));
      else if (v !== undefined) next.push(v);
    }
    current = next;
    scope = def?.subAttributes;
  }
  // `emails eq "x"` compares the `value` sub-attribute (RFC 7644 §3.4.2.2).
  const valueDef = unwrap && def?.type === 'complex' ? attrNamed(def.subAttributes, 'value') : undefined;
  if (valueDef) return { def: valueDef, values: current.map((c) => (isObject(c) ? c.value : c)) };
  return { def, values: current };
}

function compare(op: CompareOp, actual: unknown, expected: unknown, def: MemoryAttr | undefined): boolean {
  if (expected === null) return op === 'eq' ? actual === null || actual === undefined || actual === '' : false;
  if (actual === null || actual === undefined) return false;
  if (typeof expected === 'boolean' || def?.type === 'boolean') {
    const a = typeof actual === 'string' ? actual.toLowerCase() === 'true' : actual;
    const e = typeof expected === 'string' ? expected.toLowerCase() === 'true' : expected;
    if (op === 'eq') return a === e;
    throw new FilterError(`"${op}" is not defined for booleans`, 'operator');
  }
  if (typeof expected === 'number' && typeof actual === 'number') return order(op, actual, expected);
  // A complex value (`name` when it has no `value` sub-attribute) equals, contains or orders with no text.
  if (typeof actual === 'object') return false;
  let a = textOf(actual);
  let e = textOf(expected);
  if (def?.caseExact !== true) {
    a = a.toLowerCase();
    e = e.toLowerCase();
  }
  switch (op) {
    case 'eq':
      return a === e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    default:
      return order(op, a, e);
  }
}

/** A scalar as text, as `String()` writes it. */
function textOf(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : '';
}

function order<T extends string | number>(op: CompareOp, a: T, e: T): boolean {
  switch (op) {
    case 'gt':
      return a > e;
    case 'ge':
      return a >= e;
    case 'lt':
      return a < e;
    case 'le':
      return a <= e;
    default:
      throw new FilterError(`unknown operator "${op}"`, 'operator');
  }
}
