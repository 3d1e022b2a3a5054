import express, { type RequestHandler } from 'express';

/**
 * Deepest JSON nesting a SCIM body may have. A resource with an extension, a Bulk operation holding it or a PATCH value
 * stays under 10; 64 leaves room for any real client while keeping every recursive walk over a body (copies,
 * `bulkId` resolution, `JSON.stringify`) far from the stack's limit.
 */
export const MAX_JSON_DEPTH = 64;

/** The error the body parser reports for a body nested deeper than MAX_JSON_DEPTH (answered 400 invalidSyntax). */
export class JsonTooDeepError extends Error {
  readonly type = 'entity.too.deep';
  readonly status = 400;
  constructor(readonly maxDepth: number) {
    super(`the request body is nested deeper than ${maxDepth} levels`);
    this.name = 'JsonTooDeepError';
  }
}

/** True when the JSON text nests objects and arrays deeper than `max` (one pass over the bytes, strings skipped). */
export function jsonDeeperThan(buf: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * The SCIM body parser: any content type read as JSON (identity providers send application/scim+json, some
 * application/json or nothing useful), bounded in size, and in nesting depth before it is parsed.
 */
export function scimJsonParser(limit: number): RequestHandler {
  return express.json({
    type: () => true,
    limit,
    strict: false,
    verify: (_req, _res, buf) => {
      if (jsonDeeperThan(buf, MAX_JSON_DEPTH)) throw new JsonTooDeepError(MAX_JSON_DEPTH);
    },
  });
}
