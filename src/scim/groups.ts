import { stripCoreSchema, type Filter } from '../filter';
import {
  deleteScimGroup,
  recordGroupEvent,
  finishPendingScimGroups,
  insertScimGroup,
  liveScimUsers,
  newUuid,
  readScimGroup,
  replaceScimGroup,
  scimGroupIds,
  scimGroupMembers,
  scimGroupsOfUser,
  scimGroupUserKeys,
  searchScimGroups,
  withoutIntent,
  type GroupDoc,
  type MongoQuery,
  type ScimGroupDoc,
  type ScimGroupMembers,
  type ScimUserRecords,
  type ScimGroupUser,
} from '../store';
import { etagMatches, etagOf, type Preconditions, type ScimContext } from './context';
import { badRequest, notFound, ScimError } from './errors';
import { groupFieldResolver } from './filterFields';
import type { ScimResult } from './http';
import { listParams } from './listParams';
import { canonicalResource, isObject, NO_EXTENSIONS, type Json } from './normalize';
import { applyPatch, type PatchOpName, type PatchPath } from './patch';
import { omits, parseProjection, project, type Projection } from './projection';
import { GROUP_ATTRS, GROUP_SCHEMA, LIST_SCHEMA } from './schemas';
import { parseScimFilter, sortedSearch, sortField, translateScimFilter } from './search';
import { rawOf } from './users';
import { attrPolicy } from './unknownAttributes';

/**
 * Members' `display` as the identity provider sent them are kept on the group document (person members themselves are
 * held by the source records). Beyond this many, further ones are not kept (GET then shows the member's own name), which
 * bounds the document well below MongoDB's 16 MB.
 */
const MAX_KEPT_DISPLAYS = 50_000;

/*
 * Storage, including the intents that make a group write and its members' records one recoverable unit, is
 * src/store/scimGroups.ts; this module is the protocol over it.
 */

async function loadGroup(ctx: ScimContext, id: string): Promise<ScimGroupDoc> {
  const g = await readScimGroup(ctx.conn, id);
  if (!g) throw notFound(`Group ${id}`);
  return g;
}

function displayNameOf(resource: Json): string {
  const d = resource.displayName;
  if (typeof d !== 'string' || !d.trim()) throw badRequest('invalidValue', '"displayName" is required');
  return d;
}

interface MemberValue {
  value: string;
  display?: string;
}

function memberList(value: unknown): MemberValue[] {
  const list: unknown[] = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  const field = (m: Json, name: string) => m[Object.keys(m).find((k) => k.toLowerCase() === name) ?? name];
  return list.map((m) => {
    const v = isObject(m) ? field(m, 'value') : m;
    if (typeof v !== 'string' || !v) throw badRequest('invalidValue', 'every member needs a string "value"');
    // Some clients name the member's label `displayName` (the attribute of the member resource) instead of `display`.
    const d = isObject(m) ? (field(m, 'display') ?? field(m, 'displayname')) : undefined;
    return typeof d === 'string' && d ? { value: v, display: d } : { value: v };
  });
}

/** Membership as PATCH operations describe it: a full replacement and/or additions and removals. */
interface MemberDelta {
  set?: Set<string>;
  add: Set<string>;
  remove: Set<string>;
  /** `display` of members added or set by this request, as sent. */
  display: Map<string, string>;
}

/** The delta a full member list (POST, PUT) describes. */
function fullDelta(members: unknown): MemberDelta {
  const list = memberList(members);
  const display = new Map<string, string>();
  for (const m of list) if (m.display !== undefined) display.set(m.value, m.display);
  return { set: new Set(list.map((m) => m.value)), add: new Set(), remove: new Set(), display };
}

/** `value eq "x"` or a disjunction of them, as the list of x. */
function memberFilterValues(f: Filter): string[] | null {
  if (f.op === 'eq' && f.attrPath.toLowerCase() === 'value' && typeof f.compValue === 'string') return [f.compValue];
  if (f.op === 'or') {
    const out: string[] = [];
    for (const part of f.filters) {
      const v = memberFilterValues(part);
      if (!v) return null;
      out.push(...v);
    }
    return out;
  }
  return null;
}

function memberInterceptor(delta: MemberDelta) {
  return (op: PatchOpName, p: PatchPath, value: unknown): boolean => {
    if (p.urn || p.attr !== 'members') return false;
    if (p.sub) throw badRequest('invalidPath', 'member sub-attributes cannot be changed; add or remove the member');
    let values: string[];
    if (p.filter) {
      const vs = memberFilterValues(p.filter);
      if (!vs || op !== 'remove') throw badRequest('invalidPath', 'members filters support remove with members[value eq "id"]');
      values = vs;
    } else if (op === 'remove' && (value === undefined || value === null)) {
      delta.set = new Set();
      delta.add.clear();
      delta.remove.clear();
      delta.display.clear();
      return true;
    } else {
      const list = memberList(value);
      values = list.map((m) => m.value);
      if (op === 'replace') delta.display.clear();
      if (op !== 'remove') for (const m of list) if (m.display !== undefined) delta.display.set(m.value, m.display);
    }
    if (op === 'replace' && !p.filter) {
      delta.set = new Set(values);
      delta.add.clear();
      delta.remove.clear();
      return true;
    }
    for (const v of values) {
      if (op === 'remove') {
        delta.add.delete(v);
        delta.remove.add(v);
        delta.set?.delete(v);
        delta.display.delete(v);
      } else {
        delta.remove.delete(v);
        delta.add.add(v);
        delta.set?.add(v);
      }
    }
    return true;
  };
}

interface MemberPlan {
  addUsers: string[];
  /** The records of `addUsers` as just read (the merge does not read them again). */
  addRecords?: ScimUserRecords;
  removeUsers: string[];
  addGroups: string[];
  removeGroups: string[];
}

/** Turns a delta into concrete changes, refusing unknown members before anything is written. */
async function planMembers(ctx: ScimContext, group: GroupDoc | null, groupId: string, delta: MemberDelta): Promise<MemberPlan> {
  let add = [...delta.add];
  let remove = [...delta.remove];
  if (delta.set) {
    const current = group ? [...(await scimGroupUserKeys(ctx.conn._id, groupId)), ...group.memberGroups] : [];
    const cur = new Set(current);
    add = [...new Set([...delta.set].filter((v) => !cur.has(v)))];
    remove = current.filter((v) => !delta.set!.has(v));
  }
  if (!add.length && !remove.length) return { addUsers: [], removeUsers: [], addGroups: [], removeGroups: [] };
  // A connection has few groups: classify member values against all of them at once.
  const groupIds = await scimGroupIds(ctx.conn);
  groupIds.add(groupId);
  const addGroups = add.filter((v) => groupIds.has(v));
  if (addGroups.includes(groupId)) throw badRequest('invalidValue', 'a group cannot be a member of itself');
  const addUsers = add.filter((v) => !groupIds.has(v));
  let live: ScimUserRecords | undefined;
  if (addUsers.length) {
    live = await liveScimUsers(ctx.conn, addUsers);
    const missing = addUsers.filter((k) => !live!.has(k));
    if (missing.length) {
      throw badRequest('invalidValue', `${missing.length} member(s) are not users or groups of this connection, e.g. "${missing[0]}"`);
    }
  }
  return {
    addUsers,
    addRecords: live,
    addGroups,
    removeUsers: remove.filter((v) => !groupIds.has(v)),
    removeGroups: remove.filter((v) => groupIds.has(v)),
  };
}

/** The `display` values the group keeps after a change: the latest the provider sent, for members still present. */
function nextDisplays(g: ScimGroupDoc | null, plan: MemberPlan, delta: MemberDelta): { v: string; d: string }[] {
  // A full member list (PUT, replace of members) says all there is: only the displays it sent are kept.
  const kept = new Map(delta.set ? [] : (g?.memberDisplay ?? []).map((x) => [x.v, x.d]));
  for (const v of [...plan.removeUsers, ...plan.removeGroups]) kept.delete(v);
  for (const [v, d] of delta.display) if (kept.has(v) || kept.size < MAX_KEPT_DISPLAYS) kept.set(v, d);
  return [...kept].map(([v, d]) => ({ v, d }));
}

interface Member {
  value: string;
  type: 'User' | 'Group';
  /** The member's own name (a user's displayName or userName, a group's displayName). */
  name?: string;
}

function memberName(rec: Pick<ScimGroupUser, 'raw'>): string | undefined {
  const raw = rawOf(rec);
  for (const v of [raw.displayName, raw.userName]) if (typeof v === 'string' && v) return v;
  return undefined;
}

/** A group's members with their names, from the members read for its page (src/store/scimGroups.ts scimGroupMembers). */
function membersOf(g: GroupDoc, read: ScimGroupMembers): Member[] {
  return [
    ...(read.users.get(g._id) ?? []).map((u): Member => ({ value: u.key, type: 'User', name: memberName(u) })),
    ...g.memberGroups.map((m): Member => ({ value: m, type: 'Group', name: read.nested.get(m)?.displayName })),
  ];
}

function renderGroup(ctx: ScimContext, g: ScimGroupDoc, members: Member[] | null, projection: Projection): Json {
  const raw = rawOf(g);
  const schemas = new Set<string>(Array.isArray(raw.schemas) ? (raw.schemas as string[]) : []);
  schemas.add(GROUP_SCHEMA);
  const out: Json = { ...raw, schemas: [...schemas], id: g._id, displayName: g.displayName };
  if (members) {
    const sent = new Map((g.memberDisplay ?? []).map((x) => [x.v, x.d]));
    out.members = members.map((m) => {
      const display = sent.get(m.value) ?? m.name;
      return {
        value: m.value,
        $ref: `${ctx.baseUrl}/${m.type}s/${m.value}`,
        ...(display !== undefined ? { display } : {}),
        type: m.type,
      };
    });
  }
  out.meta = {
    resourceType: 'Group',
    created: g.createdAt.toISOString(),
    lastModified: g.updatedAt.toISOString(),
    location: `${ctx.baseUrl}/Groups/${g._id}`,
    version: etagOf(g.v),
  };
  return project(out, projection);
}

/** Renders a page of groups (or one): their members are read in two queries for the whole page, not per group. */
async function renderPage(ctx: ScimContext, page: ScimGroupDoc[], projection: Projection): Promise<Json[]> {
  const read = omits(projection, 'members') ? null : await scimGroupMembers(ctx.conn, page);
  return page.map((g) => renderGroup(ctx, g, read ? membersOf(g, read) : null, projection));
}

async function renderOne(ctx: ScimContext, g: ScimGroupDoc, projection: Projection): Promise<Json> {
  const [out] = await renderPage(ctx, [g], projection);
  return out!;
}

function result(status: number, ctx: ScimContext, g: ScimGroupDoc, body: Json): ScimResult {
  return { status, body, headers: { ETag: etagOf(g.v), Location: `${ctx.baseUrl}/Groups/${g._id}` } };
}

/** A group resource as stored: what no schema declares is ignored or refused (issue #14 item 5). */
function canonicalGroup(ctx: ScimContext, input: Json): Json {
  return canonicalResource(withMemberDisplay(input), GROUP_ATTRS, NO_EXTENSIONS, { schema: GROUP_SCHEMA, policy: attrPolicy(ctx) });
}

/**
 * Some clients name a member's label `displayName` (the member resource's own attribute) instead of `display` (issue
 * #14 item 7): read as `display` before the unknown-attribute rule, which would otherwise drop (or, strict, refuse) it.
 */
function withMemberDisplay(input: Json): Json {
  const members = input.members;
  if (!Array.isArray(members)) return input;
  const fixed = members.map((m: unknown) => {
    if (!isObject(m)) return m;
    const key = Object.keys(m).find((k) => k.toLowerCase() === 'displayname');
    if (key === undefined) return m;
    const { [key]: label, ...rest } = m;
    return rest.display === undefined ? { ...rest, display: label } : rest;
  });
  return { ...input, members: fixed };
}

function stored(resource: Json): Json {
  const { members: _members, ...rest } = resource;
  return rest;
}

export async function createGroup(ctx: ScimContext, body: unknown, query: Record<string, unknown> = {}): Promise<ScimResult> {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const resource = canonicalGroup(ctx, body);
  const displayName = displayNameOf(resource);
  const id = newUuid();
  const delta = fullDelta(resource.members);
  const plan = await planMembers(ctx, null, id, delta);
  const now = new Date();
  const doc: ScimGroupDoc = {
    _id: id,
    orgId: ctx.conn.orgId,
    connectionId: ctx.conn._id,
    key: id,
    displayName,
    displayNameLower: displayName.toLowerCase(),
    externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
    memberGroups: plan.addGroups,
    memberDisplay: nextDisplays(null, plan, delta),
    raw: JSON.stringify(stored(resource)),
    v: 1,
    createdAt: now,
    updatedAt: now,
  };
  // The group and the membership it still has to give its people, in one insert (the store's intent protocol).
  await insertScimGroup(doc, { add: plan.addUsers, remove: plan.removeUsers, known: plan.addRecords });
  ctx.logger.info({ groupId: id, members: plan.addUsers.length }, 'scim group created');
  return result(201, ctx, doc, await renderOne(ctx, doc, parseProjection(query, NO_EXTENSIONS)));
}

export async function getGroup(ctx: ScimContext, id: string, query: Record<string, unknown>, pre: Preconditions): Promise<ScimResult> {
  const g = await loadGroup(ctx, id);
  if (etagMatches(pre.ifNoneMatch, g.v)) return { status: 304, headers: { ETag: etagOf(g.v) } };
  return result(200, ctx, g, await renderOne(ctx, g, parseProjection(query, NO_EXTENSIONS)));
}

/** Writes the group document with its membership intent (version-checked), then the membership of its people. */
async function writeGroup(
  ctx: ScimContext,
  g: ScimGroupDoc,
  resource: Json,
  delta: MemberDelta,
  pre: Preconditions,
): Promise<ScimGroupDoc> {
  const displayName = displayNameOf(resource);
  const plan = await planMembers(ctx, g, g._id, delta);
  const memberGroups = [...new Set([...g.memberGroups.filter((m) => !plan.removeGroups.includes(m)), ...plan.addGroups])];
  const now = new Date();
  const next: ScimGroupDoc = {
    ...withoutIntent(g),
    displayName,
    displayNameLower: displayName.toLowerCase(),
    externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
    memberGroups,
    memberDisplay: nextDisplays(g, plan, delta),
    raw: JSON.stringify(stored(resource)),
    v: g.v + 1,
    updatedAt: now,
  };
  if (!(await replaceScimGroup(g.v, next, { add: plan.addUsers, remove: plan.removeUsers, known: plan.addRecords }))) {
    throw new ScimError(pre.ifMatch ? 412 : 409, 'the group was changed concurrently; retry');
  }
  if (g.displayName !== displayName) await recordGroupEvent(g.orgId, g.connectionId, g._id, 'updated', { displayName, version: next.v });
  return next;
}

export async function replaceGroup(
  ctx: ScimContext,
  id: string,
  body: unknown,
  query: Record<string, unknown>,
  pre: Preconditions,
): Promise<ScimResult> {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  if (typeof body.id === 'string' && body.id !== id) throw new ScimError(400, '"id" cannot be changed', 'mutability');
  const g = await loadGroup(ctx, id);
  if (pre.ifMatch && !etagMatches(pre.ifMatch, g.v)) throw new ScimError(412, 'the resource has changed');
  const resource = canonicalGroup(ctx, body);
  const next = await writeGroup(ctx, g, resource, fullDelta(resource.members), pre);
  return result(200, ctx, next, await renderOne(ctx, next, parseProjection(query, NO_EXTENSIONS)));
}

/** PATCH answers 204 (Entra expects it), or 200 with the group when the client asks for attributes. */
export async function patchGroup(
  ctx: ScimContext,
  id: string,
  body: unknown,
  query: Record<string, unknown>,
  pre: Preconditions,
): Promise<ScimResult> {
  const g = await loadGroup(ctx, id);
  if (pre.ifMatch && !etagMatches(pre.ifMatch, g.v)) throw new ScimError(412, 'the resource has changed');
  const delta: MemberDelta = { add: new Set(), remove: new Set(), display: new Map() };
  const patched = applyPatch(rawOf(g), body, {
    defs: GROUP_ATTRS,
    ext: NO_EXTENSIONS,
    id,
    readOnly: ['id', 'meta'],
    intercept: memberInterceptor(delta),
    policy: attrPolicy(ctx),
  });
  const resource = canonicalGroup(ctx, patched);
  const next = await writeGroup(ctx, g, resource, delta, pre);
  const projection = parseProjection(query, NO_EXTENSIONS);
  if (!projection.attributes) return { status: 204, headers: { ETag: etagOf(next.v) } };
  return result(200, ctx, next, await renderOne(ctx, next, projection));
}

export async function deleteGroup(ctx: ScimContext, id: string, pre: Preconditions): Promise<ScimResult> {
  const g = await loadGroup(ctx, id);
  if (pre.ifMatch && !etagMatches(pre.ifMatch, g.v)) throw new ScimError(412, 'the resource has changed');
  // Marked first: from here the group answers 404, and whoever reads it next finishes the delete.
  if (!(await deleteScimGroup(g, pre.ifMatch ? g.v : undefined))) {
    throw pre.ifMatch ? new ScimError(412, 'the resource has changed') : notFound(`Group ${id}`);
  }
  ctx.logger.info({ groupId: id }, 'scim group deleted');
  return { status: 204 };
}

/** Group filters: the translator for the group's own attributes; `members.value eq` looks the member up. */
async function groupQuery(ctx: ScimContext, f: Filter): Promise<MongoQuery> {
  switch (f.op) {
    case 'and':
    case 'or':
      return { [`$${f.op}`]: await Promise.all(f.filters.map((x) => groupQuery(ctx, x))) };
    case 'not':
      return { $nor: [await groupQuery(ctx, f.filter)] };
    default:
      break;
  }
  const attr = stripCoreSchema(f.attrPath, GROUP_SCHEMA).toLowerCase();
  let member: string | undefined;
  if (f.op === '[]' && attr === 'members') {
    const vs = memberFilterValues(f.valFilter);
    if (!vs || vs.length !== 1) throw badRequest('invalidFilter', 'members can be filtered with members[value eq "id"]');
    member = vs[0];
  } else if ((attr === 'members' || attr === 'members.value') && f.op === 'eq' && typeof f.compValue === 'string') {
    member = f.compValue;
  } else if (attr.startsWith('members')) {
    throw badRequest('invalidFilter', 'members can be filtered with members.value eq "id"');
  }
  if (member === undefined) return translateScimFilter(f, groupFieldResolver);
  const ids = await scimGroupsOfUser(ctx.conn, member);
  return { $or: [{ _id: { $in: ids } }, { memberGroups: member }] };
}

export async function listGroups(ctx: ScimContext, query: Record<string, unknown>): Promise<ScimResult> {
  const p = listParams(query);
  const projection = parseProjection(query, NO_EXTENSIONS);
  // Writes left half-done are finished first, so members filters and the listing see what the last write said.
  await finishPendingScimGroups(ctx.conn);
  const q = p.filter ? await groupQuery(ctx, parseScimFilter(p.filter)) : undefined;
  const sort = p.sortBy ? sortField(p.sortBy, groupFieldResolver) : undefined;
  const { total, docs } = await sortedSearch(
    (query, page) => searchScimGroups(ctx.conn, query, page),
    q,
    sort,
    p.descending,
    p.startIndex - 1,
    p.count,
  );
  const resources = await renderPage(ctx, docs, projection);
  return {
    status: 200,
    body: { schemas: [LIST_SCHEMA], totalResults: total, startIndex: p.startIndex, itemsPerPage: resources.length, Resources: resources },
  };
}
