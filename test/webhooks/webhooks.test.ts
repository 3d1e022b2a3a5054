import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import {
  applySourceChanges,
  createConnection,
  createWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  readEvents,
  type ConnectionRef,
} from '../../src/store';
import { RETRY_SCHEDULE_S, WebhookWorker } from '../../src/webhooks/worker';
import { bearer, createOrgWithTokens, makeApp, type Org } from '../api/helpers';
import { closeTestStore, openTestStore } from '../helpers/store';

const SECRET_KEY = 'test-secret-key-0123456789';
const env = { publicUrl: 'http://localhost:8080', secretKey: SECRET_KEY };

interface Received {
  id: string;
  type: string;
  cursor: number;
  body: Record<string, unknown>;
}

/** A receiver on loopback that verifies every request with the standardwebhooks package. */
class Receiver {
  server: http.Server;
  secret = '';
  accepted: Received[] = [];
  requests: { id: string; answered: number }[] = [];
  badSignatures = 0;
  answer: (n: number, id: string) => { status: number; headers?: Record<string, string> } = () => ({ status: 204 });

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const payload = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown>;
        try {
          body = new Webhook(this.secret).verify(payload, req.headers as Record<string, string>) as Record<string, unknown>;
        } catch {
          this.badSignatures++;
          res.statusCode = 400;
          res.end();
          return;
        }
        const id = String(req.headers['webhook-id']);
        assert.equal(body.id, id, 'webhook-id is the event id');
        const a = this.answer(this.requests.length, id);
        this.requests.push({ id, answered: a.status });
        if (a.status >= 200 && a.status < 300) this.accepted.push({ id, type: String(body.type), cursor: Number(body.cursor), body });
        res.writeHead(a.status, a.headers ?? {});
        res.end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const up = (key: string) => ({ op: 'upsert' as const, key, email: `${key}@example.com`, active: true });

describe('webhooks: signed, ordered, at-least-once deliveries', () => {
  let org: Org;
  let csv: ConnectionRef;
  const workers: WebhookWorker[] = [];
  const receivers: Receiver[] = [];
  const worker = (extra: Partial<ConstructorParameters<typeof WebhookWorker>[0]> = {}) => {
    const w = new WebhookWorker({ secretKey: SECRET_KEY, allowLoopback: true, retryScale: 0.0002, pollMs: 20, timeoutMs: 2000, ...extra });
    workers.push(w);
    return w;
  };
  const receiver = () => {
    const r = new Receiver();
    receivers.push(r);
    return r;
  };

  before(async () => {
    await openTestStore('webhooks');
    org = await createOrgWithTokens('Acme');
    const c = await createConnection({ orgId: org.id, type: 'csv' }, env);
    csv = { _id: c.id, orgId: org.id, type: 'csv' };
  });
  after(async () => {
    for (const w of workers) await w.stop();
    for (const r of receivers) await r.close();
    await closeTestStore();
  });

  test('created over the API with a whsec_ secret shown once; a receiver verifies every event once, in order, across an outage', async () => {
    const app = makeApp();
    const rx = receiver();
    const url = await rx.listen();
    const res = await request(app)
      .post('/api/v1/webhooks')
      .set(bearer(org.admin))
      .send({ url, types: ['recipient.created', 'recipient.removed'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.secret, /^whsec_/);
    assert.deepEqual(
      Object.keys(res.body)
        .filter((k) => ['id', 'url', 'types', 'enabled', 'secret'].includes(k))
        .sort(),
      ['enabled', 'id', 'secret', 'types', 'url'],
    );
    rx.secret = res.body.secret;
    const read = await request(app).get(`/api/v1/webhooks/${res.body.id}`).set(bearer(org.admin));
    assert.equal(read.body.secret, undefined, 'the secret is shown once');

    // An outage: the receiver answers 503 to its first 6 requests, then recovers.
    rx.answer = (n) => ({ status: n < 6 ? 503 : 200 });
    const w = worker();
    w.start();
    await applySourceChanges(
      csv,
      Array.from({ length: 10 }, (_, i) => up(`a${i}`)),
    );
    await applySourceChanges(csv, [
      { op: 'delete', key: 'a3' },
      { op: 'groups', key: 'a4', add: ['g'] },
    ]);
    const feed = (await readEvents(org.id, { after: 0, limit: 500, types: ['recipient.created', 'recipient.removed'] })).items;
    assert.equal(feed.length, 11);
    await until('every event delivered', () => rx.accepted.length >= feed.length);
    await w.stop();
    assert.equal(rx.badSignatures, 0);
    assert.deepEqual(
      rx.accepted.map((a) => a.id),
      feed.map((e) => e.eid),
      'each event once, in feed order',
    );
    assert.ok(rx.requests.filter((r) => r.answered === 503).length === 6);
    const log = await request(app).get(`/api/v1/webhooks/${res.body.id}/deliveries?limit=100`).set(bearer(org.admin));
    assert.equal(log.status, 200);
    assert.equal(log.body.items.length, 17);
    const first = log.body.items[log.body.items.length - 1];
    assert.equal(first.status, 503);
    assert.equal(first.attempt, 1);
    assert.ok(log.body.items.some((d: { attempt: number; outcome: string }) => d.attempt > 1 && d.outcome === 'delivered'));
    assert.ok(log.body.items.every((d: { latencyMs: number | null }) => typeof d.latencyMs === 'number'));

    // Replay: the same events again, with the same ids (idempotency keys).
    const replay = await request(app).post(`/api/v1/webhooks/${res.body.id}/replay?after=${feed[7]!.seq}`).set(bearer(org.admin));
    assert.equal(replay.status, 202);
    const w2 = worker();
    w2.start();
    await until('replayed', () => rx.accepted.length >= feed.length + 3);
    await w2.stop();
    assert.deepEqual(
      rx.accepted.slice(feed.length).map((a) => a.id),
      feed.slice(8).map((e) => e.eid),
    );
  });

  test('a receiver answering 500 forever is disabled after the (compressed) schedule, and an event says so', async () => {
    const rx = receiver();
    const url = await rx.listen();
    const { endpoint, secret } = await createWebhookEndpoint(org.id, { url }, SECRET_KEY);
    rx.secret = secret;
    rx.answer = () => ({ status: 500 });
    await applySourceChanges(csv, [up('b1')]);
    // About 27.5 hours of waits, compressed to about 2 seconds.
    const w = worker({ retryScale: 0.00002 });
    w.start();
    await until('disabled', async () => (await getWebhookEndpoint(org.id, endpoint._id))?.enabled === false);
    await w.stop();
    const e = await getWebhookEndpoint(org.id, endpoint._id);
    assert.match(e!.disabledReason ?? '', /failed attempts/);
    assert.equal(rx.requests.length, RETRY_SCHEDULE_S.length + 1, 'one request per attempt of the schedule');
    assert.ok(new Set(rx.requests.map((r) => r.id)).size === 1, 'all attempts at the first event');
    const notice = (await readEvents(org.id, { after: 0, limit: 500, types: ['webhook_endpoint.disabled'] })).items;
    assert.deepEqual(
      notice.map((n) => n.data.webhookId),
      [endpoint._id],
    );
    const log = await listWebhookDeliveries(endpoint._id, 100);
    assert.deepEqual(
      log.map((d) => d.attempt).sort((a, b) => a - b),
      Array.from({ length: RETRY_SCHEDULE_S.length + 1 }, (_, i) => i + 1),
    );
  });

  test('two worker instances never send one attempt twice, and keep the order', async () => {
    const rx = receiver();
    const url = await rx.listen();
    const { endpoint, secret } = await createWebhookEndpoint(org.id, { url, types: ['recipient.created'] }, SECRET_KEY);
    rx.secret = secret;
    let fails = 0;
    rx.answer = (n) => ({ status: n % 5 === 2 && fails++ < 6 ? 502 : 200 });
    const a = worker({ pollMs: 5 });
    const b = worker({ pollMs: 5 });
    a.start();
    b.start();
    for (let i = 0; i < 4; i++)
      await applySourceChanges(
        csv,
        Array.from({ length: 10 }, (_, j) => up(`c${i}-${j}`)),
      );
    const feed = (await readEvents(org.id, { after: endpoint.cursor, limit: 500, types: ['recipient.created'] })).items;
    assert.equal(feed.length, 40);
    await until('all delivered', () => rx.accepted.length >= 40);
    await a.stop();
    await b.stop();
    assert.deepEqual(
      rx.accepted.map((x) => x.id),
      feed.map((e) => e.eid),
    );
    const log = await listWebhookDeliveries(endpoint._id, 500);
    // Every request the receiver saw is one logged attempt, and no attempt was sent twice.
    assert.equal(rx.requests.length, log.length);
    const perEvent = new Map<string, number[]>();
    for (const d of log) perEvent.set(d.eventId, [...(perEvent.get(d.eventId) ?? []), d.attempt]);
    for (const [id, attempts] of perEvent) {
      assert.equal(rx.requests.filter((r) => r.id === id).length, attempts.length, id);
      assert.equal(new Set(attempts).size, attempts.length);
    }
  });

  test('a redirect is not followed (a 3xx is a failed attempt)', async () => {
    const rx = receiver();
    const url = await rx.listen();
    const { endpoint, secret } = await createWebhookEndpoint(org.id, { url }, SECRET_KEY);
    rx.secret = secret;
    // Following a redirect would let a receiver point deliveries anywhere (SSRF); the Location names a closed loopback
    // port, so even a followed redirect would leave this machine's loopback untouched.
    rx.answer = () => ({ status: 302, headers: { Location: 'http://127.0.0.1:9/internal' } });
    await applySourceChanges(csv, [up('d1')]);
    const w = worker({ retryScale: 10 });
    await w.tick();
    const log = await listWebhookDeliveries(endpoint._id, 10);
    assert.equal(log.length, 1);
    assert.equal(log[0]!.status, 302);
    assert.equal(log[0]!.outcome, 'failed');
    assert.match(log[0]!.error ?? '', /redirects are not followed/);
    assert.equal((await getWebhookEndpoint(org.id, endpoint._id))!.attempt, 1);
  });

  test('loopback receivers are refused without WEBHOOK_ALLOW_LOOPBACK (the attempt is logged as refused, nothing is sent)', async () => {
    const rx = receiver();
    const url = await rx.listen();
    const { endpoint, secret } = await createWebhookEndpoint(org.id, { url }, SECRET_KEY);
    rx.secret = secret;
    await applySourceChanges(csv, [up('e1')]);
    const w = worker({ allowLoopback: false, retryScale: 10 });
    await w.tick();
    assert.equal(rx.requests.length, 0);
    const log = await listWebhookDeliveries(endpoint._id, 10);
    assert.equal(log[0]!.outcome, 'refused');
  });

  test('the API refuses private address literals and checks roles', async () => {
    const app = makeApp();
    const bad = await request(app).post('/api/v1/webhooks').set(bearer(org.owner)).send({ url: 'http://169.254.169.254/latest' });
    assert.equal(bad.status, 400);
    const member = await request(app).get('/api/v1/webhooks').set(bearer(org.reader));
    assert.equal(member.status, 403);
  });
});
