import type { ScimContext } from './context';
import { badRequest, errorBody, ScimError, storeUnavailable, toScimError } from './errors';
import type { ScimResult } from './http';
import { isObject, scalarText, type Json } from './normalize';
import { dispatch, type ScimRequest } from './operations';
import { BULK_MAX_OPERATIONS, BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA } from './schemas';

const BULK_ID_RE = /bulkId:([^"/\s]+)/g;

/** Replaces `bulkId:x` references (in paths and anywhere in data) with the ids created earlier in the request. */
function resolveRefs<T>(value: T, ids: Map<string, string>, missing: Set<string>): T {
  if (typeof value === 'string') {
    return value.replace(BULK_ID_RE, (whole, ref: string) => {
      const id = ids.get(ref);
      if (!id) missing.add(ref);
      return id ?? whole;
    }) as T;
  }
  if (Array.isArray(value)) return (value as unknown[]).map((v) => resolveRefs(v, ids, missing)) as T;
  if (isObject(value)) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveRefs(v, ids, missing);
    return out as T;
  }
  return value;
}

/** An operation left undone by a store outage earlier in the request. */
function notAttempted(raw: unknown): Json {
  const op = isObject(raw) ? raw : {};
  const bulkId = typeof op.bulkId === 'string' ? op.bulkId : undefined;
  const err = storeUnavailable();
  return {
    method: scalarText(op.method).toUpperCase(),
    ...(bulkId ? { bulkId } : {}),
    status: String(err.status),
    response: errorBody(err.status, `not attempted: ${err.message}`, err.scimType),
  };
}

/**
 * RFC 7644 §3.7: operations in order, `bulkId` references, `failOnErrors`.
 *
 * Operations are not one transaction (the RFC does not ask for one): each is atomic on its own, and those done before
 * a store outage stay done and are reported with their status. The operation the outage interrupted and every one not
 * yet attempted are reported with status 503, never as done, so the client retries exactly those. An unexpected failure
 * (a bug) answers 500 for the operation it hit only, and counts as an error for `failOnErrors`.
 */
export async function runBulk(
  ctx: ScimContext,
  body: unknown,
  maxPayloadSize: number,
  run: (r: ScimRequest) => Promise<ScimResult> = (r) => dispatch(ctx, r),
): Promise<ScimResult> {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a BulkRequest object');
  const schemas = body.schemas;
  if (Array.isArray(schemas) && !schemas.includes(BULK_REQUEST_SCHEMA))
    throw badRequest('invalidSyntax', `"schemas" must contain ${BULK_REQUEST_SCHEMA}`);
  const ops = body.Operations ?? body.operations;
  if (!Array.isArray(ops)) throw badRequest('invalidSyntax', '"Operations" must be a list');
  if (ops.length > BULK_MAX_OPERATIONS) {
    throw new ScimError(413, `a bulk request may hold at most ${BULK_MAX_OPERATIONS} operations`, 'tooMany');
  }
  const failOnErrors = typeof body.failOnErrors === 'number' && body.failOnErrors > 0 ? body.failOnErrors : Infinity;
  const ids = new Map<string, string>();
  const results: Json[] = [];
  let errors = 0;
  let storeDown = false;
  for (const raw of ops) {
    if (errors >= failOnErrors) break;
    const op = isObject(raw) ? raw : {};
    const method = scalarText(op.method).toUpperCase();
    const bulkId = typeof op.bulkId === 'string' ? op.bulkId : undefined;
    const out: Json = { method, ...(bulkId ? { bulkId } : {}) };
    try {
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method))
        throw badRequest('invalidSyntax', '"method" must be POST, PUT, PATCH or DELETE');
      if (typeof op.path !== 'string' || !op.path.startsWith('/'))
        throw badRequest('invalidSyntax', '"path" must be a resource path such as /Users');
      if (method === 'POST' && !bulkId) throw badRequest('invalidSyntax', 'a POST operation needs a "bulkId"');
      const missing = new Set<string>();
      const path = resolveRefs(op.path, ids, missing);
      const data = resolveRefs(op.data, ids, missing);
      if (missing.size) throw new ScimError(409, `unresolved bulkId reference(s): ${[...missing].join(', ')}`, 'invalidValue');
      const res = await run({
        method,
        path,
        query: {},
        body: data,
        pre: typeof op.version === 'string' ? { ifMatch: op.version } : {},
        maxPayloadSize,
      });
      const resBody = isObject(res.body) ? res.body : undefined;
      if (method === 'POST' && bulkId && typeof resBody?.id === 'string') ids.set(bulkId, resBody.id);
      if (res.headers?.Location) out.location = res.headers.Location;
      else if (method !== 'POST') out.location = `${ctx.baseUrl}${path}`;
      if (res.headers?.ETag) out.version = res.headers.ETag;
      out.status = String(res.status);
    } catch (caught) {
      let err = toScimError(caught);
      if (!err) {
        // A bug hit by this operation: it alone answers 500; those before it keep the status they really had.
        ctx.logger.error({ err: caught, method, operation: results.length + 1 }, 'scim bulk operation failed');
        err = new ScimError(500, 'internal error');
      }
      errors++;
      out.status = String(err.status);
      out.response = errorBody(err.status, err.message, err.scimType);
    }
    results.push(out);
    if (out.status === '503') {
      storeDown = true;
      for (const rest of ops.slice(results.length)) results.push(notAttempted(rest));
      break;
    }
  }
  const headers = storeDown ? storeUnavailable().headers : undefined;
  return { status: 200, body: { schemas: [BULK_RESPONSE_SCHEMA], Operations: results }, ...(headers ? { headers } : {}) };
}
