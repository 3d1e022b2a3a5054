import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createApiToken } from '../../src/store';
import { MAX_JSON_DEPTH } from '../../src/scim/jsonBody';
import { closeTestStore, openTestStore } from '../helpers/store';
import { ENTERPRISE, ERROR, GROUP, LIST, makeApp, patchOp, q, scimClient, USER, type ScimClient } from './harness';

/** Issue #14, SCIM items 2, 3, 4, 6, 7 and the token rule of item 8: what outside checkers found, over real HTTP. */
describe('SCIM conformance (issue #14)', () => {
  const app = makeApp();
  let c: ScimClient;
  const ids: Record<string, string> = {};

  type R = Record<string, unknown> & { id: string };
  const names = (body: { Resources: R[] }, key = 'userName') => body.Resources.map((r) => r[key]);

  before(async () => {
    await openTestStore('scim_conformance');
    c = await scimClient(app, { extendedAttributes: true });
    // Four users: "ann" and "cat" have a title, "bob" and "dan" have none. Emails: bob's primary one sorts first,
    // although his other email sorts before everyone's.
    const users = [
      { userName: 'ann', title: 'Beta', emails: [{ value: 'zz-ann@x.test', type: 'work' }] },
      {
        userName: 'bob',
        emails: [
          { value: 'aa-bob-home@x.test', type: 'home' },
          { value: 'mm-bob@x.test', type: 'work', primary: true },
        ],
      },
      { userName: 'cat', title: 'alpha', emails: [{ value: 'cc-cat@x.test', type: 'work' }] },
      { userName: 'dan' },
    ];
    for (const u of users) {
      const res = await c.post('/Users', { schemas: [USER], displayName: `${u.userName} display`, ...u }).expect(201);
      ids[u.userName] = res.body.id;
    }
    const g = await c.post('/Groups', { schemas: [GROUP], displayName: 'Team', externalId: 'ext-team' }).expect(201);
    ids.Team = g.body.id;
    const g2 = await c.post('/Groups', { schemas: [GROUP], displayName: 'bob display' }).expect(201);
    ids.Other = g2.body.id;
  });
  after(closeTestStore);

  describe('item 2: attributes and excludedAttributes in a .search body', () => {
    test('as JSON arrays, as comma strings and as a list of comma strings', async () => {
      for (const attributes of [['userName', 'emails.value'], 'userName,emails.value', ['userName, emails.value']]) {
        const res = await c
          .post('/Users/.search', {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
            filter: 'userName eq "bob"',
            attributes,
          })
          .expect(200);
        assert.deepEqual(res.body.Resources, [
          { schemas: [USER], id: ids.bob, userName: 'bob', emails: [{ value: 'aa-bob-home@x.test' }, { value: 'mm-bob@x.test' }] },
        ]);
      }
      const ex = await c
        .post('/Users/.search', { filter: 'userName eq "bob"', excludedAttributes: ['emails', 'meta', 'displayName'] })
        .expect(200);
      const bob = ex.body.Resources[0];
      assert.equal(bob.userName, 'bob');
      assert.equal(bob.emails, undefined);
      assert.equal(bob.meta, undefined);
      assert.equal(bob.displayName, undefined);
      const groups = await c.post('/Groups/.search', { filter: 'displayName eq "Team"', attributes: ['displayName'] }).expect(200);
      assert.deepEqual(groups.body.Resources, [{ schemas: [GROUP], id: ids.Team, displayName: 'Team' }]);
    });

    test('a list holding something other than attribute names is 400 invalidValue', async () => {
      const res = await c.post('/Users/.search', { attributes: ['userName', 3] }).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  });

  describe('item 7: what real clients send beside the RFC', () => {
    test('attributes=emails[type eq "work"] reads as emails', async () => {
      const res = await c.get(`/Users/${ids.bob}?attributes=${encodeURIComponent('userName,emails[type eq "work"]')}`).expect(200);
      assert.deepEqual(Object.keys(res.body).sort(), ['emails', 'id', 'schemas', 'userName']);
      assert.equal(res.body.emails.length, 2);
      const sub = await c.get(`/Users/${ids.bob}?attributes=${encodeURIComponent('emails[type eq "work"].value')}`).expect(200);
      assert.deepEqual(sub.body.emails, [{ value: 'aa-bob-home@x.test' }, { value: 'mm-bob@x.test' }]);
    });

    test('group members carrying displayName instead of display', async () => {
      const g = await c
        .post('/Groups', { schemas: [GROUP], displayName: 'Labels', members: [{ value: ids.ann, displayName: 'Ann from the IdP' }] })
        .expect(201);
      assert.equal(g.body.members[0].display, 'Ann from the IdP');
      await c
        .patch(`/Groups/${g.body.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: ids.cat, displayName: 'Cat label' }] }))
        .expect(204);
      const got = await c.get(`/Groups/${g.body.id}`).expect(200);
      const byValue = new Map((got.body.members as { value: string; display?: string }[]).map((m) => [m.value, m.display]));
      assert.equal(byValue.get(ids.ann!), 'Ann from the IdP');
      assert.equal(byValue.get(ids.cat!), 'Cat label');
      await c.del(`/Groups/${g.body.id}`).expect(204);
    });
  });

  describe('item 3: sorting (RFC 7644 §3.4.2.3)', () => {
    test('resources without the sort attribute come last ascending, first descending, across pages', async () => {
      // bob and dan have no title: among themselves they are in id order, which is random here.
      const untitled = (list: unknown[]) => [...list].sort();
      const asc = await c.get('/Users?sortBy=title').expect(200);
      assert.deepEqual(names(asc.body).slice(0, 2), ['cat', 'ann']);
      assert.deepEqual(untitled(names(asc.body).slice(2)), ['bob', 'dan']);
      const desc = await c.get('/Users?sortBy=title&sortOrder=descending').expect(200);
      assert.deepEqual(untitled(names(desc.body).slice(0, 2)), ['bob', 'dan']);
      assert.deepEqual(names(desc.body).slice(2), ['ann', 'cat']);
      assert.deepEqual(names(desc.body).slice(0, 2), names(asc.body).slice(2), 'those without a value keep one order');
      // Pages cut across those with and those without a value.
      const page = await c.get('/Users?sortBy=title&startIndex=2&count=2').expect(200);
      assert.deepEqual(names(page.body), names(asc.body).slice(1, 3));
      assert.equal(page.body.totalResults, 4);
      const last = await c.get('/Users?sortBy=title&sortOrder=descending&startIndex=2&count=5').expect(200);
      assert.deepEqual(names(last.body), names(desc.body).slice(1));
      // With a filter.
      const filtered = await c.get(`/Users${q('userName ne "cat"', '&sortBy=title')}`).expect(200);
      assert.deepEqual(names(filtered.body)[0], 'ann');
      assert.deepEqual(untitled(names(filtered.body).slice(1)), ['bob', 'dan']);
    });

    test('a multi-valued sortBy sorts by the primary value (or the first), emails as emails.value', async () => {
      for (const sortBy of ['emails', 'emails.value', `${USER}:emails.value`]) {
        const asc = await c.get(`/Users?sortBy=${encodeURIComponent(sortBy)}`).expect(200);
        assert.deepEqual(names(asc.body), ['cat', 'bob', 'ann', 'dan'], sortBy);
        const desc = await c.get(`/Users?sortBy=${encodeURIComponent(sortBy)}&sortOrder=descending&count=3`).expect(200);
        assert.deepEqual(names(desc.body), ['dan', 'ann', 'bob'], sortBy);
        assert.equal(desc.body.totalResults, 4);
      }
    });

    test('value filters (served in memory on FerretDB) sort the same way', async () => {
      const res = await c.get(`/Users${q('emails[type eq "work"]', '&sortBy=title&sortOrder=descending')}`).expect(200);
      assert.deepEqual(names(res.body), ['bob', 'ann', 'cat']);
      const byEmail = await c.get(`/Users${q('emails[type eq "work"]', '&sortBy=emails')}`).expect(200);
      assert.deepEqual(names(byEmail.body), ['cat', 'bob', 'ann']);
    });

    test('groups: externalId missing sorts last ascending, first descending', async () => {
      const asc = await c.get('/Groups?sortBy=externalId').expect(200);
      assert.deepEqual(names(asc.body, 'displayName'), ['Team', 'bob display']);
      const desc = await c.get('/Groups?sortBy=externalId&sortOrder=descending').expect(200);
      assert.deepEqual(names(desc.body, 'displayName'), ['bob display', 'Team']);
    });
  });

  describe('item 4: nesting depth', () => {
    const nested = (depth: number) => {
      let v: unknown = 'x';
      for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
      return v;
    };

    test('a body nested thousands of levels deep is 400 invalidSyntax, before anything is applied', async () => {
      // Written by hand: JSON.stringify itself overflows on such a value.
      const deep = `{"schemas":["${USER}"],"userName":"deep","x":${'{"a":['.repeat(2500)}1${']}'.repeat(2500)}}`;
      for (const [method, path] of [
        ['post', '/Users'],
        ['put', `/Users/${ids.ann}`],
        ['patch', `/Users/${ids.ann}`],
        ['post', '/Bulk'],
        ['post', '/.search'],
      ] as const) {
        const res = await request(app)
          [method](`${c.base}${path}`)
          .set('Authorization', `Bearer ${c.token}`)
          .set('Content-Type', 'application/scim+json')
          .send(deep)
          .expect(400);
        assert.match(res.headers['content-type']!, /application\/scim\+json/);
        assert.deepEqual(res.body.schemas, [ERROR]);
        assert.equal(res.body.scimType, 'invalidSyntax');
        assert.match(res.body.detail, /nested deeper than/);
      }
      await c
        .get(`/Users${q('userName eq "deep"')}`)
        .expect(200)
        .expect((r) => assert.equal(r.body.totalResults, 0));
      // The SCIM 1.1 endpoint reads bodies through the same parser.
      const v1 = await request(app)
        .post(`/scim/v1/${c.connectionId}/Users`)
        .set('Authorization', `Bearer ${c.token}`)
        .set('Content-Type', 'application/json')
        .send(deep)
        .expect(400);
      assert.match(JSON.stringify(v1.body), /nested deeper than/);
    });

    test('brackets and braces inside strings do not count; real nesting below the limit is served', async () => {
      const res = await c
        .post('/Users', { schemas: [USER], userName: 'braces', displayName: '{'.repeat(500) + '['.repeat(500), title: '\\"{{{' })
        .expect(201);
      assert.equal(res.body.displayName.length, 1000);
      const bulk = await c
        .post('/Bulk', {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
          Operations: [{ method: 'PATCH', path: `/Users/${res.body.id}`, data: patchOp({ op: 'replace', path: 'title', value: 'ok' }) }],
          pad: nested(MAX_JSON_DEPTH - 5),
        })
        .expect(200);
      assert.equal(bulk.body.Operations[0].status, '200');
      await c.del(`/Users/${res.body.id}`).expect(204);
    });
  });

  describe('item 6: server root, discovery, changePassword, If-Match', () => {
    test('GET {base}?filter= searches Users and Groups together', async () => {
      const byName = await c.get(`${q('userName eq "ann"')}`).expect(200);
      assert.deepEqual(byName.body.schemas, [LIST]);
      assert.deepEqual(
        byName.body.Resources.map((r: R) => r.id),
        [ids.ann],
      );
      // displayName belongs to both: bob's user and the group named like him.
      const both = await c.get(`${q('displayName eq "bob display"')}`).expect(200);
      assert.deepEqual(
        both.body.Resources.map((r: { meta: { resourceType: string } }) => r.meta.resourceType),
        ['User', 'Group'],
      );
      assert.equal(both.body.totalResults, 2);
      const all = await c.get('').expect(200);
      assert.equal(all.body.totalResults, 6);
      const paged = await c.get('?startIndex=5&count=2').expect(200);
      assert.equal(paged.body.itemsPerPage, 2);
      assert.equal(paged.body.Resources[1].meta.resourceType, 'Group');
    });

    test('POST {base}/.search with attributes, sorting across types, and filter errors', async () => {
      const res = await c
        .post('/.search', { filter: 'displayName sw "bob" or displayName eq "Team"', attributes: ['displayName'], sortBy: 'displayName' })
        .expect(200);
      assert.deepEqual(res.body.Resources, [
        { schemas: [USER], id: ids.bob, displayName: 'bob display' },
        { schemas: [GROUP], id: ids.Other, displayName: 'bob display' },
        { schemas: [GROUP], id: ids.Team, displayName: 'Team' },
      ]);
      // Sorted by an attribute only users have: the groups sort as without a value.
      const byTitle = await c.post('/.search', { sortBy: 'title', sortOrder: 'descending', attributes: 'id' }).expect(200);
      assert.deepEqual(
        byTitle.body.Resources.slice(-2).map((r: R) => r.id),
        [ids.ann, ids.cat],
      );
      assert.equal(byTitle.body.totalResults, 6);
      const unknown = await c.post('/.search', { filter: 'nosuchattr eq "x"' }).expect(400);
      assert.equal(unknown.body.scimType, 'invalidFilter');
      const broken = await c.get(`${q('userName eq')}`).expect(400);
      assert.equal(broken.body.scimType, 'invalidFilter');
      await c.get('/.search').expect(405);
    });

    test('discovery endpoints answer a filter with 403', async () => {
      for (const path of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes']) {
        const res = await c.get(`${path}${q('id eq "User"')}`).expect(403);
        assert.deepEqual(res.body.schemas, [ERROR]);
        assert.match(res.body.detail, /filter/);
        await c.get(path).expect(200);
      }
    });

    test('a PATCH of password is refused while changePassword is unsupported; nothing changes', async () => {
      const spc = await c.get('/ServiceProviderConfig').expect(200);
      assert.equal(spc.body.changePassword.supported, false);
      const before = await c.get(`/Users/${ids.dan}`).expect(200);
      for (const op of [
        { op: 'replace', path: 'password', value: 'S3cret!' },
        { op: 'add', path: `${USER}:password`, value: 'S3cret!' },
        { op: 'replace', value: { title: 'Boss', password: 'S3cret!' } },
        { op: 'remove', path: 'password' },
      ]) {
        const res = await c.patch(`/Users/${ids.dan}`, patchOp(op)).expect(400);
        assert.match(res.body.detail, /changePassword/);
      }
      const now = await c.get(`/Users/${ids.dan}`).expect(200);
      assert.equal(now.body.meta.version, before.body.meta.version);
      assert.equal(now.body.title, undefined);
    });

    test('a GET with a non-matching If-Match is 412; a matching one or * is 200', async () => {
      const u = await c.get(`/Users/${ids.ann}`).expect(200);
      const etag = u.headers.etag!;
      await c.get(`/Users/${ids.ann}`).set('If-Match', 'W/"999999"').expect(412);
      await c.get(`/Users/${ids.ann}`).set('If-Match', etag).expect(200);
      await c.get(`/Users/${ids.ann}`).set('If-Match', `W/"999999", ${etag}`).expect(200);
      await c.get(`/Users/${ids.ann}`).set('If-Match', '*').expect(200);
      const g = await c.get(`/Groups/${ids.Team}`).expect(200);
      const res = await c.get(`/Groups/${ids.Team}`).set('If-Match', 'W/"999999"').expect(412);
      assert.deepEqual(res.body.schemas, [ERROR]);
      await c.get(`/Groups/${ids.Team}`).set('If-Match', g.headers.etag!).expect(200);
    });
  });

  describe('item 8: access tokens only in the Authorization header', () => {
    test('SCIM: a token in the query string or the body is refused, with or without the header', async () => {
      const viaQuery = await request(app)
        .get(`${c.base}/Users?access_token=${encodeURIComponent(c.token)}`)
        .expect(401);
      assert.deepEqual(viaQuery.body.schemas, [ERROR]);
      assert.match(viaQuery.body.detail, /Authorization header/);
      await request(app)
        .get(`${c.base}/Users?access_token=${encodeURIComponent(c.token)}`)
        .set('Authorization', `Bearer ${c.token}`)
        .expect(401);
      await request(app).post(`${c.base}/Users`).type('form').send({ access_token: c.token, userName: 'form-user' }).expect(401);
      await request(app)
        .post(`${c.base}/Users`)
        .set('Content-Type', 'application/scim+json')
        .send(JSON.stringify({ access_token: c.token, schemas: [USER], userName: 'body-user' }))
        .expect(401);
      await request(app)
        .get(`/scim/v1/${c.connectionId}/Users?access_token=${encodeURIComponent(c.token)}`)
        .expect(401);
      await c.get('/Users').expect(200);
    });

    test('admin API: a token in the query string is not accepted', async () => {
      const { token } = await createApiToken(c.orgId, 'owner', [], 'query-test');
      await request(app)
        .get(`/api/v1/connections?access_token=${encodeURIComponent(token)}`)
        .expect(401);
      await request(app).get('/api/v1/connections').set('Authorization', `Bearer ${token}`).expect(200);
    });
  });

  test('the enterprise extension stays readable through a root search', async () => {
    await c.patch(`/Users/${ids.cat}`, patchOp({ op: 'add', path: `${ENTERPRISE}:department`, value: 'Sales' })).expect(200);
    const res = await c
      .post('/.search', { filter: `${ENTERPRISE}:department eq "Sales"`, attributes: [`${ENTERPRISE}:department`] })
      .expect(200);
    assert.deepEqual(res.body.Resources, [{ schemas: [USER, ENTERPRISE], id: ids.cat, [ENTERPRISE]: { department: 'Sales' } }]);
  });
});
