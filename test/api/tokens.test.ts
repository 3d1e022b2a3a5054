import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createApiToken, createOrganization } from '../../src/store';
import { ApiToken } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, makeApp } from './helpers';
import { checkResponse } from './schemaCheck';

describe('admin API: the last owner token of an organization', () => {
  const app = makeApp();
  before(async () => {
    await openTestStore('api_tokens');
  });
  after(closeTestStore);

  it('cannot revoke itself (409 problem, token still works); once another owner token exists it can', async () => {
    const org = await createOrganization('Solo');
    const first = await createApiToken(org.id, 'owner');
    const admin = await createApiToken(org.id, 'admin');

    const refused = await request(app).delete(`/api/v1/tokens/${first.id}`).set(bearer(first.token));
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(refused.headers['content-type']!, /^application\/problem\+json/);
    assert.equal(refused.body.type, 'urn:audience-sync:problem:last-owner-token');
    assert.equal(refused.body.title, 'Conflict');
    assert.match(refused.body.detail, /last owner token.*create another owner token first/);
    checkResponse('delete', '/tokens/{id}', refused);
    // Nothing changed: the token is stored and still manages the organization.
    assert.equal(await ApiToken.countDocuments({ orgId: org.id, role: 'owner' }).exec(), 1);
    assert.equal((await request(app).get('/api/v1/tokens').set(bearer(first.token))).status, 200);

    // An admin or member token does not count as an owner: still refused.
    assert.equal((await request(app).delete(`/api/v1/tokens/${first.id}`).set(bearer(first.token))).status, 409);

    // A second owner token lifts the refusal: the first one can go, and then the second is the last one.
    const second = await request(app).post('/api/v1/tokens').set(bearer(first.token)).send({ role: 'owner', name: 'successor' });
    assert.equal(second.status, 201);
    assert.equal((await request(app).delete(`/api/v1/tokens/${first.id}`).set(bearer(first.token))).status, 204);
    assert.equal((await request(app).get('/api/v1/tokens').set(bearer(first.token))).status, 401);
    const last = await request(app).delete(`/api/v1/tokens/${second.body.id}`).set(bearer(second.body.token));
    assert.equal(last.status, 409);
    // Revoking other tokens (admin) is unaffected.
    assert.equal((await request(app).delete(`/api/v1/tokens/${admin.id}`).set(bearer(second.body.token))).status, 204);
  });

  it('holds when two owners revoke each other at the same moment: one owner token is left', async () => {
    const org = await createOrganization('Pair');
    const a = await createApiToken(org.id, 'owner');
    const b = await createApiToken(org.id, 'owner');
    const [ra, rb] = await Promise.all([
      request(app).delete(`/api/v1/tokens/${b.id}`).set(bearer(a.token)),
      request(app).delete(`/api/v1/tokens/${a.id}`).set(bearer(b.token)),
    ]);
    const statuses = [ra.status, rb.status].sort();
    assert.ok(statuses.includes(409) || statuses.includes(401), `one of them is refused: ${statuses.join(', ')}`);
    assert.ok((await ApiToken.countDocuments({ orgId: org.id, role: 'owner' }).exec()) >= 1, 'an owner token is left');
  });
});
