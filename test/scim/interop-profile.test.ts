import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { findSourceRecord } from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { checkResponse } from '../api/schemaCheck';
import { ENTERPRISE, GROUP, makeApp, patchOp, q, USER } from './harness';
import request from 'supertest';
import { apiScimClient, eventually, type ApiScimClient, type ScimSettings } from './connections';

type Json = Record<string, unknown>;

const CUSTOM = 'urn:audience-sync:params:scim:schemas:extension:custom:2.0:User';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const CUSTOM_ATTRIBUTES = [
  { name: 'costCode', type: 'string' },
  { name: 'remote', type: 'boolean' },
  { name: 'level', type: 'integer' },
  { name: 'fte', type: 'decimal' },
  { name: 'hiredAt', type: 'dateTime' },
  { name: 'badges', type: 'string', multiValued: true },
];

function assertRefused(res: Response, scimType: string, names: string): void {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.scimType, scimType);
  assert.ok(String(res.body.detail).includes(names), `the error names ${names}: ${res.body.detail}`);
}

/** A value of the attribute's type for a round trip (the i-th of a list). */
function sample(a: Json, i = 0): unknown {
  if (a.multiValued) return [sample({ ...a, multiValued: false }, 0), sample({ ...a, multiValued: false }, 1)];
  switch (a.type) {
    case 'boolean':
      return i === 0;
    case 'integer':
      return 7 + i;
    case 'decimal':
      return 0.5 + i;
    case 'dateTime':
      return `2026-0${i + 1}-15T09:30:00Z`;
    case 'reference':
      return `https://example.com/r/${i}`;
    case 'binary':
      return Buffer.from(`bin${i}`).toString('base64');
    case 'complex': {
      const out: Json = {};
      for (const s of a.subAttributes as Json[]) {
        if (s.mutability === 'readOnly') continue;
        out[String(s.name)] =
          s.name === 'type'
            ? (s.canonicalValues as string[])[i % (s.canonicalValues as string[]).length]
            : s.name === 'primary'
              ? i === 0
              : sample(s, i);
      }
      return out;
    }
    default:
      return `${String(a.name)}-${i}@example.com`;
  }
}

/**
 * The SCIM 2.0 Interoperability Profile (draft-zollner-scim-interop-profile), service-provider requirements, one test
 * each, against a connection whose `interopProfile` is `strict` (issue #14 item 9). README "SCIM interoperability
 * profile" has the table of these requirements and how each mode meets them.
 */
describe('SCIM interoperability profile: strict mode', () => {
  const app = makeApp();
  let c: ApiScimClient;
  before(async () => {
    await openTestStore('scim_interop_strict');
    c = await apiScimClient(app, { interopProfile: 'strict', extendedAttributes: true, customAttributes: CUSTOM_ATTRIBUTES });
  });
  after(closeTestStore);

  const user = (userName: string, extra: Json = {}) => ({ schemas: [USER], userName, ...extra });

  test('§4 conformance: ServiceProviderConfig says interopProfileConformant: true', async () => {
    const spc = (await c.get('/ServiceProviderConfig').expect(200)).body;
    assert.equal(spc.interopProfileConformant, true);
    assert.equal((await c.detail()).scim.interopProfile, 'strict');
  });

  test('§5.1 discovery endpoints: ServiceProviderConfig, Schemas and ResourceTypes are implemented', async () => {
    for (const p of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes']) await c.get(p).expect(200);
    await c.get(`/Schemas/${USER}`).expect(200);
    await c.get('/ResourceTypes/User').expect(200);
  });

  test('§5.1 /Schemas lists exactly what is implemented: every advertised attribute round-trips, nothing else is accepted', async () => {
    const schemas = (await c.get('/Schemas').expect(200)).body.Resources as Json[];
    const attrsOf = (id: string) => (schemas.find((s) => s.id === id)!.attributes as Json[]).filter((a) => a.mutability !== 'readOnly');
    const core = attrsOf(USER).filter((a) => a.name !== 'userName');
    const body: Json = { schemas: [USER, ENTERPRISE, CUSTOM], userName: 'everything@example.com' };
    for (const a of core) body[String(a.name)] = sample(a);
    body[ENTERPRISE] = Object.fromEntries(attrsOf(ENTERPRISE).map((a) => [a.name, sample(a)]));
    body[CUSTOM] = Object.fromEntries(attrsOf(CUSTOM).map((a) => [a.name, sample(a)]));
    // The manager is a user of this connection.
    const mgr = (await c.post('/Users', user('manager@example.com')).expect(201)).body.id as string;
    (body[ENTERPRISE] as Json).manager = { value: mgr, $ref: `${c.base}/Users/${mgr}` };
    const created = (await c.post('/Users', body).expect(201)).body as Json;
    const got = (await c.get(`/Users/${String(created.id)}`).expect(200)).body as Json;
    for (const a of core) assert.deepEqual(got[String(a.name)], body[String(a.name)], `${String(a.name)} is stored and returned`);
    assert.deepEqual(got[ENTERPRISE], body[ENTERPRISE]);
    assert.deepEqual(got[CUSTOM], body[CUSTOM]);
    // What /Schemas does not list (password is never stored) is refused.
    assert.ok(!attrsOf(USER).some((a) => a.name === 'password'));
    assertRefused(await c.post('/Users', user('pw@example.com', { password: 'S3cret!pass' })), 'invalidSyntax', 'password');
  });

  test('§5.1 every schema /ResourceTypes references is available at /Schemas', async () => {
    const types = (await c.get('/ResourceTypes').expect(200)).body.Resources as Json[];
    const ids = ((await c.get('/Schemas').expect(200)).body.Resources as Json[]).map((s) => s.id);
    const referenced = types.flatMap((t) => [t.schema, ...(t.schemaExtensions as Json[]).map((e) => e.schema)]);
    assert.ok(referenced.includes(CUSTOM), 'the custom extension is referenced by User');
    for (const s of referenced) assert.ok(ids.includes(s), `${String(s)} is at /Schemas`);
  });

  test('§5.1 every ResourceType has an id equal to its name', async () => {
    const types = (await c.get('/ResourceTypes').expect(200)).body.Resources as Json[];
    assert.ok(types.length >= 2);
    for (const t of types) assert.equal(t.id, t.name);
  });

  test('§5.2 case sensitivity: userName is compared case-insensitively in filters and uniqueness; id and externalId exactly', async () => {
    const res = await c.post('/Users', user('JSmith@example.com', { externalId: 'ABC-123' })).expect(201);
    const id = res.body.id as string;
    const found = await c.get(`/Users${q('userName eq "jsmith@example.com"')}`).expect(200);
    assert.deepEqual(
      (found.body.Resources as Json[]).map((u) => u.id),
      [id],
    );
    const dup = await c.post('/Users', user('jsmith@EXAMPLE.com')).expect(409);
    assert.equal(dup.body.scimType, 'uniqueness');
    assert.equal((await c.get(`/Users${q('externalId eq "abc-123"')}`).expect(200)).body.totalResults, 0);
    assert.equal((await c.get(`/Users${q('externalId eq "ABC-123"')}`).expect(200)).body.totalResults, 1);
    await c.get(`/Users/${id.toUpperCase()}`).expect(404);
  });

  test('§5.3 attributes and schema URIs no schema defines are refused with 400 invalidSyntax naming them, in POST, PUT and PATCH', async () => {
    assertRefused(await c.post('/Users', user('typo@example.com', { bogusAttr: 'x' })), 'invalidSyntax', 'bogusAttr');
    assertRefused(await c.post('/Users', user('typo@example.com', { name: { givenNmae: 'x' } })), 'invalidSyntax', 'name.givenNmae');
    assertRefused(
      await c.post('/Users', { schemas: [USER, 'urn:example:unknown:2.0:User'], userName: 'typo@example.com' }),
      'invalidSyntax',
      'urn:example:unknown:2.0:User',
    );
    assertRefused(
      await c.post('/Users', user('typo@example.com', { 'urn:example:unknown:2.0:User': { badge: '1' } })),
      'invalidSyntax',
      'urn:example:unknown:2.0:User',
    );
    assertRefused(await c.post('/Users', user('typo@example.com', { [CUSTOM]: { notDeclared: 'x' } })), 'invalidSyntax', 'notDeclared');
    assert.equal((await c.get(`/Users${q('userName eq "typo@example.com"')}`).expect(200)).body.totalResults, 0, 'nothing was created');
    const id = (await c.post('/Users', user('typo@example.com')).expect(201)).body.id as string;
    assertRefused(await c.put(`/Users/${id}`, user('typo@example.com', { bogusAttr: 'x' })), 'invalidSyntax', 'bogusAttr');
    assertRefused(await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'bogusAttr', value: 'x' })), 'invalidSyntax', 'bogusAttr');
    assertRefused(
      await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: `${ENTERPRISE}:departmnet`, value: 'x' })),
      'invalidSyntax',
      'departmnet',
    );
    const g = await c.post('/Groups', { schemas: [GROUP], displayName: 'G', descriptoin: 'x' });
    assertRefused(g, 'invalidSyntax', 'descriptoin');
    // Nothing is reported as ignored: strict mode refuses instead.
    assert.deepEqual((await c.detail()).scim.unknownScimAttributes, []);
  });

  test('§5.4 canonicalValues are declared for every type sub-attribute of a multi-valued attribute', async () => {
    const schemas = (await c.get('/Schemas').expect(200)).body.Resources as Json[];
    let n = 0;
    for (const s of schemas) {
      for (const a of s.attributes as Json[]) {
        const type = ((a.subAttributes as Json[] | undefined) ?? []).find((x) => x.name === 'type');
        if (!a.multiValued || !type) continue;
        n++;
        assert.ok(Array.isArray(type.canonicalValues) && type.canonicalValues.length > 0, `${String(a.name)}.type`);
      }
    }
    assert.ok(n >= 8, `${n} typed attributes`);
  });

  test('§6.1 each resource type has its own endpoint and resources are addressed as /{endpoint}/{id} only', async () => {
    const u = (await c.post('/Users', user('endpoint@example.com')).expect(201)).body;
    const g = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Endpoint' }).expect(201)).body;
    assert.equal(u.meta.location, `http://localhost:8080${c.base}/Users/${String(u.id)}`);
    assert.equal(g.meta.location, `http://localhost:8080${c.base}/Groups/${String(g.id)}`);
    await c.get(`/Users/${String(g.id)}`).expect(404);
    await c.get(`/Groups/${String(u.id)}`).expect(404);
    await c.get(`/Users/${encodeURIComponent('endpoint@example.com')}`).expect(404);
  });

  test('§6.2 requests and responses are JSON with Content-Type application/scim+json, errors included', async () => {
    for (const res of [await c.get('/Users'), await c.get('/Users/nope'), await c.post('/Users', user('ct@example.com', { x: 1 }))]) {
      assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
      assert.equal(typeof res.body, 'object');
    }
  });

  test('§6.3 filter is supported with the eq and and operators', async () => {
    await c.post('/Users', user('filter@example.com', { title: 'Lead', active: true })).expect(201);
    const res = await c.get(`/Users${q('userName eq "filter@example.com" and title eq "Lead"')}`).expect(200);
    assert.equal(res.body.totalResults, 1);
    assert.equal((await c.get(`/Users${q('userName eq "filter@example.com" and title eq "Other"')}`).expect(200)).body.totalResults, 0);
  });

  test('§6.3 a filter in the URI is for GET only: other methods carrying one are refused', async () => {
    const id = (await c.post('/Users', user('urifilter@example.com')).expect(201)).body.id as string;
    const res = await c.patch(
      `/Users/${id}${q('userName eq "urifilter@example.com"')}`,
      patchOp({ op: 'replace', path: 'title', value: 'x' }),
    );
    assertRefused(res, 'invalidSyntax', 'filter');
    assert.equal((await c.get(`/Users/${id}`).expect(200)).body.title, undefined, 'nothing changed');
    assertRefused(await c.del(`/Users/${id}${q('userName eq "x"')}`), 'invalidSyntax', 'filter');
    await c.get(`/Users/${id}`).expect(200);
  });

  test('§6.3 a filter on an attribute no schema of the resource type defines is 400 invalidFilter', async () => {
    for (const path of ['/Users', '/Groups']) {
      const res = await c.get(`${path}${q('nosuchAttr eq "x"')}`).expect(400);
      assert.equal(res.body.scimType, 'invalidFilter');
    }
  });

  test('§6.4 index-based pagination; a count of 100 is honoured; a count over the maximum returns fewer results', async () => {
    const ops = Array.from({ length: 105 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `u${i}`,
      data: user(`page${String(i).padStart(3, '0')}@example.com`),
    }));
    const bulk = await c.post('/Bulk', { schemas: [BULK], Operations: ops }).expect(200);
    assert.ok((bulk.body.Operations as Json[]).every((o) => o.status === '201'));
    const filter = q('userName sw "page"');
    const first = await c.get(`/Users${filter}&startIndex=1&count=100`).expect(200);
    assert.equal(first.body.totalResults, 105);
    assert.equal(first.body.itemsPerPage, 100);
    assert.equal((first.body.Resources as Json[]).length, 100);
    const second = await c.get(`/Users${filter}&startIndex=101&count=100`).expect(200);
    assert.equal(second.body.startIndex, 101);
    assert.equal((second.body.Resources as Json[]).length, 5);
    const ids = new Set([...(first.body.Resources as Json[]), ...(second.body.Resources as Json[])].map((u) => u.id));
    assert.equal(ids.size, 105, 'the pages do not overlap');
    const spc = (await c.get('/ServiceProviderConfig').expect(200)).body;
    const huge = await c.get(`/Users?count=${spc.filter.maxResults * 10}`).expect(200);
    assert.ok(huge.body.itemsPerPage <= spc.filter.maxResults);
    // Without count, at least 100 are returned.
    assert.ok((await c.get(`/Users${filter}`).expect(200)).body.itemsPerPage >= 100);
  });

  test('§6.5 PATCH is supported for updates', async () => {
    assert.equal((await c.get('/ServiceProviderConfig').expect(200)).body.patch.supported, true);
    const id = (await c.post('/Users', user('patch@example.com')).expect(201)).body.id as string;
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'Lead' })).expect(200);
    assert.equal(res.body.title, 'Lead');
  });

  test('§6.5.1.1 PATCH operations without path are refused with 400 invalidSyntax', async () => {
    const id = (await c.post('/Users', user('pathless@example.com')).expect(201)).body.id as string;
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(400);
    assert.equal(res.body.scimType, 'invalidSyntax');
    assert.equal((await c.get(`/Users/${id}`).expect(200)).body.active, true, 'nothing changed');
    const g = (await c.post('/Groups', { schemas: [GROUP], displayName: 'Pathless' }).expect(201)).body.id as string;
    const rg = await c.patch(`/Groups/${g}`, patchOp({ op: 'replace', value: { displayName: 'X' } })).expect(400);
    assert.equal(rg.body.scimType, 'invalidSyntax');
  });

  test('§6.5.2.1 add and replace are equivalent on singular simple attributes', async () => {
    const id = (await c.post('/Users', user('simple@example.com', { title: 'A' })).expect(201)).body.id as string;
    const a = await c.patch(`/Users/${id}`, patchOp({ op: 'add', path: 'title', value: 'B' })).expect(200);
    assert.equal(a.body.title, 'B');
    const r = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'C' })).expect(200);
    assert.equal(r.body.title, 'C');
    const act = await c.patch(`/Users/${id}`, patchOp({ op: 'add', path: 'active', value: false })).expect(200);
    assert.equal(act.body.active, false);
  });

  test('§6.5.2.1 replace of a whole complex attribute replaces it; add merges sub-attributes', async () => {
    const id = (
      await c.post('/Users', user('complex@example.com', { name: { givenName: 'A', familyName: 'B', middleName: 'M' } })).expect(201)
    ).body.id as string;
    const r = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'name', value: { givenName: 'C' } })).expect(200);
    assert.deepEqual(r.body.name, { givenName: 'C' });
    const a = await c.patch(`/Users/${id}`, patchOp({ op: 'add', path: 'name', value: { familyName: 'D' } })).expect(200);
    assert.deepEqual(a.body.name, { givenName: 'C', familyName: 'D' });
  });

  test('§6.5.2.2 replace of a multi-valued attribute replaces the collection; add appends', async () => {
    const id = (await c.post('/Users', user('multi@example.com', { emails: [{ value: 'a@example.com', type: 'work' }] })).expect(201)).body
      .id as string;
    const a = await c
      .patch(`/Users/${id}`, patchOp({ op: 'add', path: 'emails', value: [{ value: 'b@example.com', type: 'home' }] }))
      .expect(200);
    assert.deepEqual(
      (a.body.emails as Json[]).map((e) => e.value),
      ['a@example.com', 'b@example.com'],
    );
    const r = await c
      .patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'emails', value: [{ value: 'c@example.com', type: 'other' }] }))
      .expect(200);
    assert.deepEqual(r.body.emails, [{ value: 'c@example.com', type: 'other' }]);
    const sub = await c
      .patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'emails[type eq "other"].value', value: 'd@example.com' }))
      .expect(200);
    assert.deepEqual(sub.body.emails, [{ value: 'd@example.com', type: 'other' }]);
  });

  test('§6.6 a PATCH never deletes the resource', async () => {
    const id = (await c.post('/Users', user('keep@example.com')).expect(201)).body.id as string;
    await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'active', value: false })).expect(200);
    const got = await c.get(`/Users/${id}`).expect(200);
    assert.equal(got.body.active, false);
    assert.equal((await c.get(`/Users${q('userName eq "keep@example.com"')}`).expect(200)).body.totalResults, 1);
  });

  test('§6.6 a deleted resource answers 404 to every operation and is left out of every query', async () => {
    const id = (await c.post('/Users', user('gone@example.com')).expect(201)).body.id as string;
    await c.del(`/Users/${id}`).expect(204);
    await c.get(`/Users/${id}`).expect(404);
    await c.put(`/Users/${id}`, user('gone@example.com')).expect(404);
    await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'x' })).expect(404);
    await c.del(`/Users/${id}`).expect(404);
    assert.equal((await c.get(`/Users${q('userName eq "gone@example.com"')}`).expect(200)).body.totalResults, 0);
    assert.equal((await c.get(`/Users${q(`id eq "${id}"`)}`).expect(200)).body.totalResults, 0);
    const all = (await c.get('/Users?count=1000').expect(200)).body.Resources as Json[];
    assert.ok(!all.some((u) => u.id === id));
  });

  test('§6.6 after a DELETE the userName is free for a new resource', async () => {
    const id = (await c.post('/Users', user('reuse@example.com')).expect(201)).body.id as string;
    await c.del(`/Users/${id}`).expect(204);
    const again = await c.post('/Users', user('REUSE@example.com')).expect(201);
    assert.notEqual(again.body.id, id, 'a new resource');
    assert.equal(again.body.active, true);
  });

  test('§6.6 a DELETE deletes the resource; it does not only deactivate it', async () => {
    const id = (await c.post('/Users', user('deleted@example.com')).expect(201)).body.id as string;
    await c.del(`/Users/${id}`).expect(204);
    await c.get(`/Users/${id}`).expect(404);
    assert.equal(
      (await c.get(`/Users${q('active eq false')}`).expect(200)).body.Resources.some((u: Json) => u.id === id),
      false,
    );
  });

  test('§6.9.1 uniqueness conflicts in POST and PATCH are 409 with scimType uniqueness', async () => {
    await c.post('/Users', user('unique@example.com')).expect(201);
    const id = (await c.post('/Users', user('other-unique@example.com')).expect(201)).body.id as string;
    const post = await c.post('/Users', user('UNIQUE@example.com')).expect(409);
    assert.equal(post.body.scimType, 'uniqueness');
    const patch = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'userName', value: 'unique@example.com' })).expect(409);
    assert.equal(patch.body.scimType, 'uniqueness');
  });

  test('custom attributes: accepted on the connection extension, typed, stored as custom.<name>, filterable', async () => {
    const res = await c
      .post('/Users', {
        schemas: [USER, CUSTOM],
        userName: 'custom@example.com',
        emails: [{ value: 'custom@example.com', type: 'work', primary: true }],
        [CUSTOM]: { costCode: 'CC-7', remote: true, level: 3, badges: ['a', 'b'] },
      })
      .expect(201);
    assert.deepEqual(res.body.schemas, [USER, CUSTOM]);
    const rec = await findSourceRecord(c.connectionId, res.body.id);
    assert.deepEqual(rec?.attributes.custom, { costCode: 'CC-7', remote: 'true', level: '3', badges: 'a, b' });
    const found = await c.get(`/Users${q(`${CUSTOM}:costCode eq "cc-7"`)}`).expect(200);
    assert.deepEqual(
      (found.body.Resources as Json[]).map((u) => u.id),
      [res.body.id],
    );
    assert.equal((await c.get(`/Users${q(`${CUSTOM}:level eq 3`)}`).expect(200)).body.totalResults, 1);
    const patched = await c
      .patch(`/Users/${String(res.body.id)}`, patchOp({ op: 'replace', path: `${CUSTOM}:level`, value: 4 }))
      .expect(200);
    assert.equal(patched.body[CUSTOM].level, 4);
    // Strict: a value of another JSON type is refused (lenient converts Entra's "4").
    const wrong = await c
      .patch(`/Users/${String(res.body.id)}`, patchOp({ op: 'replace', path: `${CUSTOM}:level`, value: '5' }))
      .expect(400);
    assert.equal(wrong.body.scimType, 'invalidValue');
  });
});

describe('SCIM interoperability profile: lenient mode (the default) and switching', () => {
  const app = makeApp();
  let c: ApiScimClient;
  before(async () => {
    await openTestStore('scim_interop_lenient');
    c = await apiScimClient(app, { customAttributes: [{ name: 'level', type: 'integer' }] });
  });
  after(closeTestStore);

  test('the default is lenient and claims no conformance', async () => {
    assert.equal((await c.detail()).scim.interopProfile, 'lenient');
    await c.post('/Users', { schemas: [USER], userName: 'typo@example.com', bogusAttr: 1 }).expect(201);
    const detail = await eventually(async () => {
      const res = await request(app).get(`/api/v1/connections/${c.connectionId}`).set('Authorization', `Bearer ${c.adminToken}`);
      return (res.body as { scim: ScimSettings }).scim.unknownScimAttributes.length ? res : undefined;
    }, 'the unknown attribute reported');
    checkResponse('get', '/connections/{id}', detail);
    const spc = (await c.get('/ServiceProviderConfig').expect(200)).body;
    assert.equal(spc.interopProfileConformant, undefined);
  });

  test("lenient keeps what Okta needs: a path-less replace deactivates; Entra's string values convert", async () => {
    const id = (await c.post('/Users', { schemas: [USER], userName: 'okta@example.com' }).expect(201)).body.id as string;
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200);
    assert.equal(res.body.active, false);
    const lvl = await c.patch(`/Users/${id}`, patchOp({ op: 'Replace', path: `${CUSTOM}:level`, value: '4' })).expect(200);
    assert.equal(lvl.body[CUSTOM].level, 4);
    const rec = await findSourceRecord(c.connectionId, id);
    assert.equal(rec?.attributes.custom?.level, '4');
  });

  test('declared custom attributes appear in /Schemas and /ResourceTypes, and go when undeclared', async () => {
    let ids = ((await c.get('/Schemas').expect(200)).body.Resources as Json[]).map((s) => s.id);
    assert.ok(ids.includes(CUSTOM));
    const custom = (await c.get(`/Schemas/${CUSTOM}`).expect(200)).body;
    assert.deepEqual(
      (custom.attributes as Json[]).map((a) => [a.name, a.type, a.multiValued]),
      [['level', 'integer', false]],
    );
    const userType = (await c.get('/ResourceTypes/User').expect(200)).body;
    assert.ok((userType.schemaExtensions as Json[]).some((e) => e.schema === CUSTOM));
    const u = (await c.post('/Users', { schemas: [USER, CUSTOM], userName: 'lvl@example.com', [CUSTOM]: { level: 2 } }).expect(201)).body;
    assert.equal(u[CUSTOM].level, 2);
    await c.update({ customAttributes: [] }).expect(200);
    const got = (await c.get(`/Users/${String(u.id)}`).expect(200)).body;
    assert.equal(got[CUSTOM], undefined, 'an undeclared extension is not shown');
    assert.deepEqual(got.schemas, [USER]);
    ids = ((await c.get('/Schemas').expect(200)).body.Resources as Json[]).map((s) => s.id);
    assert.ok(!ids.includes(CUSTOM));
    await c.get(`/Schemas/${CUSTOM}`).expect(404);
  });

  test('switching to strict through the admin API takes effect on the next request', async () => {
    const bad = await c.update({ interopProfile: 'pedantic' }).expect(400);
    assert.ok(JSON.stringify(bad.body).includes('interopProfile'));
    const res = await c
      .update({ interopProfile: 'strict', customAttributes: [{ name: 'team', type: 'string', multiValued: true }] })
      .expect(200);
    checkResponse('patch', '/connections/{id}', res);
    checkResponse('patch', '/connections/{id}', bad);
    assert.equal(res.body.scim.interopProfile, 'strict');
    assert.deepEqual(res.body.scim.customAttributes, [{ name: 'team', type: 'string', multiValued: true }]);
    assert.equal((await c.get('/ServiceProviderConfig').expect(200)).body.interopProfileConformant, true);
    const refused = await c.post('/Users', { schemas: [USER], userName: 's@example.com', bogus: 1 }).expect(400);
    assert.equal(refused.body.scimType, 'invalidSyntax');
    await c.update({ interopProfile: 'lenient' }).expect(200);
    await c.post('/Users', { schemas: [USER], userName: 's@example.com', bogus: 1 }).expect(201);
  });

  test('the admin API refuses bad declarations and scim settings on other connection types', async () => {
    for (const customAttributes of [
      [{ name: '1bad', type: 'string' }],
      [{ name: 'ok', type: 'float' }],
      [
        { name: 'dup', type: 'string' },
        { name: 'DUP', type: 'string' },
      ],
    ]) {
      await c.update({ customAttributes }).expect(400);
    }
  });
});
