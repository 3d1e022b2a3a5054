/**
 * SCIM load generator (not part of `npm test`): the service on loopback against the local store, driven over HTTP.
 *
 *   npm run build && node scripts/local-store.js --data .data/bench-scim -- node dist/bench/scim.js \
 *     [--users 100000] [--creates 500] [--lookups 2000] [--patches 500] [--concurrency 8] [--in-process] [--commands] \
 *     [--warmup 200]
 *
 * The service runs as its own process (`audience-sync serve --roles http`, as deployed), so that the load generator
 * does not share its event loop; `--in-process` mounts the app in the bench's own process instead.
 *
 * The stored users are seeded through the store (the userName keys and the merge's batched upsert), not over HTTP.
 *
 * Measures creates/s, `userName eq` lookups/s with --users stored, and PATCH `active`/s, each with median and p99
 * latency, next to, measured in the same run:
 * - the raw rate of the same store commands a request sends (the driver alone, no HTTP, no logic): per operation, the
 *   commands counted in this process with the driver's command monitoring (src/store/commandCounter.ts) on an app
 *   mounted here, then sent as such (`raw commands`);
 * - the merge-level equivalents (the merge's upsert; a lookup's key and record read by one `_id $in`).
 * Commands per operation (by type) are in the JSON line (`commands`); with `--commands` the service also counts its own
 * (STORE_COMMAND_METRICS=true, read from its /metrics around each HTTP run: what concurrent requests share), which costs
 * it some CPU, so compare rates from runs without it. Each run reports the CPU per operation of the service, the store
 * server and this load generator.
 */
import { type AddressInfo } from 'node:net';
import { runConcurrent, type LoadStats } from './lib/load';
import { startServiceProcess } from './lib/service';
import { cpuMeter, storeProcesses } from './lib/cpu';
import { LoadClient } from './lib/http';
import { storeCommands, storeCommandsPerOp } from './lib/storeCommands';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createApp } from '../src/server/app';
import {
  applySourceChanges,
  claimLookupKey,
  CommandCounter,
  perOperation,
  type CommandCounts,
  connectStore,
  createConnection,
  createOrganization,
  disconnectStore,
  predictedScimUserId,
  readKeyWithRecord,
  sourceRecordId,
  storedLookupKey,
} from '../src/store';
import { Connection, EventBlock, EventSeq, Recipient, SourceRecord } from '../src/store/models';
import { userNameKey } from '../src/store';
import { loadConfig } from '../src/config/config';

/** The change feed's raw writes for one event: the cursor allocation and one block holding it (src/store/models/event.ts). */
async function rawFeedWrite(orgId: string, type: string): Promise<void> {
  const seq = await EventSeq.collection.findOneAndUpdate(
    { _id: `raw:${orgId}` as never },
    { $inc: { seq: 1 } },
    { upsert: true, returnDocument: 'after' },
  );
  await EventBlock.collection.insertOne({
    _id: `raw:${orgId}:${String(seq?.seq)}:${randomUUID()}`,
    orgId: `raw:${orgId}`,
    seq: Number(seq?.seq),
    n: 1,
    createdAt: new Date(),
    z: Buffer.from(JSON.stringify({ type, data: {} })),
  } as never);
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

interface Stats extends LoadStats {
  label: string;
  /** CPU ms per operation of each process (/proc/PID/stat): the service, the store server, this load generator. */
  cpuMsPerOp: Record<string, number>;
  /** With --commands, the service's store commands per HTTP operation by type (its /metrics). */
  serviceCommandsPerOp?: Record<string, number>;
}

/** The processes whose CPU each run reports (set once the service and the store are known). */
const watched: Record<string, number | (() => number[]) | undefined> = { bench: process.pid };

/** With --commands: the service process's store command counts so far (it runs with STORE_COMMAND_METRICS=true). */
let serviceCommands: (() => Promise<Map<string, number>>) | undefined;

/**
 * Operations run before each measured run, unmeasured (`--warmup`, default 200): the service process has run other
 * operations until then, and a path's first requests after a switch run its code cold (the first second of 2,000
 * lookups had twice the slow requests of the rest). Each warm-up operation is of its own item (index n + j), so the
 * measured ones find the same state (a lookup's user not yet seen by the service, a create's name unused).
 */
const warmup = Math.max(0, Number(arg('warmup', 200)));

async function run(label: string, n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<Stats> {
  await runConcurrent(Math.min(warmup, n), concurrency, (j) => op(n + j));
  const before = label.includes('(HTTP)') ? await serviceCommands?.() : undefined;
  const meter = cpuMeter(watched);
  const stats = await runConcurrent(n, concurrency, op);
  const cpuMsPerOp = Object.fromEntries(Object.entries(meter()).map(([k, ms]) => [k, +(ms / n).toFixed(2)]));
  const serviceCommandsPerOp = before && storeCommandsPerOp(before, await serviceCommands!(), n);
  return { label, ...stats, cpuMsPerOp, ...(serviceCommandsPerOp && { serviceCommandsPerOp }) };
}

async function main(): Promise<void> {
  const users = arg('users', 100_000);
  const creates = arg('creates', 500);
  const lookups = arg('lookups', 2000);
  const patches = arg('patches', 500);
  const concurrency = arg('concurrency', 8);
  const inProcess = process.argv.includes('--in-process');
  const config = { ...loadConfig(), LOG_LEVEL: 'silent' as const, SCIM_RATE_LIMIT_PER_MINUTE: 100_000_000 };
  await connectStore(config.MONGODB_URI, { monitorCommands: true });
  let port: number;
  let stopService: () => Promise<void>;
  if (inProcess) {
    const app = createApp({ config, logger: pino({ level: 'silent' }) });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    port = (server.address() as AddressInfo).port;
    stopService = async () => void server.close();
  } else {
    const countCommands = process.argv.includes('--commands');
    const svc = await startServiceProcess({
      SCIM_RATE_LIMIT_PER_MINUTE: String(config.SCIM_RATE_LIMIT_PER_MINUTE),
      ...(countCommands && { STORE_COMMAND_METRICS: 'true' }),
    });
    port = svc.port;
    if (countCommands) serviceCommands = () => storeCommands(svc.port);
    watched.service = svc.child.pid;
    stopService = async () => {
      svc.child.kill('SIGTERM');
      await new Promise((r) => svc.child.once('exit', r));
    };
  }

  const storePort = new URL(config.MONGODB_URI).port;
  watched.store = storeProcesses(storePort);
  const org = await createOrganization(`bench ${Date.now()}`);
  const created = await createConnection(
    { orgId: org.id, type: 'scim', provider: 'okta' },
    { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY },
  );
  const rawConn = await createConnection(
    { orgId: org.id, type: 'scim', provider: 'generic' },
    { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY },
  );
  const conn = { _id: created.id, orgId: org.id, type: 'scim' };
  const raw = { _id: rawConn.id, orgId: org.id, type: 'scim' };
  const base = `http://127.0.0.1:${port}/scim/v2/${created.id}`;
  const headers = { Authorization: `Bearer ${created.token}`, 'Content-Type': 'application/scim+json' };
  // node:http, not fetch (bench/lib/http.ts): the generator's CPU is taken from the same two cores.
  const client = new LoadClient(concurrency);
  const call = async (method: string, path: string, body?: unknown, expect = 200) => {
    const { status, text } = await client.request(method, base + path, headers, body === undefined ? undefined : JSON.stringify(body));
    if (status !== expect) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  // Seed `users` people straight through the store, the way a SCIM create stores them (userName key, then the merge's
  // upsert, under the id a create derives from the userName), in batches of 1000: one insertMany of keys and one
  // batched merge per batch. Through HTTP, 100,000 creates would take some 25 minutes on a 2-core machine.
  const seedStart = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < users; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, users - i) }, (_, j) => {
      const userName = `seed${i + j}@bench.example`;
      return { key: predictedScimUserId(conn._id, userName) ?? randomUUID(), userName };
    });
    const now = new Date();
    await SourceRecord.collection.insertMany(
      batch.map((b) =>
        storedLookupKey({ _id: userNameKey(conn._id, b.userName), orgId: org.id, connectionId: conn._id, ref: b.key, createdAt: now }),
      ) as never[],
      { ordered: false },
    );
    await applySourceChanges(
      conn,
      batch.map((b) => ({
        op: 'upsert' as const,
        key: b.key,
        email: b.userName,
        active: true,
        raw: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: b.userName, active: true }),
        lookup: { userName: b.userName, active: true },
      })),
    );
    ids.push(...batch.map((b) => b.key));
    if ((i + 1000) % 10_000 === 0) console.error(`seeded ${i + 1000} users in ${((Date.now() - seedStart) / 1000).toFixed(0)} s`);
  }
  const seedSecs = (Date.now() - seedStart) / 1000;

  // Commands per operation, counted on an app mounted in this process (the same code the service process runs).
  const counter = new CommandCounter().start();
  const local = createApp({ config, logger: pino({ level: 'silent' }) }).listen(0, '127.0.0.1');
  await new Promise<void>((r) => local.once('listening', () => r()));
  const localBase = `http://127.0.0.1:${(local.address() as AddressInfo).port}/scim/v2/${created.id}`;
  const localCall = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(localBase + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status}`);
  };
  const countOf = async (n: number, op: (i: number) => Promise<void>): Promise<CommandCounts> => {
    const samples: CommandCounts[] = [];
    await op(-1); // warm (merge settings, audience matchers, the journal slot pool)
    // Each operation with its own feed insert, which lingers behind the response (CommandCounter.measure settles it).
    for (let i = 0; i < n; i++) samples.push((await counter.measure(() => op(i))).counts);
    return perOperation(samples);
  };
  const userBody = (name: string) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: name,
    emails: [{ primary: true, value: name }],
  });
  const commands = {
    create: await countOf(20, (i) => localCall('POST', '/Users', userBody(`count${i}@bench.example`))),
    lookupUnseen: await countOf(20, (i) =>
      localCall('GET', `/Users?filter=${encodeURIComponent(`userName eq "seed${(i + 7) * 13}@bench.example"`)}`),
    ),
    lookupSeen: await countOf(20, (i) => localCall('GET', `/Users?filter=${encodeURIComponent(`userName eq "count${i}@bench.example"`)}`)),
    patch: await countOf(20, (i) =>
      localCall('PATCH', `/Users/${ids[(i + 1) * 17]}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { active: false } }],
      }),
    ),
  };
  local.close();
  counter.stop();
  console.error(`commands per operation: ${JSON.stringify(commands)}`);

  const results: Stats[] = [];
  results.push(
    await run('POST /Users (HTTP)', creates, concurrency, async (i) => {
      await call(
        'POST',
        '/Users',
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: `new${i}@bench.example`,
          emails: [{ primary: true, value: `new${i}@bench.example` }],
        },
        201,
      );
    }),
  );
  results.push(
    await run('merge upsert, one user (store)', creates, concurrency, async (i) => {
      const key = randomUUID();
      await claimLookupKey({ _id: userNameKey(raw._id, `raw${i}@bench.example`), orgId: org.id, connectionId: raw._id }, key);
      await applySourceChanges(raw, [{ op: 'upsert', key, email: `raw${i}@bench.example`, active: true, ifVersion: 0 }]);
    }),
  );
  // The same commands a create sends, by the driver alone: the connection read, the userName key insert, the record
  // write (its journal slot in the same command), the recipient insert, and the change feed's cursor and event.
  const connCol = Connection.collection;
  const srCol = SourceRecord.collection;
  const sample = (await SourceRecord.findOne({ _id: sourceRecordId(conn._id, ids[0]!) })
    .lean()
    .exec())!;
  const sampleRecipient = (await Recipient.findOne({ orgId: org.id }).lean().exec())!;
  // The raw journal slots exist before the concurrent runs (two first upserts of one _id collide), as the service's do.
  for (let w = 0; w < concurrency; w++) {
    await srCol.replaceOne({ _id: `~raw:${w}` as never }, { mj: { orgId: org.id, emails: [], at: new Date() } }, { upsert: true });
  }
  // The raw feed's counter exists before the concurrent runs (a first upsert by several writers at once collides).
  await EventSeq.collection.updateOne({ _id: `raw:${org.id}` as never }, { $setOnInsert: { seq: 0 } }, { upsert: true });
  results.push(
    await run('raw commands of a create (store)', creates, concurrency, async (i) => {
      const key = randomUUID();
      await connCol.findOne({ _id: created.id as never });
      await srCol.insertOne(
        storedLookupKey({ _id: `raw:${key}:key`, orgId: org.id, connectionId: rawConn.id, ref: key, createdAt: new Date() }) as never,
      );
      await srCol.bulkWrite(
        [
          {
            replaceOne: {
              filter: { _id: `~raw:${i % concurrency}` },
              replacement: { mj: { orgId: org.id, emails: [`x${i}`], at: new Date() } },
              upsert: true,
            },
          },
          {
            replaceOne: {
              filter: { _id: `raw:${key}`, v: { $exists: false } },
              replacement: { ...sample, _id: `raw:${key}` } as never,
              upsert: true,
            },
          },
        ] as never,
        { ordered: true },
      );
      await Recipient.collection.insertOne({ ...sampleRecipient, _id: `raw:${key}` } as never);
      await rawFeedWrite(org.id, 'recipient.created');
    }),
  );
  results.push(
    await run('GET /Users?filter=userName eq (HTTP)', lookups, concurrency, async (i) => {
      const name = `seed${(i * 7919) % users}@bench.example`;
      const body = await call('GET', `/Users?filter=${encodeURIComponent(`userName eq "${name.toUpperCase()}"`)}&startIndex=1&count=100`);
      if (body.totalResults !== 1) throw new Error(`lookup of ${name} found ${String(body.totalResults)}`);
    }),
  );
  results.push(
    await run('lookup key + record by _id (store)', lookups, concurrency, async (i) => {
      const name = `seed${(i * 7919) % users}@bench.example`;
      const { key, record } = await readKeyWithRecord(
        userNameKey(conn._id, name),
        sourceRecordId(conn._id, predictedScimUserId(conn._id, name)!),
      );
      if (!key || !record || record.key !== key.ref) throw new Error(`the key and record of ${name} were not read together`);
    }),
  );
  results.push(
    await run('raw commands of a lookup (store)', lookups, concurrency, async (i) => {
      const name = `seed${(i * 7919 + 3) % users}@bench.example`;
      await connCol.findOne({ _id: created.id as never });
      const ids = [userNameKey(conn._id, name), sourceRecordId(conn._id, predictedScimUserId(conn._id, name)!)];
      await srCol.find({ _id: { $in: ids as never[] } }, { batchSize: 3 }).toArray();
    }),
  );
  results.push(
    await run('PATCH active (HTTP)', patches, concurrency, async (i) => {
      await call('PATCH', `/Users/${ids[i % ids.length]}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { active: i % 2 === 1 } }],
      });
    }),
  );
  results.push(
    await run('merge upsert active, existing user (store)', patches, concurrency, async (i) => {
      const key = ids[(i + patches) % ids.length]!;
      const rec = await SourceRecord.findOne({ _id: sourceRecordId(conn._id, key) })
        .lean()
        .exec();
      await applySourceChanges(conn, [
        { op: 'upsert', key, email: rec!.email, active: i % 2 === 1, raw: rec!.raw, lookup: rec!.lookup, ifVersion: rec!.v },
      ]);
    }),
  );

  // The same commands a PATCH sends, by the driver alone: the connection, the record, its write (with the journal slot),
  // the recipient's read and write, and the change feed's cursor and event.
  results.push(
    await run('raw commands of a PATCH (store)', patches, concurrency, async (i) => {
      const id = sourceRecordId(conn._id, ids[(i + 2 * patches) % ids.length]!);
      await connCol.findOne({ _id: created.id as never });
      const rec = await srCol.findOne({ _id: id as never });
      await srCol.bulkWrite(
        [
          {
            replaceOne: {
              filter: { _id: `~raw:${i % concurrency}` },
              replacement: { mj: { orgId: org.id, emails: [`x${i}`], at: new Date() } },
              upsert: true,
            },
          },
          { replaceOne: { filter: { _id: id, v: rec?.v }, replacement: { ...rec, v: Number(rec?.v) + 1 } } },
        ] as never,
        { ordered: true },
      );
      const rid = `${org.id}:${String(rec?.email)}`;
      const r = await Recipient.collection.findOne({ _id: rid as never });
      await Recipient.collection.replaceOne({ _id: rid as never, v: r?.v }, { ...r, v: Number(r?.v) + 1 });
      await rawFeedWrite(org.id, 'recipient.updated');
    }),
  );

  const by = (label: string) => results.find((r) => r.label.startsWith(label))!;
  const share = (http: string, raw: string) => +(by(http).perSec / by(raw).perSec).toFixed(3);
  const summary = {
    bench: 'scim',
    users,
    concurrency,
    serviceProcess: !inProcess,
    seedSeconds: Math.round(seedSecs),
    results: results.map((r) => ({ ...r, perSec: +r.perSec.toFixed(1), median: +r.median.toFixed(2), p99: +r.p99.toFixed(2) })),
    // Per operation: the share of the raw rate of the same store commands, and of the merge-level equivalent.
    shareOfRawCommands: {
      create: share('POST /Users', 'raw commands of a create'),
      lookup: share('GET /Users', 'raw commands of a lookup'),
      patch: share('PATCH active', 'raw commands of a PATCH'),
    },
    createRatio: share('POST /Users', 'merge upsert, one user'),
    patchRatio: share('PATCH active', 'merge upsert active'),
    lookupP99Ms: +by('GET /Users').p99.toFixed(2),
    commands,
    targets: { lookupP99Ms: 25, ratio: 0.4 },
  };
  const cpu = (s: Stats) => ['service', 'store', 'bench'].map((k) => (s.cpuMsPerOp[k] ?? NaN).toFixed(2)).join(' / ');
  const fmt = (s: Stats) => `| ${s.label} | ${s.n} | ${s.perSec.toFixed(1)} | ${s.median.toFixed(1)} | ${s.p99.toFixed(1)} | ${cpu(s)} |`;
  console.log(
    `users stored: ${users} (seeded in ${seedSecs.toFixed(0)} s), concurrency ${concurrency}, service ${inProcess ? 'in the bench process' : 'in its own process'}`,
  );
  console.log(
    '| operation | n | per second | median ms | p99 ms | CPU ms per op: service / store / generator |\n|---|---|---|---|---|---|',
  );
  for (const s of results) console.log(fmt(s));
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  console.log(
    `share of the raw rate of the same commands: creates ${pct(summary.shareOfRawCommands.create)}, lookups ${pct(summary.shareOfRawCommands.lookup)}, patches ${pct(summary.shareOfRawCommands.patch)}; lookup p99 ${summary.lookupP99Ms} ms`,
  );
  for (const [op, c] of Object.entries(commands)) console.log(`commands per ${op}: ${c.total} ${JSON.stringify(c.byType)}`);
  for (const s of results) {
    if (s.serviceCommandsPerOp)
      console.log(`service's store commands per ${s.label} at concurrency ${concurrency}: ${JSON.stringify(s.serviceCommandsPerOp)}`);
  }
  console.log(JSON.stringify(summary)); // the last line: machine-readable
  client.close();
  await stopService();
  await disconnectStore();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
