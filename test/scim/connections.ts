import type { Express } from 'express';
import request from 'supertest';
import { createApiToken, createOrganization } from '../../src/store';
import type { ScimClient } from './harness';

/** A SCIM client for a connection created through the admin API, and that connection's admin-API detail. */
export interface ApiScimClient extends ScimClient {
  adminToken: string;
  /** GET /api/v1/connections/{id} */
  detail(): Promise<Record<string, unknown> & { scim: ScimSettings }>;
  /** PATCH /api/v1/connections/{id} */
  update(body: Record<string, unknown>): request.Test;
}

export interface ScimSettings {
  interopProfile: string;
  customAttributes: { name: string; type: string; multiValued: boolean }[];
  unknownScimAttributes: { name: string; firstSeenAt: string }[];
}

/** Creates an organization, an admin token and a scim connection (POST /api/v1/connections with `settings`). */
export async function apiScimClient(app: Express, settings: Record<string, unknown> = {}): Promise<ApiScimClient> {
  const org = await createOrganization(`org ${Math.random().toString(36).slice(2, 8)}`);
  const admin = (await createApiToken(org.id, 'admin', [], 'admin')).token;
  const created = await request(app)
    .post('/api/v1/connections')
    .set('Authorization', `Bearer ${admin}`)
    .send({ type: 'scim', provider: 'generic', ...settings })
    .expect(201);
  const id = created.body.id as string;
  const token = created.body.token as string;
  const base = `/scim/v2/${id}`;
  const auth = (t: request.Test) => t.set('Authorization', `Bearer ${token}`);
  const json = (t: request.Test, body: unknown) =>
    body === undefined ? t : t.set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  return {
    orgId: org.id,
    connectionId: id,
    token,
    base,
    adminToken: admin,
    get: (p) => auth(request(app).get(base + p)),
    post: (p, b) => json(auth(request(app).post(base + p)), b),
    put: (p, b) => json(auth(request(app).put(base + p)), b),
    patch: (p, b) => json(auth(request(app).patch(base + p)), b),
    del: (p) => auth(request(app).delete(base + p)),
    detail: async () => (await request(app).get(`/api/v1/connections/${id}`).set('Authorization', `Bearer ${admin}`).expect(200)).body,
    update: (body) => request(app).patch(`/api/v1/connections/${id}`).set('Authorization', `Bearer ${admin}`).send(body),
  };
}

/** Polls until `check` returns a value (the unknown-attribute report is written after the answer). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
