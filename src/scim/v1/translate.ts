import { stringifyFilter as stringify, type Filter } from '../../filter';
import { badRequest } from '../errors';
import { isObject, type Json } from '../normalize';
import { ENTERPRISE_SCHEMA, findAttr, GROUP_ATTRS, GROUP_SCHEMA, PATCH_SCHEMA, USER_ATTRS, USER_SCHEMA, type AttrDef } from '../schemas';
import { parseScimFilter } from '../search';

/**
 * The one mapping between Okta's SCIM 1.1 dialect (draft-scim-core-schema-01 / draft-scim-api-01 as Okta's "SCIM 1.1"
 * reference uses them) and the SCIM 2.0 operations underneath: schema URNs, the enterprise extension, list responses,
 * errors and PATCH forms. Requests are translated in, responses out; everything in between is the 2.0 engine, and what
 * is stored is the 2.0 form, so a connection can move from 1.1 to 2.0 (or back) without losing anything.
 */

export const CORE_V1 = 'urn:scim:schemas:core:1.0';
export const ENTERPRISE_V1 = 'urn:scim:schemas:extension:enterprise:1.0';
/** Named by the Runscope SPEC test's /Schemas step; discovery lists carry it beside the core URN. */
export const LIST_V1 = 'urn:scim:schemas:core:1.0:ListResponse';
/** Okta sends a group's description in this extension; no schema of ours declares it, so it is not kept. */
export const OKTA_GROUP_V1 = 'urn:okta:custom:group:1.0';

export type Kind = 'User' | 'Group';

const CORE_V2: Record<Kind, string> = { User: USER_SCHEMA, Group: GROUP_SCHEMA };
const ATTRS: Record<Kind, AttrDef[]> = { User: USER_ATTRS, Group: GROUP_ATTRS };

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function field(obj: Json, name: string): unknown {
  const k = Object.keys(obj).find((x) => same(x, name));
  return k === undefined ? undefined : obj[k];
}

/* ---------- resources: 1.1 in ---------- */

function schemasIn(kind: Kind, v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const out = (v as unknown[])
    .filter((s) => !(typeof s === 'string' && same(s, OKTA_GROUP_V1)))
    .map((s) => {
      if (typeof s !== 'string') return s;
      if (same(s, CORE_V1)) return CORE_V2[kind];
      if (same(s, ENTERPRISE_V1)) return ENTERPRISE_SCHEMA;
      return s;
    });
  return [...new Set(out)];
}

/** 1.1's enterprise manager is `{managerId, displayName}`; 2.0's is `{value, displayName}`. */
function enterpriseIn(v: unknown): unknown {
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (same(k, 'manager') && isObject(x)) {
      const m: Json = {};
      for (const [mk, mv] of Object.entries(x)) m[same(mk, 'managerId') ? 'value' : mk] = mv;
      out[k] = m;
    } else {
      out[k] = x;
    }
  }
  return out;
}

function isDelete(item: unknown): boolean {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- client JSON (a string in practice); String() is the intended coercion
  return isObject(item) && String(field(item, 'operation') ?? '').toLowerCase() === 'delete';
}

function withoutOperation(item: unknown): unknown {
  if (!isObject(item)) return item;
  const out: Json = {};
  for (const [k, v] of Object.entries(item)) if (!same(k, 'operation')) out[k] = v;
  return out;
}

/**
 * A 1.1 resource (POST, PUT) as the 2.0 resource it stands for. Values marked `"operation": "delete"` in a full
 * resource name nothing to keep, so they are left out.
 */
export function resourceIn(kind: Kind, body: unknown): unknown {
  if (!isObject(body)) return body;
  const out: Json = {};
  for (const [k, v] of Object.entries(body)) {
    if (same(k, 'schemas')) out.schemas = schemasIn(kind, v);
    else if (same(k, OKTA_GROUP_V1)) continue;
    else if (kind === 'User' && same(k, ENTERPRISE_V1)) out[ENTERPRISE_SCHEMA] = enterpriseIn(v);
    else if (Array.isArray(v) && findAttr(ATTRS[kind], k)?.multiValued) out[k] = v.filter((x) => !isDelete(x)).map(withoutOperation);
    else out[k] = v;
  }
  return out;
}

/* ---------- resources: 2.0 out ---------- */

function schemasOut(v: unknown): string[] {
  const list = Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  const out = list.map((s) => {
    if (same(s, USER_SCHEMA) || same(s, GROUP_SCHEMA)) return CORE_V1;
    if (same(s, ENTERPRISE_SCHEMA)) return ENTERPRISE_V1;
    return s;
  });
  return [...new Set([CORE_V1, ...out])];
}

function enterpriseOut(v: unknown): unknown {
  if (!isObject(v)) return v;
  const out: Json = { ...v };
  const mgr = field(v, 'manager');
  if (isObject(mgr)) {
    const m: Json = {};
    for (const [k, x] of Object.entries(mgr)) {
      if (k === '$ref') continue;
      m[same(k, 'value') ? 'managerId' : k] = x;
    }
    out.manager = m;
  }
  return out;
}

/** 1.1 references carry `value`, `display` and (for nested groups only) `type`; `$ref` is 2.0's. */
function refsOut(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  return (v as unknown[]).map((r) => {
    if (!isObject(r)) return r;
    const { $ref: _ref, type, ...rest } = r;
    return type === 'Group' || type === 'indirect' ? { ...rest, type } : rest;
  });
}

function metaOut(v: unknown): unknown {
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const k of ['created', 'lastModified', 'location', 'version']) if (v[k] !== undefined) out[k] = v[k];
  return out;
}

/**
 * A 2.0 resource as 1.1 shows it. `complete` (no `attributes` asked for) adds the empty multi-valued attributes Okta's
 * reference always shows: a user's `groups`, a group's `members`.
 */
export function resourceOut(kind: Kind, body: unknown, complete: boolean): Json {
  if (!isObject(body)) return {};
  const out: Json = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'schemas') out.schemas = schemasOut(v);
    else if (k === ENTERPRISE_SCHEMA) out[ENTERPRISE_V1] = enterpriseOut(v);
    else if (k === 'groups' || k === 'members') out[k] = refsOut(v);
    else if (k === 'meta') out.meta = metaOut(v);
    else out[k] = v;
  }
  if (complete) {
    const multi = kind === 'User' ? 'groups' : 'members';
    if (out[multi] === undefined) out[multi] = [];
  }
  return out;
}

/** A 2.0 ListResponse as 1.1's: integers, and Resources in the engine's order (stable across pages). */
export function listOut(kind: Kind, body: unknown, complete: boolean): Json {
  const b = isObject(body) ? body : {};
  const resources = Array.isArray(b.Resources) ? b.Resources : [];
  return {
    schemas: [CORE_V1],
    totalResults: Number(b.totalResults ?? resources.length),
    startIndex: Number(b.startIndex ?? 1),
    itemsPerPage: Number(b.itemsPerPage ?? resources.length),
    Resources: resources.map((r) => resourceOut(kind, r, complete)),
  };
}

/** A list of discovery documents (/Schemas, /ResourceTypes). */
export function discoveryListOut(docs: unknown[]): Json {
  return { schemas: [CORE_V1, LIST_V1], totalResults: docs.length, startIndex: 1, itemsPerPage: docs.length, Resources: docs };
}

/* ---------- errors ---------- */

/**
 * 1.1's error body. `detail` repeats the description because Okta's SCIM 1.1 SPEC test (Runscope) reads it on 404.
 */
export function errorOut(status: number, message: string): Json {
  return { Errors: [{ description: message, code: status }], detail: message };
}

/* ---------- query parameters ---------- */

const PATH_PREFIXES: [RegExp, string][] = [
  [/^urn:scim:schemas:core:1\.0:/i, ''],
  [/^urn:scim:schemas:extension:enterprise:1\.0:/i, `${ENTERPRISE_SCHEMA}:`],
];

/** A 1.1 attribute path (`urn:scim:schemas:core:1.0:name.givenName`, enterprise `manager.managerId`) in 2.0 terms. */
export function pathIn(path: string): string {
  let p = path.trim();
  for (const [re, to] of PATH_PREFIXES) p = p.replace(re, to);
  return p.replace(/(^|:|\.)manager\.managerId$/i, '$1manager.value');
}

function filterPathsIn(f: Filter): Filter {
  switch (f.op) {
    case 'and':
    case 'or':
      return { ...f, filters: f.filters.map(filterPathsIn) };
    case 'not':
      return { ...f, filter: filterPathsIn(f.filter) };
    case '[]':
      return { ...f, attrPath: pathIn(f.attrPath), valFilter: filterPathsIn(f.valFilter) };
    default:
      return { ...f, attrPath: pathIn(f.attrPath) };
  }
}

/**
 * The query of a 1.1 list or read: the same filter grammar as 2.0 (the shared parser reads it); attribute paths written
 * with 1.1 URNs are rewritten, everything else is passed on as sent.
 */
export function queryIn(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (same(k, 'filter') && typeof v === 'string' && /urn:scim:schemas|managerId/i.test(v))
      out[k] = stringify(filterPathsIn(parseScimFilter(v)));
    else if ((same(k, 'attributes') || same(k, 'excludedAttributes') || same(k, 'sortBy')) && typeof v === 'string')
      out[k] = v.split(',').map(pathIn).join(',');
    else out[k] = v;
  }
  return out;
}

/** True when the client asked for a subset of attributes (then nothing is added to what it gets). */
export function projected(query: Record<string, unknown>): boolean {
  return Object.keys(query).some((k) => same(k, 'attributes') || same(k, 'excludedAttributes'));
}

/* ---------- PATCH ---------- */

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path?: string;
  value?: unknown;
}

/** A string in a filter: JSON's escaping is the filter grammar's. */
const quote = (v: unknown) => JSON.stringify(String(v));

/** `a eq "x" and b eq "y"` over an item's plain sub-attributes, to find a value without a `value` sub-attribute. */
function itemFilter(item: Json): string | undefined {
  const parts = Object.entries(item)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number')
    .map(([k, v]) => `${k} eq ${typeof v === 'string' ? quote(v) : String(v)}`);
  return parts.length ? parts.join(' and ') : undefined;
}

/** The operations one multi-valued attribute of a 1.1 PATCH stands for (draft-scim-api-01 §3.3.2). */
function multiValuedOps(kind: Kind, attr: string, values: unknown[]): PatchOp[] {
  const ops: PatchOp[] = [];
  const added: unknown[] = [];
  for (const raw of values) {
    const item = withoutOperation(raw);
    const value = isObject(item) ? field(item, 'value') : item;
    if (isDelete(raw)) {
      // Matched by `value`, or by all sub-attributes sent when there is no `value` (e.g. an address).
      const where = value !== undefined && value !== null ? `value eq ${quote(value)}` : isObject(item) ? itemFilter(item) : undefined;
      if (!where) throw badRequest('invalidValue', `a "${attr}" value to delete needs a "value"`);
      ops.push({ op: 'remove', path: `${attr}[${where}]` });
    } else if (kind === 'User' && isObject(item) && value !== undefined && value !== null) {
      // Merged into the stored value with the same `value`, else added.
      ops.push({ op: 'add', path: `${attr}[value eq ${quote(value)}]`, value: item });
    } else {
      added.push(item);
    }
  }
  // Group members (and values that cannot be matched) are added in one operation, however many.
  if (added.length) ops.unshift({ op: 'add', path: attr, value: added });
  return ops;
}

/**
 * A 1.1 PATCH (a partial resource) as a 2.0 PatchOp request: first the attributes `meta.attributes` names are cleared,
 * then single-valued attributes replace (complex ones merge their sub-attributes), multi-valued ones add or merge their
 * values, and values carrying `"operation": "delete"` are removed. Returns null when the request changes nothing.
 * A request already in 2.0's PatchOp form is passed on unchanged.
 */
export function patchIn(kind: Kind, body: unknown): { schemas: string[]; Operations: PatchOp[] } | null {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const schemas = field(body, 'schemas');
  if (
    Array.isArray(field(body, 'Operations')) ||
    (Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && same(s, PATCH_SCHEMA)))
  ) {
    return body as { schemas: string[]; Operations: PatchOp[] };
  }
  const ops: PatchOp[] = [];
  const meta = field(body, 'meta');
  if (isObject(meta)) {
    const names = field(meta, 'attributes');
    if (names !== undefined) {
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
        throw badRequest('invalidSyntax', '"meta.attributes" must be a list of attribute names');
      }
      for (const n of names) ops.push({ op: 'remove', path: pathIn(n) });
    }
  }
  const single: Json = {};
  const multi: PatchOp[] = [];
  for (const [k, v] of Object.entries(body)) {
    if (same(k, 'schemas') || same(k, 'meta') || same(k, OKTA_GROUP_V1)) continue;
    // Okta's 1.1 password sync sends `password` in a PATCH and expects 200: no password is kept, so it is dropped here
    // (the 2.0 endpoint refuses a PATCH of password, src/scim/password.ts).
    if (kind === 'User' && same(k, 'password')) continue;
    if (kind === 'User' && same(k, ENTERPRISE_V1)) {
      if (!isObject(v)) throw badRequest('invalidValue', `"${ENTERPRISE_V1}" must be an object`);
      single[ENTERPRISE_SCHEMA] = enterpriseIn(v);
      continue;
    }
    if (/^urn:/i.test(k)) {
      // Another extension (e.g. an app's custom attributes): its attributes replace one by one, as 2.0 paths.
      if (!isObject(v)) throw badRequest('invalidValue', `"${k}" must be an object`);
      for (const [ek, ev] of Object.entries(v)) ops.push({ op: 'replace', path: `${k}:${ek}`, value: ev });
      continue;
    }
    const def = findAttr(ATTRS[kind], k);
    // A user's `groups` are read-only (membership comes with the groups): ignored here as in a PUT.
    if (def?.mutability === 'readOnly') continue;
    if (def?.multiValued && Array.isArray(v)) multi.push(...multiValuedOps(kind, def.name, v));
    else single[k] = v;
  }
  // `id` stays in: the engine refuses a PATCH that would change it.
  // `add`: 1.1 merges the sub-attributes of a complex attribute (2.0's `replace` of one replaces all of it).
  if (Object.keys(single).length) ops.push({ op: 'add', value: single });
  ops.push(...multi);
  return ops.length ? { schemas: [PATCH_SCHEMA], Operations: ops } : null;
}
