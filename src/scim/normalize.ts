import { badRequest } from './errors';
import { ENTERPRISE_ATTRS, ENTERPRISE_SCHEMA, findAttr, type AttrDef } from './schemas';

/** Known extension schemas of a resource type: URN → attributes. */
export type Extensions = Record<string, AttrDef[]>;
export const USER_EXTENSIONS: Extensions = { [ENTERPRISE_SCHEMA]: ENTERPRISE_ATTRS };
export const NO_EXTENSIONS: Extensions = {};

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A scalar as `String()` writes it; '' for anything else (null, undefined, objects, lists). */
export function scalarText(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : '';
}

/** Entra sends booleans as "True"/"False". */
export function coerceBoolean(v: unknown, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const l = v.trim().toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
  }
  throw badRequest('invalidValue', `"${name}" must be a boolean`);
}

export function extensionUrn(key: string, ext: Extensions): string | undefined {
  const l = key.toLowerCase();
  return Object.keys(ext).find((u) => u.toLowerCase() === l);
}

/** Canonicalizes one value by its definition: attribute names in canonical case, booleans as booleans. */
export function canonicalValue(def: AttrDef | undefined, value: unknown, name: string): unknown {
  if (!def || value === null || value === undefined) return value;
  if (def.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => canonicalValue({ ...def, multiValued: false }, v, name));
  }
  if (def.type === 'boolean') return coerceBoolean(value, name);
  if (def.type === 'complex') {
    if (!isObject(value)) {
      // A bare value for a complex attribute means its `value` sub-attribute (e.g. Entra's manager: "id").
      if (findAttr(def.subAttributes, 'value') && (typeof value === 'string' || typeof value === 'number')) {
        return { value: String(value) };
      }
      throw badRequest('invalidValue', `"${name}" must be an object`);
    }
    return canonicalObject(value, def.subAttributes ?? [], name);
  }
  if ((def.type === 'string' || def.type === 'reference') && typeof value !== 'string') {
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw badRequest('invalidValue', `"${name}" must be a string`);
  }
  return value;
}

function canonicalObject(obj: Json, defs: AttrDef[], prefix: string): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    const def = findAttr(defs, k);
    const name = def?.name ?? k;
    out[name] = canonicalValue(def, v, prefix ? `${prefix}.${name}` : name);
  }
  return out;
}

/**
 * The resource as the identity provider sent it, with attribute names in canonical case and server-assigned or
 * write-only attributes (id, meta, password, readOnly ones) dropped. Unknown attributes and extensions are kept.
 */
export function canonicalResource(input: Json, defs: AttrDef[], ext: Extensions): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(input)) {
    const lk = k.toLowerCase();
    if (lk === 'id' || lk === 'meta') continue;
    if (lk === 'schemas') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest('invalidValue', '"schemas" must be a list of URNs');
      out.schemas = v;
      continue;
    }
    if (lk === 'externalid') {
      if (v !== null && typeof v !== 'string') throw badRequest('invalidValue', '"externalId" must be a string');
      out.externalId = v;
      continue;
    }
    const urn = extensionUrn(k, ext);
    if (urn) {
      if (!isObject(v)) throw badRequest('invalidValue', `"${urn}" must be an object`);
      out[urn] = canonicalObject(v, ext[urn]!, '');
      continue;
    }
    const def = findAttr(defs, k);
    if (def && (def.mutability === 'writeOnly' || def.mutability === 'readOnly')) continue;
    out[def?.name ?? k] = canonicalValue(def, v, def?.name ?? k);
  }
  return out;
}

/**
 * A query-shaped copy of a resource for filtering: known attributes only, under names without dots or `$`, strings of
 * case-insensitive attributes lower-cased (so `eq`, `sw` and ordering compare case-insensitively on plain values).
 */
export function searchDoc(resource: Json, defs: AttrDef[], ext: Extensions, extKeys: Record<string, string>): Json {
  const out = searchObject(resource, defs);
  if (typeof resource.externalId === 'string') out.externalId = resource.externalId;
  for (const [urn, key] of Object.entries(extKeys)) {
    const v = resource[urn];
    if (isObject(v)) {
      const d = searchObject(v, ext[urn] ?? []);
      if (Object.keys(d).length) out[key] = d;
    }
  }
  return out;
}

function searchObject(obj: Json, defs: AttrDef[]): Json {
  const out: Json = {};
  for (const def of defs) {
    if (def.name.startsWith('$') || def.mutability === 'writeOnly') continue;
    const v = obj[def.name];
    if (v === undefined || v === null) continue;
    const sv = searchValue(def, v);
    if (sv !== undefined) out[def.name] = sv;
  }
  return out;
}

function searchValue(def: AttrDef, v: unknown): unknown {
  if (def.multiValued) {
    if (!Array.isArray(v)) return undefined;
    const list = v.map((x) => searchValue({ ...def, multiValued: false }, x)).filter((x) => x !== undefined);
    return list.length ? list : undefined;
  }
  if (def.type === 'complex') {
    if (!isObject(v)) return undefined;
    const o = searchObject(v, def.subAttributes ?? []);
    return Object.keys(o).length ? o : undefined;
  }
  if (typeof v === 'string') return def.caseExact ? v : v.toLowerCase();
  if (typeof v === 'boolean' || typeof v === 'number') return v;
  return undefined;
}
