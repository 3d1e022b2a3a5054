import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import request from 'supertest';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitForBackgroundJobs } from '../../src/api/jobs';
import { presentProgress } from '../../src/api/present';
import { ConfigError, parseEnv } from '../../src/config/config';
import { checkResponse } from './schemaCheck';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, storeState, upload, uploadAndWait, waitForRun, type Org } from './helpers';

describe('admin API: CSV uploads and sync runs', () => {
  const app = makeApp();
  let org: Org;
  let csvId: string;
  const people = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => `p${i + from}@example.com,P${i + from},Staff,${i % 2 ? 'Sales' : 'Eng'}`).join('\n');

  before(async () => {
    await openTestStore('api_upload');
    org = await createOrgWithTokens('Acme');
    const res = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'HR export' });
    csvId = res.body.id;
  });
  after(async () => {
    await waitForBackgroundJobs();
    await closeTestStore();
  });

  it('applies a delta file, rejecting bad rows with their line numbers', async () => {
    const csv =
      'Work Email,First Name,Surname,Department,Groups\nann@example.com,Ann,Lee,Sales,Sales;All\nnot-an-email,X,Y,Z,\n,No,Email,Ops,\nbob@example.com,Bob,Ray,Eng,All|Eng\n';
    const run = await uploadAndWait(app, org.admin, csvId, 'delta', csv);
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.mode, 'delta');
    assert.deepEqual(run.counts, { created: 2, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 2 });
    assert.deepEqual(run.errors, [
      { line: 3, reason: 'invalid email "not-an-email"' },
      { line: 4, reason: 'missing email' },
    ]);

    const ann = await request(app).get('/api/v1/recipients/ann@example.com').set(bearer(org.reader));
    assert.equal(ann.status, 200);
    assert.equal(ann.body.attributes.department_name, 'Sales');
    assert.deepEqual(ann.body.sources, [{ connectionId: csvId, type: 'csv', active: true }]);
    assert.equal(ann.body.groups.length, 2);

    const groups = await request(app).get('/api/v1/groups').set(bearer(org.reader));
    assert.deepEqual(groups.body.items.map((g: { name: string }) => g.name).sort(), ['All', 'Eng', 'Sales']);
    const all = groups.body.items.find((g: { name: string }) => g.name === 'All');
    const members = await request(app).get(`/api/v1/groups/${all.id}/members`).set(bearer(org.reader));
    assert.deepEqual(
      members.body.items.map((r: { email: string }) => r.email),
      ['ann@example.com', 'bob@example.com'],
    );

    const runs = await request(app).get(`/api/v1/sync-runs?connectionId=${csvId}`).set(bearer(org.admin));
    assert.equal(runs.body.items[0].id, run.id);

    const removal = await uploadAndWait(app, org.admin, csvId, 'delta', 'email,action\nbob@example.com,delete\n');
    assert.equal(removal.counts.removed, 1);
    assert.equal((await request(app).get('/api/v1/recipients/bob@example.com').set(bearer(org.reader))).status, 404);
  });

  it('reads Windows-1252, UTF-16 and semicolon files', async () => {
    const latin = iconv.encode('email;first name;last name\nzoe@example.com;Zoë;Gärtner\n', 'win1252');
    const r1 = await uploadAndWait(app, org.admin, csvId, 'delta', latin);
    assert.equal(r1.counts.created, 1, JSON.stringify(r1));
    const zoe = await request(app).get('/api/v1/recipients/zoe@example.com').set(bearer(org.reader));
    assert.equal(`${zoe.body.firstName} ${zoe.body.lastName}`, 'Zoë Gärtner');

    const u16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email\tfirst name\nyan@example.com\tYán\n', 'utf16le')]);
    const r2 = await uploadAndWait(app, org.admin, csvId, 'delta', u16);
    assert.equal(r2.counts.created, 1, JSON.stringify(r2));
    assert.equal((await request(app).get('/api/v1/recipients/yan@example.com').set(bearer(org.reader))).body.firstName, 'Yán');
  });

  it('follows a declared charset, names the run after the file, and refuses an unknown charset', async () => {
    // Valid UTF-8 bytes, but the sender says Windows-1252: "Ã©" is what those bytes mean there.
    const res = await request(app)
      .post(`/api/v1/connections/${csvId}/uploads?mode=delta`)
      .set(bearer(org.admin))
      .set('Content-Type', 'text/csv; charset=windows-1252')
      .set('Content-Disposition', 'attachment; filename="hr-export.csv"')
      .send(Buffer.from('email,first name\nrene@example.com,René\n', 'utf8'));
    assert.equal(res.status, 202);
    const run = await waitForRun(app, org.admin, res.body.syncRunId);
    assert.equal(run.label, 'hr-export.csv');
    assert.equal((await request(app).get('/api/v1/recipients/rene@example.com').set(bearer(org.reader))).body.firstName, 'RenÃ©');
    const koi = await upload(app, org.admin, csvId, 'delta', 'email\nx@example.com\n', 'text/csv; charset=koi8-r');
    assert.equal(koi.status, 415);
    assert.match(koi.body.detail, /koi8-r/);
  });

  it('rejects a binary file, undecodable bytes, an unclosed quote and a file without emails whole, changing nothing', async () => {
    const beforeState = await storeState(org.id);
    const cases: [Buffer | string, RegExp][] = [
      [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]), /ZIP archive/],
      [Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31 + 7) % 256)), /not a text file/],
      [
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('email\nq@example.com\n'), Buffer.from([0xff, 0xfe, 0x0a])]),
        /not valid UTF-8/,
      ],
      ['email,name\nq1@example.com,ok\nq2@example.com,"never closed\nq3@example.com,x\n', /never closed/],
      ['name,department\nAnn,Sales\n', /no email column/],
      ['', /empty/],
    ];
    for (const [body, reason] of cases) {
      const res = await upload(app, org.admin, csvId, 'delta', body);
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.type, 'urn:audience-sync:problem:unreadable-file');
      assert.match(res.body.detail, reason);
      const run = await request(app).get(`/api/v1/sync-runs/${res.body.syncRunId}`).set(bearer(org.admin));
      assert.equal(run.body.status, 'failed');
      assert.match(run.body.message, reason);
    }
    await waitForBackgroundJobs();
    assert.equal(await storeState(org.id), beforeState);
  });

  it('answers precise errors for a wrong media type, a missing mode and a connection that is not csv', async () => {
    const beforeState = await storeState(org.id);
    const json = await upload(app, org.admin, csvId, 'delta', '{"email":"a@b.c"}', 'application/json');
    assert.equal(json.status, 415);
    const noMode = await request(app)
      .post(`/api/v1/connections/${csvId}/uploads`)
      .set(bearer(org.admin))
      .set('Content-Type', 'text/csv')
      .send('email\na@b.co\n');
    assert.equal(noMode.status, 400);
    assert.match(noMode.body.detail, /mode must be full/);
    const manual = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'manual' });
    const wrong = await upload(app, org.admin, manual.body.id, 'delta', 'email\na@b.co\n');
    assert.equal(wrong.status, 409);
    assert.equal(wrong.body.type, 'urn:audience-sync:problem:wrong-connection-type');
    assert.equal(await storeState(org.id), beforeState);
  });

  it('holds a full file that would remove more than the threshold until an administrator applies or discards it', async () => {
    const conn = await request(app)
      .post('/api/v1/connections')
      .set(bearer(org.admin))
      .send({ type: 'csv', name: 'Full HR', massRemovalThreshold: 0.2 });
    const id = conn.body.id;
    const header = 'email,first name,title,department\n';
    const first = await uploadAndWait(app, org.admin, id, 'full', header + people(10));
    assert.equal(first.status, 'succeeded');
    assert.equal(first.counts.created, 10);

    // A truncated export: 3 of 10 people.
    const beforeState = await storeState(org.id);
    const held = await uploadAndWait(app, org.admin, id, 'full', header + people(3));
    assert.equal(held.status, 'needs_review');
    assert.equal(held.review.wouldRemove, 7);
    assert.match(held.message, /remove 7/);
    assert.equal(await storeState(org.id), beforeState);

    const discarded = await request(app).post(`/api/v1/sync-runs/${held.id}/discard`).set(bearer(org.admin));
    assert.equal(discarded.status, 200);
    assert.equal(discarded.body.status, 'discarded');
    assert.equal(await storeState(org.id), beforeState);
    assert.equal((await request(app).post(`/api/v1/sync-runs/${held.id}/apply`).set(bearer(org.admin))).status, 409);

    // Within the threshold (1 of 10 leaves, one joins): applied at once.
    const small = await uploadAndWait(app, org.admin, id, 'full', header + people(9) + '\nnew@example.com,New,Staff,Eng');
    assert.equal(small.status, 'succeeded');
    assert.equal(small.counts.removed, 1);
    assert.equal(small.counts.created, 1);

    const held2 = await uploadAndWait(app, org.admin, id, 'full', header + people(2));
    assert.equal(held2.status, 'needs_review');
    const applied = await request(app).post(`/api/v1/sync-runs/${held2.id}/apply`).set(bearer(org.admin));
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal(applied.body.status, 'applied');
    assert.equal(applied.body.counts.removed, 8);
    const left = await request(app).get('/api/v1/recipients').query({ filter: `job_title eq "Staff"` }).set(bearer(org.reader));
    assert.deepEqual(
      left.body.items.map((r: { email: string }) => r.email),
      ['p0@example.com', 'p1@example.com'],
    );

    const audit = await request(app).get('/api/v1/audit-events').set(bearer(org.admin));
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    assert.ok(actions.includes('sync-run.apply') && actions.includes('sync-run.discard') && actions.includes('upload.create'));
  });

  it('keeps, in a full file, the people whose rows were rejected as they were', async () => {
    const conn = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'Keyed' });
    const header = 'employee id,email,first name,status\n';
    const rows = (status3: string, email4: string) =>
      `E1,k1@example.com,K1,active\nE2,k2@example.com,K2,active\nE3,k3@example.com,K3,${status3}\nE4,${email4},K4,active\n`;
    const first = await uploadAndWait(app, org.admin, conn.body.id, 'full', header + rows('active', 'k4@example.com'));
    assert.equal(first.counts.created, 4);
    const second = await uploadAndWait(app, org.admin, conn.body.id, 'full', header + rows('on strike', 'k4-at-example.com'));
    assert.equal(second.status, 'completed_with_errors', JSON.stringify(second));
    assert.equal(second.counts.removed, 0);
    assert.equal(second.counts.rejected, 2);
    assert.deepEqual(
      second.errors.map((e: { line: number }) => e.line),
      [4, 5],
    );
    for (const e of ['k3@example.com', 'k4@example.com']) {
      const r = await request(app).get(`/api/v1/recipients/${e}`).set(bearer(org.reader));
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'active');
    }
  });

  it('waits for a run and reports progress while it runs', async () => {
    const res = await upload(app, org.admin, csvId, 'delta', 'email\nlate@example.com\n');
    assert.equal(res.status, 202);
    assert.match(res.headers.location!, /\/api\/v1\/sync-runs\//);
    const run = await waitForRun(app, org.admin, res.body.syncRunId);
    assert.equal(run.progress.processed, 1);
  });

  it('measures progress in rows of the file and bytes of the upload', async () => {
    const body = Buffer.from(
      'email,first name\n' +
        people(1200, 5000)
          .split('\n')
          .map((l) => l.split(',').slice(0, 2).join(','))
          .join('\n') +
        '\nbad-row,X\n',
    );
    const res = await upload(app, org.admin, csvId, 'delta', body);
    assert.equal(res.status, 202);
    // Right after the answer the run knows what it will read.
    const early = await request(app).get(`/api/v1/sync-runs/${res.body.syncRunId}`).set(bearer(org.admin));
    checkResponse('get', '/sync-runs/{id}', early);
    assert.equal(early.body.progress.total, 1201);
    assert.equal(early.body.progress.bytesTotal, body.length);
    if (early.body.status === 'running') assert.ok(early.body.progress.percent <= 99, JSON.stringify(early.body.progress));
    const run = await waitForRun(app, org.admin, res.body.syncRunId);
    assert.equal(run.status, 'completed_with_errors');
    assert.deepEqual(run.progress, {
      processed: 1201,
      total: 1201,
      bytesRead: body.length,
      bytesTotal: body.length,
      percent: 100,
      applied: null,
      applyTotal: null,
    });
    assert.equal(run.counts.rejected, 1);
    const listed = await request(app).get(`/api/v1/sync-runs?connectionId=${csvId}`).set(bearer(org.admin));
    checkResponse('get', '/sync-runs', listed);
    assert.deepEqual(listed.body.items[0].progress, run.progress);
  });

  it('computes percent from rows, else bytes, and never claims 100 before the run succeeded', () => {
    const run = (status: string, progress: object, input?: object) =>
      presentProgress({ status, progress, ...(input ? { input } : {}) } as unknown as Parameters<typeof presentProgress>[0]);
    assert.deepEqual(run('running', { processed: 500, total: null }, { rows: 2000, bytesRead: 900, bytesTotal: 1000 }), {
      processed: 500,
      total: 2000,
      bytesRead: 900,
      bytesTotal: 1000,
      percent: 25,
      applied: null,
      applyTotal: null,
    });
    assert.equal(run('running', { processed: 0, total: null }, { bytesRead: 500, bytesTotal: 1000 }).percent, 50);
    assert.equal(run('running', { processed: 2000, total: null }, { rows: 2000, bytesRead: 1000, bytesTotal: 1000 }).percent, 99);
    assert.equal(run('failed', { processed: 1000, total: null }, { rows: 4000, bytesRead: 1000, bytesTotal: 4000 }).percent, 25);
    assert.equal(run('needs_review', { processed: 3, total: null }, { rows: 3, bytesRead: 90, bytesTotal: 90 }).percent, 100);
    // A full file restates the people of rejected rows: still rows of the file.
    assert.equal(run('succeeded', { processed: 12, total: null }, { rows: 10, bytesRead: 90, bytesTotal: 90 }).processed, 10);
    // Runs that read no file (an HRIS sync) have no totals: no percent until they succeed.
    assert.deepEqual(run('running', { processed: 700, total: null }), {
      processed: 700,
      total: null,
      bytesRead: null,
      bytesTotal: null,
      percent: null,
      applied: null,
      applyTotal: null,
    });
    assert.equal(run('succeeded', { processed: 700, total: null }).percent, 100);
  });

  it('refuses a body over MAX_UPLOAD_BYTES with 413, declared or not, and changes nothing', async () => {
    const small = makeApp({ MAX_UPLOAD_BYTES: 4096 });
    const beforeState = await storeState(org.id);
    const runsBefore = (await request(app).get(`/api/v1/sync-runs?connectionId=${csvId}&limit=500`).set(bearer(org.admin))).body.items
      .length;
    const auditBefore = (await request(app).get('/api/v1/audit-events?limit=500').set(bearer(org.admin))).body.items.length;
    const big = 'email,first name\n' + people(400, 9000);
    assert.ok(big.length > 4096);

    const declared = await upload(small, org.admin, csvId, 'delta', big);
    assert.equal(declared.status, 413, JSON.stringify(declared.body));
    assert.match(declared.headers['content-type']!, /^application\/problem\+json/);
    assert.equal(declared.body.type, 'urn:audience-sync:problem:too-large');
    assert.match(declared.body.detail, /at most 4096 bytes/);
    assert.equal(declared.headers.connection, 'close');
    checkResponse('post', '/connections/{id}/uploads', declared);

    // Chunked, without a Content-Length: found while spooling; the answer still arrives.
    const server = small.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: `/api/v1/connections/${csvId}/uploads?mode=delta`,
            headers: { ...bearer(org.admin), 'Content-Type': 'text/csv' },
          },
          (res) => {
            let text = '';
            res
              .setEncoding('utf8')
              .on('data', (d) => (text += d))
              .on('end', () => resolve({ status: res.statusCode!, body: text }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write(big.slice(i * 1024, (i + 1) * 1024));
        req.end();
      });
      assert.equal(chunked.status, 413, chunked.body);
      assert.equal(JSON.parse(chunked.body).type, 'urn:audience-sync:problem:too-large');
    } finally {
      server.close();
    }

    // Under the limit, the same server takes it.
    const fits = await upload(small, org.admin, csvId, 'delta', 'email\nfits@example.com\n');
    assert.equal(fits.status, 202);
    await waitForRun(app, org.admin, fits.body.syncRunId);
    const runsAfter = (await request(app).get(`/api/v1/sync-runs?connectionId=${csvId}&limit=500`).set(bearer(org.admin))).body.items
      .length;
    assert.equal(runsAfter, runsBefore + 1, 'only the upload that fits made a sync run');
    const audit = (await request(app).get('/api/v1/audit-events?limit=500').set(bearer(org.admin))).body.items;
    assert.equal(audit.length, auditBefore + 1);
    assert.equal(audit[0].action, 'upload.create');
    await uploadAndWait(app, org.admin, csvId, 'delta', 'email,action\nfits@example.com,delete\n');
    assert.equal(await storeState(org.id), beforeState);
  });

  it('validates MAX_UPLOAD_BYTES and SHUTDOWN_TIMEOUT_SECONDS', () => {
    const env = { MONGODB_URI: 'mongodb://127.0.0.1/x' };
    assert.equal(parseEnv(env).MAX_UPLOAD_BYTES, 512 * 1024 * 1024);
    assert.equal(parseEnv(env).SHUTDOWN_TIMEOUT_SECONDS, 25);
    assert.equal(parseEnv({ ...env, MAX_UPLOAD_BYTES: '10485760' }).MAX_UPLOAD_BYTES, 10_485_760);
    for (const bad of ['ten megabytes', '100', '1.5', '-1']) {
      assert.throws(
        () => parseEnv({ ...env, MAX_UPLOAD_BYTES: bad }),
        (e: Error) => e instanceof ConfigError && /MAX_UPLOAD_BYTES/.test(e.message),
        bad,
      );
    }
    for (const bad of ['soon', '-1', '86400']) {
      assert.throws(
        () => parseEnv({ ...env, SHUTDOWN_TIMEOUT_SECONDS: bad }),
        (e: Error) => e instanceof ConfigError && /SHUTDOWN_TIMEOUT_SECONDS/.test(e.message),
        bad,
      );
    }
  });
});
