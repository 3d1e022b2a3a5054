import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FilterError,
  escapeRegex,
  resolveField,
  tableResolver,
  translateFilterText,
  type FieldSpec,
  type FilterErrorReason,
} from '../../../src/filter';

/** A table with every kind of field the translator distinguishes. */
const table: Record<string, FieldSpec> = {
  id: { path: '_id', type: 'string', caseExact: true },
  userName: { path: 'lookup.userName', type: 'string', lowerPath: 'lookup.userName' },
  displayName: { path: 'displayName', type: 'string', lowerPath: 'displayNameLower' },
  title: { path: 'title', type: 'string' },
  active: { path: 'active', type: 'boolean' },
  age: { path: 'age', type: 'number' },
  created: { path: 'createdAt', type: 'date' },
  name: { path: 'name', type: 'complex', subAttributes: { givenName: { path: 'givenName', type: 'string' } } },
  emails: {
    path: 'emails',
    type: 'complex',
    multiValued: true,
    subAttributes: {
      value: { path: 'value', type: 'string', lowerPath: 'value' },
      type: { path: 'type', type: 'string', lowerPath: 'typeLower' },
      primary: { path: 'primary', type: 'boolean' },
    },
  },
};
const resolve = tableResolver(table, (p) => (p.startsWith('custom.') ? { path: `attrs.${p}`, type: 'string' } : undefined));
const t = (filter: string) => translateFilterText(filter, resolve);

function refusal(filter: string): { reason: FilterErrorReason; message: string } {
  try {
    t(filter);
  } catch (err) {
    assert.ok(err instanceof FilterError, `expected a FilterError, got ${String(err)}`);
    return { reason: err.reason, message: err.message };
  }
  assert.fail(`expected "${filter}" to be refused`);
}

describe('MongoDB backend', () => {
  test('case-exact strings compare as they are; names resolve case-insensitively', () => {
    assert.deepEqual(t('ID eq "A.b"'), { _id: 'A.b' });
    assert.deepEqual(t('id ne "x"'), { _id: { $ne: 'x' } });
    assert.deepEqual(t('id co "a.b"'), { _id: { $regex: 'a\\.b' } });
    assert.deepEqual(t('id sw "a"'), { _id: { $regex: '^a' } });
    assert.deepEqual(t('id ew "a"'), { _id: { $regex: 'a$' } });
    assert.deepEqual(t('id gt "a"'), { _id: { $gt: 'a' } });
    assert.deepEqual(t('id le "a"'), { _id: { $lte: 'a' } });
  });

  test('case-insensitive strings use their lower-cased copy when there is one, else an anchored regex with i', () => {
    assert.deepEqual(t('userName eq "BJensen"'), { 'lookup.userName': 'bjensen' });
    assert.deepEqual(t('displayName eq "Sales"'), { displayNameLower: 'sales' });
    assert.deepEqual(t('displayName ne "Sales"'), { displayNameLower: { $ne: 'sales' } });
    assert.deepEqual(t('displayName co "A+B"'), { displayNameLower: { $regex: 'a\\+b' } });
    assert.deepEqual(t('displayName ge "M"'), { displayNameLower: { $gte: 'm' } });
    assert.deepEqual(t('title eq "Dev (1)"'), { title: { $regex: '^Dev \\(1\\)$', $options: 'i' } });
    assert.deepEqual(t('title ne "x"'), { $nor: [{ title: { $regex: '^x$', $options: 'i' } }] });
    assert.deepEqual(t('title sw "Dev"'), { title: { $regex: '^Dev', $options: 'i' } });
    assert.deepEqual(t('custom.badge eq "7"'), { 'attrs.custom.badge': { $regex: '^7$', $options: 'i' } });
    // Numbers and booleans compared with a string attribute compare as their text.
    assert.deepEqual(t('userName eq 42'), { 'lookup.userName': '42' });
  });

  test('booleans, numbers, dates, null and presence', () => {
    assert.deepEqual(t('active eq true'), { active: true });
    assert.deepEqual(t('active eq "False"'), { active: false });
    assert.deepEqual(t('active ne true'), { active: { $ne: true } });
    assert.deepEqual(t('age ge 18'), { age: { $gte: 18 } });
    assert.deepEqual(t('age lt 65'), { age: { $lt: 65 } });
    assert.deepEqual(t('created gt "2024-01-02T03:04:05Z"'), { createdAt: { $gt: new Date('2024-01-02T03:04:05Z') } });
    assert.deepEqual(t('title eq null'), { title: { $in: [null, ''] } });
    assert.deepEqual(t('title ne null'), { title: { $exists: true, $nin: [null, ''] } });
    assert.deepEqual(t('title pr'), { title: { $exists: true, $nin: [null, '', []] } });
    assert.deepEqual(t('name pr'), { name: { $exists: true, $nin: [null, '', []] } });
  });

  test('sub-attributes, the value sub-attribute standing for its parent, value filters and logic', () => {
    assert.deepEqual(t('name.givenName eq "Barbara"'), { 'name.givenName': { $regex: '^Barbara$', $options: 'i' } });
    assert.deepEqual(t('emails eq "A@X.com"'), { 'emails.value': 'a@x.com' });
    assert.deepEqual(t('emails.type eq "Work"'), { 'emails.typeLower': 'work' });
    // Presence through a list is asked of each element.
    assert.deepEqual(t('emails pr'), { emails: { $elemMatch: { value: { $exists: true, $nin: [null, '', []] } } } });
    assert.deepEqual(t('emails.type pr'), { emails: { $elemMatch: { type: { $exists: true, $nin: [null, '', []] } } } });
    assert.deepEqual(t('name.givenName pr'), { 'name.givenName': { $exists: true, $nin: [null, '', []] } });
    assert.deepEqual(t('emails[type eq "work" and primary eq true]'), {
      emails: { $elemMatch: { $and: [{ typeLower: 'work' }, { primary: true }] } },
    });
    assert.deepEqual(t('userName eq "a" or not (active eq false)'), {
      $or: [{ 'lookup.userName': 'a' }, { $nor: [{ active: false }] }],
    });
  });

  test('what it cannot translate faithfully is refused with a reason', () => {
    const cases: [string, FilterErrorReason, string][] = [
      ['nosuch eq "x"', 'attribute', 'unknown or unfilterable attribute "nosuch"'],
      ['nosuch pr', 'attribute', 'unknown or unfilterable attribute "nosuch"'],
      ['emails.nosuch eq "x"', 'attribute', 'unknown or unfilterable attribute "emails.nosuch"'],
      ['nosuch[a eq "b"]', 'attribute', 'unknown or unfilterable attribute "nosuch"'],
      ['title[a eq "b"]', 'attribute', '"title" has no sub-attributes to filter on'],
      ['emails[nosuch eq "b"]', 'attribute', 'unknown or unfilterable attribute "nosuch"'],
      ['name eq "x"', 'attribute', '"name" is complex; filter on one of its sub-attributes'],
      ['active gt true', 'operator', '"gt" is not defined for the boolean attribute "active"'],
      ['active eq "maybe"', 'value', '"active" is boolean; compare it with true or false'],
      ['age eq "x"', 'value', '"age" is numeric; compare it with a number'],
      ['age co 1', 'operator', '"co" is not defined for "age"'],
      ['created gt "yesterday"', 'value', '"createdAt" is a date-time; compare it with an xsd:dateTime string'],
      ['title gt "m"', 'operator', '"gt" on the case-insensitive attribute "title" is not supported'],
      ['title co null', 'operator', '"co" cannot compare with null'],
    ];
    for (const [filter, reason, message] of cases) assert.deepEqual(refusal(filter), { reason, message }, filter);
  });

  test('resolveField and escapeRegex', () => {
    const emails = table.emails!;
    assert.deepEqual(resolveField('emails', resolve), { spec: emails.subAttributes!.value, base: 'emails.', parent: emails });
    assert.deepEqual(resolveField('EMAILS.Type', resolve), { spec: emails.subAttributes!.type, base: 'emails.', parent: emails });
    assert.deepEqual(resolveField('title', resolve), { spec: table.title, base: '' });
    assert.equal(resolveField('title.x', resolve), undefined);
    const special = 'a.b*c+d?e^f$g{h}i(j)k|l[m]n\\o';
    assert.ok(new RegExp(`^${escapeRegex(special)}$`).test(special));
    assert.ok(!new RegExp(escapeRegex('a.c')).test('abc'));
  });
});
