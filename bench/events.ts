/**
 * bench/events — the cost of the change feed (issue 11).
 *
 *   npm run bench:events -- --records 20000 --events 100000
 *
 * One run, one fresh database (dropped at the end), on MONGODB_URI (npm run bench:events starts the local FerretDB):
 *   1. raw insert: insertMany of event-shaped documents, batches of 1000 (the store's raw rate for this work);
 *   2. merge with events off, then on: N new people (upserts, batches of 1000) on a fresh connection each time,
 *      source records per second; events cost = 1 - on/off (target: at most 20 %);
 *   3. delivery: E events appended (batches of 1000) while one webhook worker delivers them to a receiver on
 *      127.0.0.1 that verifies each signature with the standardwebhooks package; events/s and p99 lag (receipt time
 *      minus the event's createdAt).
 * One JSON line per figure on stdout; progress on stderr.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mongoose from 'mongoose';
import { Webhook } from 'standardwebhooks';
import {
  appendEvents,
  applySourceChanges,
  connectStore,
  createConnection,
  createOrganization,
  createWebhookEndpoint,
  disconnectStore,
  setEventsEnabled,
  type EventDraft,
} from '../src/store';
import { WebhookWorker } from '../src/webhooks/worker';
import { argValue, parseCount, round } from './lib/stats';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'records') ?? process.env.BENCH_RECORDS) ?? 20_000;
const E = parseCount(argValue(argv, 'events') ?? process.env.BENCH_EVENTS) ?? 100_000;
const SECRET_KEY = 'bench-secret-key-0123456789';
const env = { publicUrl: 'http://localhost:8080', secretKey: SECRET_KEY };

const log = (msg: string) => process.stderr.write(`bench:events ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify({ bench: 'events', ...o }) + '\n');

async function rawRate(): Promise<number> {
  const col = mongoose.connection.db!.collection('bench_raw_events');
  const n = Math.min(20_000, Math.max(5_000, E / 5));
  const t = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await col.insertMany(
      Array.from({ length: 1000 }, (_, j) => ({
        _id: `raw:${i + j}` as never,
        eid: `evt_raw_${i + j}`,
        orgId: 'raw',
        seq: i + j,
        type: 'recipient.created',
        createdAt: new Date(),
        connectionId: null,
        data: { recipientId: `raw:p${i + j}@example.com`, email: `p${i + j}@example.com`, status: 'active' },
        object: null,
        subject: `raw:p${i + j}@example.com`,
        inc: 0,
      })),
    );
  }
  await col.drop();
  return n / ((performance.now() - t) / 1000);
}

async function mergeRate(orgId: string, events: boolean): Promise<number> {
  setEventsEnabled(events);
  const c = await createConnection({ orgId, type: 'csv' }, env);
  const conn = { _id: c.id, orgId, type: 'csv' };
  const t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await applySourceChanges(
      conn,
      Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
        const k = `${events ? 'on' : 'off'}${i + j}`;
        return {
          op: 'upsert' as const,
          key: k,
          email: `${k}@example.com`,
          active: true,
          attributes: { first_name: 'A', department_name: 'Sales' },
          groups: ['g1'],
        };
      }),
    );
  }
  setEventsEnabled(true);
  return N / ((performance.now() - t) / 1000);
}

async function delivery(orgId: string): Promise<{ rate: number; p99: number; p50: number; received: number }> {
  let secret = '';
  const lags: number[] = [];
  const seen = new Set<string>();
  let bad = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = new Webhook(secret).verify(Buffer.concat(chunks), req.headers as Record<string, string>) as {
          id: string;
          createdAt: string;
        };
        if (!seen.has(body.id)) {
          seen.add(body.id);
          lags.push(Date.now() - Date.parse(body.createdAt));
        }
        res.statusCode = 204;
      } catch {
        bad++;
        res.statusCode = 400;
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const created = await createWebhookEndpoint(orgId, { url }, SECRET_KEY);
  secret = created.secret;
  const worker = new WebhookWorker({ secretKey: SECRET_KEY, allowLoopback: true, pollMs: 20, batch: 500 });
  const t = performance.now();
  worker.start();
  for (let i = 0; i < E; i += 1000) {
    const drafts: EventDraft[] = Array.from({ length: Math.min(1000, E - i) }, (_, j) => ({
      key: `bench:${i + j}`,
      type: 'recipient.updated',
      connectionId: null,
      data: { recipientId: `x:${i + j}`, email: `p${i + j}@example.com`, changed: ['city'] },
    }));
    await appendEvents(orgId, drafts);
  }
  log(`appended ${E} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  let last = -1;
  while (seen.size < E) {
    await new Promise((r) => setTimeout(r, 1000));
    if (seen.size !== last) log(`delivered ${seen.size}/${E}`);
    last = seen.size;
  }
  const secs = (performance.now() - t) / 1000;
  await worker.stop();
  server.closeAllConnections();
  server.close();
  if (bad) throw new Error(`${bad} deliveries failed verification`);
  lags.sort((a, b) => a - b);
  return {
    rate: E / secs,
    p99: lags[Math.floor(lags.length * 0.99)] ?? 0,
    p50: lags[Math.floor(lags.length * 0.5)] ?? 0,
    received: seen.size,
  };
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (npm run bench:events starts a local store)');
  const u = new URL(base);
  u.pathname = `/bench_events_${Date.now().toString(36)}`;
  const caps = await connectStore(u.toString());
  const store = caps.ferretdb ? `ferretdb ${caps.serverVersion}` : `mongodb ${caps.serverVersion}`;
  try {
    const orgId = (await createOrganization('bench')).id;
    const raw = await rawRate();
    log(`raw insert ${Math.round(raw)} docs/s`);
    const off = await mergeRate(orgId, false);
    log(`merge, events off: ${Math.round(off)} records/s`);
    const on = await mergeRate(orgId, true);
    log(`merge, events on: ${Math.round(on)} records/s`);
    emit({
      figure: 'merge',
      store,
      records: N,
      eventsOffPerSec: round(off),
      eventsOnPerSec: round(on),
      eventsCost: round(1 - on / off),
      target: 0.2,
      rawInsertPerSec: round(raw),
    });
    const d = await delivery(orgId);
    emit({
      figure: 'delivery',
      store,
      events: E,
      deliveredPerSec: round(d.rate),
      lagP50Ms: d.p50,
      lagP99Ms: d.p99,
      rawInsertPerSec: round(raw),
    });
  } finally {
    await mongoose.connection.db?.dropDatabase();
    await disconnectStore();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:events failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
