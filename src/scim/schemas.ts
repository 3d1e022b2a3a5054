/** The resource schemas we serve (RFC 7643 §4, §8.7.1): attribute definitions drive names, case rules and discovery. */
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const BULK_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

export type AttrType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'binary' | 'complex';

export interface AttrDef {
  name: string;
  type: AttrType;
  multiValued?: boolean;
  caseExact?: boolean;
  required?: boolean;
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned?: 'always' | 'never' | 'default' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  subAttributes?: AttrDef[];
  referenceTypes?: string[];
  canonicalValues?: string[];
  description?: string;
}

const s = (name: string, extra: Partial<AttrDef> = {}): AttrDef => ({ name, type: 'string', ...extra });
const multi = (name: string, value: AttrDef, types: string[], extra: AttrDef[] = []): AttrDef => ({
  name,
  type: 'complex',
  multiValued: true,
  subAttributes: [value, s('display'), s('type', { canonicalValues: types }), { name: 'primary', type: 'boolean' }, ...extra],
});

export const USER_ATTRS: AttrDef[] = [
  s('userName', { required: true, uniqueness: 'server', description: 'Unique per connection, case-insensitively.' }),
  {
    name: 'name',
    type: 'complex',
    subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => s(n)),
  },
  s('displayName'),
  s('nickName'),
  { name: 'profileUrl', type: 'reference', referenceTypes: ['external'] },
  s('title'),
  s('userType'),
  s('preferredLanguage'),
  s('locale'),
  s('timezone'),
  { name: 'active', type: 'boolean' },
  s('password', { mutability: 'writeOnly', returned: 'never' }),
  multi('emails', s('value'), ['work', 'home', 'other']),
  multi('phoneNumbers', s('value'), ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
  multi('ims', s('value'), ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
  multi('photos', { name: 'value', type: 'reference', referenceTypes: ['external'] }, ['photo', 'thumbnail']),
  {
    name: 'addresses',
    type: 'complex',
    multiValued: true,
    subAttributes: [
      ...['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country'].map((n) => s(n)),
      s('type', { canonicalValues: ['work', 'home', 'other'] }),
      { name: 'primary', type: 'boolean' },
    ],
  },
  {
    name: 'groups',
    type: 'complex',
    multiValued: true,
    mutability: 'readOnly',
    subAttributes: [
      s('value', { mutability: 'readOnly' }),
      { name: '$ref', type: 'reference', referenceTypes: ['Group'], mutability: 'readOnly' },
      s('display', { mutability: 'readOnly' }),
      s('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
    ],
  },
  // RFC 7643 names no types for these; the interoperability profile (§5.4) wants every `type` declared. Entra sends
  // app roles as WindowsAzureActiveDirectoryRole.
  multi('entitlements', s('value'), ['other']),
  multi('roles', s('value'), ['WindowsAzureActiveDirectoryRole', 'other']),
  multi('x509Certificates', { name: 'value', type: 'binary' }, ['other']),
];

export const ENTERPRISE_ATTRS: AttrDef[] = [
  s('employeeNumber'),
  s('costCenter'),
  s('organization'),
  s('division'),
  s('department'),
  {
    name: 'manager',
    type: 'complex',
    subAttributes: [
      s('value'),
      { name: '$ref', type: 'reference', referenceTypes: ['User'] },
      s('displayName', { mutability: 'readOnly' }),
    ],
  },
];

export const GROUP_ATTRS: AttrDef[] = [
  s('displayName', { required: true }),
  {
    name: 'members',
    type: 'complex',
    multiValued: true,
    subAttributes: [
      s('value', { mutability: 'immutable', caseExact: true }),
      { name: '$ref', type: 'reference', referenceTypes: ['User', 'Group'], mutability: 'immutable' },
      // Immutable as RFC 7643 §2.4 gives `display`: kept as the client sends it, else the member's own name.
      s('display', { mutability: 'immutable' }),
      s('type', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
    ],
  },
];

/** Attributes every resource has (RFC 7643 §3.1). */
export const COMMON_ATTRS: AttrDef[] = [
  s('id', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  s('externalId', { caseExact: true }),
];

export function findAttr(defs: readonly AttrDef[] | undefined, name: string): AttrDef | undefined {
  if (!defs) return undefined;
  const l = name.toLowerCase();
  return defs.find((d) => d.name.toLowerCase() === l);
}

/** Completes a definition with RFC 7643's defaults, for /Schemas. */
function full(def: AttrDef): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: def.name,
    type: def.type,
    multiValued: def.multiValued ?? false,
    description: def.description ?? '',
    required: def.required ?? false,
    caseExact: def.caseExact ?? false,
    mutability: def.mutability ?? 'readWrite',
    returned: def.returned ?? 'default',
    uniqueness: def.uniqueness ?? 'none',
  };
  if (def.canonicalValues?.length) out.canonicalValues = def.canonicalValues;
  if (def.referenceTypes) out.referenceTypes = def.referenceTypes;
  if (def.subAttributes) out.subAttributes = def.subAttributes.map(full);
  return out;
}

export function schemaDoc(id: string, name: string, description: string, attrs: AttrDef[], base: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id,
    name,
    description,
    attributes: attrs.map(full),
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  };
}

export function schemaDocs(base: string) {
  return [
    // Write-only attributes (password) are never stored: /Schemas does not advertise them (issue #14 item 8).
    schemaDoc(
      USER_SCHEMA,
      'User',
      'User Account',
      USER_ATTRS.filter((d) => d.mutability !== 'writeOnly'),
      base,
    ),
    schemaDoc(GROUP_SCHEMA, 'Group', 'Group', GROUP_ATTRS, base),
    schemaDoc(ENTERPRISE_SCHEMA, 'EnterpriseUser', 'Enterprise User', ENTERPRISE_ATTRS, base),
  ];
}

export const MAX_RESULTS = 1000;
export const BULK_MAX_OPERATIONS = 1000;

export function serviceProviderConfig(base: string, maxPayloadSize: number) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: { supported: true },
    bulk: { supported: true, maxOperations: BULK_MAX_OPERATIONS, maxPayloadSize },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: "Authentication with the connection's bearer token (Authorization: Bearer ...)",
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}
