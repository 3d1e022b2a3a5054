import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createApp } from '../../src/server/app';
import { findSourceRecord } from '../../src/store';
import { testConfig } from '../helpers/config';
import { closeTestStore, openTestStore } from '../helpers/store';
import { ENTERPRISE, GROUP, patchOp, USER } from './harness';
import { apiScimClient, eventually, type ApiScimClient } from './connections';

/**
 * Issue #14 item 5: one rule for attributes no schema declares, the same for POST, PUT and PATCH. In the default
 * (lenient) mode they are ignored without error, not stored, and reported once per connection and name (a log line and
 * `scim.unknownScimAttributes` on the connection's admin-API detail); a wrong type for a known attribute is 400
 * invalidValue; `schemas` inside an extension's value is tolerated. Strict mode: test/scim/interop-profile.test.ts.
 */
describe('SCIM attributes no schema declares (default mode)', () => {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = createApp({ config: testConfig(), logger: pino({ level: 'info' }, sink) });
  let c: ApiScimClient;
  before(async () => {
    await openTestStore('scim_unknown_attrs');
    c = await apiScimClient(app);
  });
  after(closeTestStore);

  const ACME = 'urn:example:params:scim:schemas:extension:acme:2.0:User';
  const reported = async (name: string) =>
    eventually(async () => (await c.detail()).scim.unknownScimAttributes.find((u) => u.name === name), `${name} reported`);

  let id = '';
  test('POST: unknown attributes, sub-attributes, extensions and schema URIs are ignored, not stored and not echoed', async () => {
    const res = await c
      .post('/Users', {
        schemas: [USER, ENTERPRISE, ACME],
        userName: 'unknown@x.com',
        bogusAttr: 'typo',
        name: { givenName: 'Una', familyNmae: 'Known' },
        [ENTERPRISE]: { department: 'Sales', departmnet: 'typo' },
        [ACME]: { badge: '42' },
      })
      .expect(201);
    id = res.body.id;
    assert.deepEqual(res.body.schemas, [USER, ENTERPRISE]);
    assert.equal(res.body.bogusAttr, undefined);
    assert.deepEqual(res.body.name, { givenName: 'Una' });
    assert.deepEqual(res.body[ENTERPRISE], { department: 'Sales' });
    assert.equal(res.body[ACME], undefined);
    const got = (await c.get(`/Users/${id}`).expect(200)).body;
    assert.deepEqual(got, res.body);
    const stored = await findSourceRecord(c.connectionId, id);
    assert.ok(stored);
    for (const typo of ['bogusAttr', 'familyNmae', 'departmnet', ACME])
      assert.ok(!String(stored.raw).includes(typo), `${typo} is not stored`);
  });

  test('PUT: the same rule', async () => {
    const res = await c
      .put(`/Users/${id}`, {
        schemas: [USER],
        userName: 'unknown@x.com',
        title: 'Lead',
        putOnly: 1,
        name: { givenName: 'Una', nickname: 'x' },
      })
      .expect(200);
    assert.equal(res.body.title, 'Lead');
    assert.equal(res.body.putOnly, undefined);
    assert.deepEqual(res.body.name, { givenName: 'Una' });
  });

  test('PATCH: the same rule for paths and path-less values; the other operations apply', async () => {
    const res = await c
      .patch(
        `/Users/${id}`,
        patchOp(
          { op: 'add', path: 'patchPath', value: 'x' },
          { op: 'replace', path: 'name.middleNmae', value: 'x' },
          { op: 'replace', path: `${ACME}:badge`, value: '43' },
          { op: 'replace', path: `${ENTERPRISE}:divisoin`, value: 'x' },
          { op: 'replace', value: { pathlessTypo: 'x', nickName: 'Unie' } },
          { op: 'replace', path: 'displayName', value: 'Una Known' },
        ),
      )
      .expect(200);
    assert.equal(res.body.displayName, 'Una Known');
    assert.equal(res.body.nickName, 'Unie');
    for (const k of ['patchPath', 'pathlessTypo', ACME]) assert.equal(res.body[k], undefined, k);
    assert.deepEqual(res.body.name, { givenName: 'Una' });
    assert.equal(res.body[ENTERPRISE]?.divisoin, undefined);
  });

  test('Groups follow the same rule', async () => {
    const g = await c.post('/Groups', { schemas: [GROUP], displayName: 'Typos', descriptoin: 'x' }).expect(201);
    assert.equal(g.body.descriptoin, undefined);
    await c.patch(`/Groups/${g.body.id}`, patchOp({ op: 'replace', path: 'groupTypo', value: 'x' })).expect(204);
    const got = await c.get(`/Groups/${g.body.id}`).expect(200);
    assert.equal(got.body.groupTypo, undefined);
    await reported('groupTypo');
  });

  test('each name is reported once on the connection detail (scim.unknownScimAttributes) and logged once', async () => {
    const names = [
      'bogusAttr',
      'name.familyNmae',
      `${ENTERPRISE}:departmnet`,
      ACME,
      'putOnly',
      'name.nickname',
      'patchPath',
      'name.middleNmae',
      `${ENTERPRISE}:divisoin`,
      'pathlessTypo',
      'descriptoin',
    ];
    for (const n of names) {
      const u = await reported(n);
      assert.ok(!Number.isNaN(Date.parse(u.firstSeenAt)), 'firstSeenAt is a timestamp');
    }
    // Sent again: no second entry, no second log line.
    await c.post('/Users', { schemas: [USER], userName: 'again@x.com', bogusAttr: 'typo' }).expect(201);
    await new Promise((r) => setTimeout(r, 200));
    const detail = await c.detail();
    assert.equal(detail.scim.unknownScimAttributes.filter((u) => u.name === 'bogusAttr').length, 1);
    const lines = logs.filter((l) => l.attribute === 'bogusAttr');
    assert.equal(lines.length, 1, 'one log line per connection and name');
    assert.equal(lines[0]!.connectionId, c.connectionId);
    assert.equal(lines[0]!.level, 40, 'a warning');
  });

  test('another connection has its own report', async () => {
    const other = await apiScimClient(app);
    await other.post('/Users', { schemas: [USER], userName: 'o@x.com', bogusAttr: 'typo' }).expect(201);
    await eventually(async () => (await other.detail()).scim.unknownScimAttributes.find((u) => u.name === 'bogusAttr'), 'reported');
    assert.deepEqual(
      (await other.detail()).scim.unknownScimAttributes.map((u) => u.name),
      ['bogusAttr'],
    );
  });

  test('resource-level schemas inside an extension value is tolerated: not stored, not reported', async () => {
    const res = await c
      .post('/Users', { schemas: [USER, ENTERPRISE], userName: 'ext@x.com', [ENTERPRISE]: { schemas: [ENTERPRISE], costCenter: 'CC9' } })
      .expect(201);
    assert.deepEqual(res.body[ENTERPRISE], { costCenter: 'CC9' });
    await new Promise((r) => setTimeout(r, 200));
    const names = (await c.detail()).scim.unknownScimAttributes.map((u) => u.name);
    assert.ok(!names.some((n) => n.endsWith(':schemas')), names.join(', '));
  });

  test('a value of the wrong type for a known attribute is 400 invalidValue and changes nothing', async () => {
    const posts: Record<string, unknown>[] = [
      { userName: 42 },
      { userName: 'w@x.com', active: 'maybe' },
      { userName: 'w@x.com', name: 'Una' },
      { userName: 'w@x.com', title: { text: 'Lead' } },
      { userName: 'w@x.com', emails: ['w@x.com'] },
      { userName: 'w@x.com', emails: [{ value: 'w@x.com', primary: 'yes' }] },
      { userName: 'w@x.com', displayName: true },
      { userName: 'w@x.com', [ENTERPRISE]: { department: 7 } },
      { userName: 'w@x.com', name: { givenName: ['a', 'b'] } },
    ];
    for (const body of posts) {
      const res = await c.post('/Users', { schemas: [USER], ...body }).expect(400);
      assert.equal(res.body.scimType, 'invalidValue', JSON.stringify(body));
    }
    assert.equal((await c.get(`/Users?filter=${encodeURIComponent('userName eq "w@x.com"')}`).expect(200)).body.totalResults, 0);
    const put = await c.put(`/Users/${id}`, { schemas: [USER], userName: 'unknown@x.com', nickName: 12 }).expect(400);
    assert.equal(put.body.scimType, 'invalidValue');
    const patch = await c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 7 })).expect(400);
    assert.equal(patch.body.scimType, 'invalidValue');
    const got = (await c.get(`/Users/${id}`).expect(200)).body;
    assert.equal(got.title, 'Lead', 'nothing changed');
    assert.equal(got.nickName, 'Unie');
  });
});
