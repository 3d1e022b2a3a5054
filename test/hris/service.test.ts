import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Express } from 'express';
import pino from 'pino';
import request from 'supertest';
import { startHrisScheduler, type HrisScheduler } from '../../src/hris/scheduler';
import { runHrisSync } from '../../src/hris/sync';
import { createApp } from '../../src/server/app';
import {
  createApiToken,
  failAbandonedRuns,
  createConnection,
  createOrganization,
  hrisSyncLeaseName,
  loadHrisConnection,
  readLease,
  type RecipientDoc,
  type SyncRunDoc,
} from '../../src/store';
import { Connection, Recipient, SyncRun } from '../../src/store/models';
import { testConfig } from '../helpers/config';
import { FinchServer, makeEmployees, signFinchWebhook } from '../helpers/finchServer';
import { closeTestStore, openTestStore } from '../helpers/store';
import { fromStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

const WEBHOOK_SECRET = randomBytes(32).toString('base64');
const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const hrisRuns = async (connectionId: string) =>
  (await SyncRun.find({ connectionId, source: 'hris' }).sort({ _id: 1 }).lean().exec()) as SyncRunDoc[];
const finished = (r: SyncRunDoc) => r.status !== 'queued' && r.status !== 'running';

describe('HRIS service: on demand, scheduling, leases, a crashed run, webhooks, CLI, one person from three sources', () => {
  const server = new FinchServer();
  let uri: string;
  let app: Express;
  let config: ReturnType<typeof testConfig>;
  let orgId: string;
  let owner: string;
  const bearer = () => ({ Authorization: `Bearer ${owner}` });
  const schedulers: HrisScheduler[] = [];

  before(async () => {
    const db = await openTestStore('hris_service');
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = `/${db}`;
    uri = u.toString();
    await server.start();
    config = testConfig({ FINCH_BASE_URL: server.url, FINCH_WEBHOOK_SECRET: WEBHOOK_SECRET });
    app = createApp({ config, logger: silent });
    orgId = (await createOrganization('HRIS service')).id;
    owner = (await createApiToken(orgId, 'owner')).token;
  });
  after(async () => {
    for (const s of schedulers) await s.stop();
    await server.stop();
    await closeTestStore();
  });

  const newScheduler = (holder: string) => {
    const s = startHrisScheduler({ config, logger: silent, holder, backoffBaseMs: 20 });
    schedulers.push(s);
    return s;
  };
  const stopSchedulers = async () => {
    for (const s of schedulers.splice(0)) await s.stop();
  };
  const apiConnection = async (body: Record<string, unknown>) => {
    const res = await request(app)
      .post('/api/v1/connections')
      .set(bearer())
      .send({ type: 'hris', accessToken: server.token, ...body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };

  test('a new connection syncs at once; on demand: 202 with the run, progress on the run, last and next run, introspect on the connection', async () => {
    server.employees = makeEmployees(25, 'svc.example', 'svc');
    const id = await apiConnection({ name: 'Workday via Finch' });
    newScheduler('worker-a');
    const first = await until('the first sync', async () => (await hrisRuns(id)).find(finished));
    assert.equal(first.status, 'succeeded', first.message ?? '');
    assert.equal(first.label, 'first sync');

    const res = await request(app).post(`/api/v1/connections/${id}/sync`).set(bearer());
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/api/v1/sync-runs/${res.body.syncRunId}`);
    const runId = res.body.syncRunId as string;
    const run = await until('the on-demand run', async () => {
      const r = await request(app).get(`/api/v1/sync-runs/${runId}`).set(bearer());
      return r.body.status === 'succeeded' ? r.body : null;
    });
    assert.equal(run.label, 'on demand');
    assert.equal(run.counts.unchanged, 25);
    assert.equal(run.progress.phase, 'merge');
    assert.equal(run.progress.pages, 1);

    // The worker ends the run, then releases its lease: the detail shows no lease once that write lands.
    const detail = await until('the lease released', async () => {
      const d = await request(app).get(`/api/v1/connections/${id}`).set(bearer());
      assert.equal(d.status, 200);
      return d.body.hris.lease === null ? d : null;
    });
    const h = detail.body.hris;
    assert.deepEqual(h.lastRun, { id: runId, status: 'succeeded' });
    assert.ok(Date.parse(h.nextSyncAt) > Date.now() + 23 * 3600_000);
    assert.equal(h.needsReauth, false);
    assert.equal(h.lease, null, 'no sync running now');
    assert.equal(h.introspection.providerId, 'bamboo_hr');
    assert.equal(h.introspection.connectionStatus, 'connected');
    assert.deepEqual(h.introspection.products, ['company', 'directory', 'individual', 'employment']);

    const assisted = await apiConnection({ mode: 'assisted' });
    const refused = await request(app).post(`/api/v1/connections/${assisted}/sync`).set(bearer());
    assert.equal(refused.status, 409);
    assert.match(refused.body.detail, /assisted connections sync on their weekly schedule only/);
    const csv = await request(app).post('/api/v1/connections').set(bearer()).send({ type: 'csv' });
    const wrong = await request(app).post(`/api/v1/connections/${csv.body.id}/sync`).set(bearer());
    assert.equal(wrong.status, 409);
    assert.equal(wrong.body.type, 'urn:audience-sync:problem:wrong-connection-type');

    const metrics = await request(app).get('/metrics');
    assert.match(metrics.text, /audience_sync_hris_runs_total\{outcome="succeeded"\} [1-9]/);
    assert.match(metrics.text, /audience_sync_finch_request_duration_seconds_count\{product="directory"\} [1-9]/);
    await stopSchedulers();
  });

  test('two schedulers racing for one connection: exactly one run', async () => {
    server.employees = makeEmployees(40, 'race.example', 'race');
    server.latencyMs = 30;
    server.resetCounters();
    const t0 = new Date();
    try {
      const id = await apiConnection({ name: 'raced' });
      const a = newScheduler('instance-a');
      const b = newScheduler('instance-b');
      await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
      await until('the run', async () => (await hrisRuns(id)).find(finished));
      // Several more passes of both: the connection is no longer due, nobody runs it again.
      await sleep(1000);
      await Promise.all([a.tick(), b.tick()]);
      const runs = await hrisRuns(id);
      assert.equal(runs.length, 1, JSON.stringify(runs.map((r) => [r.status, r.label])));
      assert.equal(runs[0]!.status, 'succeeded');
      // Other connections of this store may have been due too: every Finch call belongs to exactly one run.
      const allRuns = await SyncRun.countDocuments({ source: 'hris', createdAt: { $gte: t0 } });
      assert.equal(server.calls.introspect, allRuns);
      assert.equal(server.calls.directory, allRuns);
    } finally {
      server.latencyMs = 0;
      await stopSchedulers();
    }
  });

  test('service processes: an http-only instance never polls; two worker instances run a due connection exactly once', async () => {
    server.employees = makeEmployees(30, 'roles.example', 'roles');
    server.latencyMs = 20;
    const id = (
      await createConnection(
        { orgId, type: 'hris', accessToken: server.token },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      )
    ).id;
    const CLI = join(__dirname, '..', '..', 'src', 'cli', 'main.js');
    const children: ReturnType<typeof spawn>[] = [];
    const start = (roles: string) => {
      const child = spawn(process.execPath, [CLI, 'serve', '--roles', roles], {
        env: {
          ...process.env,
          MONGODB_URI: uri,
          SECRET_KEY: config.SECRET_KEY,
          FINCH_BASE_URL: server.url,
          HTTP_PORT: '0',
          LOG_LEVEL: 'warn',
          HRIS_POLL_SECONDS: '0.2',
          HRIS_JITTER_SECONDS: '0',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      return new Promise<number | null>((resolve) => child.once('exit', resolve));
    };
    try {
      const httpExit = start('http');
      await sleep(2500);
      assert.equal((await hrisRuns(id)).length, 0, 'the http role does not sync');
      const exits = [httpExit, start('worker'), start('worker')];
      const run = await until('the run', async () => (await hrisRuns(id)).find(finished), 30_000);
      assert.equal(run.status, 'succeeded', run.message ?? '');
      await sleep(1500);
      assert.equal((await hrisRuns(id)).length, 1, 'exactly one run across the two workers');
      for (const c of children) c.kill('SIGTERM');
      assert.deepEqual(await Promise.all(exits), [0, 0, 0], 'every instance stops cleanly');
    } finally {
      server.latencyMs = 0;
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    }
  });

  test('a process killed mid-run: the lease expires and the next run starts clean', async () => {
    server.employees = makeEmployees(80, 'crash.example', 'crash');
    const id = (
      await createConnection(
        { orgId, type: 'hris', accessToken: server.token },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      )
    ).id;
    server.latencyMs = 300;
    server.resetCounters();
    const child = spawn(process.execPath, [join(__dirname, '..', 'helpers', 'hrisChild.js')], {
      env: { ...process.env, MONGODB_URI: uri, FINCH_BASE_URL: server.url, CONNECTION_ID: id, HOLDER: 'doomed-process' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await until('the child to be reading the directory', async () => (server.calls.directory ?? 0) >= 2, 30_000);
      // A live run heartbeats: the abandoned-run sweep (here with a 2.5 s silence instead of 60 s) leaves it alone.
      await sleep(2600);
      assert.deepEqual(await failAbandonedRuns(2500), [], 'a running sync is not taken for abandoned');
      assert.ok((server.calls.directory ?? 0) < 16, 'still mid-run when killed');
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    } finally {
      server.latencyMs = 0;
    }
    const [dead] = await hrisRuns(id);
    assert.ok(dead, stderr);
    assert.equal(dead.status, 'running', 'the killed run was left running');
    assert.equal((await readLease(hrisSyncLeaseName(id)))?.holder, 'doomed-process');
    const deps = { config: testConfig({ FINCH_BASE_URL: server.url, HRIS_LEASE_SECONDS: 3 }), logger: silent, holder: 'survivor' };
    assert.equal(await runHrisSync(id, deps), null, 'the lease is still held: no second run');
    const detail = await request(app).get(`/api/v1/connections/${id}`).set(bearer());
    assert.equal(detail.body.hris.lease.holder, 'doomed-process', 'the API shows who holds the lease');

    await until('the lease to expire', async () => (await readLease(hrisSyncLeaseName(id))) === null, 10_000);
    const next = await runHrisSync(id, deps);
    assert.equal(next?.outcome, 'succeeded', next?.run.message ?? '');
    assert.equal(next.run.counts.created, 80, 'the new run starts clean: the killed run had applied nothing');
    const runs = await hrisRuns(id);
    assert.equal(runs.length, 2);
    assert.equal(runs[0]!.status, 'failed');
    assert.match(runs[0]!.message ?? '', /interrupted/);
    assert.equal(await Recipient.countDocuments({ orgId, email: /@crash\.example$/, status: 'active' }), 80);
  });

  test('webhooks: forged, stale and replayed deliveries are refused; a burst of valid events makes one debounced sync', async () => {
    server.employees = makeEmployees(5, 'hook.example', 'hook');
    server.connectionId = `conn-${randomBytes(4).toString('hex')}`;
    server.companyId = `company-${randomBytes(4).toString('hex')}`;
    const id = (
      await createConnection(
        { orgId, type: 'hris', accessToken: server.token },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      )
    ).id;
    const deps = { config, logger: silent };
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');
    assert.equal((await loadHrisConnection(id))?.finchConnectionId, server.connectionId);
    const body = (type: string) =>
      JSON.stringify({
        account_id: 'acc',
        company_id: server.companyId,
        connection_id: server.connectionId,
        event_type: type,
        data: { individual_id: 'x' },
      });
    const post = (payload: string, headers: Record<string, string>) =>
      request(app).post('/webhooks/finch').set('Content-Type', 'application/json').set(headers).send(payload);

    const payload = body('directory.updated');
    const forgedHeaders = await signFinchWebhook(payload, randomBytes(32).toString('base64'));
    const forged = await post(payload, forgedHeaders);
    assert.equal(forged.status, 400);
    assert.match(forged.body.detail, /signature/);
    const good = await signFinchWebhook(payload, WEBHOOK_SECRET);
    const tampered = await post(payload.replace('directory.updated', 'employment.updated'), good);
    assert.equal(tampered.status, 400, 'the body is covered by the signature');
    const stale = await post(payload, await signFinchWebhook(payload, WEBHOOK_SECRET, undefined, Math.floor(Date.now() / 1000) - 3600));
    assert.equal(stale.status, 400);
    assert.equal((await loadHrisConnection(id))?.webhookSyncAt, null, 'refused deliveries change nothing');

    const before = (await hrisRuns(id)).length;
    newScheduler('webhook-worker');
    try {
      const accepted = await post(payload, good);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      assert.equal(accepted.body.scheduled, 1);
      const replay = await post(payload, good);
      assert.equal(replay.status, 400);
      assert.match(replay.body.detail, /replay/);
      for (const type of ['employment.updated', 'individual.updated', 'job.data_sync_all.completed']) {
        const p = body(type);
        assert.equal((await post(p, await signFinchWebhook(p, WEBHOOK_SECRET))).status, 200);
      }
      const ignored = body('pay_statement.created');
      assert.equal((await post(ignored, await signFinchWebhook(ignored, WEBHOOK_SECRET))).body.scheduled, 0);
      await until('the webhook sync', async () => (await hrisRuns(id)).length > before && (await hrisRuns(id)).every(finished));
      await sleep(1500);
      const runs = await hrisRuns(id);
      assert.equal(runs.length, before + 1, 'one sync for the burst');
      assert.equal(runs.at(-1)!.label, 'webhook');
      assert.equal((await loadHrisConnection(id))?.webhookSyncAt, null);
    } finally {
      await stopSchedulers();
    }
  });

  test('the CLI runs a sync and prints the finished run; assisted connections are refused', async () => {
    server.employees = makeEmployees(7, 'cli.example', 'cli');
    const id = (
      await createConnection(
        { orgId, type: 'hris', accessToken: server.token },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      )
    ).id;
    // Asynchronous: the Finch server lives in this process and must keep answering while the CLI runs.
    const cli = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(__dirname, '..', '..', 'src', 'cli', 'main.js'), ...args], {
          env: { ...process.env, MONGODB_URI: uri, SECRET_KEY: config.SECRET_KEY, FINCH_BASE_URL: server.url, LOG_LEVEL: 'silent' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.once('exit', (status) => {
          clearTimeout(timer);
          resolve({ status, stdout, stderr });
        });
      });
    const res = await cli(['sync', id, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const run = JSON.parse(res.stdout);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.counts.created, 7);
    assert.equal(run.connectionId, id);
    const assisted = (
      await createConnection(
        { orgId, type: 'hris', accessToken: server.token, mode: 'assisted' },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      )
    ).id;
    const refused = await cli(['sync', assisted, '--json']);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /assisted/);
  });

  test('the same person from HRIS, SCIM and a CSV is one recipient; attributes follow the priority (hris first)', async () => {
    const org = (await createOrganization('Three sources')).id;
    const token = (await createApiToken(org, 'owner')).token;
    const auth = { Authorization: `Bearer ${token}` };
    server.employees = [
      {
        id: 'ind-dana',
        first_name: 'Danielle',
        preferred_name: 'Dana',
        last_name: 'Hris',
        emails: [{ data: 'Dana@Three.example', type: 'work' }],
        department: 'Finance',
        title: 'Controller',
        source_id: 'H-1',
        location: null,
      },
    ];
    const hris = (
      await createConnection(
        { orgId: org, type: 'hris', accessToken: server.token },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      )
    ).id;
    assert.equal((await runHrisSync(hris, { config, logger: silent }))?.outcome, 'succeeded');

    const scim = await createConnection(
      { orgId: org, type: 'scim', provider: 'okta', extendedAttributes: true },
      { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
    );
    const user = await request(app)
      .post(`/scim/v2/${scim.id}/Users`)
      .set({ Authorization: `Bearer ${scim.token}` })
      .send({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        userName: 'dana@three.example',
        name: { givenName: 'Scim', familyName: 'Scimson' },
        title: 'SCIM title',
        active: true,
        emails: [{ value: 'dana@three.example', primary: true, type: 'work' }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'SCIM dept', costCenter: 'CC-9' },
      });
    assert.equal(user.status, 201, JSON.stringify(user.body));

    const csv = await request(app).post('/api/v1/connections').set(auth).send({ type: 'csv' });
    const up = await request(app)
      .post(`/api/v1/connections/${csv.body.id}/uploads?mode=full`)
      .set(auth)
      .set('Content-Type', 'text/csv')
      .send(Buffer.from('email,first name,department,preferred language\n DANA@three.example ,Csv,CSV dept,de\n'));
    assert.equal(up.status, 202);
    await until('the upload', async () => {
      const r = await request(app).get(`/api/v1/sync-runs/${up.body.syncRunId}`).set(auth);
      return r.body.status === 'succeeded' ? r.body : null;
    });

    const all: RecipientDoc[] = ((await Recipient.find({ orgId: org }).lean().exec()) as StoredRecipient[]).map(fromStored);
    assert.equal(all.length, 1, 'one recipient');
    const r = all[0]!;
    assert.equal(r.email, 'dana@three.example');
    assert.equal(r.status, 'active');
    assert.deepEqual(r.sources.map((s) => s.type).sort(), ['csv', 'hris', 'scim']);
    assert.equal(r.attributes.first_name, 'Dana', 'hris first (preferred name)');
    assert.equal(r.attributes.department_name, 'Finance');
    assert.equal(r.attributes.job_title, 'Controller');
    assert.equal(r.attributes.employee_id, 'H-1');
    assert.equal(r.attributes.cost_center_name, 'CC-9', 'scim fills what hris does not say');
    assert.equal(r.attributes.preferred_language, 'de', 'the csv fills what neither says');

    // HRIS offboards: the person leaves every audience although SCIM and the CSV still list them active.
    server.employees[0]!.employment_status = 'terminated';
    await Connection.updateOne({ _id: hris }, { $set: { massRemovalThreshold: 1 } }).exec();
    assert.equal((await runHrisSync(hris, { config, logger: silent }))?.outcome, 'succeeded');
    assert.equal(((await Recipient.findOne({ orgId: org }).lean().exec()) as RecipientDoc).status, 'offboarded');
  });
});
