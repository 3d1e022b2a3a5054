import { FilterError, matches, parseFilter, parsePatchTarget, type Filter } from '../filter';
import { badRequest, ScimError } from './errors';
import { canonicalValue, extensionUrn, isObject, scalarText, type AttrPolicy, type Extensions, type Json } from './normalize';
import { COMMON_ATTRS, findAttr, PATCH_SCHEMA, type AttrDef } from './schemas';

/** id, externalId and meta belong to every resource (RFC 7643 §3.1). */
const COMMON: AttrDef[] = [...COMMON_ATTRS, { name: 'meta', type: 'complex', mutability: 'readOnly' }];

/**
 * One PATCH engine (RFC 7644 §3.5.2) for both identity-provider dialects: op names in any case, booleans as strings,
 * operations without `path` whose value holds dotted or URN-prefixed keys, value-filter paths, Entra's `Add` of a
 * single-valued attribute (replaces it) and `Replace` of a filtered path that matches nothing (adds the element).
 */
export type PatchOpName = 'add' | 'replace' | 'remove';

export interface PatchPath {
  /** The extension schema holding the attribute; undefined for the core schema. */
  urn?: string;
  /** Canonical attribute name; '' when the path names a whole extension. */
  attr: string;
  def?: AttrDef;
  filter?: Filter;
  filterText?: string;
  sub?: string;
  subDef?: AttrDef;
  /** The path names what no schema declares: the policy noted it (lenient mode) and the operation does nothing. */
  ignored?: boolean;
}

export interface PatchContext {
  defs: AttrDef[];
  ext: Extensions;
  /** The resource's id: a path-less value may repeat it (Okta does), changing it is a mutability error. */
  id: string;
  /** Lower-cased attribute names that may not be changed (mutability). */
  readOnly: string[];
  /** Handles an operation itself (e.g. group members) when it returns true. */
  intercept?: (op: PatchOpName, path: PatchPath, value: unknown) => boolean;
  /**
   * What to do with paths no schema declares (issue #14 item 5): noted and ignored (lenient) or refused (strict, which
   * also refuses operations without `path`). Without a policy, such paths are 400 invalidPath.
   */
  policy?: AttrPolicy;
}

/** Validates a PatchOp request body; returns its operations. */
export function patchOperations(body: unknown): { op: PatchOpName; path?: string; value?: unknown }[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a PatchOp object');
  const schemas = body.schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.some((s) => String(s).toLowerCase() === PATCH_SCHEMA.toLowerCase()))) {
    throw badRequest('invalidSyntax', `"schemas" must contain ${PATCH_SCHEMA}`);
  }
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const ops = key ? body[key] : undefined;
  if (!Array.isArray(ops) || ops.length === 0) throw badRequest('invalidSyntax', '"Operations" must be a non-empty list');
  return ops.map((o, i) => {
    if (!isObject(o)) throw badRequest('invalidSyntax', `operation ${i + 1} must be an object`);
    const get = (n: string) => o[Object.keys(o).find((k) => k.toLowerCase() === n) ?? n];
    const name = scalarText(get('op')).toLowerCase();
    if (name !== 'add' && name !== 'replace' && name !== 'remove') {
      throw badRequest('invalidSyntax', `operation ${i + 1}: "op" must be add, replace or remove`);
    }
    const path = get('path');
    if (path !== undefined && path !== null && typeof path !== 'string')
      throw badRequest('invalidPath', `operation ${i + 1}: "path" must be a string`);
    return { op: name, path: typeof path === 'string' && path.trim() ? path.trim() : undefined, value: get('value') };
  });
}

/** Parses `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, each optionally prefixed by a schema URN. */
export function parsePatchPath(path: string, ctx: Pick<PatchContext, 'defs' | 'ext' | 'policy'>): PatchPath {
  const vp = parsePatchTarget(path, Object.keys(ctx.ext));
  if (!vp) throw badRequest('invalidPath', `"${path}" is not a valid attribute path`);
  const { urn, attr } = vp;
  // A whole extension (`urn:...:enterprise:2.0:User`); a path under an unknown schema is kept as sent.
  if (vp.knownUrn && attr === '') return { urn, attr: '' };
  // `schemas` may be the target of add and replace (RFC 7644 §3.5.2 does not exclude it).
  if (urn === undefined && attr.toLowerCase() === 'schemas' && vp.filter === undefined && vp.sub === undefined) return { attr: 'schemas' };
  const defs = urn === undefined ? ctx.defs : (ctx.ext[urn] ?? []);
  const def = findAttr(defs, attr) ?? (urn ? undefined : findAttr(COMMON, attr));
  const known = urn !== undefined && !vp.knownUrn ? !ctx.policy : Boolean(def);
  if (!known) {
    if (!ctx.policy) throw badRequest('invalidPath', `"${path}" names an unknown attribute`);
    ctx.policy.unknown(urn !== undefined && !vp.knownUrn ? urn : path);
    return { urn, attr, ignored: true };
  }
  const out: PatchPath = { urn, attr: def?.name ?? attr, def };
  if (vp.filter !== undefined) {
    if (def && !def.multiValued) throw badRequest('invalidPath', `"${out.attr}" is not multi-valued; it cannot take a filter`);
    try {
      out.filter = parseFilter(vp.filter);
      out.filterText = vp.filter;
    } catch (err) {
      throw badRequest('invalidPath', `"${path}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (vp.sub !== undefined) {
    const subDef = findAttr(def?.subAttributes, vp.sub);
    if (def && !subDef && ctx.policy) {
      ctx.policy.unknown(`${[urn, out.attr].filter(Boolean).join(':')}.${vp.sub}`);
      return { ...out, ignored: true };
    }
    if (def && !subDef) throw badRequest('invalidPath', `"${out.attr}" has no sub-attribute "${vp.sub}"`);
    out.sub = subDef?.name ?? vp.sub;
    out.subDef = subDef;
  }
  return out;
}

/** Applies PATCH operations to a copy of a canonical resource and returns the copy. */
export function applyPatch(resource: Json, body: unknown, ctx: PatchContext): Json {
  const ops = patchOperations(body);
  const doc = structuredClone(resource);
  for (const [i, op] of ops.entries()) {
    if (op.path === undefined) {
      // The interoperability profile (§6.5.1.1) requires a path on every operation.
      if (ctx.policy?.strict)
        throw badRequest('invalidSyntax', `operation ${i + 1} has no "path" (the interoperability profile requires one)`);
      if (op.op === 'remove') throw badRequest('noTarget', 'a remove operation needs a "path"');
      if (!isObject(op.value)) throw badRequest('invalidValue', `a ${op.op} without "path" needs an object "value"`);
      applyPathless(doc, op.op, op.value, ctx);
    } else {
      applyAt(doc, op.op, parsePatchPath(op.path, ctx), op.value, ctx);
    }
  }
  return doc;
}

function applyPathless(doc: Json, op: PatchOpName, value: Json, ctx: PatchContext): void {
  for (const [k, v] of Object.entries(value)) {
    const lk = k.toLowerCase();
    if (lk === 'schemas') continue;
    if (lk === 'id') {
      if (v !== ctx.id) throw new ScimError(400, '"id" cannot be changed', 'mutability');
      continue;
    }
    if (lk === 'meta') continue;
    const urn = extensionUrn(k, ctx.ext);
    if (urn && isObject(v)) {
      for (const [ek, ev] of Object.entries(v)) applyAt(doc, op, parsePatchPath(`${urn}:${ek}`, ctx), ev, ctx);
      continue;
    }
    applyAt(doc, op, parsePatchPath(k, ctx), v, ctx);
  }
}

function keyOf(obj: Json, name: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

/**
 * Whether two values of a multi-valued attribute are the same value: same `value`, and the same `type` when both carry
 * one (the same address as work and as home is two values, neither may be dropped).
 */
function sameItem(a: unknown, b: unknown): boolean {
  if (isObject(a) && isObject(b) && 'value' in a && 'value' in b) {
    if (scalarText(a.value) !== scalarText(b.value)) return false;
    const ta = typeof a.type === 'string' ? a.type.toLowerCase() : undefined;
    const tb = typeof b.type === 'string' ? b.type.toLowerCase() : undefined;
    return ta === undefined || tb === undefined || ta === tb;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** add / replace / remove of `schemas`: replace keeps only the listed extensions' values. */
function applySchemas(doc: Json, op: PatchOpName, value: unknown, ctx: PatchContext): void {
  if (op === 'remove') throw badRequest('invalidValue', '"schemas" is required and cannot be removed');
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((x): x is string => typeof x === 'string')) throw badRequest('invalidValue', '"schemas" takes a list of URNs');
  const key = keyOf(doc, 'schemas');
  if (op === 'add') {
    const current = Array.isArray(doc[key]) ? (doc[key] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    doc[key] = [...current, ...list.filter((u) => !current.some((c) => c.toLowerCase() === u.toLowerCase()))];
    return;
  }
  doc[key] = list;
  for (const urn of Object.keys(ctx.ext)) {
    if (!list.some((u) => u.toLowerCase() === urn.toLowerCase())) delete doc[keyOf(doc, urn)];
  }
}

function applyAt(doc: Json, op: PatchOpName, p: PatchPath, rawValue: unknown, ctx: PatchContext): void {
  if (!p.urn && ctx.readOnly.includes(p.attr.toLowerCase())) {
    throw new ScimError(400, `"${p.attr}" is read-only`, 'mutability');
  }
  if (p.ignored) return;
  if (ctx.intercept?.(op, p, rawValue)) return;
  if (p.attr === 'schemas' && !p.urn && !p.def) return applySchemas(doc, op, rawValue, ctx);
  const label = [p.urn, p.attr].filter(Boolean).join(':');

  // The object holding the attribute: the resource itself or an extension object.
  let container: Json | undefined = doc;
  if (p.urn) {
    const k = keyOf(doc, p.urn);
    if (!isObject(doc[k])) {
      if (op === 'remove') return;
      doc[k] = {};
    }
    container = doc[k] as Json;
    if (p.attr === '') {
      if (op === 'remove') {
        delete doc[k];
        return;
      }
      if (!isObject(rawValue)) throw badRequest('invalidValue', `"${p.urn}" takes an object`);
      for (const [ek, ev] of Object.entries(rawValue)) applyAt(doc, op, parsePatchPath(`${p.urn}:${ek}`, ctx), ev, ctx);
      return;
    }
  }
  const key = keyOf(container, p.attr);
  const def = p.def;
  const current = container[key];

  if (op !== 'remove' && rawValue === undefined) throw badRequest('invalidValue', `"${label}": the ${op} operation needs a "value"`);

  if (!p.filter && !p.sub) {
    if (op === 'remove') {
      if (def?.required) throw badRequest('invalidValue', `"${label}" is required and cannot be removed`);
      if (def?.multiValued && rawValue !== undefined && rawValue !== null) {
        // Entra: {"op":"Remove","path":"members","value":[{"value":"ID"}]} removes only those values.
        const drop = (Array.isArray(rawValue) ? rawValue : [rawValue]).map((v) => canonicalValue(def, v, label, ctx.policy)).flat();
        if (Array.isArray(current)) container[key] = current.filter((c) => !drop.some((d) => sameItem(c, d)));
        return;
      }
      delete container[key];
      return;
    }
    if (rawValue === null || (Array.isArray(rawValue) && rawValue.length === 0 && op === 'replace')) {
      if (def?.required) throw badRequest('invalidValue', `"${label}" is required`);
      delete container[key];
      return;
    }
    const value = canonicalValue(def, rawValue, label, ctx.policy);
    if (def?.multiValued) {
      const list = value as unknown[];
      if (op === 'replace') {
        container[key] = list;
      } else {
        const merged = Array.isArray(current) ? [...(current as unknown[])] : [];
        for (const v of list) if (!merged.some((c) => sameItem(c, v))) merged.push(v);
        container[key] = merged;
      }
      return;
    }
    if (def?.type === 'complex' && isObject(value)) {
      // replace: the whole complex attribute becomes the value (`replace name {givenName}` clears familyName);
      // add: merges sub-attributes (interoperability profile §6.5.2.1).
      container[key] = op === 'replace' ? value : { ...(isObject(current) ? current : {}), ...value };
      return;
    }
    container[key] = value;
    return;
  }

  if (!p.filter && p.sub) {
    const subLabel = `${label}.${p.sub}`;
    const subValue = op === 'remove' ? undefined : canonicalValue(p.subDef, rawValue, subLabel, ctx.policy);
    if (def?.multiValued) {
      const list = Array.isArray(current) ? (current as unknown[]).filter(isObject) : [];
      if (op !== 'remove' && list.length === 0) {
        container[key] = [{ [p.sub]: subValue }];
        return;
      }
      for (const el of list) setSub(el, p.sub, subValue, op);
      return;
    }
    if (!isObject(current)) {
      if (op === 'remove') return;
      container[key] = {};
    }
    setSub(container[key] as Json, p.sub, subValue, op);
    return;
  }

  // A value filter: attr[filter] or attr[filter].sub.
  const list = Array.isArray(current) ? (current as unknown[]) : [];
  let hits: Json[];
  try {
    hits = list.filter((el): el is Json => isObject(el) && matches(p.filter!, el, def?.subAttributes ?? []));
  } catch (err) {
    if (err instanceof FilterError) throw badRequest('invalidPath', err.message);
    throw err;
  }
  if (op === 'remove') {
    if (p.sub) for (const el of hits) delete el[keyOf(el, p.sub)];
    else container[key] = list.filter((el) => !hits.includes(el as Json));
    return;
  }
  if (p.sub) {
    const subValue = canonicalValue(p.subDef, rawValue, `${label}.${p.sub}`, ctx.policy);
    if (hits.length === 0) {
      // Entra: replacing emails[type eq "work"].value when there is no work email adds one.
      const seed = equalities(p.filter!);
      if (!seed) throw badRequest('noTarget', `"${label}[${p.filterText}]" matches no value`);
      container[key] = [...list, canonicalValue({ ...def!, multiValued: false }, { ...seed, [p.sub]: subValue }, label, ctx.policy)];
      return;
    }
    for (const el of hits) setSub(el, p.sub, subValue, op);
    return;
  }
  const value = canonicalValue(def ? { ...def, multiValued: false } : undefined, rawValue, label, ctx.policy);
  if (!isObject(value)) throw badRequest('invalidValue', `"${label}[${p.filterText}]" takes an object value`);
  if (hits.length === 0) {
    const seed = equalities(p.filter!);
    if (op === 'replace' || !seed) throw badRequest('noTarget', `"${label}[${p.filterText}]" matches no value`);
    container[key] = [...list, { ...seed, ...value }];
    return;
  }
  for (const el of hits) Object.assign(el, value);
}

function setSub(el: Json, sub: string, value: unknown, op: PatchOpName): void {
  const k = keyOf(el, sub);
  if (op === 'remove' || value === null) delete el[k];
  else el[k] = value;
}

/** `a eq "x" and b eq "y"` as {a: "x", b: "y"}; null for any other filter. */
function equalities(f: Filter): Json | null {
  if (f.op === 'eq') return { [f.attrPath]: f.compValue };
  if (f.op === 'and') {
    const out: Json = {};
    for (const part of f.filters) {
      const e = equalities(part);
      if (!e) return null;
      Object.assign(out, e);
    }
    return out;
  }
  return null;
}
