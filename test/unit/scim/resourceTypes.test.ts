import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCE_TYPES, resourceTypeAt, resourceTypeDocs } from '../../../src/scim/resourceTypes';
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from '../../../src/scim/schemas';

describe('SCIM resource types', () => {
  test('endpoints are found case-insensitively; nothing else is a resource type', () => {
    assert.equal(resourceTypeAt('users')?.name, 'User');
    assert.equal(resourceTypeAt('GROUPS')?.name, 'Group');
    for (const other of ['', 'User', 'Bulk', 'Schemas', 'ResourceTypes', 'users/x']) assert.equal(resourceTypeAt(other), undefined, other);
  });

  test('every resource type has all six operations', () => {
    for (const t of RESOURCE_TYPES) {
      for (const op of [t.list, t.create, t.get, t.replace, t.patch, t.remove]) assert.equal(typeof op, 'function', t.name);
    }
  });

  test('/ResourceTypes documents come from the same table (RFC 7643 §6)', () => {
    const docs = resourceTypeDocs('https://x.example/scim/v2/c1');
    assert.deepEqual(
      docs.map((d) => [d.id, d.name, d.endpoint, d.schema, d.schemaExtensions, d.meta.location]),
      [
        [
          'User',
          'User',
          '/Users',
          USER_SCHEMA,
          [{ schema: ENTERPRISE_SCHEMA, required: false }],
          'https://x.example/scim/v2/c1/ResourceTypes/User',
        ],
        ['Group', 'Group', '/Groups', GROUP_SCHEMA, [], 'https://x.example/scim/v2/c1/ResourceTypes/Group'],
      ],
    );
    for (const d of docs) assert.deepEqual(d.schemas, ['urn:ietf:params:scim:schemas:core:2.0:ResourceType']);
  });
});
