/**
 * The store's one error vocabulary. It says what went wrong in the store's own terms, never in a protocol's: each
 * protocol maps these once (SCIM: src/scim/errors.ts, the Admin API: src/api/problem.ts, the CLI: its exit codes).
 */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input the store refuses (an unknown type or role, a value out of range, a reference to nothing). */
export class ValidationError extends StoreError {}

/**
 * Well-formed input the organization's current state refuses: a limit is reached (the number of directory connections).
 * A ValidationError for callers that do not tell them apart (the CLI); the admin API answers 409, as the same request
 * succeeds once the state changes.
 */
export class LimitReachedError extends ValidationError {}

/** The thing asked for does not exist (or belongs to another organization, which callers must not tell apart). */
export class NotFoundError extends StoreError {}

/** A concurrent write got there first, or a unique key is held by someone else; retrying may succeed. */
export class ConflictError extends StoreError {}

/** The thing exists but is not in a state that allows this (e.g. applying a sync run that is not held for review). */
export class InvalidStateError extends StoreError {}

/** The store cannot be reached; nothing was acknowledged, and the caller may retry later. */
export class StoreUnavailableError extends StoreError {}

const DRIVER_UNAVAILABLE =
  /^(MongoNetworkError|MongoServerSelectionError|MongoNotConnectedError|MongoTopologyClosedError|MongoNetworkTimeoutError|MongoPoolClearedError|MongooseServerSelectionError)$/;
/** Messages of errors the driver or mongoose raise when the connection is gone (some come as plain `MongoError`s). */
const UNAVAILABLE_MESSAGE = /buffering timed out|client was closed|connection .* closed|Topology is closed/i;

/**
 * Is the store down? The one answer for every protocol (SCIM and the API answer 503, the CLI fails): the store's own
 * StoreUnavailableError, the driver's network and server-selection errors, and mongoose's buffering timeout.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (!err || typeof err !== 'object') return false;
  const name = (err as { name?: unknown }).name;
  if (typeof name === 'string' && DRIVER_UNAVAILABLE.test(name)) return true;
  if (err instanceof StoreError) return false;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message);
}

/**
 * A duplicate `_id` (or unique index) on insert or upsert: MongoDB's code 11000, also on FerretDB. FerretDB v2.5 on
 * DocumentDB answers a `findAndModify` upsert that collides (a lease claimed by two processes at once) with
 * PostgreSQL's unique-violation text under code 1 (InternalError) instead; every other write there gives 11000.
 */
export function isDuplicateKeyError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const { code, errmsg, message } = err as { code?: unknown; errmsg?: unknown; message?: unknown };
  if (code === 11000) return true;
  const text = typeof errmsg === 'string' ? errmsg : typeof message === 'string' ? message : '';
  return code === 1 && POSTGRES_UNIQUE_VIOLATION.test(text);
}

const POSTGRES_UNIQUE_VIOLATION = /^duplicate key value violates unique constraint /;

/** The per-document errors of a bulk write (`insertMany`, `bulkWrite`): the driver gives one or a list. */
export function writeErrorsOf(err: unknown): { index: number; code: number }[] {
  const we = (err as { writeErrors?: { index: number; code: number }[] | { index: number; code: number } } | null)?.writeErrors;
  return Array.isArray(we) ? we : we ? [we] : [];
}

/**
 * The indexes of the documents a bulk insert refused when every refusal is a duplicate key (a single duplicate
 * reported without per-document errors is index 0); null when any other error is among them.
 */
export function duplicateKeyIndexes(err: unknown): number[] | null {
  const errs = writeErrorsOf(err);
  if (!errs.length) return isDuplicateKeyError(err) ? [0] : null;
  return errs.every((e) => e.code === 11000) ? errs.map((e) => e.index) : null;
}
