import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeTestStore, openTestStore } from '../helpers/store';
import { GROUP, LIST, makeApp, patchOp, q, recipient, scimClient, USER, type ScimClient } from './harness';

/** Replays the requests Okta sends (Okta developer docs, "SCIM 2.0 provisioning"), asserting responses and recipients. */
describe('SCIM: Okta dialect', () => {
  const app = makeApp();
  let c: ScimClient;
  let userId = '';
  before(async () => {
    await openTestStore('scim_okta');
    c = await scimClient(app, { provider: 'okta', extendedAttributes: true });
  });
  after(closeTestStore);

  const userBody = {
    schemas: [USER],
    userName: 'test.user@okta.local',
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
    displayName: 'Test User',
    locale: 'en-US',
    externalId: '00ujl29u0le5T6Aj10h7',
    groups: [],
    password: '1mz050nq',
    active: true,
  };

  test('looks the user up before creating it: empty list with integer paging fields', async () => {
    const res = await c.get(`/Users${q('userName eq "test.user@okta.local"', '&startIndex=1&count=100')}`).expect(200);
    assert.match(res.headers['content-type']!, /application\/scim\+json/);
    assert.deepEqual(res.body, { schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  });

  test('creates the user: 201, full body, Location, ETag, no password; recipient active', async () => {
    const res = await c.post('/Users', userBody).expect(201);
    userId = res.body.id;
    assert.ok(userId);
    assert.equal(res.headers.location, `http://localhost:8080${c.base}/Users/${userId}`);
    assert.equal(res.headers.etag, res.body.meta.version);
    assert.equal(res.body.meta.resourceType, 'User');
    assert.equal(res.body.meta.location, res.headers.location);
    assert.equal(res.body.userName, 'test.user@okta.local');
    assert.equal(res.body.externalId, '00ujl29u0le5T6Aj10h7');
    assert.deepEqual(res.body.name, { givenName: 'Test', familyName: 'User' });
    assert.equal(res.body.active, true);
    assert.equal(res.body.password, undefined);
    assert.equal(JSON.stringify(res.body).includes('1mz050nq'), false);
    const r = await recipient(c.orgId, 'test.user@okta.local');
    assert.equal(r?.status, 'active');
    assert.equal(r?.firstName, 'Test');
    assert.equal(r?.lastName, 'User');
  });

  test('finds the user by userName, also upper-cased, and by id', async () => {
    for (const name of ['test.user@okta.local', 'TEST.USER@OKTA.LOCAL']) {
      const res = await c.get(`/Users${q(`userName eq "${name}"`, '&startIndex=1&count=100')}`).expect(200);
      assert.equal(res.body.totalResults, 1);
      assert.equal(res.body.Resources[0].id, userId);
    }
    const res = await c.get(`/Users/${userId}`).expect(200);
    assert.equal(res.body.id, userId);
    // A trailing slash before the query (some clients build `/Users/?filter=`) is the same list.
    const slash = await c.get(`/Users/${q('userName eq "test.user@okta.local"')}`).expect(200);
    assert.equal(slash.body.totalResults, 1);
    assert.equal(slash.body.Resources[0].id, userId);
  });

  test('a second create of the same userName (any case) is 409 uniqueness while the user is active', async () => {
    const res = await c.post('/Users', { ...userBody, userName: 'Test.User@okta.local' }).expect(409);
    assert.equal(res.body.scimType, 'uniqueness');
    assert.equal(res.body.status, '409');
  });

  test('updates the profile with GET then PUT', async () => {
    const current = (await c.get(`/Users/${userId}`).expect(200)).body;
    const res = await c
      .put(`/Users/${userId}`, { ...current, name: { givenName: 'Testy', familyName: 'User' }, title: 'Engineer' })
      .expect(200);
    assert.equal(res.body.name.givenName, 'Testy');
    assert.equal(res.body.title, 'Engineer');
    assert.notEqual(res.body.meta.version, current.meta.version);
    const r = await recipient(c.orgId, 'test.user@okta.local');
    assert.equal(r?.firstName, 'Testy');
    assert.equal(r?.attributes.job_title, 'Engineer');
  });

  test('deactivates with a path-less replace: user stays visible, recipient offboarded', async () => {
    const res = await c.patch(`/Users/${userId}`, patchOp({ op: 'replace', value: { active: false } })).expect(200);
    assert.equal(res.body.active, false);
    const found = await c.get(`/Users${q('userName eq "test.user@okta.local"')}`).expect(200);
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].active, false);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'offboarded');
  });

  test('reactivates with a path-less replace', async () => {
    const res = await c.patch(`/Users/${userId}`, patchOp({ op: 'replace', value: { active: true } })).expect(200);
    assert.equal(res.body.active, true);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'active');
  });

  test('deactivation by full PUT, then reactivation by a POST of the same userName returns the stored user', async () => {
    const current = (await c.get(`/Users/${userId}`).expect(200)).body;
    await c.put(`/Users/${userId}`, { ...current, active: false }).expect(200);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'offboarded');
    const res = await c.post('/Users', { ...userBody, userName: 'TEST.user@okta.local' }).expect(201);
    assert.equal(res.body.id, userId);
    assert.equal(res.body.active, true);
    assert.equal((await recipient(c.orgId, 'test.user@okta.local'))?.status, 'active');
  });

  // externalId is the client's and not a uniqueness key (RFC 7643 §3.1, issue #14): only userName is unique.
  test("a POST of a deactivated user's externalId under another userName creates another user", async () => {
    const first = {
      ...userBody,
      userName: 'before.rename@okta.local',
      emails: [{ primary: true, value: 'before.rename@okta.local' }],
      externalId: '00u-reactivate-1',
    };
    const id = (await c.post('/Users', first).expect(201)).body.id;
    await c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200);
    assert.equal((await recipient(c.orgId, 'before.rename@okta.local'))?.status, 'offboarded');
    const res = await c
      .post('/Users', { ...first, userName: 'after.rename@okta.local', emails: [{ primary: true, value: 'after.rename@okta.local' }] })
      .expect(201);
    assert.notEqual(res.body.id, id);
    assert.equal(res.body.userName, 'after.rename@okta.local');
    assert.equal(res.body.active, true);
    const byExt = await c.get(`/Users${q('externalId eq "00u-reactivate-1"')}`).expect(200);
    assert.deepEqual(byExt.body.Resources.map((u: { id: string }) => u.id).sort(), [id, res.body.id].sort());
    assert.equal((await c.get(`/Users/${id}`).expect(200)).body.active, false, 'the deactivated user is left as it was');
    assert.equal((await recipient(c.orgId, 'after.rename@okta.local'))?.status, 'active');
    assert.equal((await recipient(c.orgId, 'before.rename@okta.local'))?.status, 'offboarded');
  });

  test('a POST after a DELETE creates a new resource with a new id, even with the same userName and externalId', async () => {
    const body = {
      ...userBody,
      userName: 'deleted.once@okta.local',
      emails: [{ primary: true, value: 'deleted.once@okta.local' }],
      externalId: '00u-deleted-1',
    };
    const id = (await c.post('/Users', body).expect(201)).body.id;
    await c.del(`/Users/${id}`).expect(204);
    await c.get(`/Users/${id}`).expect(404);
    assert.equal((await recipient(c.orgId, 'deleted.once@okta.local'))?.status, 'offboarded');
    const res = await c.post('/Users', body).expect(201);
    assert.notEqual(res.body.id, id, 'a deleted id never comes back (interoperability profile §6.6)');
    assert.equal(res.body.active, true);
    await c.get(`/Users/${id}`).expect(404);
    assert.equal((await c.get(`/Users/${res.body.id}`).expect(200)).body.active, true);
    const byName = await c.get(`/Users${q('userName eq "deleted.once@okta.local"')}`).expect(200);
    assert.deepEqual(
      byName.body.Resources.map((u: { id: string }) => u.id),
      [res.body.id],
    );
    // The person's recipient is restored by the new active record through the merge (SPEC §3 rule 4).
    assert.equal((await recipient(c.orgId, 'deleted.once@okta.local'))?.status, 'active');
    // Deleted again, then created under a new userName with the same externalId: another new id.
    await c.del(`/Users/${res.body.id}`).expect(204);
    assert.equal((await recipient(c.orgId, 'deleted.once@okta.local'))?.status, 'offboarded');
    const again = await c.post('/Users', { ...body, userName: 'deleted.twice@okta.local' }).expect(201);
    assert.ok(![id, res.body.id].includes(again.body.id));
    assert.equal(again.body.userName, 'deleted.twice@okta.local');
  });

  test("an active user's externalId under another userName is accepted: two users with one externalId", async () => {
    const res = await c
      .post('/Users', { ...userBody, userName: 'someone.else@okta.local', emails: [{ primary: true, value: 'someone.else@okta.local' }] })
      .expect(201);
    assert.notEqual(res.body.id, userId);
    assert.equal(res.body.externalId, userBody.externalId);
    const byExt = await c.get(`/Users${q(`externalId eq "${userBody.externalId}"`)}`).expect(200);
    assert.deepEqual(byExt.body.Resources.map((u: { id: string }) => u.id).sort(), [userId, res.body.id].sort());
    // Deleting one leaves the other.
    await c.del(`/Users/${res.body.id}`).expect(204);
    const left = await c.get(`/Users${q(`externalId eq "${userBody.externalId}"`)}`).expect(200);
    assert.deepEqual(
      left.body.Resources.map((u: { id: string }) => u.id),
      [userId],
    );
  });

  test('creates a user inactive: stored, recipient offboarded; never answers active:false for an active user', async () => {
    const res = await c
      .post('/Users', {
        ...userBody,
        userName: 'inactive@okta.local',
        emails: [{ primary: true, value: 'inactive@okta.local' }],
        externalId: 'x2',
        active: false,
      })
      .expect(201);
    assert.equal(res.body.active, false);
    assert.equal((await recipient(c.orgId, 'inactive@okta.local'))?.status, 'offboarded');
    const list = await c.get(`/Users${q('active eq true')}`).expect(200);
    assert.ok(list.body.Resources.every((u: { active: boolean }) => u.active === true));
  });

  let groupId = '';
  let user2 = '';
  test('pushes a group: lookup by displayName, create, replace members', async () => {
    user2 = (
      await c
        .post('/Users', {
          ...userBody,
          userName: 'second@okta.local',
          emails: [{ primary: true, value: 'second@okta.local' }],
          externalId: 'x3',
        })
        .expect(201)
    ).body.id;
    const lookup = await c.get(`/Groups${q('displayName eq "Test SCIMv2"', '&startIndex=1&count=100')}`).expect(200);
    assert.equal(lookup.body.totalResults, 0);
    const created = await c.post('/Groups', { schemas: [GROUP], displayName: 'Test SCIMv2', members: [] }).expect(201);
    groupId = created.body.id;
    assert.deepEqual(created.body.members, []);
    assert.equal(created.headers.location, `http://localhost:8080${c.base}/Groups/${groupId}`);
    await c
      .patch(
        `/Groups/${groupId}`,
        patchOp({
          op: 'replace',
          path: 'members',
          value: [
            { value: userId, display: 'test.user@okta.local' },
            { value: user2, display: 'second@okta.local' },
          ],
        }),
      )
      .expect(204);
    const got = await c.get(`/Groups/${groupId}`).expect(200);
    assert.deepEqual(got.body.members.map((m: { value: string }) => m.value).sort(), [userId, user2].sort());
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, [groupId]);
    assert.deepEqual((await recipient(c.orgId, 'second@okta.local'))?.groups, [groupId]);
    const found = await c.get(`/Groups${q('displayName eq "test scimv2"')}`).expect(200);
    assert.equal(found.body.totalResults, 1);
  });

  test('renames with a path-less replace of {id, displayName} beside a membership change', async () => {
    await c
      .patch(
        `/Groups/${groupId}`,
        patchOp({ op: 'replace', value: { id: groupId, displayName: 'Renamed' } }, { op: 'remove', path: `members[value eq "${user2}"]` }),
      )
      .expect(204);
    const got = await c.get(`/Groups/${groupId}`).expect(200);
    assert.equal(got.body.displayName, 'Renamed');
    assert.deepEqual(
      got.body.members.map((m: { value: string }) => m.value),
      [userId],
    );
    assert.deepEqual((await recipient(c.orgId, 'second@okta.local'))?.groups, []);
  });

  test('adds a member that is already present without error or duplicate; replace with [] empties', async () => {
    await c.patch(`/Groups/${groupId}`, patchOp({ op: 'add', path: 'members', value: [{ value: userId }, { value: user2 }] })).expect(204);
    await c.patch(`/Groups/${groupId}`, patchOp({ op: 'add', path: 'members', value: [{ value: userId }] })).expect(204);
    let got = await c.get(`/Groups/${groupId}`).expect(200);
    assert.equal(got.body.members.length, 2);
    await c.patch(`/Groups/${groupId}`, patchOp({ op: 'replace', path: 'members', value: [] })).expect(204);
    got = await c.get(`/Groups/${groupId}`).expect(200);
    assert.deepEqual(got.body.members, []);
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, []);
  });

  test('deletes the group: 204, then 404', async () => {
    await c.patch(`/Groups/${groupId}`, patchOp({ op: 'add', path: 'members', value: [{ value: userId }] })).expect(204);
    await c.del(`/Groups/${groupId}`).expect(204);
    await c.get(`/Groups/${groupId}`).expect(404);
    assert.deepEqual((await recipient(c.orgId, 'test.user@okta.local'))?.groups, []);
  });
});
