/**
 * bench/events — the cost of the change feed (issue 11).
 *
 *   npm run bench:events -- --records 4000 --runs 5 --events 100000 [--only merge|delivery]
 *
 * One run, one fresh database (dropped at the end), on MONGODB_URI (npm run bench:events starts the local FerretDB):
 *   1. raw insert: insertMany of event-shaped documents, batches of 1000 (the store's raw rate for this work);
 *   2. merge with events off and on, alternating (off, on) `--runs` times, each N new people (upserts, batches of
 *      1000) on a fresh connection: records/s, the ratio of the medians (target: on/off ≥ 0.8) and the store commands
 *      per 1000 records (the driver's command monitoring); once in an organization without audiences, once with two
 *      (a group audience and a segment audience);
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
  createAudience,
  createConnection,
  createSegment,
  newId,
  createOrganization,
  createWebhookEndpoint,
  disconnectStore,
  setEventsEnabled,
  type EventDraft,
} from '../src/store';
import { WebhookWorker } from '../src/webhooks/worker';
import { argValue, median, parseCount, round } from './lib/stats';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'records') ?? process.env.BENCH_RECORDS) ?? 20_000;
const E = parseCount(argValue(argv, 'events') ?? process.env.BENCH_EVENTS) ?? 100_000;
const RUNS = parseCount(argValue(argv, 'runs')) ?? 3;
/** `merge` or `delivery`: run only that part. */
const ONLY = argValue(argv, 'only');
let store = '';
let raw = 0;
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

/** Store commands sent while `fn` runs, by command name (the driver's command monitoring). */
const commandCounts = new Map<string, number>();
let counting = false;
function watchCommands(): void {
  mongoose.connection.getClient().on('commandStarted', (e: { commandName: string }) => {
    if (counting) commandCounts.set(e.commandName, (commandCounts.get(e.commandName) ?? 0) + 1);
  });
}

let runNo = 0;
/** One merge of N new people on a fresh connection; records/s and store commands per 1000 records. */
async function mergeRun(orgId: string, events: boolean): Promise<{ rate: number; commands: Record<string, number> }> {
  setEventsEnabled(events);
  const c = await createConnection({ orgId, type: 'csv' }, env);
  const conn = { _id: c.id, orgId, type: 'csv' };
  const tag = `${events ? 'on' : 'off'}${runNo++}_`;
  commandCounts.clear();
  counting = true;
  const t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await applySourceChanges(
      conn,
      Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
        const k = `${tag}${i + j}`;
        return {
          op: 'upsert' as const,
          key: k,
          email: `${k}@example.com`,
          active: true,
          attributes: { first_name: 'A', department_name: (i + j) % 2 ? 'Sales' : 'Support' },
          groups: ['g1'],
        };
      }),
    );
  }
  const secs = (performance.now() - t) / 1000;
  counting = false;
  setEventsEnabled(true);
  const commands: Record<string, number> = {};
  for (const [k, v] of [...commandCounts].sort()) commands[k] = round((v * 1000) / N, 2);
  return { rate: N / secs, commands };
}

/** Alternating off/on runs (off first), so load changes on the shared machine fall on both sides. */
async function mergeFigure(orgId: string, label: string): Promise<void> {
  const off: number[] = [];
  const on: number[] = [];
  let cmdOff: Record<string, number> = {};
  let cmdOn: Record<string, number> = {};
  for (let r = 0; r < RUNS; r++) {
    const a = await mergeRun(orgId, false);
    off.push(a.rate);
    cmdOff = a.commands;
    const b = await mergeRun(orgId, true);
    on.push(b.rate);
    cmdOn = b.commands;
    log(`${label} run ${r + 1}/${RUNS}: events off ${Math.round(a.rate)}/s, on ${Math.round(b.rate)}/s`);
  }
  const mOff = median(off);
  const mOn = median(on);
  emit({
    figure: 'merge',
    audiences: label,
    store,
    records: N,
    runs: RUNS,
    eventsOffPerSec: off.map((x) => round(x)),
    eventsOnPerSec: on.map((x) => round(x)),
    medianOffPerSec: round(mOff),
    medianOnPerSec: round(mOn),
    onOffRatio: round(mOn / mOff, 3),
    eventsCost: round(1 - mOn / mOff, 3),
    target: 0.2,
    commandsPer1000Off: cmdOff,
    commandsPer1000On: cmdOn,
    rawInsertPerSec: round(raw),
  });
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
  // Command monitoring counts the store commands of each merge (commandStarted events): connectStore turns it on.
  const caps = await connectStore(u.toString(), { monitorCommands: true });
  watchCommands();
  store = caps.ferretdb ? `ferretdb ${caps.serverVersion}` : `mongodb ${caps.serverVersion}`;
  try {
    raw = await rawRate();
    log(`raw insert ${Math.round(raw)} docs/s`);
    if (ONLY !== 'delivery') {
      // An organization without audiences, then one with two: a group audience and a segment audience.
      await mergeFigure((await createOrganization('bench')).id, 'none');
      const org2 = (await createOrganization('bench-audiences')).id;
      const seg = await createSegment(org2, { name: 'sales', filter: 'department_name eq "Sales"' });
      const now = new Date();
      const none = { groups: [], segments: [], recipients: [] };
      await createAudience({
        _id: newId(),
        orgId: org2,
        name: 'g1',
        include: { ...none, groups: ['g1'] },
        exclude: none,
        createdAt: now,
        updatedAt: now,
      });
      await createAudience({
        _id: newId(),
        orgId: org2,
        name: 'sales',
        include: { ...none, segments: [seg._id] },
        exclude: none,
        createdAt: now,
        updatedAt: now,
      });
      await mergeFigure(org2, 'group+segment');
    }
    if (ONLY !== 'merge') {
      const d = await delivery((await createOrganization('bench-delivery')).id);
      emit({
        figure: 'delivery',
        store,
        events: E,
        deliveredPerSec: round(d.rate),
        lagP50Ms: d.p50,
        lagP99Ms: d.p99,
        rawInsertPerSec: round(raw),
      });
    }
  } finally {
    await mongoose.connection.db?.dropDatabase();
    await disconnectStore();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:events failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
