/**
 * bench/audience — resolves an audience of N recipients (default 1,000,000) built from two groups and a segment and
 * streams it as CSV through the Admin API (GET /api/v1/audiences/{id}/recipients, Accept: text/csv), in this process;
 * reports recipients per second and the peak RSS of the process (issue 4: ≥ 50,000/s, < 256 MB).
 *
 *   npm run build && node scripts/local-store.js --data .data/bench -- node dist/bench/audience.js [--count N] [--keep]
 *   MONGODB_URI=mongodb://host:27017/x node dist/bench/audience.js          # an existing MongoDB-compatible server
 *
 * Seeding writes recipient documents directly (this measures reading, not the merge; bench/merge measures that):
 * a third of the people are in group A, a third in group B, a third match the segment `department_name eq "Sales"`,
 * plus 2 % inactive or unmatched people who must not appear. One fresh database, dropped at the end unless --keep.
 * One JSON line on stdout; progress on stderr.
 *
 * `--source memory` streams N generated recipients through the same CSV writer and HTTP response without a store:
 * the ceiling of the API's own pipeline, to tell it apart from the store's read rate (FerretDB v1 reads ~3,000
 * documents/s on this machine, far below the target, whatever the query).
 */
import { execFileSync } from 'node:child_process';
import { get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mongoose from 'mongoose';
import express from 'express';
import { streamCsv } from '../src/api/csvExport';
import { createApp } from '../src/server/app';
import { createLogger } from '../src/server/logger';
import { audienceQuery, connectStore, createApiToken, createOrganization, disconnectStore, newId, recipientId } from '../src/store';
import { Audience, Group, Recipient, Segment, type RecipientDoc } from '../src/store/models';
import { toStored } from '../src/store/recipientDocs';
import type { Config } from '../src/config/config';
import { argValue, median, parseCount } from './lib/stats';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'count') ?? process.env.BENCH_COUNT) ?? 1_000_000;
const KEEP = argv.includes('--keep');
const SOURCE = argValue(argv, 'source') ?? 'store';
const SEED_BATCH = 5000;
const MB = 1024 * 1024;

function log(msg: string): void {
  process.stderr.write(`bench:audience ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

function person(orgId: string, i: number, groupA: string, groupB: string, now: Date, included: boolean) {
  const email = `person${i}@bench.example.com`;
  const kind = i % 3;
  const attributes: Record<string, string> = {
    first_name: `First${i}`,
    last_name: `Last${i}`,
    employee_id: `E${i}`,
    job_title: 'Engineer',
    department_name: included && kind === 2 ? 'Sales' : 'Engineering',
    country: 'US',
    city: 'Springfield',
  };
  const groups = included && kind === 0 ? [groupA] : included && kind === 1 ? [groupB] : [];
  const contribs = [{ sid: `bench:${email}`, cid: 'bench', ct: 'csv', a: included, d: false, s: 1, e: email, at: attributes, g: groups }];
  const doc: RecipientDoc = {
    _id: recipientId(orgId, email),
    orgId,
    email,
    emailDisplay: email,
    listed: true,
    status: included ? 'active' : 'inactive',
    firstName: attributes.first_name!,
    lastName: attributes.last_name!,
    attributes,
    groups,
    sources: [{ connectionId: 'bench', type: 'csv', active: included }],
    contribs,
    v: 1,
    createdAt: now,
    updatedAt: now,
  };
  return toStored(doc); // as the merge stores it
}

async function seed(orgId: string, groupA: string, groupB: string): Promise<void> {
  const extra = Math.floor(N * 0.02);
  const now = new Date();
  const started = Date.now();
  for (let i = 0; i < N + extra; i += SEED_BATCH) {
    const docs = [];
    for (let j = i; j < Math.min(i + SEED_BATCH, N + extra); j++) docs.push(person(orgId, j, groupA, groupB, now, j < N));
    await Recipient.collection.insertMany(docs as never[], { ordered: false });
    if ((i / SEED_BATCH) % 20 === 0)
      log(`seeded ${i + docs.length} (${Math.round((i + docs.length) / ((Date.now() - started) / 1000))}/s)`);
  }
}

/** Streams the CSV over HTTP and counts data rows without keeping them. */
function download(port: number, path: string, token: string): Promise<{ rows: number; bytes: number; ms: number; firstByteMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let firstByteMs = -1;
    let newlines = 0;
    let bytes = 0;
    get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${token}`, Accept: 'text/csv' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) firstByteMs = Number(process.hrtime.bigint() - t0) / 1e6;
        bytes += chunk.length;
        for (let k = chunk.indexOf(10); k !== -1; k = chunk.indexOf(10, k + 1)) newlines++;
      });
      res.on('end', () => resolve({ rows: newlines - 1, bytes, ms: Number(process.hrtime.bigint() - t0) / 1e6, firstByteMs }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Peak RSS sampled every 20 ms while `work` runs. */
/** The store's raw rate for the export's reads: the driver's cursor over the same query and projection, counted. */
async function rawScan(query: Record<string, unknown>): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  const cursor = Recipient.collection.find(query, {
    projection: { email: 1, emailDisplay: 1, attributes: 1 },
    batchSize: 2000,
  });
  for await (const doc of cursor) if (doc) n++;
  if (n !== N) throw new Error(`raw scan read ${n} of ${N}`);
  return n / ((performance.now() - t0) / 1000);
}

async function withPeakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  try {
    const value = await work();
    return { value, peakRss: Math.max(peakRss, process.memoryUsage().rss) };
  } finally {
    clearInterval(sampler);
  }
}

function report(
  store: string,
  result: { rows: number; bytes: number; ms: number; firstByteMs: number },
  peakRss: number,
  extra: Record<string, unknown> = {},
) {
  const perSecond = Math.round(result.rows / (result.ms / 1000));
  const out = {
    bench: 'audience',
    source: SOURCE,
    store,
    recipients: result.rows,
    seconds: Math.round(result.ms) / 1000,
    firstByteMs: Math.round(result.firstByteMs),
    recipientsPerSecond: perSecond,
    csvMB: Math.round((result.bytes / MB) * 10) / 10,
    peakRssMB: Math.round((peakRss / MB) * 10) / 10,
    maxRssMB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    ...extra,
    targets: { recipientsPerSecond: 50_000, peakRssMB: 256 },
    pass: perSecond >= 50_000 && peakRss / MB < 256,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

async function* memoryRows(orgId: string) {
  const now = new Date();
  for (let i = 0; i < N; i++) yield person(orgId, i, 'a', 'b', now, true) as never;
}

/** The API's CSV writer and HTTP response on generated rows, no store. */
async function memoryMain(): Promise<void> {
  const app = express();
  app.get('/csv', (_req, res) => {
    void streamCsv(res, memoryRows('org'), 'bench.csv');
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  log(`streaming ${N} generated recipients as CSV`);
  const { value, peakRss } = await withPeakRss(() => download((server.address() as AddressInfo).port, '/csv', 'none'));
  server.close();
  if (value.rows !== N) throw new Error(`expected ${N} rows, got ${value.rows}`);
  report('none (generated rows)', value, peakRss);
}

/** The measured phase: serve the API from this process and stream the audience through it. */
async function streamMain(): Promise<void> {
  const caps = await connectStore(process.env.MONGODB_URI!, { syncIndexes: false });
  try {
    const audienceId = argValue(argv, 'audience')!;
    const token = process.env.BENCH_TOKEN!;
    const config = { PUBLIC_URL: 'http://localhost', SECRET_KEY: 'bench-secret-key-0123456789', MAX_BODY_BYTES: 1_048_576 } as Config;
    const app = createApp({ config, logger: createLogger('silent') });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const t0 = Date.now();
    const doc = await Audience.findOne({ _id: audienceId }).lean().exec();
    const query = await audienceQuery(doc!.orgId, doc!.include, doc!.exclude);
    const resolveMs = Date.now() - t0;
    // Alternating rounds: the raw driver scan of the same query with the export's projection, then the export.
    const rounds = parseCount(argValue(argv, 'rounds')) ?? 2;
    const raw: number[] = [];
    const exports: { value: Awaited<ReturnType<typeof download>>; peakRss: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      raw.push(await rawScan(query));
      log(`round ${r + 1}: raw scan ${Math.round(raw[r]!)} recipients/s; streaming the audience as CSV`);
      exports.push(
        await withPeakRss(() => download((server.address() as AddressInfo).port, `/api/v1/audiences/${audienceId}/recipients`, token)),
      );
      const e = exports[r]!.value;
      if (e.rows !== N) throw new Error(`expected ${N} rows, got ${e.rows}`);
      log(`round ${r + 1}: export ${Math.round(e.rows / (e.ms / 1000))} recipients/s`);
    }
    server.close();
    const sorted = [...exports].sort((a, b) => a.value.ms - b.value.ms);
    const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const rawPerSec = median(raw);
    const exportPerSec = median(exports.map((e) => e.value.rows / (e.value.ms / 1000)));
    report(
      caps.ferretdb ? `FerretDB ${caps.serverVersion}` : `MongoDB ${caps.serverVersion}`,
      mid.value,
      Math.max(...exports.map((e) => e.peakRss)),
      {
        resolveMs,
        exportPerSecondMedian: Math.round(exportPerSec),
        rawScanPerSecond: Math.round(rawPerSec),
        rawScanSamples: raw.map(Math.round),
        exportSamples: exports.map((e) => Math.round(e.value.rows / (e.value.ms / 1000))),
        ratioToRawScan: Math.round((exportPerSec / rawPerSec) * 1000) / 1000,
        ratioTarget: 0.8,
      },
    );
  } finally {
    await disconnectStore();
  }
}

async function main(): Promise<void> {
  if (SOURCE === 'memory') return memoryMain();
  if (argValue(argv, 'phase') === 'stream') return streamMain();
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (run through scripts/local-store.js)');
  const url = new URL(base);
  const dbName = `bench_audience_${Date.now().toString(36)}`;
  url.pathname = `/${dbName}`;
  const caps = await connectStore(url.toString());
  log(`store ${caps.ferretdb ? 'FerretDB' : 'MongoDB'} ${caps.serverVersion}, database ${dbName}, ${N} recipients`);
  try {
    const org = await createOrganization('bench');
    const now = new Date();
    const groupA = newId();
    const groupB = newId();
    for (const [id, name] of [
      [groupA, 'Group A'],
      [groupB, 'Group B'],
    ] as const) {
      await Group.collection.insertOne({
        _id: id,
        orgId: org.id,
        connectionId: 'bench',
        key: name.toLowerCase(),
        displayName: name,
        displayNameLower: name.toLowerCase(),
        externalId: null,
        memberGroups: [],
        v: 1,
        createdAt: now,
        updatedAt: now,
      } as never);
    }
    const segmentId = newId();
    await Segment.create({
      _id: segmentId,
      orgId: org.id,
      name: 'Sales',
      filter: 'department_name eq "Sales"',
      createdAt: now,
      updatedAt: now,
    });
    const audienceId = newId();
    const none = { groups: [], segments: [], recipients: [] };
    await Audience.create({
      _id: audienceId,
      orgId: org.id,
      name: 'Everyone',
      include: { groups: [groupA, groupB], segments: [segmentId], recipients: [] },
      exclude: none,
      createdAt: now,
      updatedAt: now,
    });
    await seed(org.id, groupA, groupB);
    const { token } = await createApiToken(org.id, 'owner');

    // The streaming runs in a fresh process, so its peak RSS is a server's, not the seeder's.
    const childOut = execFileSync(process.execPath, [__filename, '--phase', 'stream', '--count', String(N), '--audience', audienceId], {
      env: { ...process.env, MONGODB_URI: url.toString(), BENCH_TOKEN: token },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    process.stdout.write(childOut);
  } finally {
    if (!KEEP) await mongoose.connection.db?.dropDatabase().catch(() => undefined);
    await disconnectStore();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:audience failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
