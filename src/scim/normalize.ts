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

/**
 * What to do with an attribute or schema URI no schema declares (issue #14 item 5; src/scim/unknownAttributes.ts):
 * `unknown` throws in strict mode (400 invalidSyntax) and otherwise notes the name, and the caller drops the value.
 * `strict` also refuses values of another JSON type that lenient mode converts (Entra's "42" for an integer).
 */
export interface AttrPolicy {
  strict: boolean;
  unknown(name: string): void;
  /** A `schemas` URI a client dialect always sends that declares nothing (Entra's ADSCIM): kept, not reported. */
  tolerates?(uri: string): boolean;
}

/** Options of canonicalResource: the resource type's core schema URN and the policy for what no schema declares. */
export interface CanonicalOptions {
  schema: string;
  policy: AttrPolicy;
}

const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** xsd:dateTime as RFC 7643 §2.3.5 asks, e.g. 2008-01-23T04:56:22Z (fractions and offsets allowed). */
const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** A scalar of a simple type, checked against the definition: a value of another JSON type is 400 invalidValue. */
function simpleValue(def: AttrDef, value: unknown, name: string, policy: AttrPolicy | undefined): unknown {
  const lenient = !policy?.strict;
  switch (def.type) {
    case 'boolean':
      if (typeof value === 'boolean' || lenient) return coerceBoolean(value, name);
      throw badRequest('invalidValue', `"${name}" must be a boolean`);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (lenient && typeof value === 'string' && INTEGER_TEXT.test(value.trim())) return Number(value.trim());
      throw badRequest('invalidValue', `"${name}" must be an integer`);
    case 'decimal':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (lenient && typeof value === 'string' && DECIMAL_TEXT.test(value.trim())) return Number(value.trim());
      throw badRequest('invalidValue', `"${name}" must be a decimal number`);
    case 'dateTime':
      if (typeof value === 'string' && DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))) return value;
      throw badRequest('invalidValue', `"${name}" must be a dateTime (e.g. 2008-01-23T04:56:22Z)`);
    default:
      // string, reference, binary: JSON strings.
      if (typeof value === 'string') return value;
      throw badRequest('invalidValue', `"${name}" must be a string`);
  }
}

/**
 * Canonicalizes one value by its definition: attribute names in canonical case, booleans as booleans, a value of the
 * wrong JSON type refused (400 invalidValue). With a policy, sub-attributes no schema declares go to the policy and are
 * dropped; without one (values on their way into a PATCH, checked again as a whole afterwards) they are kept.
 */
export function canonicalValue(def: AttrDef | undefined, value: unknown, name: string, policy?: AttrPolicy): unknown {
  if (!def || value === null || value === undefined) return value;
  if (def.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => elementValue(def, v, name, policy, true));
  }
  return elementValue(def, value, name, policy, false);
}

/** One value of an attribute; `element`: one of a multi-valued attribute's values. */
function elementValue(def: AttrDef, value: unknown, name: string, policy: AttrPolicy | undefined, element: boolean): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) throw badRequest('invalidValue', `"${name}" takes no nested list`);
  if (def.type === 'complex') {
    if (!isObject(value)) {
      // A bare value for a singular complex attribute means its `value` sub-attribute (e.g. Entra's manager: "id").
      const bare = !element && findAttr(def.subAttributes, 'value');
      if (bare && (typeof value === 'string' || typeof value === 'number')) return { value: String(value) };
      throw badRequest('invalidValue', `"${name}" must be an object`);
    }
    return canonicalObject(value, def.subAttributes ?? [], name, policy);
  }
  return simpleValue(def, value, name, policy);
}

/** `extension`: the object is an extension schema's value, whose names are reported as `urn:attr`. */
function canonicalObject(obj: Json, defs: AttrDef[], prefix: string, policy?: AttrPolicy, extension = false): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    const full = extension ? `${prefix}:${k}` : prefix ? `${prefix}.${k}` : k;
    // Some clients repeat the resource's `schemas` inside an extension's value: tolerated, not kept.
    if (extension && k.toLowerCase() === 'schemas') continue;
    const def = findAttr(defs, k);
    if (!def && policy) {
      policy.unknown(full);
      continue;
    }
    const name = def?.name ?? k;
    const label = extension ? `${prefix}:${name}` : prefix ? `${prefix}.${name}` : name;
    out[name] = canonicalValue(def, v, label, policy);
  }
  return out;
}

/**
 * The resource as the identity provider sent it, with attribute names in canonical case and server-assigned or
 * write-only attributes (id, meta, password, readOnly ones) dropped. With options, attributes, sub-attributes,
 * extensions and `schemas` URIs that no schema of the resource type declares go to the policy and are not kept;
 * without (older callers), they are kept.
 */
export function canonicalResource(input: Json, defs: AttrDef[], ext: Extensions, opts?: CanonicalOptions): Json {
  const out: Json = {};
  const policy = opts?.policy;
  for (const [k, v] of Object.entries(input)) {
    const lk = k.toLowerCase();
    if (lk === 'id' || lk === 'meta') continue;
    if (lk === 'schemas') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest('invalidValue', '"schemas" must be a list of URNs');
      out.schemas = opts ? knownSchemas(v, opts, ext) : v;
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
      out[urn] = canonicalObject(v, ext[urn]!, urn, policy, true);
      continue;
    }
    const def = findAttr(defs, k);
    if (!def && policy) {
      policy.unknown(k);
      continue;
    }
    // Write-only attributes (password) are never stored, so /Schemas does not declare them: strict mode refuses them.
    if (def?.mutability === 'writeOnly' && policy?.strict) policy.unknown(def.name);
    if (def && (def.mutability === 'writeOnly' || def.mutability === 'readOnly')) continue;
    out[def?.name ?? k] = canonicalValue(def, v, def?.name ?? k, policy);
  }
  return out;
}

/** The `schemas` URIs of a resource that name its core schema or a known extension, in canonical spelling, once each. */
function knownSchemas(list: string[], opts: CanonicalOptions, ext: Extensions): string[] {
  const out: string[] = [];
  for (const s of list) {
    const known = s.toLowerCase() === opts.schema.toLowerCase() ? opts.schema : extensionUrn(s, ext);
    if (!known && opts.policy.tolerates?.(s)) {
      if (!out.includes(s)) out.push(s);
    } else if (!known) opts.policy.unknown(s);
    else if (!out.includes(known)) out.push(known);
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
