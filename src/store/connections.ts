import { deleteStagedRows } from './stagedRows';
import { randomBytes } from 'node:crypto';
import { deleteAccountFiles } from './accountFiles';
import { SCIM_PROVIDERS, CONNECTION_TYPES, type ConnectionType } from './connectionTypes';
import { DEFAULT_MASS_REMOVAL_THRESHOLD, DEFAULT_MAX_DIRECTORY_CONNECTIONS } from './defaults';
import { newId } from './ids';
import { recordConnectionEvent } from './events';
import { applySourceChanges, type ConnectionRef } from './merge';
import { Connection, Group, Organization, ofConnection, SourceRecord, SyncRun, type ConnectionDoc } from './models';
import { payConnectionRemerge } from './remerge';
import { encryptSecret, hashPassword, hashToken, newToken, tokenMatches } from './secrets';
import { invalidateMergeSettings } from './settings';
import { invalidateAudienceMatchers } from './audienceCache';
import type { SyncConnection } from './syncRuns';
import { findByIdCoalesced, findByIds } from './batchRead';
import { deleteConnectionKeys } from './lookupKeys';
import { LimitReachedError, NotFoundError, ValidationError } from './errors';
import { validateCustomAttributes, validateInteropProfile, type CustomAttributeDef } from './scimSettings';
import { dropLiveBound, keepsLiveBound, startLiveBound } from './liveCount';

export interface CreateConnectionInput {
  orgId: string;
  type: string;
  name?: string;
  provider?: string;
  extendedAttributes?: boolean;
  /** scim: `strict` enforces the SCIM 2.0 Interoperability Profile (default lenient). */
  interopProfile?: string;
  /** scim: declared custom attributes. */
  customAttributes?: { name: string; type: string; multiValued?: boolean }[];
  massRemovalThreshold?: number;
  /** sftp: OpenSSH public key lines accepted besides the password. */
  publicKeys?: string[];
  /** hris */
  accessToken?: string;
  mode?: 'automated' | 'assisted';
  /** hris: interval between automatic syncs (e.g. `24h`). */
  schedule?: string;
}

export interface CreatedConnection {
  id: string;
  type: ConnectionType;
  name: string;
  /** scim */
  scimBaseUrl?: string;
  /** scim: the same connection in Okta's SCIM 1.1 dialect */
  scim11BaseUrl?: string;
  token?: string;
  /** sftp */
  username?: string;
  password?: string;
}

export function scimBaseUrl(publicUrl: string, connectionId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/scim/v2/${connectionId}`;
}

/** The same connection's base URL in Okta's SCIM 1.1 dialect (same token, same source records). */
export function scim11BaseUrl(publicUrl: string, connectionId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/scim/v1/${connectionId}`;
}

/**
 * What every view of a connection starts with (the admin API's detail and the operator's CLI summary): who it is and
 * where its identity provider sends to. Each view adds its own type-specific block.
 */
export function connectionBasics(c: ConnectionDoc, publicUrl: string) {
  return {
    id: c._id,
    type: c.type,
    name: c.name,
    provider: c.type === 'scim' ? (c.provider ?? 'generic') : null,
    extendedAttributes: Boolean(c.extendedAttributes),
    massRemovalThreshold: c.massRemovalThreshold ?? DEFAULT_MASS_REMOVAL_THRESHOLD,
    scimBaseUrl: c.type === 'scim' ? scimBaseUrl(publicUrl, c._id) : null,
    scim11BaseUrl: c.type === 'scim' ? scim11BaseUrl(publicUrl, c._id) : null,
  };
}

/** Creates a connection; secrets are returned once and stored as hashes (tokens, passwords) or ciphertext (HRIS). */
export async function createConnection(
  input: CreateConnectionInput,
  env: { publicUrl: string; secretKey: string },
): Promise<CreatedConnection> {
  const org = await Organization.findOne({ _id: input.orgId }).lean().exec();
  if (!org) throw new ValidationError(`organization ${input.orgId} does not exist`);
  if (!(CONNECTION_TYPES as readonly string[]).includes(input.type)) {
    throw new ValidationError(`type must be one of ${CONNECTION_TYPES.join(', ')}`);
  }
  const type = input.type as ConnectionType;
  const threshold = input.massRemovalThreshold;
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
    throw new ValidationError('massRemovalThreshold must be a fraction between 0 and 1');
  }
  const id = newId();
  const name = input.name?.trim() || `${type} connection`;
  const doc: Record<string, unknown> = {
    _id: id,
    orgId: input.orgId,
    type,
    name,
    extendedAttributes: Boolean(input.extendedAttributes),
    ...(threshold !== undefined ? { massRemovalThreshold: threshold } : {}),
  };
  const out: CreatedConnection = { id, type, name };

  if (type === 'scim') {
    const provider = input.provider ?? 'generic';
    if (!(SCIM_PROVIDERS as readonly string[]).includes(provider)) {
      throw new ValidationError(`provider must be one of ${SCIM_PROVIDERS.join(', ')}`);
    }
    const existing = await Connection.countDocuments({ orgId: input.orgId, type: 'scim' }).exec();
    const limit = org.maxDirectoryConnections ?? DEFAULT_MAX_DIRECTORY_CONNECTIONS;
    if (existing >= limit) {
      throw new LimitReachedError(`this organization already has ${existing} directory connections (the limit is ${limit})`);
    }
    const token = newToken('scim');
    doc.provider = provider;
    doc.scimTokenHash = hashToken(token);
    out.scimBaseUrl = scimBaseUrl(env.publicUrl, id);
    out.scim11BaseUrl = scim11BaseUrl(env.publicUrl, id);
    out.token = token;
    if (input.interopProfile !== undefined) doc.interopProfile = validateInteropProfile(input.interopProfile);
    if (input.customAttributes?.length) doc.customAttributes = validateCustomAttributes(input.customAttributes);
  } else if (input.interopProfile !== undefined || input.customAttributes !== undefined) {
    throw new ValidationError('interopProfile and customAttributes apply to scim connections');
  }
  if (type === 'sftp') {
    const username = `sftp-${id.slice(-12)}`;
    const password = randomBytes(18).toString('base64url');
    doc.sftp = { username, passwordHash: hashPassword(password), publicKeys: input.publicKeys ?? [] };
    out.username = username;
    out.password = password;
  } else if (type === 'hris') {
    if (!input.accessToken) throw new ValidationError('an hris connection needs the Finch access token (--access-token)');
    const mode = input.mode ?? 'automated';
    if (mode !== 'automated' && mode !== 'assisted') throw new ValidationError('mode must be automated or assisted');
    doc.hris = {
      mode,
      accessTokenEnc: encryptSecret(input.accessToken, env.secretKey),
      ...(input.schedule ? { schedule: input.schedule } : {}),
    };
  }
  await Connection.create(doc);
  // A new connection has no records: its live-record bound starts exact, at 0.
  if (keepsLiveBound(type)) await startLiveBound(id);
  invalidateMergeSettings(input.orgId);
  await recordConnectionEvent(input.orgId, id, 'created', { type, name });
  return out;
}

/** Issues a new SCIM bearer token; the old one stops working at once. */
export async function rotateScimToken(connectionId: string): Promise<string> {
  const token = newToken('scim');
  const res = await Connection.updateOne({ _id: connectionId, type: 'scim' }, { $set: { scimTokenHash: hashToken(token) } }).exec();
  if (res.matchedCount === 0) throw new ValidationError('only scim connections have a bearer token');
  return token;
}

/**
 * Deletes a connection and everything it asserted (SPEC §3.3): its source records (tombstones included), its groups and
 * staged rows; recipients are re-derived from what the other sources say.
 */
export async function deleteConnection(connectionId: string): Promise<boolean> {
  const conn = (await Connection.findOneAndUpdate({ _id: connectionId }, { $set: { deleting: true } })
    .lean()
    .exec()) as ConnectionDoc | null;
  if (!conn) return false;
  const ref = { _id: conn._id, orgId: conn.orgId, type: conn.type };
  let keys: string[] = [];
  const flush = async () => {
    await applySourceChanges(
      ref,
      keys.map((key) => ({ op: 'delete' as const, key })),
    );
    keys = [];
  };
  for await (const r of SourceRecord.find(ofConnection(connectionId), { key: 1 }).lean().cursor()) {
    keys.push(r.key);
    if (keys.length >= 1000) await flush();
  }
  if (keys.length) await flush();
  await deleteConnectionKeys(connectionId);
  const groupIds = (await Group.find({ connectionId }, { _id: 1 }).lean().exec()).map((g) => g._id);
  if (groupIds.length) {
    await Group.updateMany({ orgId: conn.orgId, memberGroups: { $in: groupIds } }, { $pull: { memberGroups: { $in: groupIds } } }).exec();
  }
  await Group.deleteMany({ connectionId }).exec();
  await dropLiveBound(connectionId);
  invalidateAudienceMatchers(conn.orgId);
  const runIds = (await SyncRun.find({ connectionId }, { _id: 1 }).lean().exec()).map((r) => r._id);
  if (runIds.length) await deleteStagedRows(runIds);
  await SyncRun.updateMany({ connectionId, status: 'needs_review' }, { $set: { status: 'discarded' } }).exec();
  // SFTP: the account's files (inbox, results, archive) and their bytes.
  if (conn.type === 'sftp') await deleteAccountFiles(connectionId);
  await Connection.deleteOne({ _id: connectionId }).exec();
  invalidateMergeSettings(conn.orgId);
  await recordConnectionEvent(conn.orgId, conn._id, 'deleted', { type: conn.type, name: conn.name });
  return true;
}

/** One connection by id (whatever its organization: callers check ownership), or null. */
export async function findConnection(id: string): Promise<ConnectionDoc | null> {
  return Connection.findOne({ _id: id }).lean<ConnectionDoc>().exec();
}

/** Connections by id (for names in detail views); missing ones are left out. */
export async function findConnections(ids: string[]): Promise<Map<string, ConnectionDoc>> {
  return findByIds(Connection, ids);
}

/** An organization's connections, oldest first, without those being deleted. */
export async function listConnections(orgId: string, type?: ConnectionType): Promise<ConnectionDoc[]> {
  const docs = await Connection.find({ orgId, deleting: { $ne: true }, ...(type ? { type } : {}) })
    .lean<ConnectionDoc[]>()
    .exec();
  return docs.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
}

/** What the merge needs to know about a connection. */
export function connectionRef(doc: Pick<ConnectionDoc, '_id' | 'orgId' | 'type'>): ConnectionRef {
  return { _id: doc._id, orgId: doc.orgId, type: doc.type };
}

/** What a sync run needs to know about a connection (the merge's reference and the mass-removal threshold). */
export function syncConnectionOf(doc: Pick<ConnectionDoc, '_id' | 'orgId' | 'type' | 'massRemovalThreshold'>): SyncConnection {
  return { ...connectionRef(doc), massRemovalThreshold: doc.massRemovalThreshold };
}

/**
 * The SCIM connection a bearer token opens, or null (no such connection, being deleted, or another token). The token
 * is compared by hash in constant time.
 */
export async function authenticateScimConnection(connectionId: string, token: string): Promise<ConnectionDoc | null> {
  // Read together with the concurrent requests' reads (an identity provider sends many at once): still one read per
  // request that starts after it arrived, so a rotated token or a deleted connection is never accepted.
  const conn = await findByIdCoalesced<ConnectionDoc>(Connection, connectionId);
  if (!conn || conn.type !== 'scim' || conn.deleting || !conn.scimTokenHash || !tokenMatches(token, conn.scimTokenHash)) return null;
  return conn;
}

/** A change to a connection's settings; `undefined` leaves a field as it is, `schedule: null` removes the schedule. */
export interface ConnectionUpdate {
  name?: string;
  extendedAttributes?: boolean;
  massRemovalThreshold?: number;
  /** scim */
  interopProfile?: string;
  /** scim: replaces the whole list of declared custom attributes. */
  customAttributes?: { name: string; type: string; multiValued?: boolean }[];
  hris?: { schedule?: string | null; mode?: 'automated' | 'assisted' };
}

/** A settings change and the re-merge it calls for, if any (run it in the background: it visits every person). */
export interface SettingsChange<T> {
  value: T;
  remerge: (() => Promise<void>) | null;
}

/**
 * Updates a connection's settings. A change of `extendedAttributes` changes what a directory contributes: the
 * returned `remerge` re-derives its people (the caller runs it, e.g. as a background job).
 */
export async function updateConnection(id: string, update: ConnectionUpdate): Promise<SettingsChange<ConnectionDoc>> {
  const before = await findConnection(id);
  if (!before || before.deleting) throw new NotFoundError('connection not found');
  const threshold = update.massRemovalThreshold;
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
    throw new ValidationError('massRemovalThreshold must be a fraction between 0 and 1');
  }
  const set: Record<string, unknown> = {};
  const unset: Record<string, 1> = {};
  if (update.name !== undefined) set.name = update.name;
  if (threshold !== undefined) set.massRemovalThreshold = threshold;
  if (update.extendedAttributes !== undefined) set.extendedAttributes = update.extendedAttributes;
  if ((update.interopProfile !== undefined || update.customAttributes !== undefined) && before.type !== 'scim') {
    throw new ValidationError('interopProfile and customAttributes apply to scim connections');
  }
  if (update.interopProfile !== undefined) set.interopProfile = validateInteropProfile(update.interopProfile);
  if (update.customAttributes !== undefined) {
    const defs: CustomAttributeDef[] = validateCustomAttributes(update.customAttributes);
    if (defs.length) set.customAttributes = defs;
    else unset.customAttributes = 1;
  }
  if (update.hris?.schedule === null) unset['hris.schedule'] = 1;
  else if (update.hris?.schedule !== undefined) set['hris.schedule'] = update.hris.schedule;
  if (update.hris?.mode !== undefined) set['hris.mode'] = update.hris.mode;
  // What a directory contributes depends on extendedAttributes: the re-merge it owes is recorded with the change.
  const contributesDifferently =
    update.extendedAttributes !== undefined && update.extendedAttributes !== Boolean(before.extendedAttributes);
  const since = new Date();
  if (contributesDifferently) set.remergeSince = since;
  const ops: Record<string, unknown> = {};
  if (Object.keys(set).length) ops.$set = set;
  if (Object.keys(unset).length) ops.$unset = unset;
  const after = Object.keys(ops).length
    ? await Connection.findOneAndUpdate({ _id: id }, ops, { returnDocument: 'after' }).lean<ConnectionDoc>().exec()
    : before;
  if (!after) throw new NotFoundError('connection not found');
  if (contributesDifferently) invalidateMergeSettings(before.orgId);
  return { value: after, remerge: contributesDifferently ? () => payConnectionRemerge(before.orgId, id, since) : null };
}

/** Issues a new SFTP password (returned once, stored hashed) and/or replaces the accepted public keys. */
export async function setSftpCredentials(
  id: string,
  change: { newPassword?: boolean; publicKeys?: string[] },
): Promise<{ password?: string }> {
  const set: Record<string, unknown> = {};
  const out: { password?: string } = {};
  if (change.newPassword) {
    out.password = randomBytes(18).toString('base64url');
    set['sftp.passwordHash'] = hashPassword(out.password);
  }
  if (change.publicKeys) set['sftp.publicKeys'] = change.publicKeys.map((k) => k.trim());
  if (!Object.keys(set).length) return out;
  const res = await Connection.updateOne({ _id: id, type: 'sftp' }, { $set: set }).exec();
  if (res.matchedCount === 0) throw new NotFoundError('sftp connection not found');
  return out;
}

/** Replaces an HRIS connection's Finch access token (stored encrypted with `secretKey`). */
export async function setHrisAccessToken(id: string, accessToken: string, secretKey: string): Promise<void> {
  // A new token is the answer to needs_reauth: the scheduler tries it at once (a refusal sets the flag again).
  const res = await Connection.updateOne(
    { _id: id, type: 'hris' },
    { $set: { 'hris.accessTokenEnc': encryptSecret(accessToken, secretKey), 'hris.needsReauth': false, 'hris.nextSyncAt': new Date() } },
  ).exec();
  if (res.matchedCount === 0) throw new NotFoundError('hris connection not found');
}
