import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { problemHandler } from '../../src/api/problem';
import { createLogger } from '../../src/server/logger';
import { ConflictError, FilterError, InvalidStateError, NotFoundError, StoreUnavailableError, ValidationError } from '../../src/store';
import { toScimError } from '../../src/scim/errors';

/** Error mapping of the Admin API, without a store. */
describe('admin API problem documents', () => {
  const app = express();
  app.get('/outage', () => {
    const err = new Error('connect ECONNREFUSED');
    err.name = 'MongoServerSelectionError';
    throw err;
  });
  app.get('/filter', () => {
    throw new FilterError('unknown or unfilterable attribute "x"');
  });
  const storeErrors: Record<string, () => Error> = {
    'not-found': () => new NotFoundError('sync run not found'),
    conflict: () => new ConflictError('changed concurrently'),
    'invalid-state': () => new InvalidStateError('only a held run can be applied'),
    'invalid-value': () => new ValidationError('role must be one of owner, admin, member'),
    'store-unavailable': () => new StoreUnavailableError('the store is unreachable'),
  };
  for (const [slug, make] of Object.entries(storeErrors)) {
    app.get(`/store/${slug}`, () => {
      throw make();
    });
  }
  app.get('/bug', () => {
    throw new Error('secret@example.com broke');
  });
  app.use(problemHandler(createLogger('silent')));

  it('answers 503 with Retry-After when the store is unreachable', async () => {
    const res = await request(app).get('/outage');
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '5');
    assert.match(res.headers['content-type']!, /^application\/problem\+json/);
    assert.equal(res.body.type, 'urn:audience-sync:problem:store-unavailable');
  });

  it('maps filter errors to 400 and hides internal error messages', async () => {
    assert.equal((await request(app).get('/filter')).body.type, 'urn:audience-sync:problem:invalid-filter');
    const bug = await request(app).get('/bug');
    assert.equal(bug.status, 500);
    assert.equal(JSON.stringify(bug.body).includes('secret@example.com'), false);
  });

  it('maps each store error once: to a problem here and to the SCIM error schema there', async () => {
    const expected: Record<string, [number, number, string | undefined]> = {
      'not-found': [404, 404, undefined],
      conflict: [409, 409, undefined],
      'invalid-state': [409, 409, undefined],
      'invalid-value': [400, 400, 'invalidValue'],
      'store-unavailable': [503, 503, undefined],
    };
    for (const [slug, [status, scimStatus, scimType]] of Object.entries(expected)) {
      const res = await request(app).get(`/store/${slug}`);
      assert.equal(res.status, status, slug);
      assert.equal(res.body.type, `urn:audience-sync:problem:${slug}`);
      const scim = toScimError(storeErrors[slug]!());
      assert.equal(scim?.status, scimStatus, slug);
      assert.equal(scim?.scimType, scimType, slug);
    }
    const outage = new Error('connect ECONNREFUSED');
    outage.name = 'MongoServerSelectionError';
    assert.equal(toScimError(outage)?.status, 503);
    assert.equal(toScimError(new Error('a bug')), null);
  });
});
