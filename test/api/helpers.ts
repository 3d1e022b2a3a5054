import assert from 'node:assert/strict';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../src/server/app';
import { createLogger } from '../../src/server/logger';
import { waitForBackgroundJobs } from '../../src/api/jobs';
import { createApiToken, createOrganization } from '../../src/store';
import { Recipient, SourceRecord, Group } from '../../src/store/models';
import { testConfig } from '../helpers/config';

/** Helpers shared by the Admin API tests (test/api*.test.ts). */

export interface Org {
  id: string;
  owner: string;
  admin: string;
  reader: string;
  member: string;
}

export async function createOrgWithTokens(name: string): Promise<Org> {
  const org = await createOrganization(name);
  const [owner, admin, reader, member] = await Promise.all([
    createApiToken(org.id, 'owner', [], 'owner'),
    createApiToken(org.id, 'admin', [], 'admin'),
    createApiToken(org.id, 'member', ['recipients:read'], 'reader'),
    createApiToken(org.id, 'member', [], 'member'),
  ]);
  return { id: org.id, owner: owner.token, admin: admin.token, reader: reader.token, member: member.token };
}

export function makeApp(overrides: Parameters<typeof testConfig>[0] = {}): Express {
  return createApp({ config: testConfig(overrides), logger: createLogger('silent') });
}

export function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

/** Waits for an upload's sync run to leave queued/running. */
export async function waitForRun(app: Express, token: string, runId: string): Promise<Record<string, any>> {
  await waitForBackgroundJobs();
  for (let i = 0; i < 200; i++) {
    const res = await request(app).get(`/api/v1/sync-runs/${runId}`).set(bearer(token));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (res.body.status !== 'queued' && res.body.status !== 'running') return res.body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`sync run ${runId} did not finish`);
}

export async function upload(
  app: Express,
  token: string,
  connectionId: string,
  mode: 'full' | 'delta',
  body: string | Buffer,
  type = 'text/csv',
) {
  return request(app)
    .post(`/api/v1/connections/${connectionId}/uploads?mode=${mode}`)
    .set(bearer(token))
    .set('Content-Type', type)
    .send(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

/** Uploads and waits: the finished sync run. */
export async function uploadAndWait(app: Express, token: string, connectionId: string, mode: 'full' | 'delta', body: string | Buffer) {
  const res = await upload(app, token, connectionId, mode, body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return waitForRun(app, token, res.body.syncRunId);
}

/** What the store says about an organization's people (recipients, source records, groups), for before/after comparisons. */
export async function storeState(orgId: string): Promise<string> {
  const strip = (d: Record<string, unknown>) => {
    const { updatedAt: _u, ...rest } = d;
    return rest;
  };
  const recipients = ((await Recipient.find({ orgId }).lean().exec()) as unknown as Record<string, unknown>[])
    .map(strip)
    .sort((a, b) => String(a._id).localeCompare(String(b._id)));
  const records = ((await SourceRecord.find({ orgId }).lean().exec()) as unknown as Record<string, unknown>[])
    .map(strip)
    .sort((a, b) => String(a._id).localeCompare(String(b._id)));
  const groups = ((await Group.find({ orgId }).lean().exec()) as unknown as Record<string, unknown>[])
    .map(strip)
    .sort((a, b) => String(a._id).localeCompare(String(b._id)));
  return JSON.stringify({ recipients, records, groups });
}
