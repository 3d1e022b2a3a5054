import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, uploadAndWait, type Org } from './helpers';
import { checkResponse } from './schemaCheck';
import { USER, scimClient } from '../scim/harness';

describe('admin API: a recipient shows every source, tombstones included (issue 10 §10)', () => {
  const app = makeApp();
  let org: Org;
  before(async () => {
    await openTestStore('api_contrib');
    org = await createOrgWithTokens('Contrib');
  });
  after(async () => {
    await closeTestStore();
  });

  it("explains an offboarding: the identity source's tombstone is the latest identity assertion, a CSV still lists the person", async () => {
    const scim = await scimClient(app, { orgId: org.id });
    const csv = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'HR file' });
    await uploadAndWait(app, org.admin, csv.body.id, 'delta', 'email,first name\nleft@example.com,Lee\n');
    const user = await scim.post('/Users', { schemas: [USER], userName: 'left@example.com', active: true });
    assert.equal(user.status, 201);
    assert.equal((await scim.del(`/Users/${user.body.id}`)).status, 204);

    const res = await request(app).get('/api/v1/recipients/left@example.com').set(bearer(org.reader));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    checkResponse('get', '/recipients/{id}', res);
    assert.equal(res.body.status, 'offboarded');
    const byType = Object.fromEntries(res.body.contributions.map((c: { type: string }) => [c.type, c]));
    assert.equal(res.body.contributions.length, 2);
    assert.deepEqual(
      {
        tombstone: byType.scim.tombstone,
        active: byType.scim.active,
        identity: byType.scim.identitySource,
        latest: byType.scim.latestIdentityAssertion,
      },
      { tombstone: true, active: false, identity: true, latest: true },
    );
    assert.equal(byType.csv.connectionName, 'HR file');
    assert.deepEqual([byType.csv.tombstone, byType.csv.active, byType.csv.latestIdentityAssertion], [false, true, false]);
    assert.match(byType.scim.statusAssertedAt, /^\d{4}-\d\d-\d\dT/);
    // The tombstone is no source the list of live sources shows.
    assert.deepEqual(
      res.body.sources.map((s: { type: string }) => s.type),
      ['csv'],
    );

    // A reactivation by the identity source restores them; the detail shows which assertion decided.
    const again = await scim.post('/Users', { schemas: [USER], userName: 'left@example.com', active: true });
    assert.equal(again.status, 201);
    const back = await request(app).get('/api/v1/recipients/left@example.com').set(bearer(org.reader));
    assert.equal(back.body.status, 'active');
    // A create after the DELETE is a new SCIM user (a new id): the old tombstone stays, the new record decides.
    const scimNow = back.body.contributions.filter((c: { type: string }) => c.type === 'scim');
    assert.equal(scimNow.length, 2);
    const fresh = scimNow.find((c: { tombstone: boolean }) => !c.tombstone);
    const old = scimNow.find((c: { tombstone: boolean }) => c.tombstone);
    assert.deepEqual([fresh.active, fresh.latestIdentityAssertion], [true, true]);
    assert.deepEqual([old.active, old.latestIdentityAssertion], [false, false]);
  });
});
