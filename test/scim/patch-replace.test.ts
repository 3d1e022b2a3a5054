import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findSourceRecord } from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { ENTERPRISE, makeApp, patchOp, recipient, USER } from './harness';
import { apiScimClient, type ApiScimClient } from './connections';

type Json = Record<string, unknown>;

/**
 * Issue #14 item 8: PATCH `replace` of a whole complex attribute replaces all of it while `add` merges; `schemas` can be
 * the target of add and replace; an email already present under another type is not dropped; /Schemas declares
 * `canonicalValues` for every `type` sub-attribute and does not advertise `password`, which is never stored.
 */
describe('SCIM PATCH replace and add, schemas, discovery details', () => {
  const app = makeApp();
  let c: ApiScimClient;
  let id = '';
  before(async () => {
    await openTestStore('scim_patch_replace');
    c = await apiScimClient(app, { extendedAttributes: true });
    const res = await c
      .post('/Users', {
        schemas: [USER, ENTERPRISE],
        userName: 'babs@x.com',
        name: { givenName: 'Barbara', familyName: 'Jensen', middleName: 'Jane' },
        emails: [{ value: 'babs@x.com', type: 'work', primary: true }],
        [ENTERPRISE]: { department: 'Sales', costCenter: 'CC1' },
      })
      .expect(201);
    id = res.body.id;
  });
  after(closeTestStore);

  test('replace of a whole complex attribute replaces all of it: familyName and middleName are cleared', async () => {
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'name', value: { givenName: 'Babs' } })).expect(200);
    assert.deepEqual(res.body.name, { givenName: 'Babs' });
    assert.deepEqual((await c.get(`/Users/${id}`).expect(200)).body.name, { givenName: 'Babs' });
    const r = await recipient(c.orgId, 'babs@x.com');
    assert.equal(r?.firstName, 'Babs');
    assert.equal(r?.lastName ?? null, null, 'the recipient loses the cleared family name');
  });

  test('add of a whole complex attribute merges its sub-attributes', async () => {
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'add', path: 'name', value: { familyName: 'Jensen' } })).expect(200);
    assert.deepEqual(res.body.name, { givenName: 'Babs', familyName: 'Jensen' });
    assert.equal((await recipient(c.orgId, 'babs@x.com'))?.lastName, 'Jensen');
  });

  test('a path-less replace replaces each complex attribute it names whole', async () => {
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { name: { familyName: 'J' } } })).expect(200);
    assert.deepEqual(res.body.name, { familyName: 'J' });
  });

  test('replace of a sub-attribute keeps the others', async () => {
    await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'name', value: { givenName: 'Babs', familyName: 'Jensen' } })).expect(200);
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'name.familyName', value: 'Jenssen' })).expect(200);
    assert.deepEqual(res.body.name, { givenName: 'Babs', familyName: 'Jenssen' });
  });

  test('replace of an extension attribute that is complex (manager) replaces it whole too', async () => {
    const mgr = (await c.post('/Users', { schemas: [USER], userName: 'boss@x.com' }).expect(201)).body.id as string;
    await c
      .patch(`/Users/${id}`, patchOp({ op: 'add', path: `${ENTERPRISE}:manager`, value: { value: mgr, displayName: 'Boss' } }))
      .expect(200);
    const res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: mgr } })).expect(200);
    assert.deepEqual(res.body[ENTERPRISE].manager, { value: mgr });
  });

  test('an email value already present under another type is kept as a second value, not dropped', async () => {
    const res = await c
      .patch(`/Users/${id}`, patchOp({ op: 'add', path: 'emails', value: [{ value: 'babs@x.com', type: 'home' }] }))
      .expect(200);
    assert.deepEqual(
      (res.body.emails as Json[]).map((e) => [e.value, e.type]),
      [
        ['babs@x.com', 'work'],
        ['babs@x.com', 'home'],
      ],
    );
    // The same value and type again is not duplicated.
    const again = await c
      .patch(`/Users/${id}`, patchOp({ op: 'add', path: 'emails', value: [{ value: 'babs@x.com', type: 'home' }] }))
      .expect(200);
    assert.equal((again.body.emails as Json[]).length, 2);
  });

  test('schemas can be the target of add and replace; replace drops the values of extensions it no longer lists', async () => {
    let res = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'schemas', value: [USER] })).expect(200);
    assert.deepEqual(res.body.schemas, [USER]);
    assert.equal(res.body[ENTERPRISE], undefined, 'the enterprise values went with their schema');
    res = await c.patch(`/Users/${id}`, patchOp({ op: 'add', path: 'schemas', value: [ENTERPRISE] })).expect(200);
    assert.deepEqual(res.body.schemas, [USER, ENTERPRISE]);
    res = await c
      .patch(
        `/Users/${id}`,
        patchOp(
          { op: 'add', path: 'schemas', value: ['urn:example:unknown:2.0:User'] },
          { op: 'add', path: `${ENTERPRISE}:division`, value: 'EMEA' },
        ),
      )
      .expect(200);
    assert.deepEqual(res.body.schemas, [USER, ENTERPRISE], 'a schema URI no schema declares is ignored (default mode)');
    assert.equal(res.body[ENTERPRISE].division, 'EMEA');
    const bad = await c.patch(`/Users/${id}`, patchOp({ op: 'remove', path: 'schemas' })).expect(400);
    assert.equal(bad.body.scimType, 'invalidValue');
    const notList = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'schemas', value: [7] })).expect(400);
    assert.equal(notList.body.scimType, 'invalidValue');
  });

  test('/Schemas declares canonicalValues for every type sub-attribute', async () => {
    const docs = (await c.get('/Schemas').expect(200)).body.Resources as Json[];
    const typed: string[] = [];
    const walk = (attrs: Json[], path: string) => {
      for (const a of attrs) {
        const name = `${path}${String(a.name)}`;
        if (a.name === 'type' && path) {
          typed.push(name);
          assert.ok(Array.isArray(a.canonicalValues) && a.canonicalValues.length > 0, `${name} declares canonicalValues`);
        }
        if (Array.isArray(a.subAttributes)) walk(a.subAttributes as Json[], `${name}.`);
      }
    };
    for (const d of docs) walk(d.attributes as Json[], '');
    for (const n of ['emails.type', 'phoneNumbers.type', 'ims.type', 'photos.type', 'addresses.type', 'entitlements.type', 'roles.type']) {
      assert.ok(typed.includes(n), `${n} is declared`);
    }
  });

  test('password is not advertised in /Schemas, and a password sent is not stored', async () => {
    const user = (await c.get(`/Schemas/${USER}`).expect(200)).body as { attributes: Json[] };
    assert.ok(!user.attributes.some((a) => a.name === 'password'));
    const spc = (await c.get('/ServiceProviderConfig').expect(200)).body;
    assert.equal(spc.changePassword.supported, false);
    const res = await c.post('/Users', { schemas: [USER], userName: 'pw@x.com', password: 'S3cret!pass' }).expect(201);
    assert.equal(res.body.password, undefined);
    const stored = await findSourceRecord(c.connectionId, res.body.id);
    assert.ok(stored && !String(stored.raw).includes('S3cret'), 'the password is not stored');
  });
});
