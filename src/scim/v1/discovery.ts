import { COMMON_ATTRS, ENTERPRISE_ATTRS, GROUP_ATTRS, MAX_RESULTS, USER_ATTRS, type AttrDef } from '../schemas';
import type { Json } from '../normalize';
import { CORE_V1, ENTERPRISE_V1 } from './translate';

/**
 * SCIM 1.1 discovery (draft-scim-api-01 §4, draft-scim-core-schema-01 §7): /ServiceProviderConfigs and /Schemas, built
 * from the same attribute definitions the 2.0 engine serves; plus /ResourceTypes, which Okta's SCIM 1.1 SPEC test probes.
 */

/** 1.1 has no `reference` type: references are strings. */
function typeV1(def: AttrDef): string {
  return def.type === 'reference' ? 'string' : def.type;
}

function attributeV1(def: AttrDef, schema: string): Json {
  const out: Json = {
    name: def.name,
    type: typeV1(def),
    multiValued: def.multiValued ?? false,
    description: def.description ?? '',
    schema,
    readOnly: def.mutability === 'readOnly',
    required: def.required ?? false,
    caseExact: def.caseExact ?? false,
  };
  if (def.multiValued) out.multiValuedAttributeChildName = def.name.endsWith('sses') ? def.name.slice(0, -2) : def.name.replace(/s$/, '');
  if (def.subAttributes) out.subAttributes = def.subAttributes.filter((s) => s.name !== '$ref').map((s) => attributeV1(s, schema));
  return out;
}

/** 1.1's enterprise manager has `managerId` where 2.0 has `value`. */
function enterpriseAttrsV1(): AttrDef[] {
  return ENTERPRISE_ATTRS.map((d) =>
    d.name === 'manager'
      ? { ...d, subAttributes: (d.subAttributes ?? []).map((s) => (s.name === 'value' ? { ...s, name: 'managerId' } : s)) }
      : d,
  );
}

const META: AttrDef = {
  name: 'meta',
  type: 'complex',
  mutability: 'readOnly',
  subAttributes: ['created', 'lastModified']
    .map((n): AttrDef => ({ name: n, type: 'dateTime', mutability: 'readOnly' }))
    .concat([
      { name: 'location', type: 'string', mutability: 'readOnly' },
      { name: 'version', type: 'string', mutability: 'readOnly' },
    ]),
};

function schemaV1(id: string, name: string, description: string, schema: string, endpoint: string, attrs: AttrDef[], base: string): Json {
  return {
    id,
    name,
    description,
    schema,
    endpoint,
    attributes: attrs.map((a) => attributeV1(a, schema)),
    meta: { location: `${base}/Schemas/${id}` },
  };
}

export function schemaDocsV1(base: string): Json[] {
  return [
    schemaV1(`${CORE_V1}:User`, 'User', 'Core User', CORE_V1, '/Users', [...COMMON_ATTRS, META, ...USER_ATTRS], base),
    schemaV1(`${CORE_V1}:Group`, 'Group', 'Core Group', CORE_V1, '/Groups', [...COMMON_ATTRS, META, ...GROUP_ATTRS], base),
    schemaV1(ENTERPRISE_V1, 'EnterpriseUser', 'Enterprise User extension', ENTERPRISE_V1, '/Users', enterpriseAttrsV1(), base),
  ];
}

/** A schema by its id, its name or its endpoint's name (`/Schemas/Users` in draft-scim-api-01), case-insensitively. */
export function findSchemaV1(base: string, key: string): Json | undefined {
  const k = key.toLowerCase();
  return schemaDocsV1(base).find((d) =>
    [d.id, d.name, String(d.endpoint).replace(/^\//, '')].some((x) => typeof x === 'string' && x.toLowerCase() === k),
  );
}

export function resourceTypeDocsV1(base: string): Json[] {
  return [
    {
      schemas: [CORE_V1],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: `${CORE_V1}:User`,
      schemaExtensions: [{ schema: ENTERPRISE_V1, required: false }],
      meta: { location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [CORE_V1],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: `${CORE_V1}:Group`,
      schemaExtensions: [],
      meta: { location: `${base}/ResourceTypes/Group` },
    },
  ];
}

export function serviceProviderConfigV1(base: string): Json {
  return {
    schemas: [CORE_V1],
    documentationUrl: 'https://developer.okta.com/docs/reference/scim/scim-11/',
    patch: { supported: true },
    // Bulk is served by the 2.0 endpoint only.
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    xmlDataFormat: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: "Authentication with the connection's bearer token (Authorization: Bearer ...)",
        specUrl: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { location: `${base}/ServiceProviderConfigs` },
  };
}
