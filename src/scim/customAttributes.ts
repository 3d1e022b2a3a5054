import type { FieldResolver, FieldSpec } from '../filter';
import { tableResolver } from '../filter';
import type { ScimConnection } from './context';
import { USER_EXTENSION_KEYS, userFieldResolver } from './filterFields';
import { isObject, scalarText, USER_EXTENSIONS, type Extensions, type Json } from './normalize';
import type { AttrDef } from './schemas';

/**
 * Custom attributes an administrator declares on a SCIM connection (issue #14 item 9): served in /Schemas under the
 * connection's custom extension schema, accepted on it in POST, PUT, PATCH and filters, and stored as `custom.<name>` in
 * the source record's attributes (SPEC §3.6), whatever the interoperability-profile mode.
 */
export const CUSTOM_USER_SCHEMA = 'urn:audience-sync:params:scim:schemas:extension:custom:2.0:User';
/** Where searchDoc keeps custom attributes (src/scim/normalize.ts). */
const SEARCH_KEY = 'cx';

export function customAttrDefs(conn: ScimConnection): AttrDef[] {
  return (conn.customAttributes ?? []).map((a) => ({
    name: a.name,
    type: a.type,
    multiValued: a.multiValued,
    // dateTime values are kept as sent (ISO 8601), compared as written.
    caseExact: a.type === 'dateTime',
    description: 'Custom attribute declared on this connection; stored as custom.' + a.name,
  }));
}

/** The extension schemas a user of this connection may carry: the enterprise one, and the custom one when declared. */
export function userExtensionsOf(conn: ScimConnection): Extensions {
  const defs = customAttrDefs(conn);
  return defs.length ? { ...USER_EXTENSIONS, [CUSTOM_USER_SCHEMA]: defs } : USER_EXTENSIONS;
}

/** searchDoc's keys per extension for this connection. */
export function userExtensionKeysOf(conn: ScimConnection): Record<string, string> {
  return conn.customAttributes?.length ? { ...USER_EXTENSION_KEYS, [CUSTOM_USER_SCHEMA]: SEARCH_KEY } : USER_EXTENSION_KEYS;
}

/** The user filter resolver of this connection: the static one, plus `{custom URN}:{name}` for declared attributes. */
export function userResolverOf(conn: ScimConnection): FieldResolver {
  const defs = customAttrDefs(conn);
  if (!defs.length) return userFieldResolver;
  const table: Record<string, FieldSpec> = {};
  for (const d of defs) {
    const path = `lookup.${SEARCH_KEY}.${d.name}`;
    const type = d.type === 'boolean' ? 'boolean' : d.type === 'integer' || d.type === 'decimal' ? 'number' : 'string';
    const spec: FieldSpec = { path, type, caseExact: d.caseExact === true };
    if (type === 'string' && !d.caseExact) spec.lowerPath = path;
    table[`${CUSTOM_USER_SCHEMA}:${d.name}`] = spec;
  }
  return tableResolver(table, userFieldResolver);
}

/** The declared custom attributes of a user resource as the merge stores them: `custom.<name>`, text values. */
export function customAttributesOf(conn: ScimConnection, resource: Json): Record<string, string> | undefined {
  const ext = resource[CUSTOM_USER_SCHEMA];
  if (!isObject(ext) || !conn.customAttributes?.length) return undefined;
  const out: Record<string, string> = {};
  for (const a of conn.customAttributes) {
    const v = ext[a.name];
    // A multi-valued attribute is kept as its values joined by ", " (recipient attributes are text).
    const text = Array.isArray(v) ? v.map(scalarText).filter(Boolean).join(', ') : scalarText(v);
    if (text.trim()) out[a.name] = text;
  }
  return Object.keys(out).length ? out : undefined;
}
