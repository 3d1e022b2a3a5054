/**
 * bench/resync — steady-state re-sync (issue 15 item 4): a full snapshot of N people of which 1 % changed, through
 * `SnapshotIngest` (the path HRIS, SFTP and CSV share), next to the raw batched `_id $in` read of the same N source
 * records on the same store, measured alternately in the same run.
 *
 *   npm run bench:resync -- --people 200000 [--runs 3] [--changed 0.01]
 *   MONGODB_URI=mongodb://host/db npm run bench:resync -- --people 1000000
 *
 * One fresh database (dropped at the end). Seeding: N people through applySourceChanges (batches of 1000). Then `runs`
 * rounds of: raw read (find `_id $in` of 1000 ids, over all N source records), then one full snapshot in which a
 * different 1 % of the people have a new city. Medians of the rounds are reported, with store commands per 1,000 rows
 * (driver command monitoring), peak RSS, and exact result checks (countDocuments). One JSON line on stdout.
 */
import mongoose from 'mongoose';
import {
  applySourceChanges,
  connectStore,
  countStoreCommands,
  createConnection,
  createOrganization,
  disconnectStore,
  SnapshotIngest,
  type SourceChange,
  type SyncConnection,
} from '../src/store';
import { liveOfConnection, Recipient, SourceRecord } from '../src/store/models';
import { argValue, MB, median, parseCount, round, startMemorySampler } from './lib/stats';

const argv = process.argv.slice(2);
const N = parseCount(argValue(argv, 'people') ?? process.env.BENCH_PEOPLE) ?? 200_000;
const RUNS = parseCount(argValue(argv, 'runs')) ?? 3;
const CHANGED = Number(argValue(argv, 'changed') ?? '0.01');
const BATCH = 1000;
const KEEP = argv.includes('--keep');
const TARGETS = { ratio: 0.5, peakRssMB: 512 };

function log(msg: string): void {
  process.stderr.write(`bench:resync ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Operations', 'Support', 'People', 'Legal'];
const TITLES = ['Engineer', 'Manager', 'Analyst', 'Designer', 'Specialist', 'Director', 'Coordinator'];
const CITIES = ['Lisbon', 'Berlin', 'Toronto', 'Austin', 'Melbourne', 'Nairobi', 'Osaka'];

/** Person i as round `round` of the snapshot lists them (round 0: as seeded; a changed person moves city). */
function person(i: number, city: string | null): Extract<SourceChange, { op: 'upsert' }> {
  return {
    op: 'upsert',
    key: `e${i}`,
    email: `user${i}@example.com`,
    active: true,
    attributes: {
      employee_id: `E${String(i).padStart(8, '0')}`,
      first_name: `First${i}`,
      last_name: `Last${i % 9973}`,
      department_name: DEPARTMENTS[i % DEPARTMENTS.length],
      job_title: TITLES[i % TITLES.length],
      city: city ?? CITIES[i % CITIES.length],
      employment_status: 'active',
    },
  };
}

const STRIDE = Math.max(1, Math.round(1 / CHANGED));

/** Round r (1-based) moves the people with i % STRIDE === r to `City-r`; they keep it in later rounds. */
function cityIn(r: number, i: number): string | null {
  const k = i % STRIDE;
  return k >= 1 && k <= r ? `City-${k}` : null;
}

function benchUri(base: string, dbName: string): string {
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  return url.toString();
}

async function rawRead(connectionId: string): Promise<{ perSec: number; commands: number }> {
  const col = mongoose.connection.db!.collection<{ _id: string }>('source_records');
  const count = countStoreCommands();
  const t0 = performance.now();
  let read = 0;
  for (let start = 0; start < N; start += BATCH) {
    const ids: string[] = [];
    for (let i = start; i < Math.min(N, start + BATCH); i++) ids.push(`${connectionId}:e${i}`);
    read += (await col.find({ _id: { $in: ids } }).toArray()).length;
  }
  const secs = (performance.now() - t0) / 1000;
  count.stop();
  if (read !== N) throw new Error(`raw read found ${read} of ${N} source records`);
  return { perSec: N / secs, commands: count.total() };
}

async function resync(conn: SyncConnection, r: number) {
  const count = countStoreCommands();
  const t0 = performance.now();
  const ingest = await SnapshotIngest.start(conn, { mode: 'full', source: 'bench' });
  let changed = 0;
  for (let i = 0; i < N; i++) {
    if (i % STRIDE === r % STRIDE) changed++;
    await ingest.add(person(i, cityIn(r, i)), i + 2);
  }
  const staged = (performance.now() - t0) / 1000;
  const run = await ingest.finish();
  const secs = (performance.now() - t0) / 1000;
  count.stop();
  return {
    perSec: N / secs,
    seconds: secs,
    readAndStageSeconds: staged,
    changed,
    run,
    commands: count.byName(),
    commandTotal: count.total(),
  };
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (run through `npm run bench:resync`, which starts a local store)');
  const dbName = `bench_resync_${Date.now().toString(36)}_${process.pid}`;
  const mem = startMemorySampler(100);
  const caps = await connectStore(benchUri(base, dbName), { monitorCommands: true });
  log(`store ${caps.engine} ${caps.serverVersion} (${JSON.stringify(caps)}), database ${dbName}, ${N} people, ${RUNS} rounds`);
  const org = await createOrganization(`bench ${dbName}`);
  const created = await createConnection(
    { orgId: org.id, type: 'csv', name: 'bench csv' },
    { publicUrl: 'http://localhost', secretKey: 'bench-secret-key-000000' },
  );
  const conn: SyncConnection = { _id: created.id, orgId: org.id, type: 'csv' };

  const s0 = performance.now();
  for (let start = 0; start < N; start += BATCH) {
    const batch: SourceChange[] = [];
    for (let i = start; i < Math.min(N, start + BATCH); i++) batch.push(person(i, null));
    await applySourceChanges(conn, batch);
    if ((start / BATCH) % 50 === 0) log(`  seeded ${start + batch.length}/${N}, rss ${Math.round(process.memoryUsage().rss / MB)} MB`);
  }
  log(`seeded ${N} in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  const seededPeak = mem.peaks().rssBytes;

  const raws: { perSec: number; commands: number }[] = [];
  const runs: Awaited<ReturnType<typeof resync>>[] = [];
  const checks: { ok: boolean; detail: string }[] = [];
  for (let r = 1; r <= RUNS; r++) {
    const raw = await rawRead(conn._id);
    raws.push(raw);
    log(`round ${r}: raw $in read ${Math.round(raw.perSec)} records/s (${raw.commands} commands)`);
    const res = await resync(conn, r);
    runs.push(res);
    const c = res.run.counts;
    log(
      `round ${r}: re-sync ${Math.round(res.perSec)} rows/s in ${res.seconds.toFixed(1)} s (read+stage ${res.readAndStageSeconds.toFixed(1)} s), status ${res.run.status}, counts ${JSON.stringify(c)}, ` +
        `${res.commandTotal} commands ${JSON.stringify(res.commands)}, rss peak ${Math.round(mem.peaks().rssBytes / MB)} MB`,
    );
    // Exact checks: every person still a live source record and a listed recipient; the changed people updated.
    const [live, listed, moved] = await Promise.all([
      SourceRecord.countDocuments(liveOfConnection(conn._id)).exec(),
      Recipient.countDocuments({ orgId: org.id, listed: true }).exec(),
      Recipient.countDocuments({ orgId: org.id, 'attributes.city': `City-${r}` }).exec(),
    ]);
    const ok =
      res.run.status === 'succeeded' &&
      c.updated === res.changed &&
      c.unchanged === N - res.changed &&
      c.created === 0 &&
      c.removed === 0 &&
      live === N &&
      listed === N &&
      moved === res.changed;
    checks.push({ ok, detail: `live ${live}, listed ${listed}, moved ${moved}, changed ${res.changed}` });
  }

  if (!KEEP) await mongoose.connection.db!.dropDatabase();
  await disconnectStore();
  const peaks = mem.stop();
  const rawPerSec = median(raws.map((r) => r.perSec));
  const resyncPerSec = median(runs.map((r) => r.perSec));
  const ratio = resyncPerSec / rawPerSec;
  const commandsPer1000 = median(runs.map((r) => (r.commandTotal / N) * 1000));
  const out = {
    bench: 'resync',
    store: caps.engine,
    serverVersion: caps.serverVersion,
    people: N,
    changedShare: CHANGED,
    rounds: RUNS,
    rawInReadPerSec: Math.round(rawPerSec),
    rawSamples: raws.map((r) => Math.round(r.perSec)),
    rawCommandsPer1000: round((median(raws.map((r) => r.commands)) / N) * 1000, 2),
    resyncPerSec: Math.round(resyncPerSec),
    resyncSamples: runs.map((r) => Math.round(r.perSec)),
    readAndStageSeconds: runs.map((r) => round(r.readAndStageSeconds, 1)),
    resyncSeconds: runs.map((r) => round(r.seconds, 1)),
    ratio: round(ratio, 3),
    commandsPer1000: round(commandsPer1000, 2),
    commandsByName: runs.map((r) => r.commands),
    peakRssMB: round(peaks.rssBytes / MB),
    seedPeakRssMB: round(seededPeak / MB),
    check: { ok: checks.every((c) => c.ok), rounds: checks },
    targets: TARGETS,
    pass: { ratio: ratio >= TARGETS.ratio, peakRssMB: peaks.rssBytes / MB < TARGETS.peakRssMB, fullScale: N >= 1_000_000 },
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
