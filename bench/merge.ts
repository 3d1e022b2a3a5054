/**
 * bench/merge — merge throughput and peak memory versus the raw bulk-insert rate of the same store (issue 2).
 *
 *   npm run bench:merge -- --records 100000          # local FerretDB under .data/bench
 *   MONGODB_URI=mongodb://host/db npm run bench:merge # an existing MongoDB-compatible server
 *
 * One run, one fresh database (bench_<timestamp>, dropped at the end):
 *   1. raw insert: insertMany of plain documents shaped like source records (same fields and size), batches of 1000,
 *      into a scratch collection; several samples (before the merge, between connections, after), median reported;
 *   2. merge: three connections (hris, scim, csv) receive N upsert changes in batches of 1000 through
 *      applySourceChanges; about 60 % of the N records carry distinct emails, so the second and third connections
 *      update recipients the first one created.
 * Progress goes to stderr; one JSON line goes to stdout at the end.
 *
 * Options (flags win over environment):
 *   --records N        total source records (BENCH_RECORDS, default 1,000,000)
 *   --batch N          changes per applySourceChanges call (BENCH_BATCH, default 1000)
 *   --raw-docs N       documents per raw-insert sample (BENCH_RAW_DOCS, default 20,000)
 *   --raw-samples N    raw-insert samples (BENCH_RAW_SAMPLES, default 3)
 *   --max-seconds S    stop merging after S seconds and report what was merged (BENCH_MAX_SECONDS; default none)
 *   --trace FILE       write one CSV line per merge batch (connection, batch, ms, recipients before, inserts, updates)
 *   --keep             do not drop the bench database at the end
 */
import { writeFileSync } from 'node:fs';
import { BSON, type AnyBulkWriteOperation } from 'mongodb';
import mongoose from 'mongoose';
import {
  applySourceChanges,
  connectStore,
  countStoreCommands,
  createConnection,
  createOrganization,
  disconnectStore,
  storeCapabilities,
  type ConnectionRef,
  type SourceChange,
} from '../src/store';
import { Recipient, SourceRecord, type StoredRecipient } from '../src/store/models';
import { fromStored, toStored } from '../src/store/recipientDocs';
import type { Attributes } from '../src/store/attributes';
import { argValue, MB, median, parseCount, round, startMemorySampler } from './lib/stats';

const argv = process.argv.slice(2);
const opt = (flag: string, env: string): string | undefined => argValue(argv, flag) ?? process.env[env];

const N = parseCount(opt('records', 'BENCH_RECORDS')) ?? 1_000_000;
const BATCH = parseCount(opt('batch', 'BENCH_BATCH')) ?? 1000;
const RAW_DOCS = parseCount(opt('raw-docs', 'BENCH_RAW_DOCS')) ?? 20_000;
const RAW_SAMPLES = parseCount(opt('raw-samples', 'BENCH_RAW_SAMPLES')) ?? 3;
const MAX_SECONDS = parseCount(opt('max-seconds', 'BENCH_MAX_SECONDS'));
const TRACE = argValue(argv, 'trace');
const KEEP = argv.includes('--keep');
const DISTINCT_SHARE = 0.6;
const TARGETS = { ratio: 0.5, peakRssMB: 512 };

function log(msg: string): void {
  process.stderr.write(`bench:merge ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// The population: three connections, ~60 % distinct emails.

interface Plan {
  type: 'hris' | 'scim' | 'csv';
  records: number;
  /** Records of this connection whose email no earlier connection has. */
  fresh: number;
  /** Index of this connection's first fresh email. */
  freshBase: number;
  /** Emails of earlier connections this one overlaps are drawn from [0, pool). */
  pool: number;
  /** Email index of the j-th overlapping record. */
  overlapEmail: (j: number) => number;
}

function planPopulation(n: number): { plans: Plan[]; distinct: number } {
  const per = [0, 1, 2].map((i) => Math.floor(n / 3) + (i < n % 3 ? 1 : 0));
  const [nA, nB, nC] = per as [number, number, number];
  const distinct = Math.max(nA, Math.min(n, Math.round(n * DISTINCT_SHARE)));
  const freshTotal = distinct - nA;
  const freshB = Math.min(nB, Math.floor(freshTotal / 2));
  const freshC = Math.min(nC, freshTotal - freshB);
  const overlapB = nB - freshB;
  const overlapC = nC - freshC;
  const poolC = nA + freshB;
  if (overlapB > nA || overlapC > poolC) throw new Error(`cannot plan ${n} records with ${distinct} distinct emails`);
  return {
    distinct: nA + freshB + freshC,
    plans: [
      { type: 'hris', records: nA, fresh: nA, freshBase: 0, pool: 0, overlapEmail: () => 0 },
      // Spread over A's emails.
      {
        type: 'scim',
        records: nB,
        fresh: freshB,
        freshBase: nA,
        pool: nA,
        overlapEmail: (j) => Math.floor((j * nA) / Math.max(1, overlapB)),
      },
      // Spread from the newest (B's fresh) back into A's, so some emails end up with three contributions.
      {
        type: 'csv',
        records: nC,
        fresh: freshC,
        freshBase: poolC,
        pool: poolC,
        overlapEmail: (j) => poolC - 1 - Math.floor((j * poolC) / Math.max(1, overlapC)),
      },
    ],
  };
}

const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Operations', 'Support', 'People', 'Legal'];
const TITLES = ['Engineer', 'Manager', 'Analyst', 'Designer', 'Specialist', 'Director', 'Coordinator'];
const CITIES = ['Lisbon', 'Berlin', 'Toronto', 'Austin', 'Melbourne', 'Nairobi', 'Osaka'];

/** The email index and whether it is fresh, for record j of a connection (fresh and overlapping records interleaved). */
function emailOf(p: Plan, j: number): { idx: number; fresh: boolean } {
  const freshBefore = Math.floor((j * p.fresh) / p.records);
  const fresh = Math.floor(((j + 1) * p.fresh) / p.records) > freshBefore;
  return fresh ? { idx: p.freshBase + freshBefore, fresh } : { idx: p.overlapEmail(j - freshBefore), fresh };
}

function attributesFor(type: Plan['type'], idx: number, j: number): Record<string, unknown> {
  const base: Record<string, unknown> = {
    first_name: `First${idx}`,
    last_name: `Last${idx % 9973}`,
    department_name: DEPARTMENTS[idx % DEPARTMENTS.length],
  };
  if (type === 'scim') return base;
  return {
    ...base,
    employee_id: `E${String(idx).padStart(8, '0')}`,
    job_title: TITLES[(idx + j) % TITLES.length],
    city: CITIES[idx % CITIES.length],
    employment_status: 'active',
    ...(type === 'hris' ? { employment_start_date: '2021-03-01', manager_email: `user${idx >> 4}@example.com` } : {}),
  };
}

function changeFor(p: Plan, j: number): { change: SourceChange; fresh: boolean } {
  const { idx, fresh } = emailOf(p, j);
  const email = p.type === 'scim' ? `User${idx}@Example.com` : `user${idx}@example.com`;
  return { change: { op: 'upsert', key: `${p.type}-${j}`, email, active: true, attributes: attributesFor(p.type, idx, j) }, fresh };
}

// ---------------------------------------------------------------------------------------------------------------
// Raw bulk insert: the same document shape the merge stores for a source record.

function rawDoc(orgId: string, connectionId: string, i: number): Record<string, unknown> {
  const now = new Date();
  const email = `user${i}@example.com`;
  return {
    _id: `${connectionId}:raw-${i}`,
    orgId,
    connectionId,
    connectionType: 'hris',
    key: `raw-${i}`,
    email,
    emailDisplay: email,
    active: true,
    deleted: false,
    statusSeq: Date.now() * 1000 + i,
    attributes: attributesFor('hris', i, i),
    groups: [],
    v: 1,
    createdAt: now,
    updatedAt: now,
  };
}

let rawRun = 0;
async function rawInsertSample(label: string, orgId: string, connectionId: string): Promise<number> {
  const db = mongoose.connection.db!;
  const col = db.collection<Record<string, unknown>>(`bench_raw_insert_${rawRun++}`);
  const t0 = performance.now();
  for (let start = 0; start < RAW_DOCS; start += BATCH) {
    const docs: Record<string, unknown>[] = [];
    for (let i = start; i < Math.min(RAW_DOCS, start + BATCH); i++) docs.push(rawDoc(orgId, connectionId, i));
    await col.insertMany(docs, { ordered: false });
  }
  const secs = (performance.now() - t0) / 1000;
  await col.drop();
  const rate = RAW_DOCS / secs;
  log(`raw insert (${label}): ${RAW_DOCS} docs in ${secs.toFixed(2)} s = ${Math.round(rate)} docs/s`);
  return rate;
}

/**
 * The secondary indexes the product keeps on `from` (as the store created them at connect), created on `to`: raw
 * writes into a collection without them would leave out work every write of the merge pays (on FerretDB v2 with
 * DocumentDB each index costs about as much as the insert itself; FerretDB v1 keeps none).
 */
async function copyIndexes(from: string, to: string): Promise<number> {
  const db = mongoose.connection.db!;
  const specs = (await db.collection(from).indexes()).filter((ix) => ix.name !== '_id_');
  for (const { key, name: _name, v: _v, ns: _ns, ...options } of specs) {
    await db.collection(to).createIndex(key, options);
  }
  return specs.length;
}

/**
 * The minimal writes the merge must make for `RAW_DOCS` records with the bench's mix (issue 15 item 5), batched the way
 * the merge batches them: per batch of 1000 records, one `insertMany` of the source records, one `insertMany` of the
 * recipients of new emails, and the updates of existing recipients as version-checked `replaceOne`s in `bulkWrite`s of
 * the store's statements per command (FerretDB v1: 4; MongoDB: one command), into collections with the product's
 * secondary indexes (`copyIndexes`). The updated recipients are seeded (untimed) first. Returns records/s.
 */
async function rawMinimalWritesSample(label: string, orgId: string, freshShare: number): Promise<number> {
  const db = mongoose.connection.db!;
  const sr = db.collection<Record<string, unknown> & { _id: string }>(`bench_raw_sr_${rawRun}`);
  const rc = db.collection<StoredRecipient>(`bench_raw_rc_${rawRun++}`);
  const indexes = (await copyIndexes('source_records', sr.collectionName)) + (await copyIndexes('recipients', rc.collectionName));
  const recipientDoc = (i: number, v: number) => {
    const a = attributesFor('hris', i, i) as Attributes;
    const email = `user${i}@example.com`;
    const contrib = { sid: `c:raw-${i}`, cid: 'c', ct: 'hris', a: true, d: false, s: 1, e: email, at: a, g: [] };
    // As the merge stores it.
    return toStored({
      _id: `${orgId}:${email}`,
      orgId,
      email,
      emailDisplay: email,
      listed: true,
      status: 'active',
      firstName: a.first_name ?? null,
      lastName: a.last_name ?? null,
      attributes: a,
      groups: [],
      sources: [{ connectionId: 'c', type: 'hris', active: true }],
      contribs: [contrib],
      v,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
  };
  const isFresh = (i: number) => Math.floor((i + 1) * freshShare) > Math.floor(i * freshShare);
  const seed: ReturnType<typeof recipientDoc>[] = [];
  for (let i = 0; i < RAW_DOCS; i++) {
    if (!isFresh(i)) seed.push(recipientDoc(i, 1));
    if (seed.length >= BATCH) await rc.insertMany(seed.splice(0));
  }
  if (seed.length) await rc.insertMany(seed);
  const chunk = storeCapabilities().updatesPerCommand ?? BATCH;
  const t0 = performance.now();
  for (let start = 0; start < RAW_DOCS; start += BATCH) {
    const sources: (Record<string, unknown> & { _id: string })[] = [];
    const inserts: ReturnType<typeof recipientDoc>[] = [];
    const updates: AnyBulkWriteOperation<StoredRecipient>[] = [];
    for (let i = start; i < Math.min(RAW_DOCS, start + BATCH); i++) {
      sources.push(rawDoc(orgId, 'rawconn', i) as Record<string, unknown> & { _id: string });
      if (isFresh(i)) inserts.push(recipientDoc(i, 1));
      else {
        const { _id, ...rest } = recipientDoc(i, 2);
        updates.push({ replaceOne: { filter: { _id, v: 1 }, replacement: rest } });
      }
    }
    await sr.insertMany(sources, { ordered: false });
    if (inserts.length) await rc.insertMany(inserts, { ordered: false });
    for (let i = 0; i < updates.length; i += chunk) await rc.bulkWrite(updates.slice(i, i + chunk), { ordered: false });
  }
  const secs = (performance.now() - t0) / 1000;
  await sr.drop();
  await rc.drop();
  const rate = RAW_DOCS / secs;
  log(
    `raw minimal writes (${label}): ${RAW_DOCS} records (${Math.round(freshShare * 100)} % new emails, ${indexes} secondary indexes) in ${secs.toFixed(2)} s = ${Math.round(rate)} records/s`,
  );
  return rate;
}

/** Bytes a document's own fields hold: strings in UTF-8, 8 per number or date, 1 per boolean, nothing for null. */
function valueBytes(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || v instanceof Date) return 8;
  if (typeof v === 'boolean') return 1;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + valueBytes(x), 0);
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).reduce((n: number, x) => n + valueBytes(x), 0);
  return 0;
}

interface StorageFigure {
  count: number;
  /** The count collStats gave (a statistic on DocumentDB). */
  statisticCount: number;
  /** collStats' data size, index size and storage size, per document (exact count). */
  avgObjBytes: number;
  indexBytesPerDoc: number;
  storageBytesPerDoc: number;
  /** Sampled documents: BSON size, and the bytes of the values of the fields the record holds (see `held`). */
  sampleBsonBytes: number;
  heldValueBytes: number;
  /** (avgObjSize + index bytes per doc) / held value bytes; target ≤ 2. */
  ratio: number;
  /** The held fields as one BSON document of their own (names and values): the least a document store keeps of them. */
  heldFieldBytes: number;
  /** (avgObjSize + index bytes per doc) / held field bytes: the same target read with the fields' names counted. */
  fieldRatio: number;
}

/**
 * Storage per document of a collection (collStats) next to the bytes of the fields a record holds: for a recipient,
 * its email, status, names, merged attributes, groups and the ids of its sources; for a source record, its key, email,
 * active flag, attributes and groups (what the connection said).
 */
async function storageOf(collection: string, held: (d: Record<string, unknown>) => Record<string, unknown>): Promise<StorageFigure> {
  const db = mongoose.connection.db!;
  const st = (await db.command({ collStats: collection })) as {
    count?: number;
    size?: number;
    avgObjSize?: number;
    storageSize?: number;
    totalIndexSize?: number;
  };
  // Per document by the exact count: DocumentDB's collStats count (and so its avgObjSize) is a statistic that lags the
  // table by thousands of rows until PostgreSQL next analyzes it.
  const count = await db.collection(collection).countDocuments({});
  const sample = await db.collection<Record<string, unknown>>(collection).find({}).limit(1000).toArray();
  const bson = sample.reduce((n, d) => n + BSON.calculateObjectSize(d), 0) / Math.max(1, sample.length);
  const helds = sample.map(held);
  const heldBytes = helds.reduce((n, h) => n + valueBytes(h), 0) / Math.max(1, sample.length);
  const fieldBytes = helds.reduce((n, h) => n + BSON.calculateObjectSize(h), 0) / Math.max(1, sample.length);
  const avgObj = st.size !== undefined && count ? st.size / count : (st.avgObjSize ?? 0);
  const indexPerDoc = count ? (st.totalIndexSize ?? 0) / count : 0;
  return {
    count,
    statisticCount: st.count ?? 0,
    avgObjBytes: Math.round(avgObj),
    indexBytesPerDoc: Math.round(indexPerDoc),
    storageBytesPerDoc: count ? Math.round((st.storageSize ?? 0) / count) : 0,
    sampleBsonBytes: Math.round(bson),
    heldValueBytes: Math.round(heldBytes),
    ratio: round((avgObj + indexPerDoc) / Math.max(1, heldBytes), 2),
    heldFieldBytes: Math.round(fieldBytes),
    fieldRatio: round((avgObj + indexPerDoc) / Math.max(1, fieldBytes), 2),
  };
}

// ---------------------------------------------------------------------------------------------------------------

function benchUri(base: string, dbName: string): string {
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  return url.toString();
}

interface ConnStats {
  type: string;
  records: number;
  freshEmails: number;
  existingEmails: number;
  seconds: number;
  perSec: number;
  /** Milliseconds per batch at the start and end of this connection (median of the first and last 5 batches). */
  msPerBatchFirst: number;
  msPerBatchLast: number;
  recipientsAtStart: number;
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (run through `npm run bench:merge`, which starts a local store)');
  const dbName = `bench_${new Date()
    .toISOString()
    .replace(/[-:T.Z]/g, '')
    .slice(0, 14)}_${process.pid}`;
  const mem = startMemorySampler(100);
  const caps = await connectStore(benchUri(base, dbName), { monitorCommands: true });
  const store = caps.engine;
  log(`store ${store} ${caps.serverVersion}, database ${dbName}, ${N} records, batches of ${BATCH}`);

  const { plans, distinct } = planPopulation(N);
  log(`plan: ${plans.map((p) => `${p.type} ${p.records} (${p.fresh} new emails)`).join(', ')}; ${distinct} distinct emails`);

  const env = { publicUrl: 'http://localhost', secretKey: 'bench-secret-key-000000' };
  const org = await createOrganization(`bench ${dbName}`);
  const refs: ConnectionRef[] = [];
  for (const p of plans) {
    const created = await createConnection(
      { orgId: org.id, type: p.type, name: `bench ${p.type}`, ...(p.type === 'hris' ? { accessToken: 'bench-finch-token' } : {}) },
      env,
    );
    refs.push({ _id: created.id, orgId: org.id, type: p.type });
  }

  const trace: string[] = TRACE ? ['connection,batch,ms,recipientsBefore,freshEmails,existingEmails,rssMB'] : [];
  const rawRates: number[] = [];
  const minimalRates: number[] = [];
  const freshShare = distinct / N;
  const sampleRaw = async (label: string) => {
    rawRates.push(await rawInsertSample(label, org.id, 'rawconn'));
    minimalRates.push(await rawMinimalWritesSample(label, org.id, freshShare));
  };
  // Raw-insert samples are spread over the run: before the merge, between connections, after it.
  const rawAt = new Set<number>();
  if (RAW_SAMPLES >= 1) rawAt.add(-1);
  if (RAW_SAMPLES >= 3) rawAt.add(0);
  if (RAW_SAMPLES >= 4) rawAt.add(1);
  const rawAfter = RAW_SAMPLES - rawAt.size;
  if (rawAt.has(-1)) await sampleRaw('before merge');
  // Store commands of the merge alone (the counter pauses while the raw samples run between connections).
  let mergeCommands = countStoreCommands();
  let mergeCommandsTotal = 0;
  const mergeCommandsByName: Record<string, number> = {};
  // By command and collection: how many, and the store's milliseconds (send to reply) for them.
  const mergeCommandsByType: Record<string, { n: number; ms: number }> = {};
  const pauseCommands = () => {
    for (const [k, v] of Object.entries(mergeCommands.byName())) mergeCommandsByName[k] = (mergeCommandsByName[k] ?? 0) + v;
    mergeCommandsTotal += mergeCommands.total();
    const { counts, ms } = mergeCommands.byType();
    for (const [k, n] of Object.entries(counts)) {
      const t = (mergeCommandsByType[k] ??= { n: 0, ms: 0 });
      t.n += n;
      t.ms += Math.round(ms[k] ?? 0);
    }
    mergeCommands.stop();
  };

  const connStats: ConnStats[] = [];
  let mergeSeconds = 0;
  let merged = 0;
  let recipients = 0;
  let conflicts = 0;
  let truncated = false;
  let mergePeaks = { rssBytes: 0, heapUsedBytes: 0 };
  const memNow = () => mem.peaks();

  for (let c = 0; c < plans.length && !truncated; c++) {
    const p = plans[c]!;
    const ref = refs[c]!;
    const batchMs: number[] = [];
    const recipientsAtStart = recipients;
    let fresh = 0;
    let existing = 0;
    let connMerged = 0;
    let lastLog = performance.now();
    const t0 = performance.now();
    log(`merge ${p.type}: ${p.records} records, ${recipients} recipients so far`);
    for (let start = 0; start < p.records; start += BATCH) {
      const changes: SourceChange[] = [];
      let bFresh = 0;
      for (let j = start; j < Math.min(p.records, start + BATCH); j++) {
        const { change, fresh: f } = changeFor(p, j);
        changes.push(change);
        if (f) bFresh++;
      }
      const bt0 = performance.now();
      const results = await applySourceChanges(ref, changes);
      const ms = performance.now() - bt0;
      for (const r of results) if (r.outcome === 'conflict') conflicts++;
      batchMs.push(ms);
      if (TRACE) {
        trace.push(
          [
            p.type,
            batchMs.length,
            ms.toFixed(1),
            recipients,
            bFresh,
            changes.length - bFresh,
            Math.round(process.memoryUsage().rss / MB),
          ].join(','),
        );
      }
      recipients += bFresh;
      fresh += bFresh;
      existing += changes.length - bFresh;
      connMerged += changes.length;
      merged += changes.length;
      const now = performance.now();
      if (now - lastLog > 10_000 || start + BATCH >= p.records) {
        lastLog = now;
        const secs = (now - t0) / 1000;
        const m = process.memoryUsage();
        log(
          `  ${p.type} ${connMerged}/${p.records} in ${secs.toFixed(1)} s (${Math.round(connMerged / secs)}/s; last batch ${Math.round(ms)} ms, ` +
            `${changes.length - bFresh} recipient updates); recipients ${recipients}; rss ${Math.round(m.rss / MB)} MB, heap ${Math.round(m.heapUsed / MB)} MB`,
        );
      }
      if (MAX_SECONDS !== undefined && mergeSeconds + (now - t0) / 1000 > MAX_SECONDS && start + BATCH < p.records) {
        truncated = true;
        log(`  stopping: --max-seconds ${MAX_SECONDS} reached`);
        break;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    mergeSeconds += seconds;
    const head = batchMs.slice(0, 5);
    const tail = batchMs.slice(-5);
    connStats.push({
      type: p.type,
      records: connMerged,
      freshEmails: fresh,
      existingEmails: existing,
      seconds: round(seconds, 2),
      perSec: Math.round(connMerged / seconds),
      msPerBatchFirst: round(median(head)),
      msPerBatchLast: round(median(tail)),
      recipientsAtStart,
    });
    const pk = memNow();
    mergePeaks = {
      rssBytes: Math.max(mergePeaks.rssBytes, pk.rssBytes),
      heapUsedBytes: Math.max(mergePeaks.heapUsedBytes, pk.heapUsedBytes),
    };
    log(`merge ${p.type} done: ${connMerged} in ${seconds.toFixed(1)} s = ${Math.round(connMerged / seconds)}/s`);
    pauseCommands();
    if (c === 0 && rawAt.has(0)) await sampleRaw('after first connection');
    if (c === 1 && rawAt.has(1)) await sampleRaw('after second connection');
    mergeCommands = countStoreCommands();
  }
  const mergePerSec = merged / mergeSeconds;
  // The merge's commands end here: the check and the storage figures below are the bench's own.
  pauseCommands();

  // Check what the merge left: one source record per change, one recipient per distinct email merged.
  // Exact counts (estimatedDocumentCount answers from a statistic that DocumentDB keeps stale).
  const [sourceRecords, recipientDocs] = await Promise.all([SourceRecord.countDocuments({}).exec(), Recipient.countDocuments({}).exec()]);
  log(
    `store holds ${sourceRecords} source records and ${recipientDocs} recipients (expected ${merged} and ${recipients}); ${conflicts} conflicts`,
  );

  const storage = {
    recipient: await storageOf('recipients', (stored) => {
      const d = fromStored(stored as unknown as StoredRecipient);
      // The names are the attributes' first_name and last_name: counted once.
      return {
        email: d.email,
        status: d.status,
        attributes: d.attributes,
        groups: d.groups,
        sources: d.sources.map((x) => x.connectionId),
      };
    }),
    sourceRecord: await storageOf('source_records', (d) => ({
      key: d.key,
      email: d.email,
      active: d.active,
      attributes: d.attributes,
      groups: d.groups,
    })),
  };
  log(`storage per document: ${JSON.stringify(storage)}`);
  for (let i = 0; i < rawAfter; i++) await sampleRaw(`after merge #${i + 1}`);
  const rawInsertPerSec = median(rawRates);
  const rawMinimalPerSec = median(minimalRates);

  if (!KEEP) await mongoose.connection.db!.dropDatabase();
  else log(`kept database ${dbName}`);
  await disconnectStore();
  const peaks = mem.stop();
  if (TRACE) writeFileSync(TRACE, trace.join('\n') + '\n');

  const ratio = mergePerSec / rawInsertPerSec;
  const peakRssMB = peaks.rssBytes / MB;
  const out = {
    bench: 'merge',
    store,
    serverVersion: caps.serverVersion || storeCapabilities().serverVersion,
    records: merged,
    requestedRecords: N,
    truncated,
    distinctEmails: recipients,
    plannedDistinctEmails: distinct,
    batch: BATCH,
    rawInsertPerSec: Math.round(rawInsertPerSec),
    rawInsertSamples: rawRates.map((r) => Math.round(r)),
    rawDocsPerSample: RAW_DOCS,
    mergePerSec: Math.round(mergePerSec),
    mergeSeconds: round(mergeSeconds, 1),
    ratio: round(ratio, 3),
    rawMinimalWritesPerSec: Math.round(rawMinimalPerSec),
    rawMinimalWritesSamples: minimalRates.map((r) => Math.round(r)),
    ratioToMinimalWrites: round(mergePerSec / rawMinimalPerSec, 3),
    commandsPer1000: round((mergeCommandsTotal / Math.max(1, merged)) * 1000, 1),
    commandsByName: mergeCommandsByName,
    commandsByType: mergeCommandsByType,
    storage,
    peakRssMB: round(peakRssMB),
    peakHeapUsedMB: round(peaks.heapUsedBytes / MB),
    mergePeakRssMB: round(mergePeaks.rssBytes / MB),
    connections: connStats,
    check: {
      sourceRecords,
      recipients: recipientDocs,
      conflicts,
      ok: sourceRecords === merged && recipientDocs === recipients && conflicts === 0,
    },
    targets: TARGETS,
    pass: {
      ratio: ratio >= TARGETS.ratio,
      ratioToMinimalWrites: mergePerSec / rawMinimalPerSec >= TARGETS.ratio,
      storage: storage.recipient.ratio <= 2 && storage.sourceRecord.ratio <= 2,
      peakRssMB: peakRssMB < TARGETS.peakRssMB,
      fullScale: merged >= 1_000_000,
    },
    node: process.version,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch(async (err) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  try {
    if (!KEEP) await mongoose.connection.db?.dropDatabase();
    await disconnectStore();
  } catch {
    // already failing
  }
  process.exit(1);
});
