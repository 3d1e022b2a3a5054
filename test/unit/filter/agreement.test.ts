import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import sift from 'sift';
import { FilterError, matches, parseFilter, translateFilter, type Filter, type MemoryAttr } from '../../../src/filter';
import { USER_EXTENSION_KEYS, userFieldResolver } from '../../../src/scim/filterFields';
import { activeOf } from '../../../src/scim/mapping';
import { searchDoc, USER_EXTENSIONS, type Json } from '../../../src/scim/normalize';
import { COMMON_ATTRS, ENTERPRISE_SCHEMA, USER_ATTRS, USER_SCHEMA } from '../../../src/scim/schemas';

/**
 * The two backends agree: for random SCIM users and random filters over them, a filter the MongoDB backend translates
 * selects a user's stored record (run through sift, the MongoDB query matcher mongoose itself uses) exactly when the in-memory
 * backend matches the user as GET shows it. This is what lets the SCIM server answer a filter in memory where the
 * store cannot (FerretDB and value filters) without changing the answer. The stored record is built the way the SCIM
 * server stores users (searchDoc into `lookup`), with the SCIM server's own field table.
 */

/** What the SCIM server evaluates user filters against in memory (users.ts: the resource as GET shows it). */
const FILTER_DEFS: MemoryAttr[] = [
  ...COMMON_ATTRS,
  ...USER_ATTRS.filter((d) => d.name !== 'groups'),
  { name: 'groups', type: 'complex', subAttributes: [{ name: 'value', type: 'string', caseExact: true }] },
];

// Few distinct values, differing in case, so that comparisons often hold.
const TEXT = ['a', 'A', 'ab', 'Ab', 'abc', 'b', 'B', 'work', 'Work', 'home', 'x@y.com', 'X@Y.com', 'z.z', ''];
const text = fc.constantFrom(...TEXT);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

function compact(o: Record<string, unknown>): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const email = fc
  .record({ value: text, type: opt(fc.constantFrom('work', 'Work', 'home', 'other')), primary: opt(fc.boolean()) })
  .map(compact);

const userArb = fc
  .record({
    id: fc.constantFrom('u1', 'U1', 'u2'),
    userName: text.filter((s) => s !== ''),
    displayName: opt(text),
    title: opt(text),
    externalId: opt(text),
    active: opt(fc.boolean()),
    name: opt(fc.record({ givenName: opt(text), familyName: opt(text) }).map(compact)),
    emails: opt(fc.array(email, { maxLength: 3 })),
    department: opt(text),
    groups: fc.subarray(['g1', 'g2', 'G1']),
  })
  .map(({ id, department, groups, ...rest }) => {
    const resource: Json = compact({ schemas: [USER_SCHEMA], ...rest });
    if (department !== undefined) resource[ENTERPRISE_SCHEMA] = { department };
    return { id, resource, groups };
  });

type User = { id: string; resource: Json; groups: string[] };

/** The source record as the SCIM server stores it (the fields filters read). */
function stored(u: User): Json {
  return {
    key: u.id,
    groups: u.groups,
    lookup: { ...searchDoc(u.resource, USER_ATTRS, USER_EXTENSIONS, USER_EXTENSION_KEYS), active: activeOf(u.resource) },
  };
}

/** The user as GET shows it. */
function shown(u: User): Json {
  return { ...u.resource, id: u.id, active: activeOf(u.resource), groups: u.groups.map((value) => ({ value })) };
}

const quote = (s: string) => `"${s}"`;
const STRING_PATHS = [
  'userName',
  'displayName',
  'title',
  'name.givenName',
  'name.familyName',
  'emails',
  'emails.value',
  'emails.type',
  `${USER_SCHEMA}:userName`,
  `${USER_SCHEMA}:emails.type`,
  `${ENTERPRISE_SCHEMA}:department`,
  'id',
  'externalId',
  'groups',
  'groups.value',
];
const BOOLEAN_PATHS = ['active', 'emails.primary'];
const STRING_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];

const stringTest = fc
  .tuple(fc.constantFrom(...STRING_PATHS), fc.constantFrom(...STRING_OPS), text)
  .map(([p, op, v]) => `${p} ${op} ${quote(v)}`);
const boolValue = fc.constantFrom('true', 'false', '"True"', '"false"');
const boolTest = fc.tuple(fc.constantFrom(...BOOLEAN_PATHS), fc.constantFrom('eq', 'ne'), boolValue).map(([p, op, v]) => `${p} ${op} ${v}`);
const presence = fc.constantFrom(...STRING_PATHS, ...BOOLEAN_PATHS, 'name').map((p) => `${p} pr`);

/** Inside `emails[...]`: the email's own sub-attributes. */
const emailTest = fc.oneof(
  fc.tuple(fc.constantFrom('value', 'type'), fc.constantFrom(...STRING_OPS), text).map(([p, op, v]) => `${p} ${op} ${quote(v)}`),
  fc.tuple(fc.constantFrom('eq', 'ne'), boolValue).map(([op, v]) => `primary ${op} ${v}`),
  fc.constantFrom('value pr', 'type pr', 'primary pr'),
);
const emailFilter: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    emailTest,
    fc.tuple(tie('f'), fc.constantFrom('and', 'or'), tie('f')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('f').map((a) => `not (${a})`),
  ),
})).f;

const filterArb: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    stringTest,
    boolTest,
    presence,
    emailFilter.map((inner) => `emails[${inner}]`),
    fc.tuple(tie('f'), fc.constantFrom('and', 'or'), tie('f')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('f').map((a) => `not (${a})`),
  ),
})).f;

function translated(ast: Filter): Record<string, unknown> | undefined {
  try {
    return translateFilter(ast, userFieldResolver);
  } catch (err) {
    if (err instanceof FilterError) return undefined;
    throw err;
  }
}

describe('filter backends agree', () => {
  test('a translated filter selects a stored user exactly when the in-memory backend matches it', () => {
    let compared = 0;
    let selected = 0;
    fc.assert(
      fc.property(filterArb, fc.array(userArb, { minLength: 1, maxLength: 4 }), (filter, users) => {
        const ast = parseFilter(filter);
        const query = translated(ast);
        // Only what the MongoDB backend accepts is ever evaluated in memory (the SCIM server translates first).
        if (!query) return;
        const engine = sift(query);
        for (const u of users) {
          const viaStore = engine(stored(u));
          const inMemory = matches(ast, shown(u), FILTER_DEFS, USER_EXTENSIONS);
          assert.equal(inMemory, viaStore, `${filter} on ${JSON.stringify(shown(u))}: stored as ${JSON.stringify(stored(u))}`);
          compared++;
          if (viaStore) selected++;
        }
      }),
      { numRuns: 600 },
    );
    // The property must have been exercised both ways, not vacuously.
    assert.ok(compared > 1000, `only ${compared} comparisons`);
    assert.ok(selected > compared / 20 && selected < compared * 0.95, `${selected} of ${compared} selected`);
  });
});
