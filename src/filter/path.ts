/**
 * The one parser of SCIM attribute paths (RFC 7644 §3.10): `attr`, `attr.sub`, each optionally prefixed by a schema URN
 * (`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`, `urn:...:enterprise:2.0:User:manager.value`), and for
 * PATCH the value paths `attr[filter]` and `attr[filter].sub`. Filters, PATCH, projection and sorting all read paths
 * through here. Names are returned as written; callers compare them case-insensitively.
 */

function sameText(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The core schemas' URN followed by `:`: an attribute written after it is the core attribute itself. */
const CORE_SCHEMA_PREFIX_RE = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i;

/**
 * `urn:...:core:2.0:User:name` → `name`; any other path unchanged. With `schema` (a resource's core schema URN), only
 * that schema's prefix is stripped.
 */
export function stripCoreSchema(path: string, schema?: string): string {
  const prefix = CORE_SCHEMA_PREFIX_RE.exec(path)?.[0];
  if (prefix === undefined || (schema !== undefined && !sameText(prefix, `${schema}:`))) return path;
  return path.slice(prefix.length);
}

export interface AttrPath {
  /** The extension schema the path starts with, spelled as in `extensionUrns` when it is one of them; else undefined. */
  urn?: string;
  /** Whether `urn` is one of the known extension schemas. */
  knownUrn: boolean;
  /** The attribute and its sub-attributes, e.g. ['name', 'givenName']; empty when the path names a whole extension. */
  names: string[];
}

/**
 * Splits an attribute path. An extension URN holds dots and colons itself (`...:enterprise:2.0:User`), so the known
 * ones are matched first; an unknown one ends at the last colon.
 */
export function parseAttrPath(path: string, extensionUrns: readonly string[] = []): AttrPath {
  if (!/^urn:/i.test(path)) return { knownUrn: false, names: path.split('.') };
  const whole = extensionUrns.find((u) => sameText(u, path));
  if (whole !== undefined) return { urn: whole, knownUrn: true, names: [] };
  const core = stripCoreSchema(path);
  if (core !== path) return { knownUrn: false, names: core.split('.') };
  const known = extensionUrns.find((u) => path.toLowerCase().startsWith(`${u.toLowerCase()}:`));
  if (known !== undefined) return { urn: known, knownUrn: true, names: path.slice(known.length + 1).split('.') };
  const colon = path.lastIndexOf(':');
  return { urn: path.slice(0, colon), knownUrn: false, names: path.slice(colon + 1).split('.') };
}

/** `parent.sub` → the parent's path as written and the sub-attribute's name; undefined for a path of one name. */
export function splitSubAttribute(path: string): { parent: string; sub: string } | undefined {
  const { names } = parseAttrPath(path);
  const sub = names.length > 1 ? names[names.length - 1] : undefined;
  if (sub === undefined) return undefined;
  return { parent: path.slice(0, path.length - sub.length - 1), sub };
}

export interface PatchTarget {
  urn?: string;
  knownUrn: boolean;
  /** The attribute named; '' when the path names a whole extension. */
  attr: string;
  /** The filter text between the brackets, unparsed. */
  filter?: string;
  sub?: string;
}

/** A PATCH path: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, optionally URN-prefixed. Undefined when malformed. */
export function parsePatchTarget(path: string, extensionUrns: readonly string[] = []): PatchTarget | undefined {
  // The filter may hold colons and dots of its own: only the part before `[` carries the schema.
  const bracket = path.indexOf('[');
  const head = bracket < 0 ? path : path.slice(0, bracket);
  const tail = bracket < 0 ? '' : path.slice(bracket);
  const { names, ...schema } = parseAttrPath(head, extensionUrns);
  if (names.length === 0 && !tail) return { ...schema, attr: '' };
  const m = /^([^.[\]]+)(?:\[(.*)\])?(?:\.([^.[\]]+))?$/s.exec(names.join('.') + tail);
  if (!m?.[1]) return undefined;
  return { ...schema, attr: m[1], ...(m[2] !== undefined ? { filter: m[2] } : {}), ...(m[3] !== undefined ? { sub: m[3] } : {}) };
}
