import { utils as sshUtils } from 'ssh2';
import { z } from 'zod';
import type { Logger } from 'pino';
import {
  SCIM_PROVIDERS,
  createConnection,
  deleteConnection,
  findConnection,
  hrisSyncLeaseName,
  listConnections,
  readLease,
  recordAudit,
  rotateScimToken,
  scim11BaseUrl,
  scimBaseUrl,
  setHrisAccessToken,
  setSftpCredentials,
  sftpHostKey,
  updateConnection,
} from '../../store';
import { CUSTOM_ATTRIBUTE_NAME, CUSTOM_ATTRIBUTE_TYPES, INTEROP_PROFILES, MAX_CUSTOM_ATTRIBUTES } from '../../store';
import type { Config } from '../../config/config';
import { principal } from '../auth';
import { remergeInBackground } from '../jobs';
import { operation, type ApiRoutes } from '../operation';
import { loadOwned } from '../owned';
import { presentConnection } from '../present';
import { ApiError } from '../problem';
import {
  Connection,
  ConnectionCreated,
  ConnectionList,
  Credentials,
  RotatedToken,
  idParams,
  nameInput,
  wrongConnectionType,
} from '../schemas';

const name = nameInput;
const threshold = z
  .number()
  .min(0, 'massRemovalThreshold is a fraction between 0 and 1')
  .max(1, 'massRemovalThreshold is a fraction between 0 and 1');
/** An interval between automatic HRIS syncs: minutes, hours or days (e.g. `24h`, `7d`). */
const schedule = z.string().regex(/^[1-9][0-9]{0,3}(m|h|d)$/, 'schedule is an interval such as 30m, 24h or 7d');
/**
 * An OpenSSH public key (`authorized_keys` line). The server accepts every key type ssh2 reads; the document's pattern
 * describes Ed25519 keys, the one form a regular expression can state exactly (a generated client sends only keys
 * the server takes).
 */
// The key blob is `ssh-ed25519` and 32 key bytes: 68 base64 characters, the first 25 fixed, the 26th carrying the
// low bits of the length byte 0x20 (so A to P).
const ED25519_KEY = '^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-P][A-Za-z0-9+/]{42}( [A-Za-z0-9@._-]{1,100})?$';
const publicKey = z
  .string()
  .max(16_384)
  .refine((k) => !(sshUtils.parseKey(k) instanceof Error), 'not an OpenSSH public key')
  .meta({
    description: 'an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521), as in authorized_keys',
    pattern: ED25519_KEY,
  });

/** scim: the SCIM 2.0 Interoperability Profile mode and declared custom attributes (src/store/scimSettings.ts). */
const interopProfile = z.enum(INTEROP_PROFILES);
const customAttributes = z
  .array(
    z.strictObject({
      name: z.string().regex(CUSTOM_ATTRIBUTE_NAME, 'a custom attribute name starts with a letter and holds only letters, digits, - and _'),
      type: z.enum(CUSTOM_ATTRIBUTE_TYPES),
      multiValued: z.boolean().optional(),
    }),
  )
  .max(MAX_CUSTOM_ATTRIBUTES);

const createSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('scim'),
      name: name.optional(),
      provider: z.enum(SCIM_PROVIDERS).default('generic'),
      extendedAttributes: z.boolean().optional(),
      massRemovalThreshold: threshold.optional(),
      interopProfile: interopProfile.optional(),
      customAttributes: customAttributes.optional(),
    }),
    z.strictObject({
      type: z.literal('sftp'),
      name: name.optional(),
      publicKeys: z.array(publicKey).max(20).optional(),
      massRemovalThreshold: threshold.optional(),
    }),
    z.strictObject({
      type: z.literal('hris'),
      name: name.optional(),
      accessToken: z.string().min(1).max(4096),
      mode: z.enum(['automated', 'assisted']).optional(),
      schedule: schedule.optional(),
      massRemovalThreshold: threshold.optional(),
    }),
    z.strictObject({ type: z.literal('csv'), name: name.optional(), massRemovalThreshold: threshold.optional() }),
    z.strictObject({ type: z.literal('manual'), name: name.optional() }),
  ],
  { error: (iss) => (iss.code === 'invalid_union' ? 'type must be one of scim, sftp, hris, csv, manual' : undefined) },
);

const patchSchema = z.strictObject({
  name: name.optional(),
  extendedAttributes: z.boolean().optional(),
  massRemovalThreshold: threshold.optional(),
  schedule: schedule.nullable().optional(),
  mode: z.enum(['automated', 'assisted']).optional(),
  interopProfile: interopProfile.optional(),
  customAttributes: customAttributes.optional(),
});

const credentialsSchema = z
  .strictObject({
    /** true: issue a new SFTP password (shown once). */
    password: z.literal(true).optional(),
    publicKeys: z.array(publicKey).max(20).optional(),
    /** hris: a new Finch access token. */
    accessToken: z.string().min(1).max(4096).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'send "password": true or "publicKeys" (sftp), or "accessToken" (hris)')
  .meta({ minProperties: 1 });

export const connectionOps = {
  create: operation({
    method: 'post',
    path: '/connections',
    access: 'manage',
    summary: 'Create a connection; secrets (SCIM token, SFTP password) are shown once',
    body: createSchema,
    responses: {
      201: { description: 'OK', json: ConnectionCreated },
      409: { description: 'the organization has as many directory connections as it may', problem: true },
    },
  }),
  list: operation({
    method: 'get',
    path: '/connections',
    access: 'manage',
    summary: 'List connections',
    responses: { 200: { description: 'OK', json: ConnectionList } },
  }),
  get: operation({
    method: 'get',
    path: '/connections/{id}',
    access: 'manage',
    summary: 'Read a connection',
    params: idParams,
    responses: { 200: { description: 'OK', json: Connection } },
  }),
  patch: operation({
    method: 'patch',
    path: '/connections/{id}',
    access: 'manage',
    summary: 'Change settings: name, extendedAttributes (scim), massRemovalThreshold, schedule and mode (hris)',
    params: idParams,
    body: patchSchema,
    responses: { 200: { description: 'OK', json: Connection }, ...wrongConnectionType },
  }),
  delete: operation({
    method: 'delete',
    path: '/connections/{id}',
    access: 'manage',
    summary: 'Delete a connection and everything it asserted',
    params: idParams,
    responses: { 204: { description: 'done' } },
  }),
  rotateToken: operation({
    method: 'post',
    path: '/connections/{id}/rotate-token',
    access: 'manage',
    summary: 'Issue a new SCIM bearer token (scim)',
    params: idParams,
    responses: { 200: { description: 'OK', json: RotatedToken }, ...wrongConnectionType },
  }),
  credentials: operation({
    method: 'post',
    path: '/connections/{id}/credentials',
    access: 'manage',
    summary: 'Set SFTP credentials (a new password, public keys) or a new Finch access token (hris)',
    params: idParams,
    body: credentialsSchema,
    responses: { 200: { description: 'OK', json: Credentials }, ...wrongConnectionType },
  }),
};

function wrongType(detail: string): ApiError {
  return new ApiError(409, 'wrong-connection-type', detail);
}

/** Connections of the caller's organization: owners and admins. */
export function connectionRoutes(api: ApiRoutes, config: Config, logger: Logger): void {
  const env = { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY };
  const load = (id: string, orgId: string) => loadOwned(findConnection, id, orgId, 'connection');

  api.add(connectionOps.create, async (req, res, { body }) => {
    const p = principal(req);
    const created = await createConnection({ ...body, orgId: p.orgId }, env);
    await recordAudit(p.orgId, p.tokenId, 'connection.create', created.id, { type: created.type });
    const doc = await load(created.id, p.orgId);
    const secrets: Record<string, string> = {};
    if (created.token) secrets.token = created.token;
    if (created.password) secrets.password = created.password;
    res
      .status(201)
      .location(`/api/v1/connections/${created.id}`)
      .json({ ...presentConnection(doc, config.PUBLIC_URL), ...secrets });
  });

  api.add(connectionOps.list, async (req, res) => {
    const p = principal(req);
    const docs = await listConnections(p.orgId);
    res.json({ items: docs.map((d) => presentConnection(d, config.PUBLIC_URL)), nextCursor: null });
  });

  api.add(connectionOps.get, async (req, res, { params }) => {
    const doc = await load(params.id, principal(req).orgId);
    const lease = doc.type === 'hris' ? await readLease(hrisSyncLeaseName(doc._id)) : null;
    const out = presentConnection(doc, config.PUBLIC_URL, lease);
    // SFTP: the host key clients should expect (published by the running SFTP daemon).
    if (doc.type === 'sftp' && out.sftp) {
      const host = await sftpHostKey();
      Object.assign(out.sftp, { hostKeyFingerprint: host?.fingerprint ?? null, port: host?.port ?? config.SFTP_PORT });
    }
    res.json(out);
  });

  api.add(connectionOps.patch, async (req, res, { params, body }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    if (body.massRemovalThreshold !== undefined && doc.type === 'manual')
      throw wrongType('manual connections have no full snapshots to guard');
    if (body.extendedAttributes !== undefined && doc.type !== 'scim') {
      throw wrongType('extendedAttributes applies to scim connections (the others sync the full set)');
    }
    if ((body.interopProfile !== undefined || body.customAttributes !== undefined) && doc.type !== 'scim')
      throw wrongType('interopProfile and customAttributes apply to scim connections');
    if ((body.schedule !== undefined || body.mode !== undefined) && doc.type !== 'hris')
      throw wrongType('schedule and mode apply to hris connections');
    const change = await updateConnection(doc._id, {
      name: body.name,
      massRemovalThreshold: body.massRemovalThreshold,
      extendedAttributes: body.extendedAttributes,
      interopProfile: body.interopProfile,
      customAttributes: body.customAttributes,
      hris: doc.type === 'hris' ? { schedule: body.schedule, mode: body.mode } : undefined,
    });
    // What a directory contributes depends on extendedAttributes: its people are re-derived, after the answer.
    remergeInBackground(change.remerge, logger, { orgId: p.orgId, connectionId: doc._id });
    await recordAudit(p.orgId, p.tokenId, 'connection.update', doc._id, { fields: Object.keys(body) });
    res.json(presentConnection(change.value, config.PUBLIC_URL));
  });

  api.add(connectionOps.delete, async (req, res, { params }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    await deleteConnection(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'connection.delete', doc._id, { type: doc.type });
    res.status(204).end();
  });

  api.add(connectionOps.rotateToken, async (req, res, { params }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    if (doc.type !== 'scim') throw wrongType('only scim connections have a bearer token to rotate');
    const token = await rotateScimToken(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'connection.rotate-token', doc._id);
    res.json({
      id: doc._id,
      scimBaseUrl: scimBaseUrl(config.PUBLIC_URL, doc._id),
      scim11BaseUrl: scim11BaseUrl(config.PUBLIC_URL, doc._id),
      token,
    });
  });

  api.add(connectionOps.credentials, async (req, res, { params, body }) => {
    const p = principal(req);
    const doc = await load(params.id, p.orgId);
    const out: Record<string, unknown> = { id: doc._id };
    if (doc.type === 'sftp') {
      if (body.accessToken !== undefined) throw wrongType('accessToken applies to hris connections');
      if (!body.password && !body.publicKeys)
        throw new ApiError(400, 'invalid-body', 'send "password": true for a new password, "publicKeys", or both');
      const { password } = await setSftpCredentials(doc._id, { newPassword: body.password, publicKeys: body.publicKeys });
      if (password !== undefined) out.password = password;
      out.username = doc.sftp?.username ?? null;
    } else if (doc.type === 'hris') {
      if (body.password || body.publicKeys) throw wrongType('password and publicKeys apply to sftp connections');
      if (!body.accessToken) throw new ApiError(400, 'invalid-body', 'send the new Finch "accessToken"');
      await setHrisAccessToken(doc._id, body.accessToken, config.SECRET_KEY);
    } else {
      throw wrongType(
        doc.type === 'scim'
          ? 'scim connections rotate their token with POST /connections/{id}/rotate-token'
          : `${doc.type} connections have no credentials`,
      );
    }
    await recordAudit(p.orgId, p.tokenId, 'connection.credentials', doc._id, {
      password: Boolean(body.password),
      publicKeys: body.publicKeys?.length,
      accessToken: body.accessToken !== undefined,
    });
    res.json(out);
  });
}
