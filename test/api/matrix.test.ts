import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import {
  SnapshotIngest,
  applySourceChanges,
  createApiToken,
  createAudience,
  createConnection,
  createSegment,
  createWebhookEndpoint,
  ensureNamedGroups,
  newId,
  recipientId,
  type ConnectionRef,
} from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, type Org } from './helpers';
import { checkResponse } from './schemaCheck';
import { waitForBackgroundJobs } from '../../src/api/jobs';

type Caller = 'owner' | 'admin' | 'reader' | 'member' | 'other' | 'none';
const CALLERS: Caller[] = ['none', 'member', 'other', 'reader', 'admin', 'owner'];
type Access = 'owner' | 'manage' | 'read';

interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** The OpenAPI path template. */
  template: string;
  access: Access;
  ok: number;
  /** Builds the concrete path (and body) in the organization under test; runs before every call. */
  prepare: () => Promise<{ path: string; body?: unknown; csv?: string; usesId: boolean }>;
}

describe('admin API: every route × every kind of caller', () => {
  const app = makeApp();
  let org: Org;
  let other: Org;
  let csv: ConnectionRef;
  let scim: ConnectionRef;
  let groupId: string;
  let n = 0;
  const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };

  const conn = async (type: string) => {
    const c = await createConnection({ orgId: org.id, type, accessToken: type === 'hris' ? 'finch-token' : undefined }, env);
    return { _id: c.id, orgId: org.id, type };
  };
  const segment = async () => {
    return (await createSegment(org.id, { name: 'Sales', filter: 'department_name eq "Sales"' }))._id;
  };
  const audience = async () => {
    const id = newId();
    const now = new Date();
    const sel = { groups: [groupId], segments: [], recipients: [] };
    await createAudience({
      _id: id,
      orgId: org.id,
      name: 'All',
      include: sel,
      exclude: { groups: [], segments: [], recipients: [] },
      createdAt: now,
      updatedAt: now,
    });
    return id;
  };
  /** A full snapshot held by the mass-removal guard. */
  const heldRun = async () => {
    const c = await conn('csv');
    await applySourceChanges(
      c,
      [1, 2, 3].map((i) => ({ op: 'upsert' as const, key: `p${i}@x.com`, email: `p${i}@x.com`, active: true })),
    );
    const ingest = await SnapshotIngest.start(c, { mode: 'full', source: 'api' });
    await ingest.add({ op: 'upsert', key: 'p1@x.com', email: 'p1@x.com', active: true });
    const run = await ingest.finish();
    assert.equal(run.status, 'needs_review');
    return run._id;
  };
  const manualPerson = async () => {
    const email = `m${++n}@example.com`;
    const res = await request(app).post('/api/v1/recipients').set(bearer(org.owner)).send({ email });
    assert.equal(res.status, 201);
    return res.body.id as string;
  };
  const webhook = async () => (await createWebhookEndpoint(org.id, { url: 'http://127.0.0.1:9/hook' }, env.secretKey)).endpoint._id;
  const enc = encodeURIComponent;
  const rid = () => enc(recipientId(org.id, 'ann@example.com'));

  const routes: Route[] = [
    {
      method: 'get',
      template: '/organization',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: '/organization', usesId: false }),
    },
    {
      method: 'patch',
      template: '/organization',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: '/organization', body: { name: 'Renamed' }, usesId: false }),
    },
    {
      method: 'post',
      template: '/tokens',
      access: 'owner',
      ok: 201,
      prepare: async () => ({ path: '/tokens', body: { role: 'member' }, usesId: false }),
    },
    { method: 'get', template: '/tokens', access: 'owner', ok: 200, prepare: async () => ({ path: '/tokens', usesId: false }) },
    {
      method: 'delete',
      template: '/tokens/{id}',
      access: 'owner',
      ok: 204,
      prepare: async () => ({ path: `/tokens/${(await createApiToken(org.id, 'member')).id}`, usesId: true }),
    },
    {
      method: 'post',
      template: '/connections',
      access: 'manage',
      ok: 201,
      prepare: async () => ({ path: '/connections', body: { type: 'csv' }, usesId: false }),
    },
    { method: 'get', template: '/connections', access: 'manage', ok: 200, prepare: async () => ({ path: '/connections', usesId: false }) },
    {
      method: 'get',
      template: '/connections/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/connections/${csv._id}`, usesId: true }),
    },
    {
      method: 'patch',
      template: '/connections/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/connections/${csv._id}`, body: { name: 'HR file' }, usesId: true }),
    },
    {
      method: 'delete',
      template: '/connections/{id}',
      access: 'manage',
      ok: 204,
      prepare: async () => ({ path: `/connections/${(await conn('csv'))._id}`, usesId: true }),
    },
    {
      method: 'post',
      template: '/connections/{id}/rotate-token',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/connections/${scim._id}/rotate-token`, usesId: true }),
    },
    {
      method: 'post',
      template: '/connections/{id}/credentials',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/connections/${(await conn('sftp'))._id}/credentials`, body: { password: true }, usesId: true }),
    },
    {
      method: 'post',
      template: '/connections/{id}/sync',
      access: 'manage',
      ok: 202,
      prepare: async () => ({ path: `/connections/${(await conn('hris'))._id}/sync`, usesId: true }),
    },
    {
      method: 'post',
      template: '/connections/{id}/uploads',
      access: 'manage',
      ok: 202,
      prepare: async () => ({
        path: `/connections/${csv._id}/uploads?mode=delta`,
        csv: 'email,first name\nzed@example.com,Zed\n',
        usesId: true,
      }),
    },
    {
      method: 'get',
      template: '/connections/{id}/column-mapping',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/connections/${csv._id}/column-mapping`, usesId: true }),
    },
    {
      method: 'put',
      template: '/connections/{id}/column-mapping',
      access: 'manage',
      ok: 200,
      prepare: async () => ({
        path: `/connections/${csv._id}/column-mapping`,
        body: { mapping: { 'E-mail': 'email', Team: 'custom:team' } },
        usesId: true,
      }),
    },
    {
      method: 'get',
      template: '/recipients',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: '/recipients?filter=department_name%20eq%20%22Sales%22', usesId: false }),
    },
    {
      method: 'get',
      template: '/recipients/{id}',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/recipients/${rid()}`, usesId: true }),
    },
    {
      method: 'post',
      template: '/recipients',
      access: 'manage',
      ok: 201,
      prepare: async () => ({ path: '/recipients', body: { email: `new${++n}@example.com`, firstName: 'N' }, usesId: false }),
    },
    {
      method: 'delete',
      template: '/recipients/{id}/manual',
      access: 'manage',
      ok: 204,
      prepare: async () => ({ path: `/recipients/${enc(await manualPerson())}/manual`, usesId: true }),
    },
    {
      method: 'get',
      template: '/sync-runs',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/sync-runs?connectionId=${csv._id}`, usesId: false }),
    },
    {
      method: 'get',
      template: '/sync-runs/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/sync-runs/${await heldRun()}`, usesId: true }),
    },
    {
      method: 'get',
      template: '/sync-runs/{id}/errors',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/sync-runs/${await heldRun()}/errors`, usesId: true }),
    },
    {
      method: 'get',
      template: '/sync-runs/{id}/review',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/sync-runs/${await heldRun()}/review`, usesId: true }),
    },
    {
      method: 'post',
      template: '/sync-runs/{id}/apply',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/sync-runs/${await heldRun()}/apply`, usesId: true }),
    },
    {
      method: 'post',
      template: '/sync-runs/{id}/discard',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/sync-runs/${await heldRun()}/discard`, usesId: true }),
    },
    { method: 'get', template: '/groups', access: 'read', ok: 200, prepare: async () => ({ path: '/groups', usesId: false }) },
    {
      method: 'get',
      template: '/groups/{id}',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/groups/${groupId}`, usesId: true }),
    },
    {
      method: 'get',
      template: '/groups/{id}/members',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/groups/${groupId}/members`, usesId: true }),
    },
    {
      method: 'post',
      template: '/segments',
      access: 'manage',
      ok: 201,
      prepare: async () => ({ path: '/segments', body: { name: 'US', filter: 'country eq "US"' }, usesId: false }),
    },
    { method: 'get', template: '/segments', access: 'read', ok: 200, prepare: async () => ({ path: '/segments', usesId: false }) },
    {
      method: 'get',
      template: '/segments/{id}',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/segments/${await segment()}`, usesId: true }),
    },
    {
      method: 'patch',
      template: '/segments/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/segments/${await segment()}`, body: { name: 'Renamed' }, usesId: true }),
    },
    {
      method: 'delete',
      template: '/segments/{id}',
      access: 'manage',
      ok: 204,
      prepare: async () => ({ path: `/segments/${await segment()}`, usesId: true }),
    },
    {
      method: 'get',
      template: '/segments/{id}/recipients',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/segments/${await segment()}/recipients`, usesId: true }),
    },
    {
      method: 'post',
      template: '/audiences',
      access: 'manage',
      ok: 201,
      prepare: async () => ({
        path: '/audiences',
        body: { name: 'Everyone', include: { recipients: ['ann@example.com'] } },
        usesId: false,
      }),
    },
    { method: 'get', template: '/audiences', access: 'read', ok: 200, prepare: async () => ({ path: '/audiences', usesId: false }) },
    {
      method: 'get',
      template: '/audiences/{id}',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/audiences/${await audience()}`, usesId: true }),
    },
    {
      method: 'patch',
      template: '/audiences/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/audiences/${await audience()}`, body: { name: 'Renamed' }, usesId: true }),
    },
    {
      method: 'delete',
      template: '/audiences/{id}',
      access: 'manage',
      ok: 204,
      prepare: async () => ({ path: `/audiences/${await audience()}`, usesId: true }),
    },
    {
      method: 'get',
      template: '/audiences/{id}/recipients',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/audiences/${await audience()}/recipients`, usesId: true }),
    },
    {
      method: 'get',
      template: '/audiences/{id}/preview',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/audiences/${await audience()}/preview`, usesId: true }),
    },
    {
      method: 'get',
      template: '/audit-events',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: '/audit-events', usesId: false }),
    },
    {
      method: 'get',
      template: '/audiences/{id}/changes',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: `/audiences/${await audience()}/changes?after=0`, usesId: true }),
    },
    {
      method: 'get',
      template: '/events',
      access: 'read',
      ok: 200,
      prepare: async () => ({ path: '/events?include=object', usesId: false }),
    },
    {
      method: 'post',
      template: '/webhooks',
      access: 'manage',
      ok: 201,
      prepare: async () => ({ path: '/webhooks', body: { url: 'http://127.0.0.1:9/hook', types: ['recipient.created'] }, usesId: false }),
    },
    { method: 'get', template: '/webhooks', access: 'manage', ok: 200, prepare: async () => ({ path: '/webhooks', usesId: false }) },
    {
      method: 'get',
      template: '/webhooks/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/webhooks/${await webhook()}`, usesId: true }),
    },
    {
      method: 'patch',
      template: '/webhooks/{id}',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/webhooks/${await webhook()}`, body: { enabled: false }, usesId: true }),
    },
    {
      method: 'delete',
      template: '/webhooks/{id}',
      access: 'manage',
      ok: 204,
      prepare: async () => ({ path: `/webhooks/${await webhook()}`, usesId: true }),
    },
    {
      method: 'post',
      template: '/webhooks/{id}/replay',
      access: 'manage',
      ok: 202,
      prepare: async () => ({ path: `/webhooks/${await webhook()}/replay?after=0`, usesId: true }),
    },
    {
      method: 'get',
      template: '/webhooks/{id}/deliveries',
      access: 'manage',
      ok: 200,
      prepare: async () => ({ path: `/webhooks/${await webhook()}/deliveries`, usesId: true }),
    },
  ];

  before(async () => {
    await openTestStore('api_matrix');
    org = await createOrgWithTokens('Acme');
    other = await createOrgWithTokens('Other');
    csv = await conn('csv');
    scim = await conn('scim');
    groupId = (await ensureNamedGroups(csv, ['Everyone']))[0]!;
    await applySourceChanges(csv, [
      {
        op: 'upsert',
        key: 'ann@example.com',
        email: 'ann@example.com',
        active: true,
        attributes: { department_name: 'Sales' },
        groups: [groupId!],
      },
    ]);
  });
  after(async () => {
    await waitForBackgroundJobs();
    await closeTestStore();
  });

  function expected(route: Route, caller: Caller, usesId: boolean): number {
    if (caller === 'none') return 401;
    if (caller === 'member') return 403;
    if (caller === 'reader') return route.access === 'read' ? route.ok : 403;
    if (caller === 'admin') return route.access === 'owner' ? 403 : route.ok;
    if (caller === 'other') return usesId ? 404 : route.ok;
    return route.ok;
  }

  for (const route of routes) {
    it(`${route.method.toUpperCase()} ${route.template}`, async () => {
      for (const caller of CALLERS) {
        const { path, body, csv: csvBody, usesId } = await route.prepare();
        let req = request(app)[route.method](`/api/v1${path}`);
        const token = caller === 'none' ? null : caller === 'other' ? other.owner : org[caller];
        if (token) req = req.set(bearer(token));
        if (csvBody !== undefined) req = req.set('Content-Type', 'text/csv').send(csvBody);
        else if (body !== undefined) req = req.send(body as object);
        const res = await req;
        const want = expected(route, caller, usesId);
        assert.equal(res.status, want, `${caller}: ${route.method.toUpperCase()} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
        checkResponse(route.method, route.template, res);
        if (caller === 'other' && res.status < 300) {
          // Another organization's lists and creations never show this organization's data.
          const text = JSON.stringify(res.body ?? '');
          for (const id of [org.id, csv._id, scim._id, groupId])
            assert.equal(text.includes(id), false, `${path} shows ${id} to another organization`);
        }
      }
    });
  }

  it('answers a method a known path does not have with 405, Allow and a problem; unknown paths stay 404', async () => {
    const all = ['get', 'post', 'put', 'patch', 'delete'] as const;
    const templates = [...new Set(routes.map((r) => r.template))];
    let checked = 0;
    for (const template of templates) {
      const has = routes.filter((r) => r.template === template).map((r) => r.method.toUpperCase());
      const allow = [...has, ...(has.includes('GET') ? ['HEAD'] : []), 'OPTIONS'];
      const path = `/api/v1${template.replace(/\{id\}/g, 'some-id')}`;
      for (const method of all.filter((m) => !has.includes(m.toUpperCase()))) {
        const res = await request(app)[method](path).set(bearer(org.owner)).send({});
        assert.equal(res.status, 405, `${method.toUpperCase()} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.headers.allow!.split(', ').sort(), allow.sort(), `Allow of ${path}`);
        assert.match(res.headers['content-type']!, /^application\/problem\+json/);
        assert.equal(res.body.type, 'urn:audience-sync:problem:method-not-allowed');
        assert.equal(res.body.status, 405);
        assert.match(res.body.detail, new RegExp(`${method.toUpperCase()} is not allowed`));
        checked++;
      }
      const options = await request(app).options(path).set(bearer(org.owner));
      assert.ok(options.status === 200 || options.status === 204, `OPTIONS ${path} → ${options.status}`);
      assert.deepEqual(
        options.headers
          .allow!.split(/, ?/)
          .filter((m) => m !== 'OPTIONS')
          .sort(),
        allow.filter((m) => m !== 'OPTIONS').sort(),
        `OPTIONS ${path}`,
      );
    }
    assert.ok(checked > 60);
    // The caller is still authenticated first, and nothing of another organization shows through.
    assert.equal((await request(app).put('/api/v1/segments')).status, 401);
    assert.equal((await request(app).put('/api/v1/segments').set(bearer(other.owner))).status, 405);
    assert.equal((await request(app).put('/api/v1/segments').set(bearer(org.member))).status, 405);
    // Trailing slash and letter case route like Express routes them.
    assert.equal((await request(app).put('/api/v1/Segments/').set(bearer(org.owner))).status, 405);
    // The OpenAPI document is public, and so is its Allow.
    const doc = await request(app).post('/api/v1/openapi.json');
    assert.equal(doc.status, 405);
    assert.equal(doc.headers.allow, 'GET, HEAD, OPTIONS');
    // Paths the API does not have stay 404.
    for (const [method, path] of [
      ['get', '/api/v1/nothing'],
      ['put', '/api/v1/nothing/here'],
      ['get', '/api/v1/segments/x/y/z'],
      ['delete', '/api/v1/connections/x/uploads/y'],
    ] as const) {
      const res = await request(app)[method](path).set(bearer(org.owner));
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.type, 'urn:audience-sync:problem:not-found');
      assert.equal(res.headers.allow, undefined);
    }
  });

  it('serves its OpenAPI document without a token, documenting exactly the routes of this matrix', async () => {
    const res = await request(app).get('/api/v1/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    checkResponse('get', '/openapi.json', res);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) if (method !== 'parameters') documented.add(`${method} ${path}`);
    }
    // The document also lists itself (public, checked above).
    assert.ok(documented.delete('get /openapi.json'));
    assert.deepEqual([...documented].sort(), routes.map((r) => `${r.method} ${r.template}`).sort());
    // Every reference resolves.
    const text = JSON.stringify(res.body);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([A-Za-z]+)"/g))
      assert.ok(res.body.components.schemas[m[1]!], `schema ${m[1]} exists`);
  });
});
