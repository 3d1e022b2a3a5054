import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDuplicateKeyError } from '../../../src/store/errors';

/** What the stores answer when a write collides with an existing `_id` (shapes copied from the servers' replies). */
describe('isDuplicateKeyError', () => {
  test("MongoDB's and FerretDB's code 11000", () => {
    assert.equal(isDuplicateKeyError({ code: 11000, errmsg: "Duplicate key violation on the requested collection: Index '_id_'" }), true);
  });

  test('FerretDB v2.5 on DocumentDB: a findAndModify upsert collision, code 1 with the unique-violation text', () => {
    const reply = {
      ok: 0,
      errmsg: 'duplicate key value violates unique constraint "collection_pk_585"',
      code: 1,
      codeName: 'InternalError',
    };
    assert.equal(isDuplicateKeyError(reply), true);
    assert.equal(isDuplicateKeyError({ code: 1, message: reply.errmsg }), true);
  });

  test('other errors are not duplicates', () => {
    assert.equal(isDuplicateKeyError({ code: 1, errmsg: 'relation "x" does not exist', codeName: 'InternalError' }), false);
    assert.equal(isDuplicateKeyError({ code: 2, errmsg: 'duplicate key value violates unique constraint "x"' }), false);
    assert.equal(isDuplicateKeyError(new Error('duplicate key value violates unique constraint "x"')), false);
    assert.equal(isDuplicateKeyError(null), false);
    assert.equal(isDuplicateKeyError('E11000'), false);
  });
});
