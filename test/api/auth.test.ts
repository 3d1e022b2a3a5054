import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { closeTestStore, openTestStore } from '../helpers/store';
import { Audience, Connection, Segment } from '../../src/store/models';
import { bearer, createOrgWithTokens, makeApp, storeState, type Org } from './helpers';

describe('admin API: authentication, tokens, connections, recipients', () => {
  let org: Org;
  let other: Org;
  const app = makeApp();
  before(async () => {
    await openTestStore('api_auth');
    org = await createOrgWithTokens('Acme');
    other = await createOrgWithTokens('Other');
  });
  after(closeTestStore);

  it('answers 401 with a problem document without a token or with a wrong one', async () => {
    for (const headers of [{}, { Authorization: 'Bearer nope' }, { Authorization: 'Basic abc' }]) {
      const res = await request(app).get('/api/v1/recipients').set(headers);
      assert.equal(res.status, 401);
      assert.match(res.headers['content-type']!, /application\/problem\+json/);
      assert.equal(res.body.status, 401);
      assert.ok(res.body.type && res.body.title && res.body.detail);
      assert.match(res.headers['www-authenticate']!, /Bearer/);
    }
  });

  it('creates a token once, lists it without the secret, and revokes it', async () => {
    const created = await request(app)
      .post('/api/v1/tokens')
      .set(bearer(org.owner))
      .send({ role: 'member', permissions: ['recipients:read'], name: 'platform' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.token, /^as_/);
    const list = await request(app).get('/api/v1/tokens').set(bearer(org.owner));
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((t: { id: string }) => t.id === created.body.id));
    assert.ok(list.body.items.every((t: Record<string, unknown>) => !('token' in t) && !('tokenHash' in t)));
    assert.equal((await request(app).get('/api/v1/recipients').set(bearer(created.body.token))).status, 200);
    assert.equal((await request(app).delete(`/api/v1/tokens/${created.body.id}`).set(bearer(org.owner))).status, 204);
    assert.equal((await request(app).get('/api/v1/recipients').set(bearer(created.body.token))).status, 401);
    assert.equal((await request(app).delete(`/api/v1/tokens/${created.body.id}`).set(bearer(org.owner))).status, 404);
  });

  it('rejects malformed JSON, unknown fields and wrong types with precise problems', async () => {
    const malformed = await request(app)
      .post('/api/v1/connections')
      .set(bearer(org.admin))
      .set('Content-Type', 'application/json')
      .send('{"type": "csv",');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.type, 'urn:audience-sync:problem:malformed-json');
    const unknown = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', colour: 'blue' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.detail, /unknown field.*colour/);
    const badType = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'ldap' });
    assert.equal(badType.status, 400);
    assert.match(badType.body.detail, /type must be one of/);
    const wrongMedia = await request(app)
      .post('/api/v1/connections')
      .set(bearer(org.admin))
      .set('Content-Type', 'text/plain')
      .send('type=csv');
    assert.equal(wrongMedia.status, 415);
    const big = await request(app)
      .post('/api/v1/segments')
      .set(bearer(org.admin))
      .send({ name: 'x', filter: 'a'.repeat(1_100_000) });
    assert.equal(big.status, 413);
  });

  it('changes nothing on bad input: malformed JSON, unknown fields, invalid filters, bad references', async () => {
    const snapshot = async () =>
      JSON.stringify([
        await storeState(org.id),
        await Connection.countDocuments({ orgId: org.id }).exec(),
        await Segment.countDocuments({ orgId: org.id }).exec(),
        await Audience.countDocuments({ orgId: org.id }).exec(),
      ]);
    const before = await snapshot();
    const calls: [string, string, unknown, number, RegExp][] = [
      ['post', '/api/v1/recipients', '{"email": "a@b.co"', 400, /not valid JSON/],
      ['post', '/api/v1/recipients', { email: 'a@b.co', nickname: 'A' }, 400, /unknown field.*nickname/],
      ['post', '/api/v1/recipients', { email: 'a@b.co', attributes: { shoe_size: '9' } }, 400, /unknown field.*shoe_size/],
      ['post', '/api/v1/recipients', { email: 'a@b.co', firstName: 7 }, 400, /firstName/],
      ['post', '/api/v1/segments', { name: 'x', filter: 'department_name eq' }, 400, /filter could not be parsed/],
      ['post', '/api/v1/segments', { name: 'x', filter: 'salary gt 5' }, 400, /salary/],
      ['post', '/api/v1/audiences', { name: 'x', include: { segments: ['nope'] } }, 400, /segment nope does not exist/],
      ['post', '/api/v1/audiences', { name: 'x', include: { recipients: ['not an email'] } }, 400, /neither a recipient id nor an email/],
      ['post', '/api/v1/audiences', { name: 'x', include: { people: [] } }, 400, /unknown field.*people/],
      ['post', '/api/v1/connections', { type: 'scim', provider: 'ldap' }, 400, /provider/],
      ['post', '/api/v1/connections', { type: 'hris' }, 400, /accessToken/],
    ];
    for (const [method, path, body, status, detail] of calls) {
      let req = request(app).post(path).set(bearer(org.admin));
      if (typeof body === 'string') req = req.set('Content-Type', 'application/json');
      const res = await req.send(body as object);
      assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(res.headers['content-type']!, /application\/problem\+json/);
      assert.match(res.body.detail, detail, JSON.stringify(res.body));
    }
    assert.equal(await snapshot(), before);
  });

  it('manages connections: create with secrets once, read without them, patch, rotate, credentials, delete', async () => {
    const scim = await request(app)
      .post('/api/v1/connections')
      .set(bearer(org.admin))
      .send({ type: 'scim', provider: 'okta', name: 'Okta' });
    assert.equal(scim.status, 201, JSON.stringify(scim.body));
    assert.match(scim.body.token, /^scim_/);
    assert.equal(scim.body.scimBaseUrl, `http://localhost:8080/scim/v2/${scim.body.id}`);
    assert.equal(scim.body.scim11BaseUrl, `http://localhost:8080/scim/v1/${scim.body.id}`);
    const got = await request(app).get(`/api/v1/connections/${scim.body.id}`).set(bearer(org.admin));
    assert.equal(got.status, 200);
    assert.equal(got.body.scim11BaseUrl, `http://localhost:8080/scim/v1/${scim.body.id}`);
    assert.equal(got.body.token, undefined);
    assert.equal(got.body.provider, 'okta');
    const patched = await request(app)
      .patch(`/api/v1/connections/${scim.body.id}`)
      .set(bearer(org.admin))
      .send({ extendedAttributes: true, massRemovalThreshold: 0.5 });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.extendedAttributes, true);
    assert.equal(patched.body.massRemovalThreshold, 0.5);
    const badThreshold = await request(app)
      .patch(`/api/v1/connections/${scim.body.id}`)
      .set(bearer(org.admin))
      .send({ massRemovalThreshold: 2 });
    assert.equal(badThreshold.status, 400);
    const rotated = await request(app).post(`/api/v1/connections/${scim.body.id}/rotate-token`).set(bearer(org.admin));
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.token, scim.body.token);

    const sftp = await request(app).post('/api/v1/connections').set(bearer(org.owner)).send({ type: 'sftp' });
    assert.equal(sftp.status, 201);
    assert.ok(sftp.body.password && sftp.body.sftp.username);
    const cred = await request(app).post(`/api/v1/connections/${sftp.body.id}/credentials`).set(bearer(org.owner)).send({ password: true });
    assert.equal(cred.status, 200);
    assert.ok(cred.body.password && cred.body.password !== sftp.body.password);
    const badKey = await request(app)
      .post(`/api/v1/connections/${sftp.body.id}/credentials`)
      .set(bearer(org.owner))
      .send({ publicKeys: ['ssh-rsa nonsense'] });
    assert.equal(badKey.status, 400);
    const rotateSftp = await request(app).post(`/api/v1/connections/${sftp.body.id}/rotate-token`).set(bearer(org.owner));
    // Well formed, but not for this type of connection: a conflict with the connection named.
    assert.equal(rotateSftp.status, 409);
    assert.equal(rotateSftp.body.type, 'urn:audience-sync:problem:wrong-connection-type');

    const hris = await request(app)
      .post('/api/v1/connections')
      .set(bearer(org.owner))
      .send({ type: 'hris', accessToken: 'finch-token', schedule: '24h' });
    assert.equal(hris.status, 201);
    assert.equal(hris.body.hris.schedule, '24h');
    assert.equal(JSON.stringify(hris.body).includes('finch-token'), false);
    const sched = await request(app)
      .patch(`/api/v1/connections/${hris.body.id}`)
      .set(bearer(org.owner))
      .send({ schedule: '7d', mode: 'assisted' });
    assert.equal(sched.body.hris.schedule, '7d');
    assert.equal(sched.body.hris.mode, 'assisted');

    const list = await request(app).get('/api/v1/connections').set(bearer(org.admin));
    assert.deepEqual(new Set(list.body.items.map((c: { id: string }) => c.id)), new Set([scim.body.id, sftp.body.id, hris.body.id]));
    assert.equal((await request(app).get(`/api/v1/connections/${scim.body.id}`).set(bearer(other.owner))).status, 404);
    assert.equal((await request(app).delete(`/api/v1/connections/${sftp.body.id}`).set(bearer(org.admin))).status, 204);
    assert.equal((await request(app).get(`/api/v1/connections/${sftp.body.id}`).set(bearer(org.admin))).status, 404);
  });

  it('adds a manual recipient, lists it with filters and cursors, and removes only the manual source', async () => {
    const emails = ['Ann@Example.com', 'bob@example.com', 'cy@example.com'];
    for (const [i, email] of emails.entries()) {
      const res = await request(app)
        .post('/api/v1/recipients')
        .set(bearer(org.admin))
        .send({
          email,
          firstName: `F${i}`,
          lastName: 'L',
          attributes: { department_name: i === 0 ? 'Sales' : 'Eng', custom: { shirt: 'M' } },
        });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.email, email.toLowerCase());
      assert.equal(res.body.status, 'active');
      assert.deepEqual(
        res.body.sources.map((s: { type: string }) => s.type),
        ['manual'],
      );
    }
    const again = await request(app)
      .post('/api/v1/recipients')
      .set(bearer(org.admin))
      .send({ email: 'Ann@Example.com', firstName: 'F0', lastName: 'L', attributes: { department_name: 'Sales', custom: { shirt: 'M' } } });
    assert.equal(again.status, 200);

    const page1 = await request(app).get('/api/v1/recipients?limit=2').set(bearer(org.reader));
    assert.equal(page1.status, 200);
    assert.equal(page1.body.items.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await request(app).get(`/api/v1/recipients?limit=2&cursor=${page1.body.nextCursor}`).set(bearer(org.reader));
    assert.equal(page2.body.items.length, 1);
    assert.equal(page2.body.nextCursor, null);
    const all = [...page1.body.items, ...page2.body.items].map((r: { email: string }) => r.email);
    assert.deepEqual(all, ['ann@example.com', 'bob@example.com', 'cy@example.com']);

    const sales = await request(app).get('/api/v1/recipients').query({ filter: 'department_name eq "sales"' }).set(bearer(org.reader));
    assert.deepEqual(
      sales.body.items.map((r: { email: string }) => r.email),
      ['ann@example.com'],
    );
    const custom = await request(app)
      .get('/api/v1/recipients')
      .query({ filter: 'custom.shirt eq "M" and not (email eq "bob@example.com")' })
      .set(bearer(org.reader));
    assert.deepEqual(
      custom.body.items.map((r: { email: string }) => r.email),
      ['ann@example.com', 'cy@example.com'],
    );
    const bad = await request(app).get('/api/v1/recipients').query({ filter: 'department_name eq' }).set(bearer(org.reader));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.type, 'urn:audience-sync:problem:invalid-filter');
    const unknownAttr = await request(app).get('/api/v1/recipients').query({ filter: 'shoe eq "x"' }).set(bearer(org.reader));
    assert.equal(unknownAttr.status, 400);
    assert.match(unknownAttr.body.detail, /shoe/);
    assert.equal((await request(app).get('/api/v1/recipients?limit=0').set(bearer(org.reader))).status, 400);
    assert.equal((await request(app).get('/api/v1/recipients?cursor=%%%').set(bearer(org.reader))).status, 400);

    const ann = await request(app)
      .get(`/api/v1/recipients/${encodeURIComponent(page1.body.items[0].id)}`)
      .set(bearer(org.reader));
    assert.equal(ann.status, 200);
    assert.equal(ann.body.emailDisplay, 'Ann@Example.com');
    assert.equal(ann.body.attributes.custom.shirt, 'M');
    const byEmail = await request(app).get('/api/v1/recipients/ann@example.com').set(bearer(org.reader));
    assert.equal(byEmail.body.id, ann.body.id);
    assert.equal(
      (
        await request(app)
          .get(`/api/v1/recipients/${encodeURIComponent(ann.body.id)}`)
          .set(bearer(other.owner))
      ).status,
      404,
    );
    assert.equal((await request(app).get('/api/v1/recipients').set(bearer(other.owner))).body.items.length, 0);

    const removed = await request(app)
      .delete(`/api/v1/recipients/${encodeURIComponent(ann.body.id)}/manual`)
      .set(bearer(org.admin));
    assert.equal(removed.status, 204);
    assert.equal(
      (
        await request(app)
          .get(`/api/v1/recipients/${encodeURIComponent(ann.body.id)}`)
          .set(bearer(org.reader))
      ).status,
      404,
    );
    assert.equal(
      (
        await request(app)
          .delete(`/api/v1/recipients/${encodeURIComponent(ann.body.id)}/manual`)
          .set(bearer(org.admin))
      ).status,
      404,
    );

    const invalid = await request(app).post('/api/v1/recipients').set(bearer(org.admin)).send({ email: 'not-an-email' });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.detail, /email/);

    const audit = await request(app).get('/api/v1/audit-events?limit=100').set(bearer(org.owner));
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    for (const a of [
      'recipient.manual.add',
      'recipient.manual.remove',
      'connection.create',
      'connection.delete',
      'token.create',
      'token.delete',
    ]) {
      assert.ok(actions.includes(a), `audit has ${a}`);
    }
  });
});
