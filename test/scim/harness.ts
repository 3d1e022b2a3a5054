import request from 'supertest';
import type { Express } from 'express';
import pino from 'pino';
import { createApp } from '../../src/server/app';
import { createConnection, createOrganization, getRecipient, recipientId, type RecipientDoc } from '../../src/store';
import type { Config } from '../../src/config/config';
import { testConfig } from '../helpers/config';

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export function makeApp(overrides: Partial<Config> = {}): Express {
  return createApp({ config: testConfig(overrides), logger: pino({ level: 'silent' }) });
}

export interface ScimClient {
  orgId: string;
  connectionId: string;
  token: string;
  base: string;
  get(path: string): request.Test;
  post(path: string, body?: unknown): request.Test;
  put(path: string, body: unknown): request.Test;
  patch(path: string, body: unknown): request.Test;
  del(path: string): request.Test;
}

/** An organization with one SCIM connection, and a client for its base path. */
export async function scimClient(
  app: Express,
  opts: { provider?: string; extendedAttributes?: boolean; orgId?: string } = {},
): Promise<ScimClient> {
  const orgId = opts.orgId ?? (await createOrganization(`org ${Math.random().toString(36).slice(2, 8)}`)).id;
  const created = await createConnection(
    { orgId, type: 'scim', provider: opts.provider ?? 'generic', extendedAttributes: opts.extendedAttributes },
    { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' },
  );
  const base = `/scim/v2/${created.id}`;
  const auth = (t: request.Test) => t.set('Authorization', `Bearer ${created.token}`);
  const json = (t: request.Test, body: unknown) =>
    body === undefined ? t : t.set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  return {
    orgId,
    connectionId: created.id,
    token: created.token!,
    base,
    get: (p) => auth(request(app).get(base + p)),
    post: (p, b) => json(auth(request(app).post(base + p)), b),
    put: (p, b) => json(auth(request(app).put(base + p)), b),
    patch: (p, b) => json(auth(request(app).patch(base + p)), b),
    del: (p) => auth(request(app).delete(base + p)),
  };
}

export async function recipient(orgId: string, email: string): Promise<RecipientDoc | null> {
  return getRecipient(recipientId(orgId, email.toLowerCase()));
}

export function patchOp(...ops: { op: string; path?: string; value?: unknown }[]) {
  return { schemas: [PATCH_OP], Operations: ops };
}

export function q(filter: string, extra = ''): string {
  return `?filter=${encodeURIComponent(filter)}${extra}`;
}
