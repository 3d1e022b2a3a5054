import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { connectStore, disconnectStore, findSourceRecord } from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { makeApp, q, recipient, scimClient, USER, type ScimClient } from './harness';

/** Tenant isolation and concurrency: nothing of one organization is visible from another, under concurrent load. */
describe('SCIM tenancy and concurrency', () => {
  const app = makeApp();
  let server: Server;
  let dbName = '';
  const conns: ScimClient[] = [];
  before(async () => {
    dbName = await openTestStore('scim_tenancy');
    server = app.listen(0);
    await new Promise<void>((r) => server.once('listening', () => r()));
    const a1 = await scimClient(server as unknown as Parameters<typeof scimClient>[0]);
    const a2 = await scimClient(server as unknown as Parameters<typeof scimClient>[0], { orgId: a1.orgId });
    const b1 = await scimClient(server as unknown as Parameters<typeof scimClient>[0]);
    const b2 = await scimClient(server as unknown as Parameters<typeof scimClient>[0], { orgId: b1.orgId });
    conns.push(a1, a2, b1, b2);
    void (server.address() as AddressInfo);
  });
  after(async () => {
    server.close();
    await closeTestStore();
  });

  test('hundreds of concurrent creates over connections of two organizations each land in their own', async () => {
    const jobs = Array.from({ length: 240 }, (_, i) => ({ i, c: conns[i % conns.length]! }));
    const results = await Promise.all(
      jobs.map(async ({ i, c }) => {
        const res = await c.post('/Users', { schemas: [USER], userName: `user${i}@c${conns.indexOf(c)}.example` });
        return { i, c, status: res.status, id: res.body.id as string };
      }),
    );
    assert.deepEqual(
      results.filter((r) => r.status !== 201),
      [],
    );
    for (const { i, c, id } of results) {
      const rec = await findSourceRecord(c.connectionId, id);
      assert.equal(rec?.orgId, c.orgId, `user ${i}`);
      assert.equal(rec?.connectionId, c.connectionId);
      const email = `user${i}@c${conns.indexOf(c)}.example`;
      assert.equal((await recipient(c.orgId, email))?.status, 'active');
      const otherOrg = conns.find((o) => o.orgId !== c.orgId)!;
      assert.equal(await recipient(otherOrg.orgId, email), null);
    }
    for (const c of conns) {
      const list = await c.get('/Users?count=1000').expect(200);
      assert.equal(list.body.totalResults, 60);
      const idx = conns.indexOf(c);
      assert.ok(list.body.Resources.every((u: { userName: string }) => u.userName.endsWith(`@c${idx}.example`)));
    }
  });

  test('another connection cannot read, change or find a resource, even with the id', async () => {
    const [a1, , b1] = conns;
    const u = await a1!.post('/Users', { schemas: [USER], userName: 'secret@a.example' }).expect(201);
    await b1!.get(`/Users/${u.body.id}`).expect(404);
    await b1!
      .patch(`/Users/${u.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      })
      .expect(404);
    await b1!.del(`/Users/${u.body.id}`).expect(404);
    const f = await b1!.get(`/Users${q('userName eq "secret@a.example"')}`).expect(200);
    assert.equal(f.body.totalResults, 0);
    const g = await a1!.post('/Groups', { displayName: 'A only', members: [{ value: u.body.id }] }).expect(201);
    await b1!.get(`/Groups/${g.body.id}`).expect(404);
    const bg = await b1!.post('/Groups', { displayName: 'B' }).expect(201);
    const cross = await b1!
      .patch(`/Groups/${bg.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'members', value: [{ value: u.body.id }] }],
      })
      .expect(400);
    assert.equal(cross.body.scimType, 'invalidValue');
    assert.equal((await recipient(a1!.orgId, 'secret@a.example'))?.status, 'active');
  });

  test('concurrent creates of one userName yield exactly one 201 and 409s for the rest', async () => {
    const c = conns[1]!;
    const statuses = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        c.post('/Users', { schemas: [USER], userName: i % 2 ? 'Race@x.example' : 'race@X.example' }).then((r) => r.status),
      ),
    );
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 409).length, 24);
    const list = await c.get(`/Users${q('userName eq "RACE@x.example"')}`).expect(200);
    assert.equal(list.body.totalResults, 1);
  });

  test('a store outage answers 503 with Retry-After and a SCIM error; service resumes when the store is back', async () => {
    const c = conns[0]!;
    await disconnectStore();
    try {
      const res = await c.get('/Users').expect(503);
      assert.equal(res.body.status, '503');
      assert.ok(res.headers['retry-after']);
      assert.match(res.headers['content-type']!, /application\/scim\+json/);
      await c.post('/Users', { schemas: [USER], userName: 'during-outage@x.example' }).expect(503);
    } finally {
      const url = new URL(process.env.MONGODB_URI!);
      url.pathname = `/${dbName}`;
      await connectStore(url.toString());
    }
    await c
      .get(`/Users${q('userName eq "during-outage@x.example"')}`)
      .expect(200)
      .expect((r) => assert.equal(r.body.totalResults, 0));
    await c.post('/Users', { schemas: [USER], userName: 'during-outage@x.example' }).expect(201);
  });
});
