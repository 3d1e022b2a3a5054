import { ConflictError, FilterError, InvalidStateError, NotFoundError, ValidationError, isStoreUnavailable } from '../store';

/** SCIM error responses (RFC 7644 §3.12): the error schema, `status` as a string, an optional `scimType`. */
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export class ScimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: ScimType,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ScimError';
  }
}

export function errorBody(status: number, detail: string, scimType?: string): Record<string, unknown> {
  return { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

export const badRequest = (scimType: ScimType, message: string) => new ScimError(400, message, scimType);
export const notFound = (what: string) => new ScimError(404, `${what} not found`);

export const storeUnavailable = () => new ScimError(503, 'the store is unavailable; retry later', undefined, { 'Retry-After': '5' });

/**
 * The SCIM error for an error thrown while serving a request: store errors mapped once to the SCIM error schema
 * (an unreachable store is a 503, which identity providers retry; what was written before stays written); null for an
 * error that is neither a ScimError nor the store's (a bug: the caller answers 500).
 */
export function toScimError(err: unknown): ScimError | null {
  if (err instanceof ScimError) return err;
  if (isStoreUnavailable(err)) return storeUnavailable();
  if (err instanceof FilterError) return badRequest('invalidFilter', err.message);
  if (err instanceof ValidationError) return badRequest('invalidValue', err.message);
  if (err instanceof NotFoundError) return new ScimError(404, err.message);
  if (err instanceof ConflictError || err instanceof InvalidStateError) return new ScimError(409, err.message);
  return null;
}

/**
 * What a failure outside the operations (the body parser, the store) answers, whatever the SCIM dialect; undefined for
 * an unexpected error (the caller logs it and answers 500).
 */
export function httpErrorOf(err: unknown, maxBodyBytes: number): ScimError | undefined {
  const type = (err as { type?: string } | null)?.type;
  if (type === 'entity.too.large') return new ScimError(413, `the request body is larger than ${maxBodyBytes} bytes`);
  if (type === 'entity.parse.failed') return new ScimError(400, 'the request body is not valid JSON', 'invalidSyntax');
  if (type === 'entity.too.deep') return new ScimError(400, (err as Error).message, 'invalidSyntax');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new ScimError(415, 'unsupported body encoding');
  return toScimError(err) ?? undefined;
}
