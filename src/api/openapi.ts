import {
  CUSTOM_ATTRIBUTE_NAME,
  CUSTOM_ATTRIBUTE_TYPES,
  INTEROP_PROFILES,
  MAX_CUSTOM_ATTRIBUTES,
  CONNECTION_TYPES,
  EVENT_TYPES,
  FULL_ATTRIBUTE_SET,
  PERMISSIONS,
  ROLES,
  SCIM_PROVIDERS,
  SYNC_RUN_PHASES,
  SYNC_RUN_STATUSES,
} from '../store';

/**
 * The OpenAPI 3.1 document of the Admin API, kept beside the routes; test/api.matrix.test.ts validates every response
 * of the route × role matrix against it.
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str: Schema = { type: 'string' };
const nullableStr: Schema = { type: ['string', 'null'] };
const int: Schema = { type: 'integer', minimum: 0 };
const obj = (properties: Record<string, Schema>, required = Object.keys(properties), extra: boolean | Schema = false): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: extra,
});
const list = (item: string): Schema => obj({ items: { type: 'array', items: ref(item) }, nextCursor: nullableStr });
const json = (schema: Schema) => ({ 'application/json': { schema } });

const attributes: Schema = {
  type: 'object',
  properties: {
    ...Object.fromEntries(FULL_ATTRIBUTE_SET.map((n) => [n, str])),
    custom: { type: 'object', additionalProperties: str },
  },
  additionalProperties: false,
};
const selection: Schema = obj({
  groups: { type: 'array', items: str },
  segments: { type: 'array', items: str },
  recipients: { type: 'array', items: str },
});
const selectionIn: Schema = obj(
  {
    groups: { type: 'array', items: str },
    segments: { type: 'array', items: str },
    recipients: { type: 'array', items: str, description: 'recipient ids or emails' },
  },
  [],
);
/** A column target as a mapping names it. */
const COLUMN_TARGET_PATTERN = `^(email|status|groups|action|ignore|custom:[a-z0-9_]+|${FULL_ATTRIBUTE_SET.join('|')})$`;
const counts = obj(Object.fromEntries(['created', 'updated', 'unchanged', 'deactivated', 'removed', 'rejected'].map((k) => [k, int])));

/** scim: the interoperability-profile mode and custom attributes (issue #14 items 5 and 9; src/store/scimSettings.ts). */
const interopProfileSchema: Schema = {
  enum: [...INTEROP_PROFILES],
  description: 'scim: strict enforces the SCIM 2.0 Interoperability Profile on the SCIM 2.0 base URL; lenient (default) does not',
};
const customAttributeSchema: Schema = obj(
  {
    name: { type: 'string', pattern: CUSTOM_ATTRIBUTE_NAME.source },
    type: { enum: [...CUSTOM_ATTRIBUTE_TYPES] },
    multiValued: { type: 'boolean' },
  },
  ['name', 'type'],
);
const customAttributesSchema: Schema = {
  type: 'array',
  items: customAttributeSchema,
  maxItems: MAX_CUSTOM_ATTRIBUTES,
  description:
    'scim: custom attributes served under urn:audience-sync:params:scim:schemas:extension:custom:2.0:User and stored as custom.<name>; a PATCH replaces the whole list',
};

const connectionProps: Record<string, Schema> = {
  id: str,
  type: { enum: [...CONNECTION_TYPES] },
  name: str,
  provider: { type: ['string', 'null'] },
  extendedAttributes: { type: 'boolean' },
  massRemovalThreshold: { type: 'number', minimum: 0, maximum: 1 },
  scimBaseUrl: nullableStr,
  scim11BaseUrl: { type: ['string', 'null'], description: "scim: the same connection in Okta's SCIM 1.1 dialect" },
  sftp: {
    oneOf: [
      { type: 'null' },
      obj(
        {
          username: nullableStr,
          publicKeys: { type: 'array', items: str },
          hostKeyFingerprint: {
            type: ['string', 'null'],
            description: 'detail only: SHA256 fingerprint of the SFTP host key (null before the SFTP daemon first started)',
          },
          port: { type: 'integer', description: 'detail only: the SFTP port' },
        },
        ['username', 'publicKeys'],
      ),
    ],
  },
  scim: {
    oneOf: [
      { type: 'null' },
      obj({
        interopProfile: { enum: [...INTEROP_PROFILES] },
        customAttributes: {
          type: 'array',
          items: obj({ name: str, type: { enum: [...CUSTOM_ATTRIBUTE_TYPES] }, multiValued: { type: 'boolean' } }),
        },
        unknownScimAttributes: {
          type: 'array',
          items: obj({ name: str, firstSeenAt: str }),
          description: 'attribute names the identity provider sent that no schema declares: ignored and not stored (a mapping to fix)',
        },
      }),
    ],
  },
  hris: {
    oneOf: [
      { type: 'null' },
      obj({
        mode: { enum: ['automated', 'assisted'] },
        schedule: nullableStr,
        lastSyncAt: nullableStr,
        needsReauth: {
          type: 'boolean',
          description: 'Finch refused the access token (401): syncs wait for a new token (POST /connections/{id}/credentials)',
        },
        reauthReason: nullableStr,
        lastRun: { oneOf: [{ type: 'null' }, obj({ id: str, status: nullableStr })] },
        nextSyncAt: { ...nullableStr, description: 'when the scheduler runs this connection next (with jitter)' },
        lease: {
          oneOf: [{ type: 'null' }, obj({ holder: str, acquiredAt: nullableStr, expiresAt: nullableStr })],
          description: 'the process running a sync now (GET /connections/{id} only)',
        },
        introspection: {
          oneOf: [
            { type: 'null' },
            { type: 'object', description: "Finch's /introspect answer from the last run: providerId, products, connectionStatus, ..." },
          ],
        },
      }),
    ],
  },
  createdAt: nullableStr,
  updatedAt: nullableStr,
};

const recipientProps: Record<string, Schema> = {
  id: str,
  email: str,
  emailDisplay: str,
  firstName: nullableStr,
  lastName: nullableStr,
  status: { enum: ['active', 'inactive', 'offboarded'] },
  attributes,
  groups: { type: 'array', items: str },
  sources: { type: 'array', items: obj({ connectionId: str, type: { enum: [...CONNECTION_TYPES] }, active: { type: 'boolean' } }) },
  createdAt: nullableStr,
  updatedAt: nullableStr,
};

const schemas: Record<string, Schema> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details',
    properties: {
      type: str,
      title: str,
      status: { type: 'integer' },
      detail: str,
      errors: { type: 'array', items: obj({ path: str, message: str }) },
      syncRunId: str,
    },
    required: ['type', 'title', 'status'],
  },
  Organization: obj({
    id: str,
    name: str,
    attributePriority: { type: 'array', items: { enum: [...CONNECTION_TYPES] } },
    maxDirectoryConnections: int,
  }),
  Token: obj({
    id: str,
    role: { enum: [...ROLES] },
    permissions: { type: 'array', items: { enum: [...PERMISSIONS] } },
    name: nullableStr,
    createdAt: nullableStr,
    lastUsedAt: nullableStr,
  }),
  TokenCreated: obj({
    id: str,
    role: { enum: [...ROLES] },
    permissions: { type: 'array', items: { enum: [...PERMISSIONS] } },
    name: nullableStr,
    createdAt: nullableStr,
    lastUsedAt: nullableStr,
    token: { type: 'string', description: 'shown once' },
  }),
  TokenList: list('Token'),
  Connection: obj(connectionProps),
  ConnectionCreated: obj(
    {
      ...connectionProps,
      token: { type: 'string', description: 'scim: the bearer token, shown once' },
      password: { type: 'string', description: 'sftp: the password, shown once' },
    },
    Object.keys(connectionProps),
  ),
  ConnectionList: list('Connection'),
  RotatedToken: obj({ id: str, scimBaseUrl: str, scim11BaseUrl: str, token: str }),
  Credentials: obj({ id: str, username: nullableStr, password: str }, ['id']),
  Recipient: obj(recipientProps),
  RecipientList: list('Recipient'),
  RecipientDetail: obj({
    ...recipientProps,
    groupDetails: { type: 'array', items: obj({ id: str, name: nullableStr, connectionId: nullableStr }) },
    sourceDetails: {
      type: 'array',
      items: obj({ connectionId: str, type: { enum: [...CONNECTION_TYPES] }, active: { type: 'boolean' }, name: nullableStr }),
    },
    contributions: {
      type: 'array',
      description:
        'what every source says about the person, tombstones included; the latest status asserted by an identity source (scim, hris) decides offboarding',
      items: obj({
        connectionId: str,
        connectionName: nullableStr,
        type: { enum: [...CONNECTION_TYPES] },
        key: str,
        active: { type: 'boolean' },
        tombstone: {
          type: 'boolean',
          description: 'the source removed the person (SCIM DELETE, absent from a full HRIS directory) and the offboarding holds',
        },
        identitySource: { type: 'boolean' },
        statusAssertedAt: nullableStr,
        latestIdentityAssertion: {
          type: 'boolean',
          description: 'the latest status an identity source asserted: it decides whether the person is offboarded',
        },
      }),
    },
  }),
  SyncRun: obj({
    id: str,
    connectionId: str,
    source: str,
    mode: { enum: ['full', 'delta'] },
    label: nullableStr,
    status: {
      enum: [...SYNC_RUN_STATUSES],
      description:
        "queued → running → succeeded | completed_with_errors (applied; some rows rejected) | failed (e.g. every row was rejected, or interrupted before its apply) | needs_review → applying → applied, or needs_review → discarded; pending (HRIS: the provider's data was not ready, nothing changed). Only forward",
    },
    phase: {
      oneOf: [{ type: 'null' }, { enum: [...SYNC_RUN_PHASES] }],
      description: 'a running full snapshot: read, stage, guard or apply (an interrupted apply resumes after restart)',
    },
    progress: {
      ...obj(
        {
          processed: {
            ...int,
            description: 'rows handled so far (applied, staged or rejected); HRIS syncs: people read in the current phase',
          },
          phase: { type: ['string', 'null'], description: 'HRIS syncs only: introspect, directory, individuals, employments or merge' },
          pages: { type: ['integer', 'null'], minimum: 0, description: 'HRIS syncs only: directory pages fetched' },
          total: {
            type: ['integer', 'null'],
            minimum: 0,
            description: 'rows the input holds, when known before processing (CSV uploads: counted when the file is checked); else null',
          },
          bytesRead: {
            type: ['integer', 'null'],
            minimum: 0,
            description: 'bytes of the input read so far, for runs that read a file (CSV uploads); else null',
          },
          bytesTotal: {
            type: ['integer', 'null'],
            minimum: 0,
            description: 'size of the input in bytes (CSV uploads: the request body); else null',
          },
          percent: {
            type: ['integer', 'null'],
            minimum: 0,
            maximum: 100,
            description:
              'processed of total, else bytesRead of bytesTotal, as a whole percentage (a full snapshot: reading is the first half, the apply the second); at most 99 until the run ends applied (succeeded, completed_with_errors, applied) and 100 once it has; null when neither total is known',
          },
          applied: { type: ['integer', 'null'], minimum: 0, description: 'full snapshots: staged rows applied so far; else null' },
          applyTotal: {
            type: ['integer', 'null'],
            minimum: 0,
            description: 'full snapshots: staged rows to apply, once reading ended; else null',
          },
        },
        ['processed', 'total', 'bytesRead', 'bytesTotal', 'percent'],
      ),
      description: 'How far the run has got',
    },
    counts,
    errors: {
      type: 'array',
      items: obj({ line: { type: ['integer', 'null'] }, reason: str }),
      description: 'the first 100 row errors; GET /sync-runs/{id}/errors has all of them',
    },
    message: nullableStr,
    review: { oneOf: [{ type: 'null' }, obj({ existing: int, wouldRemove: int, wouldDeactivate: int, threshold: { type: 'number' } })] },
    createdAt: nullableStr,
    startedAt: nullableStr,
    finishedAt: nullableStr,
  }),
  SyncRunList: list('SyncRun'),
  SyncRunReview: obj({
    status: { enum: [...SYNC_RUN_STATUSES] },
    review: { oneOf: [{ type: 'null' }, obj({ existing: int, wouldRemove: int, wouldDeactivate: int, threshold: { type: 'number' } })] },
    items: { type: 'array', items: obj({ key: str, email: nullableStr, change: { enum: ['remove', 'deactivate'] } }) },
    nextCursor: nullableStr,
  }),
  UploadAccepted: obj({ syncRunId: str }),
  ColumnMapping: obj({
    connectionId: str,
    mapping: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: COLUMN_TARGET_PATTERN },
      description:
        'CSV header → email | status | groups | action | ignore | custom:<name> | an attribute name; headers not named are detected',
    },
  }),
  UploadDryRun: obj({
    dryRun: { const: true },
    connectionId: str,
    mode: { enum: ['full', 'delta'] },
    encoding: str,
    delimiter: str,
    columns: {
      type: 'array',
      items: obj(
        {
          header: str,
          target: { type: 'string', pattern: COLUMN_TARGET_PATTERN },
          how: { enum: ['explicit', 'detected', 'ignored'] },
          note: str,
        },
        ['header', 'target', 'how'],
      ),
      description:
        'every column of the file, in order: its target and how it was chosen (the connection mapping, detection by its words, or no header)',
    },
    unusedMapping: { type: 'array', items: str, description: 'mapping entries naming no header of this file' },
    counts: {
      ...obj(Object.fromEntries(['rows', 'created', 'updated', 'unchanged', 'deactivated', 'removed', 'rejected'].map((k) => [k, int]))),
      description: 'what the sync run would count (rows: data rows read)',
    },
    rejectedRows: {
      type: 'array',
      items: obj({ line: { type: ['integer', 'null'] }, reason: str }),
      description: 'the first rejected rows',
    },
    guard: obj({
      held: { type: 'boolean', description: 'the mass-removal guard would hold the run for review' },
      reason: nullableStr,
      existing: int,
      wouldRemove: int,
      wouldDeactivate: int,
      threshold: { type: 'number' },
    }),
  }),
  Group: obj({ id: str, name: str, connectionId: str, memberGroups: { type: 'array', items: str } }),
  GroupList: list('Group'),
  Segment: obj({
    id: str,
    name: str,
    filter: { type: 'string', description: 'SCIM filter syntax' },
    createdAt: nullableStr,
    updatedAt: nullableStr,
  }),
  SegmentList: list('Segment'),
  Audience: obj({ id: str, name: str, include: selection, exclude: selection, createdAt: nullableStr, updatedAt: nullableStr }),
  AudienceList: list('Audience'),
  Preview: obj({ count: int, sample: { type: 'array', items: ref('Recipient') } }),
  AuditEvent: obj({
    id: str,
    actor: { type: 'string', description: "who made the change: the API token's name when it has one, else its id, or cli" },
    actorId: { type: 'string', description: 'the API token id, or cli' },
    action: str,
    target: nullableStr,
    details: {},
    createdAt: str,
  }),
  AuditEventList: list('AuditEvent'),
  Event: {
    ...obj(
      {
        id: { type: 'string', description: 'unique; the webhook-id of its deliveries (idempotency key)' },
        type: { enum: [...EVENT_TYPES] },
        createdAt: str,
        orgId: str,
        connectionId: { type: 'string', description: 'the connection whose change this is, when one is' },
        cursor: { type: 'string', description: 'the position of this event in the feed' },
        data: {
          type: 'object',
          description:
            'ids, email and changed attribute names; with include=object (or a webhook with includeObject) also the full object as data.object',
        },
      },
      ['id', 'type', 'createdAt', 'orgId', 'cursor', 'data'],
    ),
  },
  EventPage: obj({
    items: { type: 'array', items: ref('Event') },
    nextCursor: { type: 'string', description: 'pass as after= to read on (also when this page is empty)' },
    hasMore: { type: 'boolean' },
  }),
  Webhook: obj({
    id: str,
    url: str,
    types: { type: 'array', items: { enum: [...EVENT_TYPES] }, description: 'empty: every type' },
    enabled: { type: 'boolean' },
    includeObject: { type: 'boolean' },
    cursor: { type: 'string', description: 'delivered up to this event cursor' },
    failedAttempts: int,
    nextAttemptAt: nullableStr,
    disabledReason: nullableStr,
    createdAt: str,
    updatedAt: str,
  }),
  WebhookList: list('Webhook'),
  WebhookDelivery: obj({
    id: str,
    eventId: str,
    eventType: str,
    cursor: str,
    attempt: int,
    outcome: { enum: ['sending', 'delivered', 'failed', 'refused'] },
    status: { type: ['integer', 'null'] },
    latencyMs: { type: ['integer', 'null'] },
    error: nullableStr,
    createdAt: str,
  }),
  WebhookDeliveryList: list('WebhookDelivery'),
  AudienceChanges: obj({
    items: { type: 'array', items: obj({ recipientId: str, email: str, change: { enum: ['entered', 'left'] } }) },
    nextCursor: { type: 'string', description: 'the feed position these changes reach; pass as after= next time' },
    hasMore: { type: 'boolean' },
  }),
};
schemas.WebhookCreated = {
  ...schemas.Webhook,
  properties: {
    ...(schemas.Webhook!.properties as Record<string, Schema>),
    secret: { type: 'string', pattern: '^whsec_', description: 'the Standard Webhooks signing secret, shown once' },
  },
  required: [...(schemas.Webhook!.required as string[]), 'secret'],
};

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const common = {
  '400': problem('invalid request (body, query, filter or reference)'),
  '401': problem('missing or invalid token'),
  '403': problem('the token role does not allow this'),
  '503': problem('the store is unreachable'),
};
const withId = { ...common, '404': problem('no such resource in this organization') };
const ok = (status: number, schema: string, description = 'OK') => ({ [String(status)]: { description, content: json(ref(schema)) } });
const noContent = { '204': { description: 'done' } };
const idParam = [{ name: 'id', in: 'path', required: true, schema: str }];
const pageParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
  { name: 'cursor', in: 'query', schema: str, description: 'nextCursor of the previous page' },
];
const body = (schema: Schema) => ({ required: true, content: json(schema) });

function op(summary: string, responses: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { summary, responses, ...extra };
}

const connectionCreate: Schema = {
  oneOf: [
    obj(
      {
        type: { const: 'scim' },
        name: str,
        provider: { enum: [...SCIM_PROVIDERS] },
        extendedAttributes: { type: 'boolean' },
        massRemovalThreshold: { type: 'number' },
        interopProfile: interopProfileSchema,
        customAttributes: customAttributesSchema,
      },
      ['type'],
    ),
    obj({ type: { const: 'sftp' }, name: str, publicKeys: { type: 'array', items: str }, massRemovalThreshold: { type: 'number' } }, [
      'type',
    ]),
    obj(
      {
        type: { const: 'hris' },
        name: str,
        accessToken: str,
        mode: { enum: ['automated', 'assisted'] },
        schedule: str,
        massRemovalThreshold: { type: 'number' },
      },
      ['type', 'accessToken'],
    ),
    obj({ type: { const: 'csv' }, name: str, massRemovalThreshold: { type: 'number' } }, ['type']),
    obj({ type: { const: 'manual' }, name: str }, ['type']),
  ],
};

export function openApiDocument(publicUrl: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'audience-sync Admin API',
      version: '1.0.0',
      description:
        'Audiences, recipients, CSV uploads and connections. Bearer tokens are scoped to one organization with a role: owners manage tokens; owners and admins manage connections, uploads, sync runs, segments and audiences; members read recipients, groups, segments and audiences with the recipients:read permission. Resources of another organization answer 404. Errors are RFC 9457 problem documents. A method a documented path does not list answers 405 with an Allow header naming the methods it has (OPTIONS answers 204 with the same header); a path not documented here answers 404.',
    },
    servers: [{ url: `${publicUrl}/api/v1` }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas,
      responses: {
        MethodNotAllowed: {
          ...problem('the path exists but not with this method; Allow lists its methods'),
          headers: { Allow: { schema: str } },
        },
      },
    },
    paths: {
      '/organization': {
        get: op('The organization of the token and its merge settings', { ...ok(200, 'Organization'), ...common }),
        patch: op(
          'Change the name or the attribute priority (connection types, highest first); people are re-derived',
          { ...ok(200, 'Organization'), ...common },
          {
            requestBody: body(obj({ name: str, attributePriority: { type: 'array', items: { enum: [...CONNECTION_TYPES] } } }, [])),
          },
        ),
      },
      '/tokens': {
        post: op(
          'Create an API token (owner); the token is shown once',
          { ...ok(201, 'TokenCreated'), ...common },
          {
            requestBody: body(
              obj({ role: { enum: [...ROLES] }, permissions: { type: 'array', items: { enum: [...PERMISSIONS] } }, name: str }, ['role']),
            ),
          },
        ),
        get: op('List API tokens (owner)', { ...ok(200, 'TokenList'), ...common }),
      },
      '/tokens/{id}': {
        parameters: idParam,
        delete: op('Revoke an API token (owner); the last owner token of the organization cannot be revoked', {
          ...noContent,
          ...withId,
          '409': problem('this is the last owner token of the organization; create another owner token first'),
        }),
      },
      '/connections': {
        post: op(
          'Create a connection; secrets (SCIM token, SFTP password) are shown once',
          { ...ok(201, 'ConnectionCreated'), ...common },
          { requestBody: body(connectionCreate) },
        ),
        get: op('List connections', { ...ok(200, 'ConnectionList'), ...common }),
      },
      '/connections/{id}': {
        parameters: idParam,
        get: op('Read a connection', { ...ok(200, 'Connection'), ...withId }),
        patch: op(
          'Change settings: name, extendedAttributes, interopProfile and customAttributes (scim), massRemovalThreshold, schedule and mode (hris)',
          { ...ok(200, 'Connection'), ...withId },
          {
            requestBody: body(
              obj(
                {
                  name: str,
                  extendedAttributes: { type: 'boolean' },
                  massRemovalThreshold: { type: 'number', minimum: 0, maximum: 1 },
                  schedule: { type: ['string', 'null'], pattern: '^[1-9][0-9]{0,3}(m|h|d)$' },
                  mode: { enum: ['automated', 'assisted'] },
                  interopProfile: interopProfileSchema,
                  customAttributes: customAttributesSchema,
                },
                [],
              ),
            ),
          },
        ),
        delete: op('Delete a connection and everything it asserted', { ...noContent, ...withId }),
      },
      '/connections/{id}/sync': {
        parameters: idParam,
        post: op('Start an on-demand sync of an automated hris connection (the worker runs it; follow the sync run)', {
          ...ok(202, 'UploadAccepted', 'queued (or the run already queued or running); follow the sync run'),
          ...withId,
          '400': problem('not an hris connection'),
          '409': problem('assisted connections have no on-demand sync'),
        }),
      },
      '/connections/{id}/rotate-token': {
        parameters: idParam,
        post: op('Issue a new SCIM bearer token (scim)', { ...ok(200, 'RotatedToken'), ...withId }),
      },
      '/connections/{id}/credentials': {
        parameters: idParam,
        post: op(
          'Set SFTP credentials (a new password, public keys) or a new Finch access token (hris)',
          { ...ok(200, 'Credentials'), ...withId },
          {
            requestBody: body(obj({ password: { const: true }, publicKeys: { type: 'array', items: str }, accessToken: str }, [])),
          },
        ),
      },
      '/connections/{id}/uploads': {
        parameters: [
          ...idParam,
          { name: 'mode', in: 'query', required: true, schema: { enum: ['full', 'delta'] } },
          { name: 'filename', in: 'query', schema: str },
          {
            name: 'dryRun',
            in: 'query',
            schema: { enum: ['true', 'false'] },
            description: 'true: answer 200 with what the upload would do and change nothing (also on sftp connections)',
          },
        ],
        post: op(
          'Upload a CSV to a csv connection (streamed); processing continues after the answer. Encoding: a byte-order mark, else the charset of Content-Type, else UTF-8 when valid, else Windows-1252. Delimiter , ; tab or | (detected). Headers are matched to the attribute set by their words (Workday, BambooHR, ADP, UKG, Rippling, HiBob, Personio, Gusto, Paylocity, Namely exports; the best column for a target wins, ties take nothing and tied email columns refuse the file), after the connection column mapping (PUT /connections/{id}/column-mapping); unknown columns become custom.<name>; optional status, groups (names separated by ; or |) and action (delete) columns',
          {
            ...ok(202, 'UploadAccepted', 'accepted; follow the sync run'),
            ...ok(200, 'UploadDryRun', 'dryRun=true: the columns, counts, first rejected rows and the guard verdict; nothing was stored'),
            ...withId,
            '413': problem('the file is too large'),
            '415': problem('not a CSV media type'),
            '422': problem(
              'the file cannot be read as a whole (binary, undecodable, no email column, ambiguous email columns); nothing was applied',
            ),
          },
          { requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } } },
        ),
      },
      '/connections/{id}/column-mapping': {
        parameters: idParam,
        get: op('The explicit column mapping of a csv or sftp connection', { ...ok(200, 'ColumnMapping'), ...withId }),
        put: op(
          'Replace the column mapping of a csv or sftp connection ({} clears it); it overrides header detection for the headers it names',
          { ...ok(200, 'ColumnMapping'), ...withId },
          {
            requestBody: body(
              obj({
                mapping: {
                  type: 'object',
                  propertyNames: { minLength: 1, maxLength: 200 },
                  additionalProperties: { type: 'string', minLength: 1 },
                  maxProperties: 500,
                },
              }),
            ),
          },
        ),
      },
      '/recipients': {
        get: op(
          'List recipients (SCIM filter over recipient fields and attributes; cursor pagination in id order)',
          { ...ok(200, 'RecipientList'), ...common },
          {
            parameters: [
              { name: 'filter', in: 'query', schema: str, description: 'e.g. department_name eq "Sales" and country eq "US"' },
              ...pageParams,
            ],
          },
        ),
        post: op(
          'Add one individual (a manual source)',
          { ...ok(201, 'Recipient', 'created'), ...ok(200, 'Recipient', 'the manual entry existed and was updated'), ...common },
          {
            requestBody: body(obj({ email: str, firstName: str, lastName: str, attributes }, ['email'])),
          },
        ),
      },
      '/recipients/{id}': {
        parameters: idParam,
        get: op('Read a recipient with its sources and groups, named (id, or an email)', { ...ok(200, 'RecipientDetail'), ...withId }),
      },
      '/recipients/{id}/manual': {
        parameters: idParam,
        delete: op('Remove the manual source of a recipient (other sources stay)', { ...noContent, ...withId }),
      },
      '/sync-runs': {
        get: op(
          'List sync runs, newest first',
          { ...ok(200, 'SyncRunList'), ...common },
          { parameters: [{ name: 'connectionId', in: 'query', schema: str }, ...pageParams] },
        ),
      },
      '/sync-runs/{id}': {
        parameters: idParam,
        get: op('Read a sync run: status, progress, counts, first row errors', { ...ok(200, 'SyncRun'), ...withId }),
      },
      '/sync-runs/{id}/errors': {
        parameters: [
          ...idParam,
          {
            name: 'bom',
            in: 'query',
            schema: { enum: ['true', 'false', '1', '0'] },
            description: 'true: start with a UTF-8 byte-order mark (Excel)',
          },
        ],
        get: op('Every row error of a run as a streamed CSV (line, reason)', {
          '200': { description: 'OK', content: { 'text/csv': { schema: { type: 'string' } } } },
          ...withId,
        }),
      },
      '/sync-runs/{id}/review': {
        parameters: [...idParam, ...pageParams],
        get: op('Who a run held by the mass-removal guard would remove or deactivate (paged)', { ...ok(200, 'SyncRunReview'), ...withId }),
      },
      '/sync-runs/{id}/apply': {
        parameters: idParam,
        post: op('Apply a run held by the mass-removal guard', {
          ...ok(200, 'SyncRun'),
          ...withId,
          '409': problem('the run is not held for review'),
        }),
      },
      '/sync-runs/{id}/discard': {
        parameters: idParam,
        post: op('Discard a run held by the mass-removal guard', {
          ...ok(200, 'SyncRun'),
          ...withId,
          '409': problem('the run is not held for review'),
        }),
      },
      '/groups': {
        get: op(
          'List groups',
          { ...ok(200, 'GroupList'), ...common },
          { parameters: [{ name: 'connectionId', in: 'query', schema: str }, ...pageParams] },
        ),
      },
      '/groups/{id}': { parameters: idParam, get: op('Read a group', { ...ok(200, 'Group'), ...withId }) },
      '/groups/{id}/members': {
        parameters: [...idParam, ...pageParams],
        get: op('Members of a group and of its nested groups', { ...ok(200, 'RecipientList'), ...withId }),
      },
      '/segments': {
        post: op('Create a segment', { ...ok(201, 'Segment'), ...common }, { requestBody: body(obj({ name: str, filter: str })) }),
        get: op('List segments', { ...ok(200, 'SegmentList'), ...common }, { parameters: pageParams }),
      },
      '/segments/{id}': {
        parameters: idParam,
        get: op('Read a segment', { ...ok(200, 'Segment'), ...withId }),
        patch: op('Change a segment', { ...ok(200, 'Segment'), ...withId }, { requestBody: body(obj({ name: str, filter: str }, [])) }),
        delete: op('Delete a segment no audience uses', { ...noContent, ...withId, '409': problem('audiences use this segment') }),
      },
      '/segments/{id}/recipients': {
        parameters: [...idParam, ...pageParams],
        get: op('Recipients matching a segment', { ...ok(200, 'RecipientList'), ...withId }),
      },
      '/audiences': {
        post: op(
          'Create an audience',
          { ...ok(201, 'Audience'), ...common },
          { requestBody: body(obj({ name: str, include: selectionIn, exclude: selectionIn }, ['name'])) },
        ),
        get: op('List audiences', { ...ok(200, 'AudienceList'), ...common }, { parameters: pageParams }),
      },
      '/audiences/{id}': {
        parameters: idParam,
        get: op('Read an audience', { ...ok(200, 'Audience'), ...withId }),
        patch: op(
          'Change an audience',
          { ...ok(200, 'Audience'), ...withId },
          { requestBody: body(obj({ name: str, include: selectionIn, exclude: selectionIn }, [])) },
        ),
        delete: op('Delete an audience', { ...noContent, ...withId }),
      },
      '/audiences/{id}/recipients': {
        parameters: [
          ...idParam,
          ...pageParams,
          {
            name: 'bom',
            in: 'query',
            schema: { enum: ['true', 'false', '1', '0'] },
            description: 'CSV: true starts the file with a UTF-8 byte-order mark (Excel)',
          },
        ],
        get: op(
          "The distinct active recipients of an audience; with Accept: text/csv, a streamed CSV of all of them (cells that a spreadsheet would run as formulas, starting with = + - @ tab or CR, are prefixed with ' and quoted)",
          {
            '200': { description: 'OK', content: { ...json(ref('RecipientList')), 'text/csv': { schema: { type: 'string' } } } },
            ...withId,
          },
        ),
      },
      '/audiences/{id}/preview': {
        parameters: [...idParam, { name: 'sample', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 100, default: 10 } }],
        get: op('Count and a sample of an audience', { ...ok(200, 'Preview'), ...withId }),
      },
      '/audiences/{id}/changes': {
        parameters: [
          ...idParam,
          {
            name: 'after',
            in: 'query',
            schema: { type: 'string', pattern: '^[0-9]+$' },
            description: 'a feed cursor (nextCursor of the previous call)',
          },
        ],
        get: op(
          'Who entered and who left the audience since a cursor, netted per person (applied in order, pages take the membership at after to the membership at nextCursor)',
          {
            ...ok(200, 'AudienceChanges'),
            ...withId,
            '410': problem('the cursor is older than the retention'),
          },
        ),
      },
      '/audit-events': {
        get: op(
          'Changes administrators made, newest first',
          { ...ok(200, 'AuditEventList'), ...common },
          {
            parameters: [{ name: 'action', in: 'query', schema: str }, { name: 'target', in: 'query', schema: str }, ...pageParams],
          },
        ),
      },
      '/events': {
        get: op(
          'The change feed in order (keyset pages); members need recipients:read',
          { ...ok(200, 'EventPage'), ...common, '410': problem('the cursor is older than the retention (EVENT_RETENTION_DAYS)') },
          {
            parameters: [
              {
                name: 'after',
                in: 'query',
                schema: { type: 'string', pattern: '^[0-9]+$' },
                description: 'nextCursor of the previous page; absent: from the oldest event kept',
              },
              { name: 'types', in: 'query', schema: str, description: 'comma-separated event types' },
              { name: 'connectionId', in: 'query', schema: str },
              { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
              { name: 'include', in: 'query', schema: { enum: ['object'] }, description: 'object: full objects in data.object' },
            ],
          },
        ),
      },
      '/webhooks': {
        post: op(
          'Create a webhook endpoint; the whsec_ signing secret is shown once. Deliveries follow Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), one event per request, in order, retried with backoff for about a day, then the endpoint is disabled',
          { ...ok(201, 'WebhookCreated'), ...common },
          {
            requestBody: body(
              obj(
                {
                  url: str,
                  types: { type: 'array', items: { enum: [...EVENT_TYPES] } },
                  enabled: { type: 'boolean' },
                  includeObject: { type: 'boolean' },
                },
                ['url'],
              ),
            ),
          },
        ),
        get: op('List webhook endpoints', { ...ok(200, 'WebhookList'), ...common }),
      },
      '/webhooks/{id}': {
        parameters: idParam,
        get: op('Read a webhook endpoint', { ...ok(200, 'Webhook'), ...withId }),
        patch: op(
          'Change url, types, enabled (enabling resumes where it stopped), includeObject',
          { ...ok(200, 'Webhook'), ...withId },
          {
            requestBody: body(
              obj(
                {
                  url: str,
                  types: { type: 'array', items: { enum: [...EVENT_TYPES] } },
                  enabled: { type: 'boolean' },
                  includeObject: { type: 'boolean' },
                },
                [],
              ),
            ),
          },
        ),
        delete: op('Delete a webhook endpoint', { ...noContent, ...withId }),
      },
      '/webhooks/{id}/replay': {
        parameters: [...idParam, { name: 'after', in: 'query', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } }],
        post: op('Deliver again every event after a cursor', { ...ok(202, 'Webhook', 'accepted; deliveries follow'), ...withId }),
      },
      '/webhooks/{id}/deliveries': {
        parameters: [...idParam, ...pageParams],
        get: op('The delivery log of an endpoint, newest first (status, latency, attempt)', {
          ...ok(200, 'WebhookDeliveryList'),
          ...withId,
        }),
      },
    },
  };
}
