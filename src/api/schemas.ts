import { z } from 'zod';
import {
  CUSTOM_ATTRIBUTE_TYPES,
  INTEROP_PROFILES,
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
 * The shapes the admin API answers with, as zod schemas: the OpenAPI document's components (`openapi.ts` turns them into
 * JSON Schema) and what test/api/schemaCheck.ts holds every response of the route matrix to. A schema with an `id`
 * becomes `#/components/schemas/{id}`.
 *
 * Shared request pieces (names, cursors, numbers in the query) live here too, so a constraint is written once and the
 * document says exactly what the validator enforces.
 */

// ---------------------------------------------------------------------------------------------------------------------
// Request pieces

/**
 * The characters JavaScript's `trim()` removes. Spelled out instead of `\s`, whose meaning differs between regex engines
 * (a generated client or a test tool in Python must agree with the server on what a blank name is).
 */
const SPACE = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const NOT_BLANK = new RegExp(`[^${SPACE}]`);

/** A display name: at least one non-space character, at most 200 characters once trimmed (it is stored trimmed). */
export const nameInput = z
  .string()
  .min(1)
  .regex(NOT_BLANK, 'must not be blank')
  .transform((s) => s.trim())
  .pipe(z.string().max(200, 'must be at most 200 characters (trimmed)'))
  .meta({ pattern: NOT_BLANK.source, minLength: 1, maxLength: 200 });

/** An email address as the store reads one (src/store/email.ts), without surrounding spaces. */
export const EMAIL_PATTERN = `^[^@${SPACE}]+@[^@${SPACE}]+\\.[^@${SPACE}]+$`;

/**
 * A SCIM filter over recipient fields (segments, recipient lists); its grammar is checked by the store's translator.
 * `emptyMeansAll`: an empty value is read as no filter (the recipient list), else refused (a segment).
 */
export function filterInput(emptyMeansAll = false) {
  const text = emptyMeansAll ? z.string().max(4096) : z.string().min(1).max(4096).regex(NOT_BLANK, 'must not be blank');
  return text.meta({
    minLength: 1,
    description:
      'SCIM filter syntax over recipient fields: id, email, status, groups, firstName, lastName, the attribute names and custom.<name>; e.g. department_name eq "Sales" and country eq "US"',
    // The document describes a subset of the grammar (what a generated client may safely send): comparisons of a
    // field with a quoted string, or `pr`, joined by and/or. The server accepts the whole SCIM filter grammar.
    pattern: FILTER_SUBSET,
  });
}
const FIELD = `(?:id|email|status|groups|firstName|lastName|${FULL_ATTRIBUTE_SET.join('|')}|custom\\.[A-Za-z0-9_-]{1,64})`;
// Ordering operators apply to the case-exact fields only (the translator refuses them on the others).
const EXACT_FIELD = '(?:id|email|status|groups)';
const VALUE = '"[A-Za-z0-9 @._-]*"';
const COMPARISON = `(?:${EXACT_FIELD} (?:gt|ge|lt|le) ${VALUE}|${FIELD} (?:(?:eq|ne|co|sw|ew) ${VALUE}|pr))`;
const FILTER_SUBSET = `^${COMPARISON}(?: (?:and|or) ${COMPARISON})*$`;

/** The opaque page cursor (`nextCursor`): base64url, at most 400 characters; empty means the first page. */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]{0,400}$/;
export const pageCursor = z
  .string()
  .regex(CURSOR_PATTERN, 'the cursor is not one this API returned')
  .meta({ description: 'nextCursor of the previous page' });

/**
 * An integer query parameter. Only digits are read as a number: an empty value (`?limit=`), spaces or `1e2` are refused
 * with 400 rather than read as 0 or 100, so the parameter is exactly the document's integer.
 */
export function queryInt(name: string, min: number, max: number, byDefault?: number) {
  const int = z
    .number({ error: `${name} must be an integer` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);
  // zod's JSON Schema output of a preprocessed value is its inner schema's: the default is stated there for the document.
  const read = z.preprocess(
    (v) => (typeof v === 'string' && /^-?[0-9]{1,16}$/.test(v) ? Number(v) : v),
    byDefault === undefined ? int : int.meta({ default: byDefault }),
  );
  return byDefault === undefined ? read : read.default(byDefault);
}

/**
 * The answer of an operation that applies to some connection types only, asked of another type: the request is well
 * formed, but conflicts with the connection it names (409, like other state conflicts).
 */
export const wrongConnectionType = {
  409: { description: 'the connection is not of a type this applies to (wrong-connection-type)', problem: true },
} as const;

/** `limit` and `cursor` of a keyset-paged list. */
export const pageQuery = {
  limit: queryInt('limit', 1, 500, 50),
  cursor: pageCursor.optional(),
};

/** The `{id}` of a path. */
export const idParams = z.object({ id: z.string().min(1) });

/** A feed cursor of the event log (`nextCursor` of /events): digits. */
export const eventCursor = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'the cursor is not one this API returned')
  .transform(Number);

// ---------------------------------------------------------------------------------------------------------------------
// Responses

const str = z.string();
const nullableStr = z.string().nullable();
const count = z.number().int().min(0);
const connectionType = z.enum(CONNECTION_TYPES);
const list = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item), nextCursor: nullableStr });

export const Problem = z
  .looseObject({
    type: str,
    title: str,
    status: z.number().int(),
    detail: str.optional(),
    errors: z.array(z.strictObject({ path: str, message: str })).optional(),
    syncRunId: str.optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export const Attributes = z.strictObject({
  ...Object.fromEntries(FULL_ATTRIBUTE_SET.map((n) => [n, str.optional()])),
  custom: z.record(z.string(), str).optional(),
});

export const Organization = z
  .strictObject({
    id: str,
    name: str,
    attributePriority: z.array(connectionType),
    maxDirectoryConnections: count,
  })
  .meta({ id: 'Organization' });

const tokenFields = {
  id: str,
  role: z.enum(ROLES),
  permissions: z.array(z.enum(PERMISSIONS)),
  name: nullableStr,
  createdAt: nullableStr,
  lastUsedAt: nullableStr,
};
export const Token = z.strictObject(tokenFields).meta({ id: 'Token' });
export const TokenCreated = z.strictObject({ ...tokenFields, token: str.meta({ description: 'shown once' }) }).meta({ id: 'TokenCreated' });
export const TokenList = list(Token).meta({ id: 'TokenList' });

const hrisBlock = z.strictObject({
  mode: z.enum(['automated', 'assisted']),
  schedule: nullableStr,
  lastSyncAt: nullableStr,
  needsReauth: z
    .boolean()
    .meta({ description: 'Finch refused the access token (401): syncs wait for a new token (POST /connections/{id}/credentials)' }),
  reauthReason: nullableStr,
  lastRun: z.strictObject({ id: str, status: nullableStr }).nullable(),
  nextSyncAt: nullableStr.meta({ description: 'when the scheduler runs this connection next (with jitter)' }),
  lease: z
    .strictObject({ holder: str, acquiredAt: nullableStr, expiresAt: nullableStr })
    .nullable()
    .meta({ description: 'the process running a sync now (GET /connections/{id} only)' }),
  introspection: z
    .record(z.string(), z.unknown())
    .nullable()
    .meta({ description: "Finch's /introspect answer from the last run: providerId, products, connectionStatus, ..." }),
});

/** The fields of a connection; a new connection setting is added here (and in the route's request schemas). */
export const connectionFields = {
  id: str,
  type: connectionType,
  name: str,
  provider: nullableStr,
  extendedAttributes: z.boolean(),
  massRemovalThreshold: z.number().min(0).max(1),
  scimBaseUrl: nullableStr,
  scim11BaseUrl: nullableStr.meta({ description: "scim: the same connection in Okta's SCIM 1.1 dialect" }),
  sftp: z
    .strictObject({
      username: nullableStr,
      publicKeys: z.array(str),
      hostKeyFingerprint: nullableStr
        .optional()
        .meta({ description: 'detail only: SHA256 fingerprint of the SFTP host key (null before the SFTP daemon first started)' }),
      port: z.number().int().optional().meta({ description: 'detail only: the SFTP port' }),
    })
    .nullable(),
  hris: hrisBlock.nullable(),
  scim: z
    .strictObject({
      interopProfile: z.enum(INTEROP_PROFILES),
      customAttributes: z.array(z.strictObject({ name: str, type: z.enum(CUSTOM_ATTRIBUTE_TYPES), multiValued: z.boolean() })),
      unknownScimAttributes: z.array(z.strictObject({ name: str, firstSeenAt: nullableStr })).meta({
        description: 'attribute names the identity provider sent that no schema declares: ignored and not stored (a mapping to fix)',
      }),
    })
    .nullable()
    .meta({ description: 'scim: the interoperability-profile mode, declared custom attributes, and unknown attributes seen' }),
  createdAt: nullableStr,
  updatedAt: nullableStr,
};
export const Connection = z.strictObject(connectionFields).meta({ id: 'Connection' });
export const ConnectionCreated = z
  .strictObject({
    ...connectionFields,
    token: str.optional().meta({ description: 'scim: the bearer token, shown once' }),
    password: str.optional().meta({ description: 'sftp: the password, shown once' }),
  })
  .meta({ id: 'ConnectionCreated' });
export const ConnectionList = list(Connection).meta({ id: 'ConnectionList' });
export const RotatedToken = z.strictObject({ id: str, scimBaseUrl: str, scim11BaseUrl: str, token: str }).meta({ id: 'RotatedToken' });
export const Credentials = z
  .strictObject({ id: str, username: nullableStr.optional(), password: str.optional() })
  .meta({ id: 'Credentials' });

const recipientFields = {
  id: str,
  email: str,
  emailDisplay: str,
  firstName: nullableStr,
  lastName: nullableStr,
  status: z.enum(['active', 'inactive', 'offboarded']),
  attributes: Attributes,
  groups: z.array(str),
  sources: z.array(z.strictObject({ connectionId: str, type: connectionType, active: z.boolean() })),
  createdAt: nullableStr,
  updatedAt: nullableStr,
};
export const Recipient = z.strictObject(recipientFields).meta({ id: 'Recipient' });
export const RecipientList = list(Recipient).meta({ id: 'RecipientList' });
export const RecipientDetail = z
  .strictObject({
    ...recipientFields,
    groupDetails: z.array(z.strictObject({ id: str, name: nullableStr, connectionId: nullableStr })),
    sourceDetails: z.array(z.strictObject({ connectionId: str, type: connectionType, active: z.boolean(), name: nullableStr })),
    contributions: z
      .array(
        z.strictObject({
          connectionId: str,
          connectionName: nullableStr,
          type: connectionType,
          key: str,
          active: z.boolean(),
          tombstone: z.boolean().meta({
            description: 'the source removed the person (SCIM DELETE, absent from a full HRIS directory) and the offboarding holds',
          }),
          identitySource: z.boolean(),
          statusAssertedAt: nullableStr,
          latestIdentityAssertion: z
            .boolean()
            .meta({ description: 'the latest status an identity source asserted: it decides whether the person is offboarded' }),
        }),
      )
      .meta({
        description:
          'what every source says about the person, tombstones included; the latest status asserted by an identity source (scim, hris) decides offboarding',
      }),
  })
  .meta({ id: 'RecipientDetail' });

const counts = z.strictObject(
  Object.fromEntries(['created', 'updated', 'unchanged', 'deactivated', 'removed', 'rejected'].map((k) => [k, count])),
);
const review = z.strictObject({ existing: count, wouldRemove: count, wouldDeactivate: count, threshold: z.number() });
const rowError = z.strictObject({ line: z.number().int().nullable(), reason: str });
const optionalCount = z.number().int().min(0).nullable();

export const SyncRun = z
  .strictObject({
    id: str,
    connectionId: str,
    source: str,
    mode: z.enum(['full', 'delta']),
    label: nullableStr,
    status: z.enum(SYNC_RUN_STATUSES).meta({
      description:
        "queued → running → succeeded | completed_with_errors (applied; some rows rejected) | failed (e.g. every row was rejected, or interrupted before its apply) | needs_review → applying → applied, or needs_review → discarded; pending (HRIS: the provider's data was not ready, nothing changed). Only forward",
    }),
    phase: z
      .enum(SYNC_RUN_PHASES)
      .nullable()
      .meta({ description: 'a running full snapshot: read, stage, guard or apply (an interrupted apply resumes after restart)' }),
    progress: z
      .strictObject({
        processed: count.meta({
          description: 'rows handled so far (applied, staged or rejected); HRIS syncs: people read in the current phase',
        }),
        phase: nullableStr.optional().meta({ description: 'HRIS syncs only: introspect, directory, individuals, employments or merge' }),
        pages: optionalCount.optional().meta({ description: 'HRIS syncs only: directory pages fetched' }),
        total: optionalCount.meta({
          description: 'rows the input holds, when known before processing (CSV uploads: counted when the file is checked); else null',
        }),
        bytesRead: optionalCount.meta({
          description: 'bytes of the input read so far, for runs that read a file (CSV uploads); else null',
        }),
        bytesTotal: optionalCount.meta({ description: 'size of the input in bytes (CSV uploads: the request body); else null' }),
        percent: z.number().int().min(0).max(100).nullable().meta({
          description:
            'processed of total, else bytesRead of bytesTotal, as a whole percentage (a full snapshot: reading is the first half, the apply the second); at most 99 until the run ends applied (succeeded, completed_with_errors, applied) and 100 once it has; null when neither total is known',
        }),
        applied: optionalCount.optional().meta({ description: 'full snapshots: staged rows applied so far; else null' }),
        applyTotal: optionalCount.optional().meta({ description: 'full snapshots: staged rows to apply, once reading ended; else null' }),
      })
      .meta({ description: 'How far the run has got' }),
    counts,
    errors: z.array(rowError).meta({ description: 'the first 100 row errors; GET /sync-runs/{id}/errors has all of them' }),
    message: nullableStr,
    review: review.nullable(),
    createdAt: nullableStr,
    startedAt: nullableStr,
    finishedAt: nullableStr,
  })
  .meta({ id: 'SyncRun' });
export const SyncRunList = list(SyncRun).meta({ id: 'SyncRunList' });
export const SyncRunReview = z
  .strictObject({
    status: z.enum(SYNC_RUN_STATUSES),
    review: review.nullable(),
    items: z.array(z.strictObject({ key: str, email: nullableStr, change: z.enum(['remove', 'deactivate']) })),
    nextCursor: nullableStr,
  })
  .meta({ id: 'SyncRunReview' });
export const UploadAccepted = z.strictObject({ syncRunId: str }).meta({ id: 'UploadAccepted' });

/** A column target as a mapping names it. */
export const COLUMN_TARGET_PATTERN = `^(email|status|groups|action|ignore|custom:[a-z0-9_]+|${FULL_ATTRIBUTE_SET.join('|')})$`;
const columnTarget = z.string().regex(new RegExp(COLUMN_TARGET_PATTERN));

export const ColumnMapping = z
  .strictObject({
    connectionId: str,
    mapping: z.record(z.string(), columnTarget).meta({
      description:
        'CSV header → email | status | groups | action | ignore | custom:<name> | an attribute name; headers not named are detected',
    }),
  })
  .meta({ id: 'ColumnMapping' });

export const UploadDryRun = z
  .strictObject({
    dryRun: z.literal(true),
    connectionId: str,
    mode: z.enum(['full', 'delta']),
    encoding: str,
    delimiter: str,
    columns: z
      .array(z.strictObject({ header: str, target: columnTarget, how: z.enum(['explicit', 'detected', 'ignored']), note: str.optional() }))
      .meta({
        description:
          'every column of the file, in order: its target and how it was chosen (the connection mapping, detection by its words, or no header)',
      }),
    unusedMapping: z.array(str).meta({ description: 'mapping entries naming no header of this file' }),
    counts: z
      .strictObject(
        Object.fromEntries(['rows', 'created', 'updated', 'unchanged', 'deactivated', 'removed', 'rejected'].map((k) => [k, count])),
      )
      .meta({ description: 'what the sync run would count (rows: data rows read)' }),
    rejectedRows: z.array(rowError).meta({ description: 'the first rejected rows' }),
    guard: z.strictObject({
      held: z.boolean().meta({ description: 'the mass-removal guard would hold the run for review' }),
      reason: nullableStr,
      existing: count,
      wouldRemove: count,
      wouldDeactivate: count,
      threshold: z.number(),
    }),
  })
  .meta({ id: 'UploadDryRun' });

export const Group = z.strictObject({ id: str, name: str, connectionId: str, memberGroups: z.array(str) }).meta({ id: 'Group' });
export const GroupList = list(Group).meta({ id: 'GroupList' });

export const Segment = z
  .strictObject({
    id: str,
    name: str,
    filter: str.meta({ description: 'SCIM filter syntax' }),
    createdAt: nullableStr,
    updatedAt: nullableStr,
  })
  .meta({ id: 'Segment' });
export const SegmentList = list(Segment).meta({ id: 'SegmentList' });

const selection = z.strictObject({ groups: z.array(str), segments: z.array(str), recipients: z.array(str) });
export const Audience = z
  .strictObject({ id: str, name: str, include: selection, exclude: selection, createdAt: nullableStr, updatedAt: nullableStr })
  .meta({ id: 'Audience' });
export const AudienceList = list(Audience).meta({ id: 'AudienceList' });
export const Preview = z.strictObject({ count, sample: z.array(Recipient) }).meta({ id: 'Preview' });

export const AuditEvent = z
  .strictObject({
    id: str,
    actor: str.meta({ description: "who made the change: the API token's name when it has one, else its id, or cli" }),
    actorId: str.meta({ description: 'the API token id, or cli' }),
    action: str,
    target: nullableStr,
    details: z.unknown(),
    createdAt: str,
  })
  .meta({ id: 'AuditEvent' });
export const AuditEventList = list(AuditEvent).meta({ id: 'AuditEventList' });

export const Event = z
  .strictObject({
    id: str.meta({ description: 'unique; the webhook-id of its deliveries (idempotency key)' }),
    type: z.enum(EVENT_TYPES),
    createdAt: str,
    orgId: str,
    connectionId: str.optional().meta({ description: 'the connection whose change this is, when one is' }),
    cursor: str.meta({ description: 'the position of this event in the feed' }),
    data: z.record(z.string(), z.unknown()).meta({
      description:
        'ids, email and changed attribute names; with include=object (or a webhook with includeObject) also the full object as data.object',
    }),
  })
  .meta({ id: 'Event' });
export const EventPage = z
  .strictObject({
    items: z.array(Event),
    nextCursor: str.meta({ description: 'pass as after= to read on (also when this page is empty)' }),
    hasMore: z.boolean(),
  })
  .meta({ id: 'EventPage' });

const webhookFields = {
  id: str,
  url: str,
  types: z.array(z.enum(EVENT_TYPES)).meta({ description: 'empty: every type' }),
  enabled: z.boolean(),
  includeObject: z.boolean(),
  cursor: str.meta({ description: 'delivered up to this event cursor' }),
  failedAttempts: count,
  nextAttemptAt: nullableStr,
  disabledReason: nullableStr,
  createdAt: str,
  updatedAt: str,
};
export const Webhook = z.strictObject(webhookFields).meta({ id: 'Webhook' });
export const WebhookCreated = z
  .strictObject({
    ...webhookFields,
    secret: z
      .string()
      .regex(/^whsec_/)
      .meta({ description: 'the Standard Webhooks signing secret, shown once' }),
  })
  .meta({ id: 'WebhookCreated' });
export const WebhookList = list(Webhook).meta({ id: 'WebhookList' });
export const WebhookDelivery = z
  .strictObject({
    id: str,
    eventId: str,
    eventType: str,
    cursor: str,
    attempt: count,
    outcome: z.enum(['sending', 'delivered', 'failed', 'refused']),
    status: z.number().int().nullable(),
    latencyMs: z.number().int().nullable(),
    error: nullableStr,
    createdAt: str,
  })
  .meta({ id: 'WebhookDelivery' });
export const WebhookDeliveryList = list(WebhookDelivery).meta({ id: 'WebhookDeliveryList' });

export const AudienceChanges = z
  .strictObject({
    items: z.array(z.strictObject({ recipientId: str, email: str, change: z.enum(['entered', 'left']) })),
    nextCursor: str.meta({ description: 'the feed position these changes reach; pass as after= next time' }),
    hasMore: z.boolean(),
  })
  .meta({ id: 'AudienceChanges' });

export { SCIM_PROVIDERS };
