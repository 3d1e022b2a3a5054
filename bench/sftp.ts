/**
 * bench/sftp — a large CSV dropped over SFTP (the OpenSSH client) versus the same file through the API upload path and
 * versus the raw rate of the same store for the minimal work the file needs (issue 13).
 *
 *   npm run bench:sftp -- --rows 20000          # local FerretDB under .data/bench
 *   MONGODB_URI=mongodb://host/db npm run bench:sftp -- --rows 1000000
 *
 * One process runs the SFTP server, the file queue and the API (loopback only); one fresh database (dropped at the end):
 *   1. first file: N rows (~200 bytes each) into an empty sftp connection (`put` with OpenSSH's sftp): upload MB/s
 *      (client start to exit: the CLOSE is answered once the bytes are in GridFS), processing rows/s (upload end to
 *      the run's end); the same file into an empty csv connection of another organization through
 *      `POST /api/v1/connections/{id}/uploads` (request start to the run's end);
 *   2. second full file, 10 % of the rows changed, into both connections;
 *   3. raw rates, same store, same run: first file = one source-record insert + one recipient insert per row
 *      (insertMany, batches of 1000, documents copied from what the load stored); second file = per batch of 1000 one
 *      read of the batch's source records and recipients by _id, then an update of each changed one.
 * Peak RSS of this process (server, queue, API) is sampled throughout. Progress on stderr; JSON lines on stdout.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { utils } from 'ssh2';
import { writeFileSync, chmodSync } from 'node:fs';
import { loadConfig } from '../src/config/config';
import { startFileQueue } from '../src/csv';
import { createApp } from '../src/server/app';
import { createLogger } from '../src/server/logger';
import { startSftpServer } from '../src/sftp';
import {
  connectStore,
  createApiToken,
  createConnection,
  createOrganization,
  disconnectStore,
  storeCapabilities,
  type SyncRunDoc,
} from '../src/store';
// The benchmark seeds and counts through the raw models: it measures the store itself beside the service.
import { Recipient, SourceRecord, SyncRun } from '../src/store/models';
import { argValue, MB, parseCount, round, startMemorySampler } from './lib/stats';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'rows') ?? process.env.BENCH_ROWS) ?? 1_000_000;
const RAW_ROWS = Math.min(N, parseCount(argValue(argv, 'raw-rows')) ?? 20_000);
const BATCH = 1000;
const KEEP = argv.includes('--keep');
/** Which path loads each file first (on FerretDB a later load into the same database runs slower: its collections are bigger). */
const API_FIRST = argv.includes('--api-first');
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
  for (;;) {
    const run = (await SyncRun.findOne(filter).sort({ _id: -1 }).lean().exec()) as SyncRunDoc | null;
    if (run && !['queued', 'running'].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 200));
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

/** Raw first-load rate: one source-record and one recipient insert per row, in batches, copying stored documents. */
async function rawInserts(connectionId: string): Promise<number> {
  const db = mongoose.connection.db!;
  const src = (await SourceRecord.findOne({ connectionId }).lean().exec()) as unknown as Record<string, unknown>;
  const rec = (await Recipient.findOne({}).lean().exec()) as unknown as Record<string, unknown>;
  const a = db.collection<Record<string, unknown>>('bench_raw_sources');
  const b = db.collection<Record<string, unknown>>('bench_raw_recipients');
  const t = performance.now();
  for (let s = 0; s < RAW_ROWS; s += BATCH) {
    const n = Math.min(BATCH, RAW_ROWS - s);
    await a.insertMany(Array.from({ length: n }, (_, k) => ({ ...src, _id: `raw-s-${s + k}`, key: `raw-${s + k}` })) as never[], {
      ordered: false,
    });
    await b.insertMany(
      Array.from({ length: n }, (_, k) => ({ ...rec, _id: `raw-r-${s + k}`, email: `raw${s + k}@x.example` })) as never[],
      { ordered: false },
    );
  }
  return RAW_ROWS / ((performance.now() - t) / 1000);
}

/** Raw second-file rate: per batch, read the batch's records of both kinds by _id; update the changed 10 %. */
async function rawReadsAndUpdates(): Promise<number> {
  const db = mongoose.connection.db!;
  const a = db.collection<Record<string, unknown>>('bench_raw_sources');
  const b = db.collection<Record<string, unknown>>('bench_raw_recipients');
  const t = performance.now();
  for (let s = 0; s < RAW_ROWS; s += BATCH) {
    const ids = Array.from({ length: Math.min(BATCH, RAW_ROWS - s) }, (_, k) => s + k);
    await a.find({ _id: { $in: ids.map((i) => `raw-s-${i}`) } as never }).toArray();
    await b.find({ _id: { $in: ids.map((i) => `raw-r-${i}`) } as never }).toArray();
    const changed = ids.filter((i) => i % 10 === 0);
    if (changed.length) {
      const set = { $set: { 'attributes.department_name': 'Changed', updatedAt: new Date() } };
      await a.updateMany({ _id: { $in: changed.map((i) => `raw-s-${i}`) } } as never, set);
      await b.updateMany({ _id: { $in: changed.map((i) => `raw-r-${i}`) } } as never, set);
    }
  }
  return RAW_ROWS / ((performance.now() - t) / 1000);
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (npm run bench:sftp starts a local store)');
  const url = new URL(base);
  url.pathname = `/bench_sftp_${Date.now().toString(36)}`;
  await connectStore(url.toString());
  const mem = startMemorySampler();
  const dir = mkdtempSync(join(tmpdir(), 'bench-sftp-'));
  const logger = createLogger('warn');
  const queue = startFileQueue({ logger, pollMs: 200 });
  const server = await startSftpServer({
    port: 0,
    host: '127.0.0.1',
    hostKeyPath: join(dir, 'host_key'),
    logger,
    onQueued: () => queue.poke(),
  });
  const app = createApp({
    config: loadConfig({
      MONGODB_URI: url.toString(),
      HTTP_PORT: '0',
      SFTP_PORT: '0',
      PUBLIC_URL: 'http://localhost',
      SFTP_HOST_KEY: join(dir, 'host_key'),
      SECRET_KEY: 'bench-secret-key-0123456789',
      SECRET_KEY_FILE: join(dir, 'secret'),
      LOG_LEVEL: 'warn',
      MAX_UPLOAD_BYTES: String(4 * 1024 ** 3),
    }),
    logger,
  });
  const http = app.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const httpPort = (http.address() as AddressInfo).port;
  try {
    const pair = utils.generateKeyPairSync('ed25519');
    const keyPath = join(dir, 'id_ed25519');
    writeFileSync(keyPath, pair.private);
    chmodSync(keyPath, 0o600);
    const orgA = await createOrganization('bench sftp');
    const orgB = await createOrganization('bench api');
    const sftpConn = await createConnection(
      { orgId: orgA.id, type: 'sftp', publicKeys: [pair.public] },
      { publicUrl: 'http://localhost', secretKey: 'x'.repeat(16) },
    );
    const csvConn = await createConnection({ orgId: orgB.id, type: 'csv' }, { publicUrl: 'http://localhost', secretKey: 'x'.repeat(16) });
    const token = (await createApiToken(orgB.id, 'admin', [], 'bench')).token;
    log(`store ${storeCapabilities().ferretdb ? 'FerretDB' : 'MongoDB'} ${storeCapabilities().serverVersion}, ${N} rows`);

    const results: Record<string, unknown>[] = [];
    for (const [phase, changed] of [
      ['first', () => false],
      ['second', (i: number) => i % 10 === 0],
    ] as const) {
      const file = join(dir, `people-${phase}.csv`);
      const bytes = await writeCsv(file, changed);
      log(`${phase}: file ${round(bytes / MB)} MB`);
      const viaSftp = async () => {
        const t0 = performance.now();
        await sftpPut(server.port, sftpConn.username!, keyPath, file, `/inbox/full/people-${phase}.csv`);
        const t1 = performance.now();
        const run = await waitRun({ connectionId: sftpConn.id, label: `people-${phase}.csv` });
        const t2 = performance.now();
        log(`${phase}: sftp upload ${round((t1 - t0) / 1000)} s, processing ${round((t2 - t1) / 1000)} s (${run.status})`);
        return { run, uploadMs: t1 - t0, processMs: t2 - t1 };
      };
      const viaApi = async () => {
        const a0 = performance.now();
        const apiRunId = await apiUpload(httpPort, token, csvConn.id, file);
        const run = await waitRun({ _id: apiRunId });
        const a1 = performance.now();
        log(`${phase}: api ${round((a1 - a0) / 1000)} s (${run.status})`);
        return { run, ms: a1 - a0 };
      };
      let s: Awaited<ReturnType<typeof viaSftp>>;
      let a: Awaited<ReturnType<typeof viaApi>>;
      if (API_FIRST) {
        a = await viaApi();
        s = await viaSftp();
      } else {
        s = await viaSftp();
        a = await viaApi();
      }
      const sftpRun = s.run;
      const apiRun = a.run;
      const t0 = 0;
      const t1 = s.uploadMs;
      const t2 = s.uploadMs + s.processMs;
      const a0 = 0;
      const a1 = a.ms;
      const raw = phase === 'first' ? await rawInserts(sftpConn.id) : await rawReadsAndUpdates();
      const sftpRate = N / ((t2 - t1) / 1000);
      const apiRate = N / ((a1 - a0) / 1000);
      const r = {
        bench: 'sftp',
        phase,
        order: API_FIRST ? 'api-first' : 'sftp-first',
        rows: N,
        fileMB: round(bytes / MB),
        store: storeCapabilities().ferretdb ? 'ferretdb' : 'mongodb',
        uploadMBps: round(bytes / MB / ((t1 - t0) / 1000), 2),
        sftpRowsPerSec: Math.round(sftpRate),
        apiRowsPerSec: Math.round(apiRate),
        rawRowsPerSec: Math.round(raw),
        rawRows: RAW_ROWS,
        sftpVsApi: round(sftpRate / apiRate, 3),
        sftpVsRaw: round(sftpRate / raw, 3),
        sftpStatus: sftpRun.status,
        apiStatus: apiRun.status,
        sftpCounts: sftpRun.counts,
        apiCounts: apiRun.counts,
        peakRssMB: round(mem.peaks().rssBytes / MB),
      };
      emit(r);
      results.push(r);
      rmSync(file, { force: true });
    }
    const peak = mem.stop();
    const first = results[0]!;
    const second = results[1]!;
    emit({
      bench: 'sftp',
      summary: true,
      rows: N,
      peakRssMB: round(peak.rssBytes / MB),
      targets: TARGETS,
      met: {
        sftpVsApi: Number(first.sftpVsApi) >= TARGETS.sftpVsApi && Number(second.sftpVsApi) >= TARGETS.sftpVsApi,
        firstVsRaw: Number(first.sftpVsRaw) >= TARGETS.firstVsRaw,
        secondVsRaw: Number(second.sftpVsRaw) >= TARGETS.secondVsRaw,
        peakRss: peak.rssBytes / MB < TARGETS.peakRssMB,
      },
    });
  } finally {
    await server.close();
    await queue.stop();
    http.close();
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
