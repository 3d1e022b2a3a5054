import request from 'supertest';
import type { Express } from 'express';
import { createConnection, createOrganization } from '../../src/store';

export const CORE_V1 = 'urn:scim:schemas:core:1.0';
export const ENTERPRISE_V1 = 'urn:scim:schemas:extension:enterprise:1.0';

/** What Okta's SCIM 1.1 client sends with every request. */
export const OKTA_AGENT = 'Okta SCIM Client 1.0.0';

export interface Client {
  base: string;
  get(path: string): request.Test;
  post(path: string, body?: unknown, contentType?: string): request.Test;
  put(path: string, body: unknown, contentType?: string): request.Test;
  patch(path: string, body: unknown, contentType?: string): request.Test;
  del(path: string): request.Test;
}

export interface Connection11 {
  orgId: string;
  connectionId: string;
  token: string;
  scim11BaseUrl: string;
  /** The connection in Okta's SCIM 1.1 dialect. */
  v1: Client;
  /** The same connection in SCIM 2.0. */
  v2: Client;
}

function client(app: Express, base: string, token: string): Client {
  const auth = (t: request.Test) =>
    t.set('Authorization', `Bearer ${token}`).set('User-Agent', OKTA_AGENT).set('Accept', 'application/json');
  const json = (t: request.Test, body: unknown, type: string) =>
    body === undefined ? t : t.set('Content-Type', type).send(JSON.stringify(body));
  return {
    base,
    get: (p) => auth(request(app).get(base + p)),
    post: (p, b, type = 'application/json') => json(auth(request(app).post(base + p)), b, type),
    put: (p, b, type = 'application/json') => json(auth(request(app).put(base + p)), b, type),
    patch: (p, b, type = 'application/json') => json(auth(request(app).patch(base + p)), b, type),
    del: (p) => auth(request(app).delete(base + p)),
  };
}

/** An organization with one Okta SCIM connection, with clients for its 1.1 and 2.0 base paths. */
export async function oktaConnection(app: Express, opts: { extendedAttributes?: boolean } = {}): Promise<Connection11> {
  const orgId = (await createOrganization(`org ${Math.random().toString(36).slice(2, 8)}`)).id;
  const created = await createConnection(
    { orgId, type: 'scim', provider: 'okta', extendedAttributes: opts.extendedAttributes },
    { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' },
  );
  const token = created.token!;
  return {
    orgId,
    connectionId: created.id,
    token,
    scim11BaseUrl: created.scim11BaseUrl!,
    v1: client(app, `/scim/v1/${created.id}`, token),
    v2: client(app, `/scim/v2/${created.id}`, token),
  };
}

/** `?filter=...` with the filter URL-encoded, as Okta sends it. */
export function filterQuery(filter: string, extra = ''): string {
  return `?filter=${encodeURIComponent(filter)}${extra}`;
}
