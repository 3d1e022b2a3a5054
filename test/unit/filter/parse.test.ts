import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterError, MAX_FILTER_LENGTH, parseFilter, type FilterErrorReason } from '../../../src/filter';

function refusal(fn: () => unknown): { reason: FilterErrorReason; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FilterError, `expected a FilterError, got ${String(err)}`);
    assert.equal(err.scimType, 'invalidFilter');
    return { reason: err.reason, message: err.message };
  }
  assert.fail('expected the filter to be refused');
}

describe('filter parser', () => {
  test('parses comparisons, presence, logic and value paths into one tree', () => {
    assert.deepEqual(parseFilter('userName eq "bjensen"'), { op: 'eq', attrPath: 'userName', compValue: 'bjensen' });
    assert.deepEqual(parseFilter('title pr'), { op: 'pr', attrPath: 'title' });
    assert.deepEqual(parseFilter('a eq 1 and not (b eq true)'), {
      op: 'and',
      filters: [
        { op: 'eq', attrPath: 'a', compValue: 1 },
        { op: 'not', filter: { op: 'eq', attrPath: 'b', compValue: true } },
      ],
    });
    assert.deepEqual(parseFilter('emails[type eq "work"]'), {
      op: '[]',
      attrPath: 'emails',
      valFilter: { op: 'eq', attrPath: 'type', compValue: 'work' },
    });
    assert.deepEqual(parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "B"'), {
      op: 'sw',
      attrPath: 'urn:ietf:params:scim:schemas:core:2.0:User:name.givenName',
      compValue: 'B',
    });
    assert.deepEqual(parseFilter('x eq null'), { op: 'eq', attrPath: 'x', compValue: null });
  });

  test('empty, over-long and malformed filters are refused as syntax errors', () => {
    for (const text of ['', '   '])
      assert.deepEqual(
        refusal(() => parseFilter(text)),
        { reason: 'syntax', message: 'the filter is empty' },
      );
    const long = `a eq "${'x'.repeat(MAX_FILTER_LENGTH)}"`;
    assert.equal(refusal(() => parseFilter(long)).message, `the filter is longer than ${MAX_FILTER_LENGTH} characters`);
    // Exactly at the limit is parsed.
    const atLimit = `a eq "${'x'.repeat(MAX_FILTER_LENGTH - 7)}"`;
    assert.equal(atLimit.length, MAX_FILTER_LENGTH);
    assert.equal(parseFilter(atLimit).op, 'eq');
    for (const text of ['userName eq', 'userName xx "a"', '(a eq "b"', 'a eq "b" c']) {
      const r = refusal(() => parseFilter(text));
      assert.equal(r.reason, 'syntax');
      assert.match(r.message, /^the filter could not be parsed: /);
    }
  });
});
