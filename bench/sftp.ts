/**
 * bench/sftp — a large CSV dropped over SFTP (the OpenSSH client) versus the same file through the API upload path and
 * versus the raw rate of the same store for the minimal work the file needs (issue 13).
 *
 *   npm run bench:sftp -- --rows 100k [--reps 2]   # local FerretDB under .data/bench
 *   MONGODB_URI=mongodb://host/db npm run bench:sftp -- --rows 1m
 *
 * The service runs as deployed, `audience-sync serve` (http, sftp and worker roles, loopback only) in its own process,
 * whose peak RSS (VmHWM) and peak V8 heap (its /metrics) are reported apart from this load generator's;
 * `--in-process` runs the SFTP server, the file queue and the API inside this process instead, to count their store
 * commands per 1,000 rows and the store's time per 1,000 rows by command type (send to reply, the driver's command
 * monitoring; the peak RSS then includes the load generator). `--sftp-only` makes only the SFTP loads (a
 * quicker memory run: no ratios); `--first-only` makes only the first (insert-only) file, on every path, with its
 * ratios. One fresh database (dropped at the end).
 * Each repetition takes a new sftp connection and a new csv connection (each in its own organization, so both start
 * empty) and alternates which path goes first (rep 1 SFTP then API, rep 2 API then SFTP, ...), so neither path always
 * meets the bigger database; figures are medians over the repetitions.
 *   1. first file: N rows (~190 bytes each) into the empty connections: SFTP `put` with OpenSSH's sftp (upload MB/s from
 *      client start to exit: the CLOSE is answered once the bytes are in GridFS; processing rows/s from the upload's end
 *      to the run's end), and the same file through `POST /api/v1/connections/{id}/uploads`. The SFTP/API ratio compares
 *      the same span on both paths: from the first byte sent to the run's end (transfer, check pass, ingest).
 *   2. second full file, 10 % of the rows changed (job title and department), into the same connections.
 *   3. raw rates, same store, same run, same row count N, batches of the ingest's BATCH_SIZE, into scratch collections
 *      with the same indexes as source_records and recipients: first file = one source-record insertMany and one
 *      recipient insertMany per batch (documents copied from what the load stored); second file = per batch one `_id $in`
 *      read of the batch's source records (to compare) and one of the changed rows' recipients, then one update per
 *      changed source record and recipient (bulkWrite of per-document updates, as the values differ per row; sent in
 *      commands of the size the merge uses: 4 on FerretDB v1, where a bulkWrite of ~100 updates hangs the server).
 * Every load is checked by its run's counts, and after the second file by an exact count of what the store holds (live
 * source records, changed rows, active recipients; one projected scan each, counted in the bench).
 * Progress on stderr; JSON lines on stdout.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { type AddressInfo } from 'node:net';
import { freePort } from '../test/helpers/ports';
import { request as httpRequest } from 'node:http';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { writeFileSync, chmodSync } from 'node:fs';
import { loadConfig } from '../src/config/config';
import { startFileQueue } from '../src/csv';
import { createApp } from '../src/server/app';
import { createLogger } from '../src/server/logger';
import { generateEd25519KeyPair, startSftpServer } from '../src/sftp';
import {
  connectStore,
  createApiToken,
  createConnection,
  createOrganization,
  disconnectStore,
  storeCapabilities,
  BATCH_SIZE,
  CommandCounter,
  type SyncRunDoc,
} from '../src/store';
// The benchmark seeds and counts through the raw models: it measures the store itself beside the service.
import { ofConnection, Recipient, SourceRecord, SyncRun } from '../src/store/models';
import { argValue, MB, median, parseCount, round, startMemorySampler } from './lib/stats';
import { serviceNodeArgs } from './lib/service';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'rows') ?? process.env.BENCH_ROWS) ?? 1_000_000;
/** Raw rates are measured on the same row count as the loads unless told otherwise. */
const RAW_ROWS = Math.min(N, parseCount(argValue(argv, 'raw-rows')) ?? N);
const REPS = parseCount(argValue(argv, 'reps')) ?? 2;
const BATCH = BATCH_SIZE;
const KEEP = argv.includes('--keep');
/** Run the service inside this process (its store commands are counted) instead of in its own (its RSS measured). */
const IN_PROCESS = argv.includes('--in-process');
/** Only the SFTP loads (no API path, no raw phases, no ratios): a quicker run for the service's memory and rate. */
const SFTP_ONLY = argv.includes('--sftp-only');
/** Only the first (insert-only) file on every path: its SFTP/API and SFTP/raw ratios in about 40 % of a full run's time. */
const FIRST_ONLY = argv.includes('--first-only');
const PHASES = FIRST_ONLY ? (['first'] as const) : (['first', 'second'] as const);
/** Rows the second file changes. */
const changedRow = (i: number) => i % 10 === 0;
const CHANGED = Math.ceil(N / 10);
const TARGETS = { sftpVsApi: 0.9, firstVsRaw: 0.5, secondVsRaw: 0.5, peakRssMB: 300 };

function log(msg: string): void {
  process.stderr.write(`bench:sftp ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}
function emit(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

const DEPTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Operations', 'Support', 'Legal', 'People'];
const CITIES = ['Berlin', 'Lisbon', 'Austin', 'Toronto', 'Sydney', 'Dublin', 'Osaka', 'Denver'];

/** Writes the N-row file; `changed(i)` rows get another department and title (the second file). */
async function writeCsv(path: string, changed: (i: number) => boolean): Promise<number> {
  const out = createWriteStream(path);
  out.write('employee_id,email,first name,last name,job title,department,manager email,street address,city,country,start date,groups\n');
  let buf = '';
  for (let i = 0; i < N; i++) {
    const c = changed(i);
    const dept = DEPTS[(i + (c ? 3 : 0)) % DEPTS.length]!;
    buf += `E${String(i).padStart(7, '0')},person.${i}@bench-example.com,First${i},Lastname${i},${c ? 'Senior ' : ''}Specialist ${i % 50},${dept},manager.${Math.floor(i / 10)}@bench-example.com,${100 + (i % 900)} Long Example Street Building ${i % 7},${CITIES[i % CITIES.length]},DE,2020-0${1 + (i % 9)}-1${i % 10},${dept};All Staff\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return statSync(path).size;
}

async function waitRun(filter: Record<string, unknown>): Promise<SyncRunDoc> {
  const t0 = performance.now();
  for (;;) {
    const run = (await SyncRun.findOne(filter).sort({ _id: -1 }).lean().exec()) as SyncRunDoc | null;
    if (run && !['queued', 'running'].includes(run.status)) return run;
    // Every 200 ms for the first 10 s, then every second: each poll is a store command the load under test competes
    // with (on FerretDB v1 a scan of sync_runs, ~6 % of the store's time at 5 polls per 1,000 rows), and 1 s is < 1 %
    // of a run that long.
    await new Promise((r) => setTimeout(r, performance.now() - t0 < 10_000 ? 200 : 1000));
  }
}

function sftpPut(port: number, user: string, key: string, file: string, remote: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sftp',
      [
        '-b',
        '-',
        '-P',
        String(port),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        '-o',
        'IdentitiesOnly=yes',
        '-i',
        key,
        `${user}@127.0.0.1`,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sftp exited ${code}: ${err}`))));
    child.stdin.end(`put ${file} ${remote}\n`);
  });
}

function apiUpload(port: number, token: string, connectionId: string, file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/api/v1/connections/${connectionId}/uploads?mode=full`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'content-length': statSync(file).size },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          res.statusCode === 202 ? resolve(JSON.parse(body).syncRunId) : reject(new Error(`upload: ${res.statusCode} ${body}`)),
        );
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

type Doc = Record<string, unknown>;

/** A scratch collection with the indexes of `like` (so raw writes maintain the same indexes as the load's). */
async function scratchLike(like: string, prefix: string) {
  const db = mongoose.connection.db!;
  // A new name each time: FerretDB v1 (SQLite) can keep a dropped collection's index names and refuse them again.
  const name = `${prefix}_${Date.now().toString(36)}`;
  const coll = db.collection<Doc>(name);
  for (const ix of await db.collection(like).listIndexes().toArray()) {
    if (ix.name === '_id_') continue;
    await coll.createIndex(ix.key as Record<string, 1 | -1>, {
      name: String(ix.name),
      unique: Boolean(ix.unique),
      sparse: Boolean(ix.sparse),
    });
  }
  await db.createCollection(name).catch(() => undefined);
  return coll;
}

/**
 * Raw first-load rate: per batch, one insertMany of source records and one of recipients (documents copied from the
 * load's own, with their own ids, keys and emails).
 */
async function rawInserts(connectionId: string): Promise<{ rate: number; sources: string; recipients: string }> {
  const src = (await SourceRecord.findOne(ofConnection(connectionId)).lean().exec()) as unknown as Doc;
  const rec = (await Recipient.findOne({ orgId: String(src.orgId) })
    .lean()
    .exec()) as unknown as Doc;
  const a = await scratchLike('source_records', 'bench_raw_sources');
  const b = await scratchLike('recipients', 'bench_raw_recipients');
  const t = performance.now();
  for (let s = 0; s < RAW_ROWS; s += BATCH) {
    const n = Math.min(BATCH, RAW_ROWS - s);
    await a.insertMany(
      Array.from({ length: n }, (_, k) => ({
        ...src,
        _id: `raw:${s + k}`,
        key: `raw-${s + k}`,
        email: `raw${s + k}@x.example`,
      })) as never[],
      { ordered: false },
    );
    await b.insertMany(
      Array.from({ length: n }, (_, k) => ({ ...rec, _id: `raw:raw${s + k}@x.example`, email: `raw${s + k}@x.example` })) as never[],
      { ordered: false },
    );
  }
  const ms = performance.now() - t;
  // Exact check: everything the raw load claims to have written is there.
  assertEqual(await a.countDocuments({}), RAW_ROWS, 'raw source records');
  assertEqual(await b.countDocuments({}), RAW_ROWS, 'raw recipients');
  return { rate: RAW_ROWS / (ms / 1000), sources: a.collectionName, recipients: b.collectionName };
}

/**
 * Raw second-file rate: per batch, read the batch's source records by _id (every row is compared), read the changed
 * rows' recipients by _id, then update each changed source record and recipient with its own values.
 */
async function rawSecondFile(scratch: { sources: string; recipients: string }): Promise<number> {
  const db = mongoose.connection.db!;
  const a = db.collection<Doc>(scratch.sources);
  const b = db.collection<Doc>(scratch.recipients);
  // As the merge sends updates (src/store/merge.ts, bulkWriteCounted): on FerretDB v1 in commands of 4, since one
  // bulkWrite of more than ~100 updates hangs that server; elsewhere one command per batch.
  const UPDATE_CHUNK = storeCapabilities().ferretdb ? 4 : BATCH;
  const t = performance.now();
  let read = 0;
  for (let s = 0; s < RAW_ROWS; s += BATCH) {
    const ids = Array.from({ length: Math.min(BATCH, RAW_ROWS - s) }, (_, k) => s + k);
    // Read as findByIds reads (src/store/batchRead.ts): every document in the first reply.
    read += (await a.find({ _id: { $in: ids.map((i) => `raw:${i}`) } } as never, { batchSize: ids.length + 1 }).toArray()).length;
    const changed = ids.filter(changedRow);
    if (!changed.length) continue;
    await b.find({ _id: { $in: changed.map((i) => `raw:raw${i}@x.example`) } } as never, { batchSize: changed.length + 1 }).toArray();
    const now = new Date();
    const upd = (id: string, i: number) => ({
      updateOne: {
        filter: { _id: id } as never,
        update: {
          $set: {
            'attributes.job_title': `Senior Specialist ${i % 50}`,
            'attributes.department_name': DEPTS[(i + 3) % DEPTS.length],
            updatedAt: now,
          },
        },
      },
    });
    const srcOps = changed.map((i) => upd(`raw:${i}`, i));
    const recOps = changed.map((i) => upd(`raw:raw${i}@x.example`, i));
    for (let k = 0; k < srcOps.length; k += UPDATE_CHUNK) await a.bulkWrite(srcOps.slice(k, k + UPDATE_CHUNK), { ordered: false });
    for (let k = 0; k < recOps.length; k += UPDATE_CHUNK) await b.bulkWrite(recOps.slice(k, k + UPDATE_CHUNK), { ordered: false });
  }
  const ms = performance.now() - t;
  assertEqual(read, RAW_ROWS, 'raw source records read');
  assertEqual(await a.countDocuments({ 'attributes.job_title': { $regex: '^Senior ' } }), Math.ceil(RAW_ROWS / 10), 'raw changed rows');
  return RAW_ROWS / (ms / 1000);
}

function assertEqual(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new Error(`check failed: ${what}: ${actual}, expected ${expected}`);
}

/**
 * Exact checks of one load: the run's counts always; after the second file also what the store holds for the
 * connection and its organization. The store checks read each collection once, projected, and count here: on FerretDB
 * v1 every `countDocuments` with a filter scans the collection (about 35 s each at 200,000 rows), so three counts after
 * each of four loads took a third of a repetition. The first load's store state is covered by the second's checks: a
 * missing, extra or wrong record would show as a created, removed or changed count there, or as a wrong total.
 */
async function checkLoad(phase: 'first' | 'second', path: string, run: SyncRunDoc, orgId: string): Promise<void> {
  const what = `${phase} ${path}`;
  if (run.status !== 'succeeded') throw new Error(`${what}: run ${run._id} ended ${run.status}: ${run.message ?? ''}`);
  const c = run.counts;
  if (phase === 'first') {
    assertEqual(c.created, N, `${what} created`);
    assertEqual(
      c.updated + c.unchanged + c.removed + c.deactivated + c.rejected,
      0,
      `${what} updated/unchanged/removed/deactivated/rejected`,
    );
    return;
  }
  assertEqual(c.updated, CHANGED, `${what} updated`);
  assertEqual(c.unchanged, N - CHANGED, `${what} unchanged`);
  assertEqual(c.created + c.removed + c.deactivated + c.rejected, 0, `${what} created/removed/deactivated/rejected`);
  let live = 0;
  let senior = 0;
  const records = SourceRecord.collection.find(
    { connectionId: run.connectionId },
    { projection: { _id: 0, deleted: 1, 'attributes.job_title': 1 }, batchSize: 10_000 },
  );
  for await (const r of records as AsyncIterable<{ deleted?: boolean; attributes?: { job_title?: string } }>) {
    if (r.deleted) continue;
    live++;
    if (r.attributes?.job_title?.startsWith('Senior ')) senior++;
  }
  assertEqual(live, N, `${what} live source records`);
  assertEqual(senior, CHANGED, `${what} changed source records`);
  let active = 0;
  const recipients = Recipient.collection.find({ orgId }, { projection: { _id: 0, status: 1 }, batchSize: 10_000 });
  for await (const r of recipients as AsyncIterable<{ status?: string }>) if (r.status === 'active') active++;
  assertEqual(active, N, `${what} active recipients`);
}

/**
 * Counts the store commands of one load when `enabled` (the service runs in this process, `--in-process`): per 1,000 rows, by
 * type, and the store's time per 1,000 rows by type (send to reply; FerretDB answers one command at a time). This
 * bench's own run polls (`find:sync_runs`, every 200 ms, then every second) are counted too, on both paths alike.
 * Otherwise it counts nothing and every figure is undefined.
 */
function countCommands(enabled: boolean) {
  const counter = enabled ? new CommandCounter().start() : undefined;
  return {
    end() {
      const commands = counter?.snapshot();
      const storeMs = counter?.storeMs();
      counter?.stop();
      const per1000 = (n: number) => round((n / N) * 1000, 2);
      return {
        commandsPer1000: commands && per1000(commands.total),
        commandsByType: commands && Object.fromEntries(Object.entries(commands.byType).map(([k, v]) => [k, per1000(v)])),
        storeMs: storeMs && per1000(Object.values(storeMs).reduce((a, b) => a + b, 0)),
        storeMsByType: storeMs && Object.fromEntries(Object.entries(storeMs).map(([k, v]) => [k, per1000(v)])),
      };
    },
  };
}

/** The service under test: in its own process (the default, as deployed) or inside this one (`--in-process`). */
interface ServiceUnderTest {
  httpPort: number;
  sftpPort: number;
  /** Peak resident memory of the service so far (the service process's VmHWM, or this process's sampled peak). */
  peakRssBytes(): number;
  /** Peak V8 heap in use (sampled). */
  peakHeapUsedBytes(): number;
  /** Whether this process sees the service's store commands (only in-process). */
  countsCommands: boolean;
  close(): Promise<void>;
}

function serviceEnv(uri: string, dir: string, httpPort: number, sftpPort: number): Record<string, string> {
  return {
    MONGODB_URI: uri,
    HTTP_PORT: String(httpPort),
    SFTP_PORT: String(sftpPort),
    SFTP_HOST: '127.0.0.1',
    HTTP_HOST: '127.0.0.1',
    PUBLIC_URL: 'http://localhost',
    SFTP_HOST_KEY: join(dir, 'host_key'),
    SECRET_KEY: 'bench-secret-key-0123456789',
    SECRET_KEY_FILE: join(dir, 'secret'),
    LOG_LEVEL: 'warn',
    MAX_UPLOAD_BYTES: String(4 * 1024 ** 3),
  };
}

/** One line of /proc/PID/status in bytes (VmRSS, VmHWM). */
function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** `audience-sync serve` (all roles: http, sftp, worker) in a child process, as an operator runs it. */
async function startServiceProcess(uri: string, dir: string): Promise<ServiceUnderTest> {
  const httpPort = await freePort();
  const sftpPort = await freePort();
  const cli = join(__dirname, '..', 'src', 'cli', 'main.js');
  // As deployed: `npm start`'s and the Dockerfile's node flags (README, Memory).
  const child = spawn(process.execPath, [...serviceNodeArgs(), cli, 'serve'], {
    env: { ...process.env, ...serviceEnv(uri, dir, httpPort, sftpPort) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the service did not become ready within 60 s');
    }
    const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // The V8 heap in use, from the service's own /metrics (prom-client's default metrics), every 2 s.
  let heapPeak = 0;
  const heapTimer = setInterval(() => {
    fetch(`http://127.0.0.1:${httpPort}/metrics`)
      .then((r) => r.text())
      .then((t) => {
        const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m.exec(t);
        if (m) heapPeak = Math.max(heapPeak, Number(m[1]));
      })
      .catch(() => undefined);
  }, 2000);
  heapTimer.unref();
  let hwm = 0;
  const peakRssBytes = () => {
    if (child.exitCode === null) hwm = Math.max(hwm, procStatusBytes(child.pid!, 'VmHWM'));
    return hwm;
  };
  return {
    httpPort,
    sftpPort,
    peakRssBytes,
    peakHeapUsedBytes: () => heapPeak,
    countsCommands: false,
    close: async () => {
      clearInterval(heapTimer);
      peakRssBytes();
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** The SFTP server, the file queue and the API inside this process (its store commands are counted; RSS is shared). */
async function startServiceInProcess(uri: string, dir: string): Promise<ServiceUnderTest> {
  const mem = startMemorySampler();
  const logger = createLogger('warn');
  const queue = startFileQueue({ logger, pollMs: 200 });
  const server = await startSftpServer({
    port: 0,
    host: '127.0.0.1',
    hostKeyPath: join(dir, 'host_key'),
    logger,
    onQueued: () => queue.poke(),
  });
  const app = createApp({ config: loadConfig(serviceEnv(uri, dir, 0, 0)), logger });
  const http = app.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return {
    httpPort: (http.address() as AddressInfo).port,
    sftpPort: server.port,
    peakRssBytes: () => mem.peaks().rssBytes,
    peakHeapUsedBytes: () => mem.peaks().heapUsedBytes,
    countsCommands: true,
    close: async () => {
      mem.stop();
      await server.close();
      await queue.stop();
      http.close();
    },
  };
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (npm run bench:sftp starts a local store)');
  const url = new URL(base);
  url.pathname = `/bench_sftp_${Date.now().toString(36)}`;
  await connectStore(url.toString(), { monitorCommands: IN_PROCESS });
  const benchMem = startMemorySampler();
  const dir = mkdtempSync(join(tmpdir(), 'bench-sftp-'));
  const service = IN_PROCESS ? await startServiceInProcess(url.toString(), dir) : await startServiceProcess(url.toString(), dir);
  const httpPort = service.httpPort;
  try {
    const pair = generateEd25519KeyPair('bench');
    const keyPath = join(dir, 'id_ed25519');
    writeFileSync(keyPath, pair.private);
    chmodSync(keyPath, 0o600);
    const store = storeCapabilities().ferretdb ? 'ferretdb' : 'mongodb';
    log(`store ${store} ${storeCapabilities().serverVersion}, ${N} rows, ${REPS} repetitions`);
    const files = { first: join(dir, 'people-first.csv'), second: join(dir, 'people-second.csv') };
    const bytes = { first: await writeCsv(files.first, () => false), second: await writeCsv(files.second, changedRow) };
    log(`files ${round(bytes.first / MB)} MB, ${round(bytes.second / MB)} MB`);

    type Sample = { uploadMBps: number; sftpRowsPerSec: number; sftpSpanRowsPerSec: number; apiRowsPerSec: number; rawRowsPerSec: number };
    const samples: Record<'first' | 'second', Sample[]> = { first: [], second: [] };
    for (let rep = 1; rep <= REPS; rep++) {
      const apiFirst = rep % 2 === 0;
      const orgA = await createOrganization(`bench sftp ${rep}`);
      const orgB = await createOrganization(`bench api ${rep}`);
      const sftpConn = await createConnection(
        { orgId: orgA.id, type: 'sftp', publicKeys: [pair.public] },
        { publicUrl: 'http://localhost', secretKey: 'x'.repeat(16) },
      );
      const csvConn = await createConnection({ orgId: orgB.id, type: 'csv' }, { publicUrl: 'http://localhost', secretKey: 'x'.repeat(16) });
      const token = (await createApiToken(orgB.id, 'admin', [], 'bench')).token;
      let scratch: { sources: string; recipients: string } | undefined;
      for (const phase of PHASES) {
        const file = files[phase];
        const name = `people-${phase}.csv`;
        const viaSftp = async () => {
          const t0 = performance.now();
          await sftpPut(service.sftpPort, sftpConn.username!, keyPath, file, `/inbox/full/${name}`);
          const t1 = performance.now();
          // Store commands of the processing, when the service runs in this process (the file queue's claim and reads,
          // the check pass's and the ingest's GridFS reads, the merge, the result file; also this bench's run polls,
          // find:sync_runs every 200 ms).
          const counter = countCommands(service.countsCommands);
          const run = await waitRun({ connectionId: sftpConn.id, label: name });
          const t2 = performance.now();
          const profile = counter.end();
          log(`rep ${rep} ${phase}: sftp upload ${round((t1 - t0) / 1000)} s, processing ${round((t2 - t1) / 1000)} s (${run.status})`);
          await checkLoad(phase, 'sftp', run, orgA.id);
          return { uploadMs: t1 - t0, processMs: t2 - t1, spanMs: t2 - t0, ...profile };
        };
        const viaApi = async () => {
          const a0 = performance.now();
          // Counted from the upload on: the route spools the file, checks it and starts the run's job.
          const counter = countCommands(service.countsCommands);
          const apiRunId = await apiUpload(httpPort, token, csvConn.id, file);
          const run = await waitRun({ _id: apiRunId });
          const a1 = performance.now();
          const profile = counter.end();
          log(`rep ${rep} ${phase}: api ${round((a1 - a0) / 1000)} s (${run.status})`);
          await checkLoad(phase, 'api', run, orgB.id);
          return { spanMs: a1 - a0, ...profile };
        };
        let sf: Awaited<ReturnType<typeof viaSftp>>;
        let ap: Awaited<ReturnType<typeof viaApi>>;
        if (SFTP_ONLY) {
          sf = await viaSftp();
          emit({
            bench: 'sftp',
            sftpOnly: true,
            rep,
            phase,
            rows: N,
            uploadMBps: round(bytes[phase] / MB / (sf.uploadMs / 1000), 2),
            sftpRowsPerSec: Math.round(N / (sf.processMs / 1000)),
            sftpCommandsPer1000: sf.commandsPer1000,
            sftpCommandsPer1000ByType: sf.commandsByType,
            sftpStoreMsPer1000: sf.storeMs,
            sftpStoreMsPer1000ByType: sf.storeMsByType,
            checked: true,
            service: IN_PROCESS ? 'in-process' : 'own-process',
            peakRssMB: round(service.peakRssBytes() / MB),
            peakHeapUsedMB: round(service.peakHeapUsedBytes() / MB),
          });
          continue;
        } else if (apiFirst) {
          ap = await viaApi();
          sf = await viaSftp();
        } else {
          sf = await viaSftp();
          ap = await viaApi();
        }
        let raw: number;
        if (phase === 'first') {
          const r = await rawInserts(sftpConn.id);
          scratch = r;
          raw = r.rate;
        } else raw = await rawSecondFile(scratch!);
        const sample: Sample = {
          uploadMBps: bytes[phase] / MB / (sf.uploadMs / 1000),
          sftpRowsPerSec: N / (sf.processMs / 1000),
          sftpSpanRowsPerSec: N / (sf.spanMs / 1000),
          apiRowsPerSec: N / (ap.spanMs / 1000),
          rawRowsPerSec: raw,
        };
        samples[phase].push(sample);
        emit({
          bench: 'sftp',
          rep,
          phase,
          order: apiFirst ? 'api-first' : 'sftp-first',
          rows: N,
          fileMB: round(bytes[phase] / MB),
          store,
          uploadMBps: round(sample.uploadMBps, 2),
          sftpRowsPerSec: Math.round(sample.sftpRowsPerSec),
          sftpSpanRowsPerSec: Math.round(sample.sftpSpanRowsPerSec),
          apiRowsPerSec: Math.round(sample.apiRowsPerSec),
          rawRowsPerSec: Math.round(raw),
          rawRows: RAW_ROWS,
          sftpCommandsPer1000: sf.commandsPer1000,
          sftpCommandsPer1000ByType: sf.commandsByType,
          sftpStoreMsPer1000: sf.storeMs,
          sftpStoreMsPer1000ByType: sf.storeMsByType,
          apiCommandsPer1000: ap.commandsPer1000,
          apiCommandsPer1000ByType: ap.commandsByType,
          apiStoreMsPer1000: ap.storeMs,
          apiStoreMsPer1000ByType: ap.storeMsByType,
          sftpVsApi: round(sample.sftpSpanRowsPerSec / sample.apiRowsPerSec, 3),
          sftpVsRaw: round(sample.sftpRowsPerSec / raw, 3),
          checked: true,
          service: IN_PROCESS ? 'in-process' : 'own-process',
          peakRssMB: round(service.peakRssBytes() / MB),
          peakHeapUsedMB: round(service.peakHeapUsedBytes() / MB),
          benchPeakRssMB: IN_PROCESS ? undefined : round(benchMem.peaks().rssBytes / MB),
        });
      }
    }
    const peakRss = service.peakRssBytes();
    if (SFTP_ONLY) return;
    const med = (phase: 'first' | 'second', k: keyof Sample) => median(samples[phase].map((x) => x[k]));
    const summary = (phase: 'first' | 'second') => ({
      uploadMBps: round(med(phase, 'uploadMBps'), 2),
      sftpRowsPerSec: Math.round(med(phase, 'sftpRowsPerSec')),
      sftpSpanRowsPerSec: Math.round(med(phase, 'sftpSpanRowsPerSec')),
      apiRowsPerSec: Math.round(med(phase, 'apiRowsPerSec')),
      rawRowsPerSec: Math.round(med(phase, 'rawRowsPerSec')),
      sftpVsApi: round(med(phase, 'sftpSpanRowsPerSec') / med(phase, 'apiRowsPerSec'), 3),
      sftpVsRaw: round(med(phase, 'sftpRowsPerSec') / med(phase, 'rawRowsPerSec'), 3),
    });
    const first = summary('first');
    const second = FIRST_ONLY ? null : summary('second');
    const withinApi = (r: number) => Math.abs(1 - r) <= 1 - TARGETS.sftpVsApi;
    emit({
      bench: 'sftp',
      summary: true,
      rows: N,
      reps: REPS,
      medians: { first, second },
      service: IN_PROCESS ? 'in-process' : 'own-process',
      peakRssMB: round(peakRss / MB),
      peakHeapUsedMB: round(service.peakHeapUsedBytes() / MB),
      benchPeakRssMB: IN_PROCESS ? undefined : round(benchMem.stop().rssBytes / MB),
      targets: TARGETS,
      met: {
        sftpVsApi: withinApi(first.sftpVsApi) && (second === null || withinApi(second.sftpVsApi)),
        firstVsRaw: first.sftpVsRaw >= TARGETS.firstVsRaw,
        secondVsRaw: second === null ? null : second.sftpVsRaw >= TARGETS.secondVsRaw,
        peakRss: peakRss / MB < TARGETS.peakRssMB,
      },
    });
  } finally {
    await service.close();
    if (!KEEP) await mongoose.connection.db?.dropDatabase().catch(() => undefined);
    await disconnectStore();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench:sftp failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
