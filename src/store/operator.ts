import { connectionBasics, deleteConnection } from './connections';
import {
  ApiToken,
  Connection,
  Organization,
  liveOfConnection,
  SourceRecord,
  SyncRun,
  type ApiTokenDoc,
  type ConnectionDoc,
} from './models';

/**
 * What the operator's command line lists and shows (`org list`, `token list`, `connection show`, ...): plain shapes
 * with ids, names and settings, never a secret (no token, hash, password or ciphertext leaves through here).
 */

export interface OrganizationSummary {
  id: string;
  name: string;
  createdAt: string | null;
}

export interface TokenSummary {
  id: string;
  orgId: string;
  name: string | null;
  role: string;
  permissions: string[];
  createdAt: string | null;
  lastUsedAt: string | null;
}

export interface ConnectionSummary {
  id: string;
  orgId: string;
  type: string;
  name: string;
  provider: string | null;
  extendedAttributes: boolean;
  massRemovalThreshold: number;
  scimBaseUrl: string | null;
  scim11BaseUrl: string | null;
  sftpUsername: string | null;
  sftpPublicKeys: number | null;
  hrisMode: string | null;
  createdAt: string | null;
}

const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

export async function listOrganizations(): Promise<OrganizationSummary[]> {
  const docs = (await Organization.find({}, { name: 1, createdAt: 1 }).lean().exec()) as { _id: string; name: string; createdAt?: Date }[];
  return docs.sort((a, b) => (a._id < b._id ? -1 : 1)).map((o) => ({ id: o._id, name: o.name, createdAt: iso(o.createdAt) }));
}

type StoredToken = Omit<ApiTokenDoc, 'tokenHash'>;

function tokenSummary(t: StoredToken): TokenSummary {
  return {
    id: t._id,
    orgId: t.orgId,
    name: t.name ?? null,
    role: t.role,
    permissions: t.permissions ?? [],
    createdAt: iso(t.createdAt),
    lastUsedAt: iso(t.lastUsedAt),
  };
}

export async function listTokenSummaries(orgId: string): Promise<TokenSummary[]> {
  const docs: StoredToken[] = await ApiToken.find({ orgId }, { tokenHash: 0 }).lean().exec();
  return docs.sort((a, b) => (a._id < b._id ? -1 : 1)).map(tokenSummary);
}

/** Revokes (deletes) an API token; returns what it was, or null when there is no such token. */
export async function revokeTokenById(id: string): Promise<TokenSummary | null> {
  const doc: StoredToken | null = await ApiToken.findOne({ _id: id }, { tokenHash: 0 }).lean().exec();
  if (!doc) return null;
  await ApiToken.deleteOne({ _id: id }).exec();
  return tokenSummary(doc);
}

/** Names of the given tokens of an organization (id → name), for showing audit events by who made them. */
export async function tokenNames(orgId: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!ids.length) return out;
  const docs = (await ApiToken.find({ orgId, _id: { $in: [...new Set(ids)] } }, { name: 1 })
    .lean()
    .exec()) as { _id: string; name?: string | null }[];
  for (const d of docs) if (d.name) out.set(d._id, d.name);
  return out;
}

function connectionSummary(c: ConnectionDoc, publicUrl: string): ConnectionSummary {
  return {
    ...connectionBasics(c, publicUrl),
    orgId: c.orgId,
    sftpUsername: c.type === 'sftp' ? (c.sftp?.username ?? null) : null,
    sftpPublicKeys: c.type === 'sftp' ? (c.sftp?.publicKeys?.length ?? 0) : null,
    hrisMode: c.type === 'hris' ? (c.hris?.mode ?? 'automated') : null,
    createdAt: iso(c.createdAt),
  };
}

const NO_SECRETS = { scimTokenHash: 0, 'sftp.passwordHash': 0, 'hris.accessTokenEnc': 0 };

export async function listConnectionSummaries(orgId: string, publicUrl: string): Promise<ConnectionSummary[]> {
  const docs = (await Connection.find({ orgId, deleting: { $ne: true } }, NO_SECRETS)
    .lean()
    .exec()) as ConnectionDoc[];
  return docs.sort((a, b) => (a._id < b._id ? -1 : 1)).map((c) => connectionSummary(c, publicUrl));
}

/** A connection with how many people it lists and its latest sync run, or null. */
export async function showConnection(
  id: string,
  publicUrl: string,
): Promise<(ConnectionSummary & { people: number; lastSyncRun: Record<string, unknown> | null }) | null> {
  const c = (await Connection.findOne({ _id: id }, NO_SECRETS).lean().exec()) as ConnectionDoc | null;
  if (!c) return null;
  const people = await SourceRecord.countDocuments(liveOfConnection(id)).exec();
  const last = (
    await SyncRun.find({ connectionId: id }, { status: 1, mode: 1, counts: 1, createdAt: 1, finishedAt: 1 })
      .sort({ _id: -1 })
      .limit(1)
      .lean()
      .exec()
  )[0] as { _id: string; status: string; mode: string; counts: unknown; createdAt?: Date; finishedAt?: Date | null } | undefined;
  return {
    ...connectionSummary(c, publicUrl),
    people,
    lastSyncRun: last
      ? {
          id: last._id,
          status: last.status,
          mode: last.mode,
          counts: last.counts,
          createdAt: iso(last.createdAt),
          finishedAt: iso(last.finishedAt),
        }
      : null,
  };
}

/** Deletes a connection and everything it asserted; returns what it was, or null. */
export async function removeConnection(id: string, publicUrl: string): Promise<ConnectionSummary | null> {
  const c = (await Connection.findOne({ _id: id }, NO_SECRETS).lean().exec()) as ConnectionDoc | null;
  if (!c) return null;
  await deleteConnection(id);
  return connectionSummary(c, publicUrl);
}

/** The audit events' actor ids that are API tokens of the organization, with their names (see tokenNames). */
export async function auditActorNames(orgId: string, actors: string[]): Promise<Map<string, string>> {
  return tokenNames(
    orgId,
    actors.filter((a) => a !== 'cli'),
  );
}
