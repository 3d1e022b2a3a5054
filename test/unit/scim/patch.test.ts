import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScimError, type ScimType } from '../../../src/scim/errors';
import { USER_EXTENSIONS, type Json } from '../../../src/scim/normalize';
import { applyPatch, parsePatchPath, patchOperations, type PatchContext, type PatchOpName, type PatchPath } from '../../../src/scim/patch';
import { ENTERPRISE_SCHEMA, GROUP_ATTRS, PATCH_SCHEMA, USER_ATTRS, USER_SCHEMA } from '../../../src/scim/schemas';

const ctx: PatchContext = { defs: USER_ATTRS, ext: USER_EXTENSIONS, id: 'u1', readOnly: ['id', 'meta', 'groups'] };
const op = (o: string, path: string | undefined, value?: unknown) => ({
  op: o,
  ...(path !== undefined ? { path } : {}),
  ...(value !== undefined ? { value } : {}),
});
const body = (...ops: unknown[]) => ({ schemas: [PATCH_SCHEMA], Operations: ops });
const patch = (resource: Json, ...ops: unknown[]) => applyPatch(resource, body(...ops), ctx);

function user(): Json {
  return {
    schemas: [USER_SCHEMA],
    userName: 'bjensen@example.com',
    active: true,
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@home.example', type: 'home' },
    ],
    [ENTERPRISE_SCHEMA]: { department: 'Sales' },
  };
}

function refusal(fn: () => unknown): { status: number; scimType?: ScimType } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ScimError, `expected a ScimError, got ${String(err)}`);
    return { status: err.status, ...(err.scimType ? { scimType: err.scimType } : {}) };
  }
  assert.fail('expected the PATCH to be refused');
}

describe('PATCH engine', () => {
  test('add, replace and remove of simple and complex attributes; op names in any case; the input is not changed', () => {
    const before = user();
    const out = patch(
      before,
      op('Replace', 'title', 'Lead'),
      op('ADD', 'name.middleName', 'Jane'),
      op('replace', 'name', { givenName: 'Babs' }),
      op('remove', 'nickName'),
      op('Remove', 'emails[type eq "home"]'),
    );
    assert.equal(out.title, 'Lead');
    assert.deepEqual(out.name, { givenName: 'Babs' }, 'a complex replace replaces all of it (issue #14 item 8)');
    assert.deepEqual(out.emails, [{ value: 'bjensen@example.com', type: 'work', primary: true }]);
    assert.deepEqual(before, user());
  });

  test("Entra's dialect: booleans as strings, Add of a single-valued attribute, Replace of a filtered path with no match", () => {
    const out = patch(
      user(),
      op('Replace', 'active', 'False'),
      op('Add', 'title', 'Manager'),
      op('Add', 'title', 'Director'),
      op('Replace', 'addresses[type eq "work"].locality', 'Oslo'),
      op('Replace', 'emails[type eq "work"].value', 'barbara@example.com'),
    );
    assert.equal(out.active, false);
    assert.equal(out.title, 'Director');
    assert.deepEqual(out.addresses, [{ type: 'work', locality: 'Oslo' }], 'the missing work address is added');
    assert.equal((out.emails as Json[])[0]!.value, 'barbara@example.com');
    assert.equal((out.emails as Json[]).length, 2);
  });

  test("Okta's dialect: path-less operations with dotted, URN-prefixed and extension keys, repeating the id", () => {
    const out = patch(
      user(),
      op('replace', undefined, {
        id: 'u1',
        active: false,
        'name.givenName': 'B',
        [`${USER_SCHEMA}:title`]: 'Lead',
        [ENTERPRISE_SCHEMA]: { department: 'Ops', manager: { value: 'm1' } },
        [`${ENTERPRISE_SCHEMA}:costCenter`]: '42',
      }),
    );
    assert.equal(out.active, false);
    assert.equal((out.name as Json).givenName, 'B');
    assert.equal(out.title, 'Lead');
    assert.deepEqual(out[ENTERPRISE_SCHEMA], { department: 'Ops', manager: { value: 'm1' }, costCenter: '42' });
  });

  test('multi-valued attributes: add merges without duplicates, replace swaps, remove with a value drops only those', () => {
    const added = patch(user(), op('add', 'emails', [{ value: 'babs@home.example', type: 'home' }, { value: 'new@x.example' }]));
    assert.deepEqual(
      (added.emails as Json[]).map((e) => e.value),
      ['bjensen@example.com', 'babs@home.example', 'new@x.example'],
    );
    const replaced = patch(user(), op('replace', 'emails', [{ value: 'only@x.example' }]));
    assert.deepEqual(replaced.emails, [{ value: 'only@x.example' }]);
    const dropped = patch(user(), op('remove', 'emails', [{ value: 'babs@home.example' }]));
    assert.deepEqual(
      (dropped.emails as Json[]).map((e) => e.value),
      ['bjensen@example.com'],
    );
    const cleared = patch(user(), op('replace', 'emails', []));
    assert.equal(cleared.emails, undefined);
    const subs = patch(user(), op('replace', 'emails.type', 'other'));
    assert.deepEqual(
      (subs.emails as Json[]).map((e) => e.type),
      ['other', 'other'],
    );
    const seeded = patch(user(), op('add', 'phoneNumbers[type eq "mobile"]', { value: '+4712345678' }));
    assert.deepEqual(seeded.phoneNumbers, [{ type: 'mobile', value: '+4712345678' }]);
    const removedExt = patch(user(), op('remove', ENTERPRISE_SCHEMA));
    assert.equal(removedExt[ENTERPRISE_SCHEMA], undefined);
  });

  test('errors carry the SCIM status and type', () => {
    const cases: [unknown, number, ScimType][] = [
      [body(op('replace', 'nosuch', 'x')), 400, 'invalidPath'],
      [body(op('replace', 'title[value eq "x"]', 'x')), 400, 'invalidPath'],
      [body(op('replace', 'name.nosuch', 'x')), 400, 'invalidPath'],
      [body(op('replace', 'emails[type eq]', 'x')), 400, 'invalidPath'],
      [body(op('replace', 'a..b', 'x')), 400, 'invalidPath'],
      [body(op('remove', undefined)), 400, 'noTarget'],
      [body(op('replace', 'emails[type eq "other"]', { value: 'x@y.example' })), 400, 'noTarget'],
      [body(op('replace', 'emails[type eq "work" or type eq "home"].value', 'x')), 200, 'noTarget'],
      [body(op('replace', undefined, { id: 'other' })), 400, 'mutability'],
      [body(op('add', 'groups', [{ value: 'g1' }])), 400, 'mutability'],
      [body(op('remove', 'userName')), 400, 'invalidValue'],
      [body(op('replace', 'active', 'maybe')), 400, 'invalidValue'],
      [body(op('replace', 'title')), 400, 'invalidValue'],
      [body(op('replace', undefined, 'x')), 400, 'invalidValue'],
      [body(op('move', 'title', 'x')), 400, 'invalidSyntax'],
      [{ schemas: ['urn:wrong'], Operations: [op('replace', 'title', 'x')] }, 400, 'invalidSyntax'],
      [{ schemas: [PATCH_SCHEMA], Operations: [] }, 400, 'invalidSyntax'],
      [[], 400, 'invalidSyntax'],
    ];
    for (const [b, status, scimType] of cases) {
      if (status === 200) {
        // Matching several elements is fine: each gets the value.
        const out = applyPatch(user(), b, ctx);
        assert.deepEqual(
          (out.emails as Json[]).map((e) => e.value),
          ['x', 'x'],
        );
        continue;
      }
      assert.deepEqual(
        refusal(() => applyPatch(user(), b, ctx)),
        { status, scimType },
        JSON.stringify(b),
      );
    }
  });

  test('operations are validated whatever the case of their keys; paths are trimmed', () => {
    assert.deepEqual(patchOperations({ operations: [{ OP: 'Add', PATH: ' title ', VALUE: 'x' }] }), [
      { op: 'add', path: 'title', value: 'x' },
    ]);
    assert.deepEqual(patchOperations({ Operations: [{ op: 'remove', path: '' }] }), [{ op: 'remove', path: undefined, value: undefined }]);
  });

  test('paths resolve to canonical names, with their definitions and parsed filters', () => {
    const p = parsePatchPath(`${USER_SCHEMA}:EMAILS[Type eq "work"].VALUE`, ctx);
    assert.equal(p.urn, undefined);
    assert.equal(p.attr, 'emails');
    assert.equal(p.sub, 'value');
    assert.equal(p.filterText, 'Type eq "work"');
    assert.deepEqual(p.filter, { op: 'eq', attrPath: 'Type', compValue: 'work' });
    assert.equal(p.def?.multiValued, true);
    const e = parsePatchPath(`${ENTERPRISE_SCHEMA.toLowerCase()}:Department`, ctx);
    assert.deepEqual([e.urn, e.attr], [ENTERPRISE_SCHEMA, 'department']);
    assert.deepEqual(parsePatchPath(ENTERPRISE_SCHEMA, ctx), { urn: ENTERPRISE_SCHEMA, attr: '' });
    // An attribute of an extension we do not know is kept as sent.
    const unknown = parsePatchPath('urn:example:ext:badge', ctx);
    assert.deepEqual([unknown.urn, unknown.attr, unknown.def], ['urn:example:ext', 'badge', undefined]);
  });

  test('an interceptor takes the operations it handles (group members)', () => {
    const seen: [PatchOpName, string, string | undefined][] = [];
    const intercept = (o: PatchOpName, p: PatchPath) => {
      if (p.attr !== 'members') return false;
      seen.push([o, p.attr, p.filterText]);
      return true;
    };
    const group = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Team' };
    const out = applyPatch(
      group,
      body(op('add', 'members', [{ value: 'u1' }]), op('remove', 'members[value eq "u2"]'), op('replace', 'displayName', 'Team 2')),
      { defs: GROUP_ATTRS, ext: {}, id: 'g1', readOnly: ['id', 'meta'], intercept },
    );
    assert.deepEqual(seen, [
      ['add', 'members', undefined],
      ['remove', 'members', 'value eq "u2"'],
    ]);
    assert.deepEqual(out, { ...group, displayName: 'Team 2' });
  });
});
