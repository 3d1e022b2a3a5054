import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { omits, parseProjection, project } from '../../../src/scim/projection';
import { USER_EXTENSIONS } from '../../../src/scim/normalize';
import { ENTERPRISE_SCHEMA, USER_SCHEMA } from '../../../src/scim/schemas';

const user = {
  schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
  id: 'u1',
  userName: 'bjensen',
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  emails: [
    { value: 'a@x.example', type: 'work' },
    { value: 'b@x.example', type: 'home' },
  ],
  [ENTERPRISE_SCHEMA]: { department: 'Sales', manager: { value: 'm1', displayName: 'M' } },
  meta: { resourceType: 'User' },
};

describe('SCIM projection (attributes, excludedAttributes)', () => {
  test('attributes keeps the named paths, plus id and schemas; names in any case, core and extension URNs', () => {
    const p = parseProjection(
      { ATTRIBUTES: `userName,${USER_SCHEMA}:name.givenName,emails.value,${ENTERPRISE_SCHEMA.toLowerCase()}:manager.value` },
      USER_EXTENSIONS,
    );
    assert.deepEqual(project(user, p), {
      schemas: user.schemas,
      id: 'u1',
      userName: 'bjensen',
      name: { givenName: 'Barbara' },
      emails: [{ value: 'a@x.example' }, { value: 'b@x.example' }],
      [ENTERPRISE_SCHEMA]: { manager: { value: 'm1' } },
    });
    assert.equal(omits(p, 'groups'), true);
    assert.equal(omits(p, 'USERNAME'), false);
  });

  test('excludedAttributes drops the named paths but never id or schemas; a whole extension can be named', () => {
    const p = parseProjection({ excludedAttributes: `id,schemas,emails.type,${ENTERPRISE_SCHEMA},meta` }, USER_EXTENSIONS);
    assert.deepEqual(project(user, p), {
      schemas: user.schemas,
      id: 'u1',
      userName: 'bjensen',
      name: user.name,
      emails: [{ value: 'a@x.example' }, { value: 'b@x.example' }],
    });
    assert.equal(omits(p, 'meta'), true);
    assert.equal(omits(p, 'emails'), false, 'only a sub-attribute of emails is excluded');
    assert.deepEqual(user.emails[0], { value: 'a@x.example', type: 'work' }, 'the resource itself is not changed');
  });

  test('no projection returns the resource as it is', () => {
    const p = parseProjection({}, USER_EXTENSIONS);
    assert.equal(project(user, p), user);
    assert.equal(omits(p, 'groups'), false);
  });
});
