import type { Filter } from 'scim2-parse-filter';
import {
  allScimUsers,
  applySourceChanges,
  claimNewScimUserKey,
  claimScimKey,
  FilterError,
  findGroups,
  findScimUser,
  liveScimUser,
  findSourceRecord,
  isEmail,
  newUuid,
  predictedScimUserId,
  releaseScimKey,
  findScimUserByKey,
  rememberScimUserName,
  searchScimUsers,
  storeCapabilities,
  takeOverLookupKey,
  userNameKey,
  type KeyClaim,
  type SourceRecordDoc,
} from '../store';
import { etagMatches, etagOf, takePrefetchedLookup, takePrefetchedUser, type Preconditions, type ScimContext } from './context';
import { badRequest, notFound, ScimError } from './errors';
import { userFieldResolver } from './filterFields';
import type { ScimResult } from './http';
import { listParams, type ListParams } from './listParams';
import { activeOf, managerRef, primaryEmail, userAttributes } from './mapping';
import { canonicalResource, isObject, searchDoc, USER_EXTENSIONS, type Json } from './normalize';
import { applyPatch } from './patch';
import { omits, parseProjection, project, type Projection } from './projection';
import { COMMON_ATTRS, ENTERPRISE_SCHEMA, LIST_SCHEMA, USER_ATTRS, USER_SCHEMA, type AttrDef } from './schemas';
import { matches, stripCoreSchema } from '../filter';
import { eqOn, parseScimFilter, sortedSearch, sortField, sortInMemory, translateScimFilter, type SortField } from './search';
import { CUSTOM_USER_SCHEMA, customAttributesOf, userExtensionKeysOf, userExtensionsOf, userResolverOf } from './customAttributes';
import { attrPolicy } from './unknownAttributes';

const MAX_RETRIES = 5;

export function rawOf(rec: { raw?: unknown }): Json {
  if (typeof rec.raw === 'string') return JSON.parse(rec.raw) as Json;
  return isObject(rec.raw) ? rec.raw : {};
}

function userNameOf(resource: Json): string {
  const u = resource.userName;
  if (typeof u !== 'string' || !u.trim()) throw badRequest('invalidValue', '"userName" is required');
  return u;
}

/** Whether a stored user has this userName (case-insensitive, as the userName key). */
function assertsUserName(connectionId: string, rec: SourceRecordDoc, userName: string): boolean {
  const own = rawOf(rec).userName;
  return typeof own === 'string' && userNameKey(connectionId, own) === userNameKey(connectionId, userName);
}

/**
 * The live user of connection `connectionId` holding `userName`, or null: its key, then its record (scimUsers.ts).
 * Also started for a request whose token is still being checked (src/scim/auth.ts): the result reaches the handler
 * only once the token is the connection's, and the handler checks it as its own read (findUsers).
 */
export function findUserByName(connectionId: string, userName: string): Promise<SourceRecordDoc | null> {
  return findScimUserByKey(
    connectionId,
    userNameKey(connectionId, userName),
    (r) => assertsUserName(connectionId, r, userName),
    predictedScimUserId(connectionId, userName),
  );
}

/**
 * The userName a user list's filter looks up (`userName eq "..."`, the lookup identity providers send before every
 * create), or undefined for any other filter or one that does not parse (the handler then answers it).
 */
export function lookedUpUserName(filter: unknown): string | undefined {
  if (typeof filter !== 'string' || filter.length > 2048) return undefined;
  try {
    return eqOn(parseScimFilter(filter), userFieldResolver, 'lookup.userName');
  } catch {
    return undefined;
  }
}

/** Notes who holds a userName (src/store/scimUsers.ts: a later lookup of it reads only the record). */
function remember(ctx: ScimContext, rec: SourceRecordDoc): void {
  const own = rawOf(rec).userName;
  if (typeof own === 'string' && !rec.deleted) rememberScimUserName(userNameKey(ctx.conn._id, own), rec.key);
}

/** Reads one live user of this connection; `cached`: the record is this process's copy of its last write (auth.ts). */
async function loadUserEntry(ctx: ScimContext, id: string): Promise<{ rec: SourceRecordDoc; cached: boolean }> {
  const prefetched = takePrefetchedUser(ctx, id);
  const rec = prefetched ? liveScimUser(ctx.conn, await prefetched.record) : await findScimUser(ctx.conn, id);
  if (!rec) throw notFound(`User ${id}`);
  return { rec, cached: prefetched?.cached === true };
}

/** Reads one live user of this connection. */
async function loadUser(ctx: ScimContext, id: string): Promise<SourceRecordDoc> {
  return (await loadUserEntry(ctx, id)).rec;
}

async function groupNames(ids: string[]): Promise<Map<string, string>> {
  const groups = await findGroups(ids, { displayName: 1 });
  return new Map([...groups.values()].map((g) => [g._id, g.displayName]));
}

function renderUser(ctx: ScimContext, rec: SourceRecordDoc, names: Map<string, string> | null, projection: Projection): Json {
  const raw = rawOf(rec);
  const schemas = new Set<string>(Array.isArray(raw.schemas) ? (raw.schemas as string[]) : []);
  schemas.add(USER_SCHEMA);
  if (isObject(raw[ENTERPRISE_SCHEMA])) schemas.add(ENTERPRISE_SCHEMA);
  // Custom attributes show while declared (/Schemas lists them only then).
  const custom = Boolean(ctx.conn.customAttributes?.length) && isObject(raw[CUSTOM_USER_SCHEMA]);
  if (custom) schemas.add(CUSTOM_USER_SCHEMA);
  else schemas.delete(CUSTOM_USER_SCHEMA);
  const location = `${ctx.baseUrl}/Users/${rec.key}`;
  // `active` as the provider last set it: a create without it stores the default (true); a PATCH that removes it leaves
  // none to show (the person stays active, SPEC §3 rule 4).
  const out: Json = { ...raw, schemas: [...schemas], id: rec.key };
  if (!custom) delete out[CUSTOM_USER_SCHEMA];
  if (names && rec.groups.length) {
    out.groups = rec.groups
      .filter((g) => names.has(g))
      .map((g) => ({ value: g, display: names.get(g), $ref: `${ctx.baseUrl}/Groups/${g}`, type: 'direct' }));
  }
  out.meta = {
    resourceType: 'User',
    created: rec.createdAt.toISOString(),
    lastModified: rec.updatedAt.toISOString(),
    location,
    version: etagOf(rec.v),
  };
  return project(out, projection);
}

async function renderOne(ctx: ScimContext, rec: SourceRecordDoc, projection: Projection): Promise<Json> {
  const names = omits(projection, 'groups') || !rec.groups.length ? null : await groupNames(rec.groups);
  return renderUser(ctx, rec, names, projection);
}

function resourceResult(status: number, ctx: ScimContext, rec: SourceRecordDoc, body: Json): ScimResult {
  return { status, body, headers: { ETag: etagOf(rec.v), Location: `${ctx.baseUrl}/Users/${rec.key}` } };
}

/** The upsert the merge needs for a user resource. */
async function upsertOf(ctx: ScimContext, id: string, resource: Json) {
  let managerEmail: string | null = null;
  const ref = managerRef(resource);
  if (ref && ctx.conn.extendedAttributes) {
    const mgr = await findSourceRecord(ctx.conn._id, ref);
    managerEmail = mgr && !mgr.deleted ? mgr.emailDisplay : isEmail(ref) ? ref : null;
  }
  return {
    op: 'upsert' as const,
    key: id,
    email: primaryEmail(resource),
    active: activeOf(resource),
    attributes: { ...userAttributes(resource, managerEmail), custom: customAttributesOf(ctx.conn, resource) },
    raw: JSON.stringify(resource),
    // `active` defaults to true when omitted: filters must see what GET shows.
    lookup: {
      ...searchDoc(resource, USER_ATTRS, userExtensionsOf(ctx.conn), userExtensionKeysOf(ctx.conn)),
      active: activeOf(resource),
    },
  };
}

type Claim = { ok: true } | { ok: false; holder: SourceRecordDoc };

/**
 * Claims the userName key for `id` (src/store/scimUsers.ts claimScimKey): refused with the live user whose userName
 * still maps to it. A key claimed moments ago by a create still in flight stays with that create: 409. A key whose
 * holder was deleted or renamed is taken over (DELETE and renames leave their key for the next claim to take, which
 * saves them a command; lookups check the holder's userName).
 */
async function claimUserName(ctx: ScimContext, id: string, userName: string): Promise<Claim> {
  const key = userNameKey(ctx.conn._id, userName);
  return claimOutcome(userName, await claimScimKey(ctx.conn, key, id, holdsUserName(ctx, userName)));
}

/** Whether a stored user holds `userName` (live, and asserting it). */
function holdsUserName(ctx: ScimContext, userName: string): (rec: SourceRecordDoc) => boolean {
  return (rec) => !rec.deleted && assertsUserName(ctx.conn._id, rec, userName);
}

function claimOutcome(userName: string, claim: KeyClaim): Claim {
  if (claim.ok) return claim;
  if (claim.holder) return { ok: false, holder: claim.holder };
  throw new ScimError(409, `userName "${userName}" is already taken`, 'uniqueness');
}

/**
 * Writes a user resource through the merge, claiming a new userName first. `prev` is the record as just read (the
 * merge does not read it again). Returns null when a concurrent write changed the record first (the caller re-reads
 * and retries, or answers 412). externalId is the client's and unique nowhere (RFC 7643 §3.1): it is only stored.
 */
async function writeUser(
  ctx: ScimContext,
  id: string,
  prev: SourceRecordDoc | null,
  resource: Json,
  /** `prev` is this process's cached copy, not a read (modifyUser). */
  prevCached = false,
): Promise<SourceRecordDoc | null> {
  const userName = userNameOf(resource);
  const oldName = prev ? (rawOf(prev).userName as string | undefined) : undefined;
  const sameName = oldName !== undefined && oldName.toLowerCase() === userName.toLowerCase();
  let claimed = false;
  if (!sameName) {
    const claim = await claimUserName(ctx, id, userName);
    if (!claim.ok) throw new ScimError(409, `userName "${userName}" is already taken`, 'uniqueness');
    claimed = true;
  }
  const newKey = userNameKey(ctx.conn._id, userName);
  try {
    const [res] = await applySourceChanges(ctx.conn, [{ ...(await upsertOf(ctx, id, resource)), ifVersion: prev?.v ?? 0 }], undefined, {
      known: new Map([[id, prev]]),
      knownCached: prevCached,
    });
    if (!res || res.outcome === 'conflict' || !res.record) {
      if (claimed) await releaseScimKey(newKey, id);
      return null;
    }
    remember(ctx, res.record);
    return res.record;
  } catch (err) {
    if (claimed) await releaseScimKey(newKey, id).catch(() => undefined);
    throw err;
  }
}

/** A user resource as stored: canonical names; what no schema of the connection declares ignored or refused (item 5). */
function canonicalUser(ctx: ScimContext, input: Json): Json {
  return canonicalResource(input, USER_ATTRS, userExtensionsOf(ctx.conn), { schema: USER_SCHEMA, policy: attrPolicy(ctx) });
}

function bodyObject(body: unknown): Json {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  return body;
}

/**
 * SCIM POST /Users. Only userName is unique: an active user holding it is 409. A deactivated (not deleted) user
 * holding it is reactivated under its id (Okta re-creates a deactivated user with a POST of its userName). Anything
 * else is a new resource with a new id, also after a DELETE of a user with the same userName or externalId (the
 * interoperability profile §6.6: a deleted id never comes back); the person's recipient, offboarded by the DELETE's
 * tombstone, is restored by the new active record through the merge (SPEC §3 rule 4).
 */
export async function createUser(ctx: ScimContext, body: unknown, query: Record<string, unknown> = {}): Promise<ScimResult> {
  const resource = canonicalUser(ctx, bodyObject(body));
  // A user created without `active` is active (the server's default value, RFC 7643 §2.2), and shows it.
  if (resource.active === undefined || resource.active === null) resource.active = true;
  const userName = userNameOf(resource);
  const projection = parseProjection(query, USER_EXTENSIONS);
  const key = userNameKey(ctx.conn._id, userName);
  // The id derived from the userName when its key is new (src/store/scimIds.ts: lookups then read key and record at
  // once), else a random one.
  const derived = predictedScimUserId(ctx.conn._id, userName);
  const claimed = await claimNewScimUserKey(ctx.conn, key, derived, holdsUserName(ctx, userName));
  let id = claimed.id;
  const claim = claimOutcome(userName, claimed.claim);
  if (!claim.ok) {
    const stored = claim.holder;
    if (stored.active) throw new ScimError(409, `userName "${userName}" is already taken`, 'uniqueness');
    const rec = await writeUser(ctx, stored.key, stored, resource);
    if (!rec) throw new ScimError(409, `user "${userName}" was changed concurrently`, 'uniqueness');
    ctx.logger.info({ userId: rec.key }, 'scim user reactivated by create');
    return resourceResult(201, ctx, rec, await renderOne(ctx, rec, projection));
  }
  const create = async (newId: string) => {
    const [res] = await applySourceChanges(ctx.conn, [{ ...(await upsertOf(ctx, newId, resource)), ifVersion: 0 }], undefined, {
      known: new Map([[newId, null]]),
    });
    return res?.record ?? null;
  };
  let rec: SourceRecordDoc | null = null;
  try {
    rec = await create(id);
    if (!rec && id === derived) {
      // The key was new, yet a record has the derived id: a deleted user's (a deleted id never comes back) or one
      // renamed since, neither holding the userName. A random id instead; the key, inserted here, is handed over.
      const fresh = newUuid();
      if (await takeOverLookupKey(key, id, fresh)) {
        id = fresh;
        rec = await create(id);
      }
    }
  } finally {
    if (!rec) await releaseScimKey(key, id).catch(() => undefined);
  }
  if (!rec) throw new ScimError(409, 'the user could not be created', 'uniqueness');
  remember(ctx, rec);
  ctx.logger.info({ userId: id }, 'scim user created');
  return resourceResult(201, ctx, rec, await renderOne(ctx, rec, projection));
}

export async function getUser(ctx: ScimContext, id: string, query: Record<string, unknown>, pre: Preconditions): Promise<ScimResult> {
  const rec = await loadUser(ctx, id);
  remember(ctx, rec);
  if (etagMatches(pre.ifNoneMatch, rec.v)) return { status: 304, headers: { ETag: etagOf(rec.v) } };
  return resourceResult(200, ctx, rec, await renderOne(ctx, rec, parseProjection(query, USER_EXTENSIONS)));
}

function checkIfMatch(pre: Preconditions, rec: SourceRecordDoc): void {
  if (pre.ifMatch && !etagMatches(pre.ifMatch, rec.v)) {
    throw new ScimError(412, `the resource has changed (its version is ${etagOf(rec.v)})`);
  }
}

/** Read, modify, write with optimistic concurrency: retried on a concurrent change unless If-Match pinned a version. */
async function modifyUser(
  ctx: ScimContext,
  id: string,
  pre: Preconditions,
  change: (current: Json, rec: SourceRecordDoc) => Json,
): Promise<SourceRecordDoc> {
  for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
    const { rec, cached } = await loadUserEntry(ctx, id);
    // A cached copy (the first attempt's, at most) is only the base of a write conditional on its version: what it
    // would decide alone (a failed precondition, a refused patch, nothing to write) is decided again on a read.
    if (cached && pre.ifMatch && !etagMatches(pre.ifMatch, rec.v)) continue;
    checkIfMatch(pre, rec);
    let written: SourceRecordDoc | null;
    try {
      written = await writeUser(ctx, id, rec, change(rawOf(rec), rec), cached);
    } catch (err) {
      if (cached && err instanceof ScimError) continue;
      throw err;
    }
    if (written && !(cached && written.v === rec.v)) return written;
    if (!written && pre.ifMatch && !cached) throw new ScimError(412, 'the resource was changed concurrently');
  }
  throw new ScimError(409, 'the resource is being changed concurrently; retry');
}

export async function replaceUser(
  ctx: ScimContext,
  id: string,
  body: unknown,
  query: Record<string, unknown>,
  pre: Preconditions,
): Promise<ScimResult> {
  const input = bodyObject(body);
  if (typeof input.id === 'string' && input.id !== id) throw new ScimError(400, '"id" cannot be changed', 'mutability');
  const resource = canonicalUser(ctx, input);
  const rec = await modifyUser(ctx, id, pre, () => resource);
  return resourceResult(200, ctx, rec, await renderOne(ctx, rec, parseProjection(query, USER_EXTENSIONS)));
}

export async function patchUser(
  ctx: ScimContext,
  id: string,
  body: unknown,
  query: Record<string, unknown>,
  pre: Preconditions,
): Promise<ScimResult> {
  const rec = await modifyUser(ctx, id, pre, (current) => {
    const patched = applyPatch(current, body, {
      defs: USER_ATTRS,
      ext: userExtensionsOf(ctx.conn),
      id,
      readOnly: ['id', 'meta', 'groups'],
      policy: attrPolicy(ctx),
    });
    return canonicalUser(ctx, patched);
  });
  return resourceResult(200, ctx, rec, await renderOne(ctx, rec, parseProjection(query, USER_EXTENSIONS)));
}

/** SCIM DELETE: the user disappears from SCIM, but a tombstone keeps the person offboarded (SPEC §3.4). */
export async function deleteUser(ctx: ScimContext, id: string, pre: Preconditions): Promise<ScimResult> {
  const rec = await loadUser(ctx, id);
  checkIfMatch(pre, rec);
  const [res] = await applySourceChanges(ctx.conn, [{ op: 'tombstone', key: id, ifVersion: rec.v }], undefined, {
    known: new Map([[id, rec]]),
  });
  if (res?.outcome === 'conflict') throw new ScimError(pre.ifMatch ? 412 : 409, 'the resource was changed concurrently');
  // The userName key stays with the tombstone until the next claim of that userName takes it over (claimScimKey).
  ctx.logger.info({ userId: id }, 'scim user deleted');
  return { status: 204 };
}

async function findUsers(ctx: ScimContext, p: ListParams): Promise<{ total: number; docs: SourceRecordDoc[] }> {
  const ast = p.filter ? parseScimFilter(p.filter) : undefined;
  // The lookups identity providers make before every create are `_id` reads, whatever the store.
  const byName = ast ? eqOn(ast, userFieldResolver, 'lookup.userName') : undefined;
  const byId = ast ? eqOn(ast, userFieldResolver, 'key') : undefined;
  if (byName !== undefined || byId !== undefined) {
    const rec =
      byName !== undefined
        ? await (takePrefetchedLookup(ctx, byName)?.record ?? findUserByName(ctx.conn._id, byName))
        : byId !== undefined
          ? await findSourceRecord(ctx.conn._id, byId)
          : null;
    const hit =
      rec &&
      !rec.deleted &&
      rec.orgId === ctx.conn.orgId &&
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- userName is client JSON (a string in practice); String() is the intended coercion
      (byName === undefined || String(rawOf(rec).userName ?? '').toLowerCase() === byName.toLowerCase());
    const docs = hit ? [rec] : [];
    return { total: docs.length, docs: docs.slice(p.startIndex - 1, p.startIndex - 1 + p.count) };
  }
  const translated = ast ? translateScimFilter(ast, userResolverOf(ctx.conn)) : undefined;
  const sort = p.sortBy ? sortField(p.sortBy, userResolverOf(ctx.conn)) : undefined;
  if (ast && storeCapabilities().ferretdb && hasValueFilter(ast)) return findUsersInMemory(ctx, ast, p, sort);
  if (sort?.list) {
    // A multi-valued sortBy orders by each user's primary value, which no store sort expresses: the matching users are
    // read (ids and search fields) and ordered here.
    const { docs } = await searchScimUsers(ctx.conn, translated, { sort: { _id: 1 }, skip: 0, limit: 2_147_483_647 });
    const sorted = sortInMemory(docs, sort, p.descending);
    return { total: sorted.length, docs: sorted.slice(p.startIndex - 1, p.startIndex - 1 + p.count) };
  }
  return sortedSearch((q, page) => searchScimUsers(ctx.conn, q, page), translated, sort, p.descending, p.startIndex - 1, p.count);
}

const MULTI_VALUED = new Set(USER_ATTRS.filter((d) => d.multiValued).map((d) => d.name.toLowerCase()));

/** Value filters and paths into multi-valued attributes (`emails.type ne "work"`): FerretDB v1 gets these wrong. */
function hasValueFilter(f: Filter): boolean {
  if (f.op === '[]') return true;
  if (f.op === 'and' || f.op === 'or') return f.filters.some(hasValueFilter);
  if (f.op === 'not') return hasValueFilter(f.filter);
  if (!('attrPath' in f)) return false;
  const head = stripCoreSchema(f.attrPath, USER_SCHEMA).split('.')[0]!.toLowerCase();
  return MULTI_VALUED.has(head);
}

/** What a user filter is evaluated against in memory: the resource as GET shows it. */
const FILTER_DEFS: AttrDef[] = [
  ...COMMON_ATTRS,
  ...USER_ATTRS.filter((d) => d.name !== 'groups'),
  { name: 'groups', type: 'complex', multiValued: true, subAttributes: [{ name: 'value', type: 'string', caseExact: true }] },
  {
    name: 'meta',
    type: 'complex',
    subAttributes: [
      { name: 'created', type: 'dateTime' },
      { name: 'lastModified', type: 'dateTime' },
    ],
  },
];

/**
 * FerretDB v1 answers `$elemMatch` on sub-documents wrongly or not at all, and `$ne` on paths through arrays wrongly, so
 * such filters (`emails[type eq "work" and value co "@acme.com"]`, `emails.type ne "work"`) are evaluated here, over
 * the connection's users: FerretDB would scan them for any filter anyway. The filter was translated first, so what the translator refuses is refused here too.
 */
async function findUsersInMemory(
  ctx: ScimContext,
  ast: Filter,
  p: ListParams,
  sort: SortField | undefined,
): Promise<{ total: number; docs: SourceRecordDoc[] }> {
  const all = await allScimUsers(ctx.conn);
  const hits = all.filter((rec) => {
    const r: Json = { ...rawOf(rec), id: rec.key, active: rec.active, groups: rec.groups.map((value) => ({ value })) };
    r.meta = { created: rec.createdAt.toISOString(), lastModified: rec.updatedAt.toISOString() };
    try {
      return matches(ast, r, FILTER_DEFS, userExtensionsOf(ctx.conn));
    } catch (err) {
      if (err instanceof FilterError) throw badRequest('invalidFilter', err.message);
      throw err;
    }
  });
  const sorted = sortInMemory(hits, sort, p.descending);
  return { total: sorted.length, docs: sorted.slice(p.startIndex - 1, p.startIndex - 1 + p.count) };
}

export async function listUsers(ctx: ScimContext, query: Record<string, unknown>): Promise<ScimResult> {
  const p = listParams(query);
  const projection = parseProjection(query, USER_EXTENSIONS);
  const { total, docs } = await findUsers(ctx, p);
  const names = omits(projection, 'groups') ? null : await groupNames(docs.flatMap((d) => d.groups));
  return {
    status: 200,
    body: {
      schemas: [LIST_SCHEMA],
      totalResults: total,
      startIndex: p.startIndex,
      itemsPerPage: docs.length,
      Resources: docs.map((d) => renderUser(ctx, d, names, projection)),
    },
  };
}
