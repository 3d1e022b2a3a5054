import { randomBytes } from 'node:crypto';
import { SCIM_PROVIDERS, CONNECTION_TYPES, type ConnectionType } from './connectionTypes';
import { newId } from './ids';
import { recordConnectionEvent } from './events';
import { applySourceChanges } from './merge';
import { Connection, Group, Organization, SourceRecord, StagedRow, SyncRun, type ConnectionDoc } from './models';
import { encryptSecret, hashPassword, hashToken, newToken } from './secrets';
import { ValidationError } from './tokens';

export interface CreateConnectionInput {
  orgId: string;
  type: string;
  name?: string;
  provider?: string;
  extendedAttributes?: boolean;
  massRemovalThreshold?: number;
  /** sftp: OpenSSH public key lines accepted besides the password. */
  publicKeys?: string[];
  /** hris */
  accessToken?: string;
  mode?: 'automated' | 'assisted';
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
    const limit = org.maxDirectoryConnections ?? 2;
    if (existing >= limit) {
      throw new ValidationError(`this organization already has ${existing} directory connections (the limit is ${limit})`);
    }
    const token = newToken('scim');
    doc.provider = provider;
    doc.scimTokenHash = hashToken(token);
    out.scimBaseUrl = scimBaseUrl(env.publicUrl, id);
    out.scim11BaseUrl = scim11BaseUrl(env.publicUrl, id);
    out.token = token;
  } else if (type === 'sftp') {
    const username = `sftp-${id.slice(-12)}`;
    const password = randomBytes(18).toString('base64url');
    doc.sftp = { username, passwordHash: hashPassword(password), publicKeys: input.publicKeys ?? [] };
    out.username = username;
    out.password = password;
  } else if (type === 'hris') {
    if (!input.accessToken) throw new ValidationError('an hris connection needs the Finch access token (--access-token)');
    const mode = input.mode ?? 'automated';
    if (mode !== 'automated' && mode !== 'assisted') throw new ValidationError('mode must be automated or assisted');
    doc.hris = { mode, accessTokenEnc: encryptSecret(input.accessToken, env.secretKey) };
  }
  await Connection.create(doc);
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
  const conn = (await Connection.findOneAndUpdate({ _id: connectionId }, { $set: { deleting: true } }).lean().exec()) as ConnectionDoc | null;
  if (!conn) return false;
  const ref = { _id: conn._id, orgId: conn.orgId, type: conn.type };
  let keys: string[] = [];
  const flush = async () => {
    await applySourceChanges(ref, keys.map((key) => ({ op: 'delete' as const, key })));
    keys = [];
  };
  for await (const r of SourceRecord.find({ connectionId }, { key: 1 }).lean().cursor()) {
    keys.push(r.key);
    if (keys.length >= 1000) await flush();
  }
  if (keys.length) await flush();
  const groupIds = (await Group.find({ connectionId }, { _id: 1 }).lean().exec()).map((g) => g._id);
  if (groupIds.length) {
    await Group.updateMany({ orgId: conn.orgId, memberGroups: { $in: groupIds } }, { $pull: { memberGroups: { $in: groupIds } } }).exec();
  }
  await Group.deleteMany({ connectionId }).exec();
  const runIds = (await SyncRun.find({ connectionId }, { _id: 1 }).lean().exec()).map((r) => r._id);
  if (runIds.length) await StagedRow.deleteMany({ runId: { $in: runIds } }).exec();
  await SyncRun.updateMany({ connectionId, status: 'needs_review' }, { $set: { status: 'discarded' } }).exec();
  await Connection.deleteOne({ _id: connectionId }).exec();
  await recordConnectionEvent(conn.orgId, conn._id, 'deleted', { type: conn.type, name: conn.name });
  return true;
}
