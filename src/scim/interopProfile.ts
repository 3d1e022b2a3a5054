import type { ScimContext } from './context';
import { badRequest } from './errors';
import { CUSTOM_USER_SCHEMA, customAttrDefs } from './customAttributes';
import { resourceTypeDocs } from './resourceTypes';
import { schemaDoc, schemaDocs, serviceProviderConfig } from './schemas';

/**
 * The SCIM 2.0 Interoperability Profile (draft-zollner-scim-interop-profile) per connection (issue #14 item 9). A
 * connection set to `strict` enforces every service-provider requirement of the profile on its SCIM 2.0 base URL and
 * says so in its ServiceProviderConfig; the default, `lenient`, keeps what today's Okta and Entra clients need (Okta
 * deactivates with a path-less PATCH) and claims nothing. Where strictness is enforced:
 * - §5.3 attributes and schema URIs no schema declares: src/scim/unknownAttributes.ts (400 invalidSyntax);
 * - §6.5.1.1 PATCH operations without `path`: src/scim/patch.ts (400 invalidSyntax);
 * - §6.3 a `filter` in the URI of another method than GET: refuseFilterOutsideGet below (400 invalidSyntax);
 * - §5.1 /Schemas lists exactly what is stored (both modes; custom attributes under the connection's extension).
 * The README's table lists every requirement and how each mode meets it.
 */

/** The connection's /Schemas: the shared schemas, and its custom extension when it declares custom attributes. */
export function connectionSchemaDocs(ctx: ScimContext) {
  const docs = schemaDocs(ctx.baseUrl);
  const custom = customAttrDefs(ctx.conn);
  if (custom.length) {
    docs.push(schemaDoc(CUSTOM_USER_SCHEMA, 'CustomUser', 'Custom attributes declared on this connection', custom, ctx.baseUrl));
  }
  return docs;
}

/** The connection's /ResourceTypes: User lists the custom extension when there is one (§5.1: all are in /Schemas). */
export function connectionResourceTypeDocs(ctx: ScimContext) {
  const docs = resourceTypeDocs(ctx.baseUrl);
  if (!customAttrDefs(ctx.conn).length) return docs;
  return docs.map((d) =>
    d.id === 'User' ? { ...d, schemaExtensions: [...d.schemaExtensions, { schema: CUSTOM_USER_SCHEMA, required: false }] } : d,
  );
}

/** §4: a conformant service provider says `interopProfileConformant: true`; a lenient connection omits it. */
export function connectionServiceProviderConfig(ctx: ScimContext, maxPayloadSize: number) {
  const spc = serviceProviderConfig(ctx.baseUrl, maxPayloadSize);
  return ctx.strict ? { ...spc, interopProfileConformant: true } : spc;
}

/** §6.3: filters in the URI are for GET only (`PATCH /Users?filter=...` is refused, not applied to anything). */
export function refuseFilterOutsideGet(ctx: ScimContext, method: string, query: Record<string, unknown>): void {
  if (!ctx.strict || method.toUpperCase() === 'GET') return;
  if (Object.keys(query).some((k) => k.toLowerCase() === 'filter')) {
    throw badRequest('invalidSyntax', `a "filter" in the URI is only for GET (the interoperability profile, §6.3); ${method} takes none`);
  }
}
