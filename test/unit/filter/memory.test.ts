import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterError, matches, parseFilter, type MemoryAttr, type MemoryExtensions } from '../../../src/filter';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const defs: MemoryAttr[] = [
  { name: 'id', type: 'string', caseExact: true },
  { name: 'userName', type: 'string' },
  { name: 'active', type: 'boolean' },
  { name: 'age', type: 'integer' },
  { name: 'name', type: 'complex', subAttributes: [{ name: 'givenName', type: 'string' }] },
  {
    name: 'emails',
    type: 'complex',
    subAttributes: [
      { name: 'value', type: 'string' },
      { name: 'type', type: 'string' },
      { name: 'primary', type: 'boolean' },
    ],
  },
];
const ext: MemoryExtensions = { [ENTERPRISE]: [{ name: 'department', type: 'string' }] };

const user = {
  id: 'AbC',
  userName: 'BJensen',
  active: true,
  age: 40,
  name: { givenName: 'Barbara' },
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@home.example', type: 'home' },
  ],
  [ENTERPRISE]: { department: 'Sales' },
};

const m = (filter: string, value: unknown = user) => matches(parseFilter(filter), value, defs, ext);

describe('in-memory backend', () => {
  test('strings compare case-insensitively unless caseExact; names are case-insensitive', () => {
    assert.equal(m('username eq "bjensen"'), true);
    assert.equal(m('userName ne "bjensen"'), false);
    assert.equal(m('userName sw "BJ"'), true);
    assert.equal(m('userName ew "SEN"'), true);
    assert.equal(m('userName co "jen"'), true);
    assert.equal(m('userName gt "a"'), true);
    assert.equal(m('userName lt "a"'), false);
    assert.equal(m('id eq "abc"'), false);
    assert.equal(m('id eq "AbC"'), true);
  });

  test('booleans, numbers, null and presence', () => {
    assert.equal(m('active eq true'), true);
    assert.equal(m('active eq "TRUE"'), true);
    assert.equal(m('active ne true'), false);
    assert.equal(m('age ge 40'), true);
    assert.equal(m('age gt 40'), false);
    assert.equal(m('title eq null'), false, 'a missing attribute reaches no value');
    assert.equal(m('userName eq null'), false);
    assert.equal(m('name pr'), true);
    assert.equal(m('name pr', { name: {} }), false, 'an empty object is not present');
    assert.equal(m('title pr'), false);
    assert.equal(m('title ne "x"'), true, 'ne holds when no value equals');
  });

  test('multi-valued attributes: any value matches; value filters match one element', () => {
    assert.equal(m('emails eq "BABS@home.example"'), true, 'emails stands for emails.value');
    assert.equal(m('emails.type eq "home"'), true);
    assert.equal(m('emails.type ne "home"'), false);
    assert.equal(m('emails[type eq "work" and value co "example.com"]'), true);
    assert.equal(m('emails[type eq "home" and primary eq true]'), false);
    assert.equal(m('emails[type eq "home"] and not (active eq false)'), true);
    assert.equal(m('name.givenName sw "bar"'), true);
  });

  test('schema prefixes: core stripped, a known extension stepped into, an unknown one reaches nothing', () => {
    assert.equal(m('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"'), true);
    assert.equal(m(`${ENTERPRISE}:department eq "sales"`), true);
    assert.equal(m(`${ENTERPRISE.toUpperCase()}:DEPARTMENT eq "sales"`), true);
    assert.equal(m('urn:example:x:department eq "sales"'), false);
    assert.equal(m('urn:example:x:department ne "sales"'), true);
  });

  test('a complex value without a value sub-attribute compares with no text', () => {
    for (const f of ['name eq "[object Object]"', 'name co "object"', 'name gt ""', 'name ne "x"']) {
      assert.equal(m(f), f.includes(' ne '), f);
    }
  });

  test('operators a type does not define are refused', () => {
    assert.throws(
      () => m('active gt true'),
      (err) => err instanceof FilterError && err.reason === 'operator',
    );
  });
});
