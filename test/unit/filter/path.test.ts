import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAttrPath, parsePatchTarget, splitSubAttribute, stripCoreSchema } from '../../../src/filter';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('attribute paths', () => {
  test('the core schema prefix is stripped in any case; with a schema, only that one', () => {
    assert.equal(stripCoreSchema(`${USER}:name.givenName`), 'name.givenName');
    assert.equal(stripCoreSchema(`${GROUP.toUpperCase()}:displayName`), 'displayName');
    assert.equal(stripCoreSchema(`${USER}:userName`, USER), 'userName');
    assert.equal(stripCoreSchema(`${GROUP}:members`, USER), `${GROUP}:members`);
    assert.equal(stripCoreSchema(`${GROUP.toLowerCase()}:members`, GROUP), 'members');
    // The schema alone, an extension and a plain name are unchanged.
    for (const p of [USER, `${ENTERPRISE}:department`, 'userName']) assert.equal(stripCoreSchema(p), p);
  });

  test('parseAttrPath: plain, core-prefixed, known and unknown extensions, a whole extension', () => {
    assert.deepEqual(parseAttrPath('name.givenName'), { knownUrn: false, names: ['name', 'givenName'] });
    assert.deepEqual(parseAttrPath(`${USER}:emails.value`, [ENTERPRISE]), { knownUrn: false, names: ['emails', 'value'] });
    // A known extension's URN holds dots ("2.0") and colons: it is matched whole, in its canonical spelling.
    assert.deepEqual(parseAttrPath(`${ENTERPRISE.toLowerCase()}:manager.value`, [ENTERPRISE]), {
      urn: ENTERPRISE,
      knownUrn: true,
      names: ['manager', 'value'],
    });
    assert.deepEqual(parseAttrPath(ENTERPRISE, [ENTERPRISE]), { urn: ENTERPRISE, knownUrn: true, names: [] });
    // Unknown: the schema ends at the last colon.
    assert.deepEqual(parseAttrPath('urn:example:ext:1.0:User:badge.id', [ENTERPRISE]), {
      urn: 'urn:example:ext:1.0:User',
      knownUrn: false,
      names: ['badge', 'id'],
    });
    assert.deepEqual(parseAttrPath(`${ENTERPRISE}:department`), { urn: ENTERPRISE, knownUrn: false, names: ['department'] });
  });

  test('splitSubAttribute keeps the parent as written and splits only after the schema', () => {
    assert.deepEqual(splitSubAttribute('emails.value'), { parent: 'emails', sub: 'value' });
    assert.deepEqual(splitSubAttribute(`${USER}:name.familyName`), { parent: `${USER}:name`, sub: 'familyName' });
    assert.deepEqual(splitSubAttribute(`${ENTERPRISE}:manager.value`), { parent: `${ENTERPRISE}:manager`, sub: 'value' });
    assert.equal(splitSubAttribute('userName'), undefined);
    assert.equal(splitSubAttribute(`${ENTERPRISE}:department`), undefined, 'the dot in "2.0" is not a sub-attribute');
  });

  test('parsePatchTarget: attr, attr.sub, attr[filter], attr[filter].sub, URN-prefixed, malformed', () => {
    const exts = [ENTERPRISE];
    assert.deepEqual(parsePatchTarget('title', exts), { knownUrn: false, attr: 'title' });
    assert.deepEqual(parsePatchTarget('name.givenName', exts), { knownUrn: false, attr: 'name', sub: 'givenName' });
    assert.deepEqual(parsePatchTarget('emails[type eq "work"]', exts), { knownUrn: false, attr: 'emails', filter: 'type eq "work"' });
    // Colons and dots inside the filter do not split the schema.
    assert.deepEqual(parsePatchTarget(`${USER}:emails[value eq "a.b:c@x.com"].display`, exts), {
      knownUrn: false,
      attr: 'emails',
      filter: 'value eq "a.b:c@x.com"',
      sub: 'display',
    });
    assert.deepEqual(parsePatchTarget(`${ENTERPRISE}:manager`, exts), { urn: ENTERPRISE, knownUrn: true, attr: 'manager' });
    assert.deepEqual(parsePatchTarget(ENTERPRISE, exts), { urn: ENTERPRISE, knownUrn: true, attr: '' });
    assert.deepEqual(parsePatchTarget('urn:example:x:badge', exts), { urn: 'urn:example:x', knownUrn: false, attr: 'badge' });
    for (const bad of ['a.b.c', 'emails[type eq "work"', '.title', 'emails[x eq 1]extra', `${ENTERPRISE}[x eq 1]`]) {
      assert.equal(parsePatchTarget(bad, exts), undefined, bad);
    }
  });
});
