import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonDeeperThan } from '../../../src/scim/jsonBody';
import { userFieldResolver } from '../../../src/scim/filterFields';
import { sortField, sortInMemory, sortValue } from '../../../src/scim/search';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('JSON nesting depth, counted before parsing', () => {
  test('objects and arrays count; brackets inside strings, escaped quotes included, do not', () => {
    assert.equal(jsonDeeperThan(bytes('{"a":[{"b":1}]}'), 3), false);
    assert.equal(jsonDeeperThan(bytes('{"a":[{"b":[1]}]}'), 3), true);
    assert.equal(jsonDeeperThan(bytes(`{"s":"${'['.repeat(100)}"}`), 2), false);
    assert.equal(jsonDeeperThan(bytes(`{"s":"\\"${'{'.repeat(100)}"}`), 2), false);
    // An escaped backslash ends right before the closing quote: what follows is counted again.
    assert.equal(jsonDeeperThan(bytes('{"s":"\\\\","x":{"y":{}}}'), 3), false);
    assert.equal(jsonDeeperThan(bytes('{"s":"\\\\","x":{"y":{}}}'), 2), true);
    assert.equal(jsonDeeperThan(bytes('"just a string"'), 0), false);
  });
});

describe('sorting users in memory (RFC 7644 §3.4.2.3)', () => {
  const user = (id: string, lookup: Record<string, unknown>) => ({ _id: id, lookup });
  const docs = [
    user('1', { title: 'beta', emails: [{ value: 'zz@x' }] }),
    user('2', { emails: [{ value: 'aa@x' }, { value: 'mm@x', primary: true }] }),
    user('3', { title: 'alpha', emails: [{ value: 'cc@x' }] }),
    user('4', {}),
  ];
  const ids = (list: { _id: string }[]) => list.map((d) => d._id);

  test('a multi-valued attribute sorts by its primary value, else the first', () => {
    const field = sortField('emails', userFieldResolver);
    assert.deepEqual(field, { path: 'lookup.emails.value', list: { path: 'lookup.emails', sub: 'value' } });
    assert.equal(sortValue(docs[1], field), 'mm@x');
    assert.equal(sortValue(docs[0], field), 'zz@x');
    assert.equal(sortValue(docs[3], field), undefined);
    assert.deepEqual(ids(sortInMemory(docs, field, false)), ['3', '2', '1', '4']);
    assert.deepEqual(ids(sortInMemory(docs, sortField('emails.value', userFieldResolver), true)), ['4', '1', '2', '3']);
  });

  test('without a value: last ascending, first descending, in id order; the input is not reordered', () => {
    const field = sortField('title', userFieldResolver);
    assert.deepEqual(ids(sortInMemory(docs, field, false)), ['3', '1', '2', '4']);
    assert.deepEqual(ids(sortInMemory(docs, field, true)), ['2', '4', '1', '3']);
    assert.deepEqual(ids(docs), ['1', '2', '3', '4']);
    assert.deepEqual(ids(sortInMemory([...docs].reverse(), undefined, false)), ['1', '2', '3', '4']);
  });
});
