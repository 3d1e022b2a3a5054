/**
 * bench/hris — one HRIS sync of N employees from the local Finch-compatible server (test/helpers/finchServer.ts) with
 * latency per request and Finch's per-product rate limit enforced by that server (issue 9).
 *
 *   npm run bench:hris -- --employees 100000          # local FerretDB under .data/bench
 *   npm run bench:hris -- --employees 5000             # while developing
 *
 * Reports (one JSON line on stdout at the end; progress on stderr): wall time and its phases (reading Finch, merge),
 * Finch requests made next to the minimum possible for the page and batch sizes, 429s received (from the server's
 * rate limit: our pacing should cause none), merge rows/s next to the same store's raw rate for the same writes
 * (insertMany of one source-record-shaped and one recipient-shaped document per person, measured in the same run), and
 * peak RSS (this process also hosts the fake Finch server and its N employees).
 *
 * Options: --employees N (100,000), --latency-ms MS (50), --rate R requests per product per minute (20, Finch's
 * documented application limit), --page-size N (5000), --batch N (1000), --raw-docs N (20,000), --keep.
 */
import mongoose from 'mongoose';
import pino from 'pino';
import { runHrisSync } from '../src/hris/sync';
import { connectStore, createConnection, createOrganization, disconnectStore, loadSyncRun } from '../src/store';
import { Recipient } from '../src/store/models';
import { testConfig } from '../test/helpers/config';
import { FinchServer, makeEmployees } from '../test/helpers/finchServer';
import { argValue, MB, parseCount, round, startMemorySampler } from './lib/stats';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'employees')) ?? 100_000;
const LATENCY = parseCount(argValue(argv, 'latency-ms')) ?? 50;
const RATE = parseCount(argValue(argv, 'rate')) ?? 20;
const PAGE = parseCount(argValue(argv, 'page-size')) ?? 5000;
const BATCH = parseCount(argValue(argv, 'batch')) ?? 1000;
const RAW_DOCS = Math.min(N, parseCount(argValue(argv, 'raw-docs')) ?? 20_000);
const KEEP = argv.includes('--keep');
const TARGETS = { callsRatio: 1.05, rateLimited: 0, peakRssMB: 512 };

function log(msg: string): void {
  process.stderr.write(`bench:hris ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

/** insertMany of the documents one merged person costs (a source record and a recipient), batches of 1000. */
async function rawRate(orgId: string, connectionId: string): Promise<number> {
  const db = mongoose.connection.db!;
  type RawDoc = { _id: string } & Record<string, unknown>;
  const records = db.collection<RawDoc>('bench_raw_records');
  const recipients = db.collection<RawDoc>('bench_raw_recipients');
  const t0 = performance.now();
  for (let start = 0; start < RAW_DOCS; start += 1000) {
    const recs: RawDoc[] = [];
    const reps: RawDoc[] = [];
    for (let i = start; i < Math.min(RAW_DOCS, start + 1000); i++) {
      const now = new Date();
      const email = `raw${i}@corp.example`;
      const attributes = {
        first_name: `First${i}`,
        last_name: `Last${i}`,
        employee_id: `E${i}`,
        job_title: `Title ${i % 13}`,
        department_name: `Dept${i % 7}`,
        manager_name: 'First0 Last0',
        manager_email: 'raw0@corp.example',
        employment_start_date: '2020-01-06',
        employment_status: 'active',
        employee_type: 'full_time',
        street_address: `${i} Main St`,
        city: 'Springfield',
        region: 'IL',
        postal_code: '62701',
        country: 'US',
        raw_address: `${i} Main St, Springfield, IL 62701, US`,
      };
      recs.push({
        _id: `${connectionId}:raw-${i}`,
        orgId,
        connectionId,
        connectionType: 'hris',
        key: `raw-${i}`,
        email,
        emailDisplay: email,
        active: true,
        deleted: false,
        statusSeq: i,
        attributes,
        groups: [],
        v: 1,
        createdAt: now,
        updatedAt: now,
      });
      reps.push({
        _id: `${orgId}:${email}`,
        orgId,
        email,
        emailDisplay: email,
        listed: true,
        status: 'active',
        attributes,
        groups: [],
        sources: [{ connectionId, type: 'hris', active: true }],
        createdAt: now,
        updatedAt: now,
      });
    }
    await records.insertMany(recs, { ordered: false });
    await recipients.insertMany(reps, { ordered: false });
  }
  const secs = (performance.now() - t0) / 1000;
  await records.drop();
  await recipients.drop();
  return RAW_DOCS / secs;
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (npm run bench:hris starts a local store)');
  const dbName = `bench_hris_${Date.now().toString(36)}`;
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  await connectStore(url.toString());
  const memory = startMemorySampler();

  const server = new FinchServer({ latencyMs: LATENCY, ratePerMinute: RATE, rateLimitRetryAfter: '5' });
  await server.start();
  log(`generating ${N} employees`);
  server.employees = makeEmployees(N);
  const config = testConfig({
    MONGODB_URI: url.toString(),
    FINCH_BASE_URL: server.url,
    FINCH_RATE_LIMIT_PER_MINUTE: RATE,
    FINCH_PAGE_SIZE: PAGE,
    FINCH_BATCH_SIZE: BATCH,
    FINCH_TIMEOUT_SECONDS: 300,
    FINCH_MAX_ATTEMPTS: 6,
    HRIS_LEASE_SECONDS: 90,
    LOG_LEVEL: 'warn',
  });
  const orgId = (await createOrganization('bench hris')).id;
  const conn = await createConnection(
    { orgId, type: 'hris', accessToken: server.token },
    { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
  );

  log(`raw insert: ${RAW_DOCS} people (2 documents each)`);
  const rawBefore = await rawRate(orgId, 'raw-before');
  log(`raw: ${Math.round(rawBefore)} people/s`);

  // Phase timing: watch the run's progress while it runs.
  let mergeStartedAt: number | null = null;
  let runId: string | null = null;
  const started = performance.now();
  let ticks = 0;
  const watcher = setInterval(() => {
    ticks++;
    void (async () => {
      if (!runId) {
        const doc = await mongoose.connection.db!.collection('sync_runs').findOne({ connectionId: conn.id }, { projection: { _id: 1 } });
        runId = doc ? String(doc._id) : null;
      }
      if (!runId || mergeStartedAt !== null) return;
      const run = await loadSyncRun(runId);
      if (run?.progress.phase === 'merge') {
        mergeStartedAt = performance.now();
        log(`merge started after ${round((mergeStartedAt - started) / 1000)} s (finch calls so far: ${server.totalCalls()})`);
      } else if (run && ticks % 20 === 0) {
        log(
          `phase ${run.progress.phase} pages ${run.progress.pages ?? 0} processed ${run.progress.processed} calls ${server.totalCalls()} 429s ${server.rateLimited}`,
        );
      }
    })().catch(() => undefined);
  }, 250);
  const res = await runHrisSync(conn.id, { config, logger: pino({ level: 'warn' }, pino.destination(2)) });
  clearInterval(watcher);
  const wallSeconds = (performance.now() - started) / 1000;
  if (!res) throw new Error('the sync did not start');
  const mergeSeconds = mergeStartedAt === null ? wallSeconds : (performance.now() - mergeStartedAt) / 1000;
  const active = await Recipient.countDocuments({ orgId, listed: true, status: 'active' });

  log('raw insert again (after the merge)');
  const rawAfter = await rawRate(orgId, 'raw-after');
  const peaks = memory.stop();
  const minimum = 1 + Math.ceil(N / PAGE) + 2 * Math.ceil(N / BATCH);
  const calls = server.totalCalls();
  const mergeRate = N / mergeSeconds;
  const rawMedian = (rawBefore + rawAfter) / 2;
  const result = {
    bench: 'hris',
    employees: N,
    latencyMs: LATENCY,
    ratePerMinutePerProduct: RATE,
    pageSize: PAGE,
    batch: BATCH,
    status: res.run.status,
    created: res.run.counts.created,
    rejected: res.run.counts.rejected,
    activeRecipients: active,
    wallSeconds: round(wallSeconds),
    finchReadSeconds: round(wallSeconds - mergeSeconds),
    mergeSeconds: round(mergeSeconds),
    finchCalls: calls,
    finchCallsByProduct: server.calls,
    minimumCalls: minimum,
    callsRatio: round(calls / minimum, 3),
    rateLimited429: server.rateLimited,
    clientCallsCounted: res.calls,
    mergeRowsPerSecond: round(mergeRate),
    rawPeoplePerSecond: { before: round(rawBefore), after: round(rawAfter) },
    mergeToRawRatio: round(mergeRate / rawMedian, 3),
    peakRssMB: round(peaks.rssBytes / MB),
    peakHeapMB: round(peaks.heapUsedBytes / MB),
    targets: TARGETS,
    met: {
      calls: calls / minimum <= TARGETS.callsRatio,
      rateLimited: server.rateLimited === 0,
      rss: peaks.rssBytes / MB < TARGETS.peakRssMB,
    },
  };
  await server.stop();
  if (!KEEP) await mongoose.connection.db!.dropDatabase();
  await disconnectStore();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: Error) => {
  process.stderr.write(`bench:hris failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
