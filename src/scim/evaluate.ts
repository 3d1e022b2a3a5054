import type { Filter } from 'scim2-parse-filter';
import { FilterError } from '../store';
import { findAttr, type AttrDef } from './schemas';
import { isObject, type Extensions } from './normalize';

/**
 * Evaluates a SCIM filter against one value in memory (PATCH value paths such as `emails[type eq "work"]`), with the
 * case rules of the attribute definitions.
 */
export function matches(filter: Filter, value: unknown, defs: AttrDef[], ext: Extensions = {}): boolean {
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

const CORE_PREFIX_RE = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i;

function lookup(attrPath: string, value: unknown, defs: AttrDef[], ext: Extensions = {}, unwrap = true): { def: AttrDef | undefined; values: unknown[] } {
  let current: unknown[] = [value];
  let def: AttrDef | undefined;
  let scope = defs;
  let path = attrPath.replace(CORE_PREFIX_RE, '');
  // An extension attribute (`urn:...:2.0:User:department`): the URN itself holds dots, so step into it first.
  const urn = Object.keys(ext).find((u) => path.toLowerCase().startsWith(`${u.toLowerCase()}:`));
  if (urn) {
    current = isObject(value) && isObject(value[urn]) ? [value[urn]] : [];
    scope = ext[urn]!;
    path = path.slice(urn.length + 1);
  }
  for (const part of path.split('.')) {
    def = findAttr(scope, part);
    const name = def?.name ?? part;
    const next: unknown[] = [];
    for (const c of current) {
      if (!isObject(c)) continue;
      const key = Object.keys(c).find((k) => k.toLowerCase() === name.toLowerCase());
      const v = key === undefined ? undefined : c[key];
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined) next.push(v);
    }
    current = next;
    scope = def?.subAttributes ?? [];
  }
  // `emails eq "x"` compares the `value` sub-attribute (RFC 7644 §3.4.2.2).
  if (unwrap && def?.type === 'complex' && findAttr(def.subAttributes, 'value')) {
    current = current.map((c) => (isObject(c) ? c.value : c));
    def = findAttr(def.subAttributes, 'value');
  }
  return { def, values: current };
}

function compare(op: string, actual: unknown, expected: unknown, def: AttrDef | undefined): boolean {
  if (expected === null) return op === 'eq' ? actual === null || actual === undefined || actual === '' : false;
  if (actual === null || actual === undefined) return false;
  if (typeof expected === 'boolean' || def?.type === 'boolean') {
    const a = typeof actual === 'string' ? actual.toLowerCase() === 'true' : actual;
    const e = typeof expected === 'string' ? expected.toLowerCase() === 'true' : expected;
    if (op === 'eq') return a === e;
    throw new FilterError(`"${op}" is not defined for booleans`);
  }
  if (typeof expected === 'number' && typeof actual === 'number') return order(op, actual, expected);
  const caseExact = def?.caseExact === true;
  let a = String(actual);
  let e = String(expected);
  if (!caseExact) {
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

function order<T extends string | number>(op: string, a: T, e: T): boolean {
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
      throw new FilterError(`unknown operator "${op}"`);
  }
}
