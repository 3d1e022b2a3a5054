import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeTestStore, openTestStore } from '../helpers/store';
import { makeApp, recipient } from './harness';
import { CORE_V1, ENTERPRISE_V1, filterQuery, oktaConnection, type Connection11 } from './harness11';

/*
 * Replays the requests and responses of Okta's developer reference "Okta and SCIM Version 1.1"
 * (okta-developer-docs, docs/reference/scim/scim-11): request bodies as the reference shows them, responses compared
 * with the reference's, except for what the server assigns (id, meta's dates, version and location).
 */

type Json = Record<string, unknown>;

const EMPTY_LIST = { schemas: [CORE_V1], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] };

/** Compares a response with the reference's: equal apart from `id` and `meta`, whose shape is checked. */
function assertLikeReference(actual: Json, reference: Json, location: string): void {
  const { id: _id, meta, ...rest } = actual;
  const { id: _rid, meta: _rmeta, ...expected } = reference;
  assert.deepEqual(rest, expected);
  assert.equal(typeof actual.id, 'string');
  const m = meta as Json;
  assert.deepEqual(Object.keys(m).sort(), ['created', 'lastModified', 'location', 'version']);
  assert.ok(!Number.isNaN(Date.parse(String(m.created))) && !Number.isNaN(Date.parse(String(m.lastModified))));
  assert.equal(m.location, `${location}/${String(actual.id)}`);
  assert.equal(typeof m.version, 'string');
}

function assertJson(res: { headers: Record<string, string | undefined> }): void {
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
}

// Request bodies, as the reference shows them.
const CREATE_USER = {
  schemas: [CORE_V1],
  userName: 'test.user@okta.local',
  name: { givenName: 'Test', familyName: 'User' },
  emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
  displayName: 'Test User',
  locale: 'en_US',
  externalId: '00b443dd40SOK2eup0h7',
  groups: [],
  password: '1mz050nq',
  active: true,
};

// The reference's user as the server returns it after the create.
const CREATED_USER: Json = {
  schemas: [CORE_V1],
  id: 'e155dc98-aeee-4f58-b683-12b93dbc86b3',
  userName: 'test.user@okta.local',
  externalId: '00b443dd40SOK2eup0h7',
  name: { givenName: 'Test', familyName: 'User' },
  displayName: 'Test User',
  locale: 'en_US',
  active: true,
  emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
  groups: [],
  meta: { created: '2019-10-18T06:39:04+00:00', lastModified: '2019-10-18T06:39:04+00:00', version: 'fe2a80129b16ff934d485c3c9c45892f' },
};

describe("SCIM 1.1: the requests of Okta's SCIM 1.1 reference", () => {
  const app = makeApp();
  let c: Connection11;
  let userId = '';
  let user2Id = '';
  let groupId = '';

  before(async () => {
    await openTestStore('scim11');
    c = await oktaConnection(app);
  });
  after(closeTestStore);

  test('the connection shows its 1.1 base URL beside the 2.0 one', () => {
    assert.equal(c.scim11BaseUrl, `http://localhost:8080/scim/v1/${c.connectionId}`);
  });

  test('enabling provisioning: GET /Users?startIndex=1&count=2 and GET /Groups?startIndex=1&count=100', async () => {
    const users = await c.v1.get('/Users?startIndex=1&count=2').expect(200);
    assertJson(users);
    assert.deepEqual(users.body, EMPTY_LIST);
    const groups = await c.v1.get('/Groups?startIndex=1&count=100').expect(200);
    assert.deepEqual(groups.body, EMPTY_LIST);
  });

  test('determine if the user exists: an empty list response, integers', async () => {
    const res = await c.v1.get('/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100').expect(200);
    assertJson(res);
    assert.deepEqual(res.body, EMPTY_LIST);
  });

  test('create the user: 201 with the created user, no password; the recipient is active', async () => {
    const res = await c.v1.post('/Users', CREATE_USER).expect(201);
    assertJson(res);
    assertLikeReference(res.body, CREATED_USER, `${c.scim11BaseUrl}/Users`);
    userId = res.body.id;
    assert.equal(res.headers.location, `${c.scim11BaseUrl}/Users/${userId}`);
    assert.equal(JSON.stringify(res.body).includes('1mz050nq'), false);
    const r = await recipient(c.orgId, 'test.user@okta.local');
    assert.equal(r?.status, 'active');
    assert.equal(r?.firstName, 'Test');
    assert.equal(r?.lastName, 'User');
  });

  test('a create of an existing userName (any case) is 409 in the 1.1 error format', async () => {
    for (const userName of ['test.user@okta.local', 'Test.User@OKTA.local']) {
      const res = await c.v1.post('/Users', { ...CREATE_USER, userName }).expect(409);
      assertJson(res);
      assert.equal(res.body.Errors.length, 1);
      assert.equal(res.body.Errors[0].code, 409);
      assert.match(res.body.Errors[0].description, /already/);
      assert.equal(res.body.schemas, undefined);
    }
    const all = await c.v1.get('/Users?startIndex=1&count=100').expect(200);
    assert.equal(all.body.totalResults, 1);
  });

  test('lookup by userName in another case finds the user', async () => {
    for (const name of ['test.user@okta.local', 'TEST.USER@OKTA.LOCAL', 'Test.User@Okta.Local']) {
      const res = await c.v1.get(`/Users${filterQuery(`userName eq "${name}"`, '&startIndex=1&count=100')}`).expect(200);
      assert.equal(res.body.totalResults, 1);
      assert.equal(res.body.itemsPerPage, 1);
      assert.equal(res.body.startIndex, 1);
      assert.deepEqual(res.body.schemas, [CORE_V1]);
      assertLikeReference(res.body.Resources[0], CREATED_USER, `${c.scim11BaseUrl}/Users`);
      assert.equal(res.body.Resources[0].id, userId);
    }
  });

  test('retrieve a specific user: GET /Users/{id}', async () => {
    const res = await c.v1.get(`/Users/${userId}`).expect(200);
    assertJson(res);
    assertLikeReference(res.body, CREATED_USER, `${c.scim11BaseUrl}/Users`);
    assert.equal(res.body.id, userId);
  });

  test('update a specific user: GET, then PUT of the whole resource (meta included)', async () => {
    const current = (await c.v1.get(`/Users/${userId}`).expect(200)).body;
    const put = {
      schemas: [CORE_V1],
      id: userId,
      userName: 'test.user@okta.local',
      externalId: '00b443dd40SOK2eup0h7',
      name: { givenName: 'Test1', familyName: 'User' },
      displayName: 'Test1 User',
      locale: 'en_US',
      active: true,
      emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
      meta: current.meta,
      groups: [],
    };
    const res = await c.v1.put(`/Users/${userId}`, put).expect(200);
    assertLikeReference(
      res.body,
      { ...CREATED_USER, name: { givenName: 'Test1', familyName: 'User' }, displayName: 'Test1 User' },
      `${c.scim11BaseUrl}/Users`,
    );
    assert.notEqual(res.body.meta.version, current.meta.version);
    assert.equal(res.body.meta.created, current.meta.created);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.firstName, 'Test1');
  });

  test('a PUT that changes the id is refused in the 1.1 error format', async () => {
    const current = (await c.v1.get(`/Users/${userId}`).expect(200)).body;
    const res = await c.v1.put(`/Users/${userId}`, { ...current, id: 'another-id' }).expect(400);
    assert.equal(res.body.Errors[0].code, 400);
  });

  test('PATCH {"active": false} deactivates: 200 with the user, the user stays visible, the recipient is offboarded', async () => {
    const res = await c.v1.patch(`/Users/${userId}`, { schemas: [CORE_V1], id: userId, active: false }).expect(200);
    assertJson(res);
    assertLikeReference(
      res.body,
      { ...CREATED_USER, name: { givenName: 'Test1', familyName: 'User' }, displayName: 'Test1 User', active: false },
      `${c.scim11BaseUrl}/Users`,
    );
    const found = await c.v1.get(`/Users${filterQuery('userName eq "test.user@okta.local"')}`).expect(200);
    assert.equal(found.body.Resources[0].active, false);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'offboarded');
  });

  test('PATCH {"active": true} reactivates', async () => {
    const res = await c.v1.patch(`/Users/${userId}`, { schemas: [CORE_V1], id: userId, active: true }).expect(200);
    assert.equal(res.body.active, true);
    assert.equal(res.body.userName, 'test.user@okta.local');
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'active');
  });

  test('a PATCH syncing the password changes nothing visible', async () => {
    const before = (await c.v1.get(`/Users/${userId}`).expect(200)).body;
    const res = await c.v1.patch(`/Users/${userId}`, { schemas: [CORE_V1], id: userId, password: 'n3wPassw0rd' }).expect(200);
    assert.equal(JSON.stringify(res.body).includes('n3wPassw0rd'), false);
    const { meta: _a, ...was } = before;
    const { meta: _b, ...now } = res.body;
    assert.deepEqual(now, was);
  });

  test('bodies sent as text/json and application/scim+json are read as JSON', async () => {
    const body = {
      ...CREATE_USER,
      userName: 'test.user2@okta.local',
      emails: [{ primary: true, value: 'test.user2@okta.local', type: 'work' }],
      externalId: '00u2',
    };
    const res = await c.v1.post('/Users', body, 'text/json;charset=UTF-8').expect(201);
    user2Id = res.body.id;
    assert.equal(res.body.userName, 'test.user2@okta.local');
    const patched = await c.v1.patch(`/Users/${user2Id}`, { schemas: [CORE_V1], title: 'Engineer' }, 'application/scim+json').expect(200);
    assert.equal(patched.body.title, 'Engineer');
    const bad = await c.v1.post('/Users', undefined).set('Content-Type', 'text/json').send('{"userName": ').expect(400);
    assert.equal(bad.body.Errors[0].code, 400);
  });

  test('PATCH merges complex attributes, adds and deletes multi-valued values, and clears meta.attributes', async () => {
    const path = `/Users/${user2Id}`;
    let res = await c.v1.patch(path, { schemas: [CORE_V1], name: { middleName: 'M' } }).expect(200);
    assert.deepEqual(res.body.name, { givenName: 'Test', familyName: 'User', middleName: 'M' });
    res = await c.v1.patch(path, { schemas: [CORE_V1], emails: [{ value: 'home@example.com', type: 'home' }] }).expect(200);
    assert.deepEqual(
      res.body.emails.map((e: Json) => e.value),
      ['test.user2@okta.local', 'home@example.com'],
    );
    // The same value again merges into the stored one.
    res = await c.v1.patch(path, { schemas: [CORE_V1], emails: [{ value: 'home@example.com', type: 'other' }] }).expect(200);
    assert.deepEqual(res.body.emails[1], { value: 'home@example.com', type: 'other' });
    res = await c.v1.patch(path, { schemas: [CORE_V1], emails: [{ value: 'home@example.com', operation: 'delete' }] }).expect(200);
    assert.deepEqual(
      res.body.emails.map((e: Json) => e.value),
      ['test.user2@okta.local'],
    );
    res = await c.v1.patch(path, { schemas: [CORE_V1], meta: { attributes: ['title', 'name.middleName'] } }).expect(200);
    assert.equal(res.body.title, undefined);
    assert.deepEqual(res.body.name, { givenName: 'Test', familyName: 'User' });
    assert.equal((await recipient(c.orgId, 'test.user2@okta.local'))?.attributes.job_title ?? null, null);
  });

  test('create a group: 201 with the group and its (empty) members', async () => {
    const res = await c.v1.post('/Groups', { schemas: [CORE_V1], displayName: 'Test SCIMv1' }).expect(201);
    assertJson(res);
    assertLikeReference(
      res.body,
      { schemas: [CORE_V1], id: '74094a55-c9ee-47ae-9fd4-9137deb43497', displayName: 'Test SCIMv1', members: [] },
      `${c.scim11BaseUrl}/Groups`,
    );
    groupId = res.body.id;
    const read = await c.v1.get(`/Groups/${groupId}`).expect(200);
    assert.deepEqual(read.body, res.body);
  });

  test('update the group name: PATCH answers 200 with the group', async () => {
    const res = await c.v1.patch(`/Groups/${groupId}`, { schemas: [CORE_V1], id: groupId, displayName: 'Test SCIMv11' }).expect(200);
    assertJson(res);
    assertLikeReference(res.body, { schemas: [CORE_V1], displayName: 'Test SCIMv11', members: [] }, `${c.scim11BaseUrl}/Groups`);
  });

  test('add members with PATCH: the group lists them, the recipients are in the group', async () => {
    let res = await c.v1
      .patch(`/Groups/${groupId}`, {
        schemas: [CORE_V1],
        members: [{ value: userId, display: 'test.user@okta.local' }],
      })
      .expect(200);
    assertLikeReference(
      res.body,
      { schemas: [CORE_V1], displayName: 'Test SCIMv11', members: [{ value: userId, display: 'test.user@okta.local' }] },
      `${c.scim11BaseUrl}/Groups`,
    );
    res = await c.v1
      .patch(`/Groups/${groupId}`, { schemas: [CORE_V1], members: [{ value: user2Id, display: 'test.user2@okta.local' }] })
      .expect(200);
    assert.deepEqual(new Set(res.body.members.map((m: Json) => m.value)), new Set([userId, user2Id]));
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, [groupId]);
    assert.deepEqual((await recipient(c.orgId, 'test.user2@okta.local'))?.groups, [groupId]);
    const user = await c.v1.get(`/Users/${userId}`).expect(200);
    assert.deepEqual(user.body.groups, [{ value: groupId, display: 'Test SCIMv11' }]);
  });

  test('remove a member with "operation": "delete"', async () => {
    const res = await c.v1
      .patch(`/Groups/${groupId}`, {
        schemas: [CORE_V1],
        members: [{ value: user2Id, display: 'test.user2@okta.local', operation: 'delete' }],
      })
      .expect(200);
    assertLikeReference(
      res.body,
      { schemas: [CORE_V1], displayName: 'Test SCIMv11', members: [{ value: userId, display: 'test.user@okta.local' }] },
      `${c.scim11BaseUrl}/Groups`,
    );
    assert.deepEqual((await recipient(c.orgId, 'test.user2@okta.local'))?.groups, []);
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, [groupId]);
  });

  test('meta.attributes ["members"] clears the members; a member unknown to the connection is refused', async () => {
    let res = await c.v1.patch(`/Groups/${groupId}`, { schemas: [CORE_V1], meta: { attributes: ['members'] } }).expect(200);
    assert.deepEqual(res.body.members, []);
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, []);
    // Cleared first, then added: the group ends with exactly what the request lists.
    res = await c.v1
      .patch(`/Groups/${groupId}`, {
        schemas: [CORE_V1],
        members: [
          { value: userId, display: 'test.user@okta.local' },
          { value: user2Id, display: 'test.user2@okta.local' },
        ],
        meta: { attributes: ['members'] },
      })
      .expect(200);
    assert.equal(res.body.members.length, 2);
    const bad = await c.v1.patch(`/Groups/${groupId}`, { schemas: [CORE_V1], members: [{ value: 'no-such-user' }] }).expect(400);
    assert.equal(bad.body.Errors[0].code, 400);
    assert.equal((await c.v1.get(`/Groups/${groupId}`).expect(200)).body.members.length, 2);
  });

  test('a group description in urn:okta:custom:group:1.0 is accepted and not kept (no schema of ours declares it)', async () => {
    const res = await c.v1
      .post('/Groups', {
        schemas: [CORE_V1, 'urn:okta:custom:group:1.0'],
        displayName: 'Group 10',
        'urn:okta:custom:group:1.0': { description: 'All Users West of the Rockies' },
      })
      .expect(201);
    assert.equal(res.body.displayName, 'Group 10');
    assert.deepEqual(res.body.schemas, [CORE_V1]);
    assert.equal(res.body['urn:okta:custom:group:1.0'], undefined);
    const renamed = await c.v1
      .patch(`/Groups/${res.body.id}`, {
        schemas: [CORE_V1, 'urn:okta:custom:group:1.0'],
        id: res.body.id,
        displayName: 'Group 11',
        'urn:okta:custom:group:1.0': { description: 'All Users East of the Rockies' },
      })
      .expect(200);
    assert.deepEqual(Object.keys(renamed.body).sort(), ['displayName', 'id', 'members', 'meta', 'schemas']);
    const list = await c.v1.get(`/Groups${filterQuery('displayName eq "group 11"')}`).expect(200);
    assert.deepEqual(
      list.body.Resources.map((g: Json) => g.id),
      [res.body.id],
    );
    await c.v1.del(`/Groups/${res.body.id}`).expect(204);
  });

  test('an app extension no schema declares is accepted and not kept (issue #14 item 5); .json suffixes are understood', async () => {
    const ext = 'urn:okta:acme_app:1.0:user:custom';
    const path = `/Users/${user2Id}`;
    let res = await c.v1.patch(path, { schemas: [CORE_V1, ext], [ext]: { costCode: 'A1', badge: '7' } }).expect(200);
    assert.equal(res.body[ext], undefined);
    res = await c.v1.patch(path, { schemas: [CORE_V1, ext], [ext]: { badge: '8' } }).expect(200);
    assert.equal(res.body[ext], undefined);
    const json = await c.v1.get(`/Users/${user2Id}.json`).expect(200);
    assert.deepEqual(json.body, (await c.v1.get(path).expect(200)).body);
    const list = await c.v1.get(`/Users.json${filterQuery('userName eq "test.user2@okta.local"')}`).expect(200);
    assert.deepEqual(
      list.body.Resources.map((u: Json) => u.id),
      [user2Id],
    );
    await c.v1.get('/Users/%E0%A4%A').expect(404);
  });

  test("PUT replaces a group's name and members", async () => {
    const res = await c.v1
      .put(`/Groups/${groupId}`, { schemas: [CORE_V1], id: groupId, displayName: 'Test SCIMv12', members: [{ value: user2Id }] })
      .expect(200);
    assert.equal(res.body.displayName, 'Test SCIMv12');
    assert.deepEqual(
      res.body.members.map((m: Json) => m.value),
      [user2Id],
    );
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, []);
  });

  test('switching the connection to SCIM 2.0 keeps every person and group under the same ids', async () => {
    const v1Users = (await c.v1.get('/Users?startIndex=1&count=100').expect(200)).body.Resources as Json[];
    const v2Users = (await c.v2.get('/Users?startIndex=1&count=100').expect(200)).body.Resources as Json[];
    assert.equal(v1Users.length, 2);
    assert.deepEqual(
      v2Users.map((u) => [u.id, u.userName, u.active]),
      v1Users.map((u) => [u.id, u.userName, u.active]),
    );
    for (const u of v2Users) assert.ok((u.schemas as string[]).includes('urn:ietf:params:scim:schemas:core:2.0:User'));
    const v1Groups = (await c.v1.get('/Groups?startIndex=1&count=100').expect(200)).body.Resources as Json[];
    const v2Groups = (await c.v2.get('/Groups?startIndex=1&count=100').expect(200)).body.Resources as Json[];
    assert.deepEqual(
      v2Groups.map((g) => [g.id, g.displayName, (g.members as Json[]).map((m) => m.value)]),
      v1Groups.map((g) => [g.id, g.displayName, (g.members as Json[]).map((m) => m.value)]),
    );
    // The 2.0 client takes over: its lookups find the 1.1 users, its changes show through both.
    const found = await c.v2.get(`/Users${filterQuery('userName eq "TEST.USER@okta.local"')}`).expect(200);
    assert.equal(found.body.Resources[0].id, userId);
    assert.equal(found.body.Resources[0].name.givenName, 'Test1');
    await c.v2
      .patch(`/Users/${userId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { active: false } }],
      })
      .expect(200);
    assert.equal((await c.v1.get(`/Users/${userId}`).expect(200)).body.active, false);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'offboarded');
    const again = await c.v2.post('/Users', { ...CREATE_USER, schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] }).expect(201);
    assert.equal(again.body.id, userId, 'the 2.0 create reactivates the user 1.1 created');
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'active');
  });

  test('delete a group: 204, then 404 in the 1.1 error format; its people leave it', async () => {
    await c.v1.del(`/Groups/${groupId}`).expect(204);
    const res = await c.v1.get(`/Groups/${groupId}`).expect(404);
    assertJson(res);
    assert.equal(res.body.Errors[0].code, 404);
    assert.ok(res.body.detail);
    assert.deepEqual((await recipient(c.orgId, 'test.user2@okta.local'))?.groups, []);
  });

  test('a deleted user is gone from 1.1 and the person stays offboarded', async () => {
    await c.v1.del(`/Users/${user2Id}`).expect(204);
    await c.v1.get(`/Users/${user2Id}`).expect(404);
    assert.equal((await recipient(c.orgId, 'test.user2@okta.local'))?.status, 'offboarded');
  });

  test('errors: bad filter 400, unknown resource 404, read-only discovery 405, all in the 1.1 format', async () => {
    const bad = await c.v1.get(`/Users${filterQuery('userName eq')}`).expect(400);
    assert.equal(bad.body.Errors[0].code, 400);
    await c.v1.get('/Users/010101001010101011001010101011').expect(404);
    await c.v1.get('/Nothing').expect(404);
    const na = await c.v1.post('/ServiceProviderConfigs', undefined).set('Content-Type', 'application/json').send('test').expect(405);
    assert.equal(na.body.Errors[0].code, 405);
    await c.v1.del('/Users').expect(405);
  });

  test("authentication: the connection's own token only, 401 in the 1.1 format", async () => {
    const other = await oktaConnection(app);
    const res = await other.v1.get('/Users').set('Authorization', `Bearer ${c.token}`).expect(401);
    assert.equal(res.body.Errors[0].code, 401);
    assert.ok(res.headers['www-authenticate']);
    await c.v1.get('/Users').set('Authorization', 'Bearer nope').expect(401);
    await other.v1.get('/Users').expect(200);
  });

  test('one rate limit per connection across both dialects: 429 in the 1.1 format', async () => {
    const limited = makeApp({ SCIM_RATE_LIMIT_PER_MINUTE: 5 });
    const lc = await oktaConnection(limited);
    for (let i = 0; i < 3; i++) await lc.v2.get('/ServiceProviderConfig').expect(200);
    for (let i = 0; i < 2; i++) await lc.v1.get('/ServiceProviderConfigs').expect(200);
    const res = await lc.v1.get('/ServiceProviderConfigs').expect(429);
    assert.equal(res.body.Errors[0].code, 429);
    assert.ok(Number(res.headers['retry-after']) >= 1);
    await lc.v2.get('/ServiceProviderConfig').expect(429);
  });

  test('discovery: /ServiceProviderConfigs and /Schemas in 1.1 form', async () => {
    const spc = await c.v1.get('/ServiceProviderConfigs').expect(200);
    assert.deepEqual(spc.body.schemas, [CORE_V1]);
    assert.equal(spc.body.patch.supported, true);
    assert.equal(spc.body.filter.supported, true);
    assert.equal(spc.body.authenticationSchemes[0].type, 'oauthbearertoken');
    const schemas = await c.v1.get('/Schemas').expect(200);
    const ids = schemas.body.Resources.map((s: Json) => s.id);
    assert.deepEqual(ids, [`${CORE_V1}:User`, `${CORE_V1}:Group`, ENTERPRISE_V1]);
    const users = await c.v1.get('/Schemas/Users').expect(200);
    assert.equal(users.body.id, `${CORE_V1}:User`);
    const userName = users.body.attributes.find((a: Json) => a.name === 'userName');
    assert.equal(userName.required, true);
    const ent = await c.v1.get(`/Schemas/${ENTERPRISE_V1}`).expect(200);
    const manager = ent.body.attributes.find((a: Json) => a.name === 'manager');
    assert.deepEqual(
      manager.subAttributes.map((s: Json) => s.name),
      ['managerId', 'displayName'],
    );
    const children = Object.fromEntries(
      users.body.attributes.filter((a: Json) => a.multiValued).map((a: Json) => [a.name, a.multiValuedAttributeChildName]),
    );
    assert.equal(children.emails, 'email');
    assert.equal(children.addresses, 'address');
    assert.equal(children.roles, 'role');
  });
});

describe('SCIM 1.1: the enterprise extension', () => {
  const app = makeApp();
  let c: Connection11;
  before(async () => {
    await openTestStore('scim11_ent');
    c = await oktaConnection(app, { extendedAttributes: true });
  });
  after(closeTestStore);

  test('urn:scim:schemas:extension:enterprise:1.0 maps to the extended attributes and reads back in both dialects', async () => {
    const boss = await c.v1
      .post('/Users', { schemas: [CORE_V1], userName: 'boss@okta.local', name: { givenName: 'Big', familyName: 'Boss' } })
      .expect(201);
    const res = await c.v1
      .post('/Users', {
        schemas: [CORE_V1, ENTERPRISE_V1],
        userName: 'worker@okta.local',
        name: { givenName: 'Wor', familyName: 'Ker' },
        emails: [{ value: 'worker@okta.local', primary: true }],
        [ENTERPRISE_V1]: { employeeNumber: 'E-7', department: 'Sales', manager: { managerId: boss.body.id, displayName: 'Big Boss' } },
      })
      .expect(201);
    assert.deepEqual(res.body.schemas, [CORE_V1, ENTERPRISE_V1]);
    assert.deepEqual(res.body[ENTERPRISE_V1], {
      employeeNumber: 'E-7',
      department: 'Sales',
      manager: { managerId: boss.body.id, displayName: 'Big Boss' },
    });
    const r = await recipient(c.orgId, 'worker@okta.local');
    assert.equal(r?.attributes.department_name, 'Sales');
    assert.equal(r?.attributes.employee_id, 'E-7');
    assert.equal(r?.attributes.manager_email, 'boss@okta.local');
    const v2 = await c.v2.get(`/Users/${res.body.id}`).expect(200);
    assert.equal(v2.body['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].manager.value, boss.body.id);
    const patched = await c.v1
      .patch(`/Users/${res.body.id}`, { schemas: [CORE_V1, ENTERPRISE_V1], [ENTERPRISE_V1]: { department: 'Marketing' } })
      .expect(200);
    assert.equal(patched.body[ENTERPRISE_V1].department, 'Marketing');
    assert.equal(patched.body[ENTERPRISE_V1].employeeNumber, 'E-7');
    assert.equal((await recipient(c.orgId, 'worker@okta.local'))?.attributes.department_name, 'Marketing');
    const byDept = await c.v1.get(`/Users${filterQuery(`${ENTERPRISE_V1}:department eq "marketing"`)}`).expect(200);
    assert.deepEqual(
      byDept.body.Resources.map((u: Json) => u.id),
      [res.body.id],
    );
  });
});

describe('SCIM 1.1: paging with count=100', () => {
  const app = makeApp();
  let c: Connection11;
  const TOTAL = 230;
  before(async () => {
    await openTestStore('scim11_paging');
    c = await oktaConnection(app);
    const names = Array.from({ length: TOTAL }, (_, i) => `paged.${String(i).padStart(3, '0')}@okta.local`);
    for (let i = 0; i < names.length; i += 10) {
      await Promise.all(
        names.slice(i, i + 10).map((userName) =>
          c.v1
            .post('/Users', {
              schemas: [CORE_V1],
              userName,
              name: { givenName: 'P', familyName: 'Aged' },
              emails: [{ value: userName, primary: true }],
            })
            .expect(201),
        ),
      );
    }
  });
  after(closeTestStore);

  async function page(startIndex: number, count: number): Promise<{ body: Json; ids: string[] }> {
    const res = await c.v1.get(`/Users?startIndex=${startIndex}&count=${count}`).expect(200);
    return { body: res.body, ids: (res.body.Resources as Json[]).map((u) => String(u.id)) };
  }

  test('pages of 100 cover every user once, in the same order on every pass and for any page size', async () => {
    const pages = [await page(1, 100), await page(101, 100), await page(201, 100)];
    assert.deepEqual(
      pages.map((p) => [p.body.totalResults, p.body.startIndex, p.body.itemsPerPage]),
      [
        [TOTAL, 1, 100],
        [TOTAL, 101, 100],
        [TOTAL, 201, 30],
      ],
    );
    const all = pages.flatMap((p) => p.ids);
    assert.equal(new Set(all).size, TOTAL);
    const again = [await page(1, 100), await page(101, 100), await page(201, 100)].flatMap((p) => p.ids);
    assert.deepEqual(again, all);
    const by37: string[] = [];
    for (let start = 1; start <= TOTAL; start += 37) by37.push(...(await page(start, 37)).ids);
    assert.deepEqual(by37, all);
    const past = await page(301, 100);
    assert.deepEqual([past.body.totalResults, past.body.itemsPerPage, past.ids.length], [TOTAL, 0, 0]);
  });

  test('groups page the same way', async () => {
    for (let i = 0; i < 5; i++) await c.v1.post('/Groups', { schemas: [CORE_V1], displayName: `G${i}` }).expect(201);
    const first = (await c.v1.get('/Groups?startIndex=1&count=2').expect(200)).body;
    const rest = (await c.v1.get('/Groups?startIndex=3&count=100').expect(200)).body;
    const all = (await c.v1.get('/Groups?startIndex=1&count=100').expect(200)).body;
    assert.equal(first.totalResults, 5);
    assert.deepEqual(
      [...first.Resources, ...rest.Resources].map((g: Json) => g.id),
      all.Resources.map((g: Json) => g.id),
    );
  });
});
