import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { problemHandler } from '../src/api/problem';
import { createLogger } from '../src/server/logger';
import { FilterError } from '../src/store';

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
});
