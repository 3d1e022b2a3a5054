import { Router, type RequestHandler } from 'express';
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
import { principal, requireAccess } from '../auth';
import { remergeInBackground } from '../jobs';
import { loadOwned } from '../owned';
import { presentConnection } from '../present';
import { ApiError } from '../problem';
import { parseBody, idParam } from '../validate';

const name = z.string().trim().min(1).max(200);
const threshold = z
  .number()
  .min(0, 'massRemovalThreshold is a fraction between 0 and 1')
  .max(1, 'massRemovalThreshold is a fraction between 0 and 1');
/** An interval between automatic HRIS syncs: minutes, hours or days (e.g. `24h`, `7d`). */
const schedule = z.string().regex(/^[1-9][0-9]{0,3}(m|h|d)$/, 'schedule is an interval such as 30m, 24h or 7d');
const publicKey = z
  .string()
  .max(16_384)
  .refine((k) => !(sshUtils.parseKey(k) instanceof Error), 'not an OpenSSH public key');

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

const credentialsSchema = z.strictObject({
  /** true: issue a new SFTP password (shown once). */
  password: z.literal(true).optional(),
  publicKeys: z.array(publicKey).max(20).optional(),
  /** hris: a new Finch access token. */
  accessToken: z.string().min(1).max(4096).optional(),
});

function wrongType(detail: string): ApiError {
  return new ApiError(400, 'wrong-connection-type', detail);
}

/** Connections of the caller's organization: owners and admins. */
export function connectionRoutes(json: RequestHandler, config: Config, logger: Logger): Router {
  const r = Router();
  r.use(requireAccess('manage'));
  const env = { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY };
  const load = (id: string, orgId: string) => loadOwned(findConnection, id, orgId, 'connection');

  r.post('/', json, async (req, res) => {
    const p = principal(req);
    const body = parseBody(createSchema, req.body);
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

  r.get('/', async (req, res) => {
    const p = principal(req);
    const docs = await listConnections(p.orgId);
    res.json({ items: docs.map((d) => presentConnection(d, config.PUBLIC_URL)), nextCursor: null });
  });

  r.get('/:id', async (req, res) => {
    const doc = await load(idParam(req), principal(req).orgId);
    const lease = doc.type === 'hris' ? await readLease(hrisSyncLeaseName(doc._id)) : null;
    const out = presentConnection(doc, config.PUBLIC_URL, lease);
    // SFTP: the host key clients should expect (published by the running SFTP daemon).
    if (doc.type === 'sftp' && out.sftp) {
      const host = await sftpHostKey();
      Object.assign(out.sftp, { hostKeyFingerprint: host?.fingerprint ?? null, port: host?.port ?? config.SFTP_PORT });
    }
    res.json(out);
  });

  r.patch('/:id', json, async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const body = parseBody(patchSchema, req.body);
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

  r.delete('/:id', async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    await deleteConnection(doc._id);
    await recordAudit(p.orgId, p.tokenId, 'connection.delete', doc._id, { type: doc.type });
    res.status(204).end();
  });

  r.post('/:id/rotate-token', async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
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

  r.post('/:id/credentials', json, async (req, res) => {
    const p = principal(req);
    const doc = await load(idParam(req), p.orgId);
    const body = parseBody(credentialsSchema, req.body);
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

  return r;
}
