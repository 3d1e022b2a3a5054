import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScimError } from '../../../src/scim/errors';
import { groupFieldResolver, userFieldResolver } from '../../../src/scim/filterFields';
import { eqOn, parseScimFilter, sortPath, translateScimFilter } from '../../../src/scim/search';
import { ENTERPRISE_SCHEMA, USER_SCHEMA } from '../../../src/scim/schemas';

function scimError(fn: () => unknown): [number, string | undefined] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ScimError, String(err));
    return [err.status, err.scimType];
  }
  assert.fail('expected a ScimError');
}

describe('SCIM search over stored users and groups', () => {
  test('sortBy resolves to the stored path, the lower-cased copy for case-insensitive strings', () => {
    assert.equal(sortPath('userName', userFieldResolver), 'lookup.userName');
    assert.equal(sortPath(`${USER_SCHEMA}:name.familyName`, userFieldResolver), 'lookup.name.familyName');
    assert.equal(sortPath('emails', userFieldResolver), 'lookup.emails.value');
    assert.equal(sortPath(`${ENTERPRISE_SCHEMA}:department`, userFieldResolver), 'lookup.ent.department');
    assert.equal(sortPath('meta.lastModified', userFieldResolver), 'updatedAt');
    assert.equal(sortPath('id', userFieldResolver), 'key');
    assert.equal(sortPath('displayName', groupFieldResolver), 'displayNameLower');
    assert.deepEqual(
      scimError(() => sortPath('name', userFieldResolver)),
      [400, 'invalidValue'],
    );
    assert.deepEqual(
      scimError(() => sortPath('nosuch', userFieldResolver)),
      [400, 'invalidValue'],
    );
  });

  test('filters refused by the parser or the translator answer 400 invalidFilter', () => {
    assert.deepEqual(
      scimError(() => parseScimFilter('userName eq')),
      [400, 'invalidFilter'],
    );
    assert.deepEqual(
      scimError(() => translateScimFilter(parseScimFilter('password eq "x"'), userFieldResolver)),
      [400, 'invalidFilter'],
    );
    assert.deepEqual(translateScimFilter(parseScimFilter('USERNAME eq "BJensen"'), userFieldResolver), { 'lookup.userName': 'bjensen' });
  });

  test('eqOn recognises the lookups identity providers make before a create', () => {
    assert.equal(eqOn(parseScimFilter('userName eq "Bjensen"'), userFieldResolver, 'lookup.userName'), 'Bjensen');
    assert.equal(eqOn(parseScimFilter(`${USER_SCHEMA}:id eq "u1"`), userFieldResolver, 'key'), 'u1');
    assert.equal(eqOn(parseScimFilter('userName sw "B"'), userFieldResolver, 'lookup.userName'), undefined);
    assert.equal(eqOn(parseScimFilter('externalId eq "B"'), userFieldResolver, 'lookup.userName'), undefined);
  });
});
