/**
 * SCIM side by side with BoxyHQ SAML Jackson's directory sync (not part of `npm test`): the issue's comparison, on the
 * same store server (separate databases), each product in its own process, driven over loopback HTTP at the same
 * concurrency, the two alternating per round (rep 0 ours first, rep 1 Jackson first, ...).
 *
 * Jackson is not a dependency of this project (it brings ~430 packages): install it apart and name its folder.
 *
 *   npm i --prefix /tmp/jackson --ignore-scripts --no-audit --no-fund @boxyhq/saml-jackson@26.2.0
 *   npm run build && SECRET_KEY=bench-secret-key-0123456789 JACKSON_MODULES=/tmp/jackson/node_modules \
 *     node scripts/local-store.js --ephemeral -- node --no-memory-reducer dist/bench/jackson.js [--users 2000] [--n 600] [--rounds 5] \
 *     [--concurrency 10] [--ops create,lookup,patch] [--targets ours,jackson] [--baseline-dist DIR] [--commands]
 *
 * Run the bench itself with `node --no-memory-reducer`: the load generator sits idle while Jackson seeds, and V8 would
 * otherwise shrink its heap meanwhile and make it slower in the round after (README, Memory). `--idle S` waits S seconds
 * after seeding (what a product that seeded first lives through); BENCH_TRACE_TIMES=1 prints each round's start and
 * end on the monotonic clock (in µs, as a `--cpu-prof` profile of the service counts time, to cut it by round).
 *
 * `--commands` runs our service with STORE_COMMAND_METRICS=true and adds to each of our rounds the store commands per
 * operation by type (`commandsPerOp`, read from its /metrics before and after the round). The monitoring costs the
 * service some CPU, so compare rates from runs without it.
 *
 * `--baseline-dist DIR` adds a third target, `baseline`: our service built elsewhere (e.g. a worktree of the previous
 * commit, `npx tsc -p .` there; DIR is its `dist`), run in the same rounds, so a change of ours is measured against the
 * build before it under the same load (this machine's speed drifts by tens of percent between runs). Its extra node
 * flags come from BENCH_BASELINE_NODE_ARGS (BENCH_SERVICE_NODE_ARGS is ours'): `--baseline-dist dist` with other flags
 * measures node flags against each other.
 *
 * CPU per operation is read from /proc for the service, the store and this generator: the store is the FerretDB process
 * on the URI's port, plus, with BENCH_STORE_PROCESSES=TEXT, every process whose command line contains TEXT (e.g.
 * `postgres:` for the PostgreSQL backends behind FerretDB v2, where the storage work is done).
 *
 * Jackson runs with analytics off and no webhook; it sends nothing beyond loopback. Its one TTL index (unused by
 * directory sync) is skipped: FerretDB v1 has no TTL indexes. Every PATCH changes something (it flips the user's
 * `active`), so neither product can answer it as a no-op. Prints one JSON line per round and operation, then the
 * summary: per operation the medians, our rate over Jackson's (ratio of the medians, and per round).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort } from '../test/helpers/ports';
import { argValue, median, parseCount, round } from './lib/stats';
import { runConcurrent, type LoadStats } from './lib/load';
import { startServiceProcess } from './lib/service';
import { cpuMeter, storeProcesses } from './lib/cpu';
import { storeCommands, storeCommandsPerOp as perOp } from './lib/storeCommands';
import { connectStore, createConnection, createOrganization, disconnectStore } from '../src/store';
import { loadConfig } from '../src/config/config';

interface ScimTarget {
  name: 'ours' | 'jackson' | 'baseline';
  base: string;
  token: string;
  ids: string[];
  active: boolean[];
  next: number;
}

/** What this bench uses of Jackson's API (its directory sync controller). */
interface JacksonDirectorySync {
  directories: {
    create(input: Record<string, string>): Promise<{ data: { id: string; scim: { secret: string } } | null; error: unknown }>;
  };
  requests: { handle(request: Record<string, unknown>): Promise<{ status: number; data: unknown }> };
}

/** The Jackson side: its directory sync behind a minimal HTTP server; prints `JACKSON {directoryId, secret}`. */
async function jacksonServer(): Promise<void> {
  const modules = process.env.JACKSON_MODULES!;
  // Jackson is CommonJS, loaded from its own folder.
  const load = createRequire(path.join(modules, 'index.js'));
  const mongodb = load('@boxyhq/saml-jackson/node_modules/mongodb') as {
    Collection: { prototype: { createIndex: (spec: unknown, opts?: { expireAfterSeconds?: number }) => Promise<unknown> } };
  };
  const createIndex = mongodb.Collection.prototype.createIndex;
  mongodb.Collection.prototype.createIndex = function (this: unknown, spec, opts) {
    return opts?.expireAfterSeconds !== undefined ? Promise.resolve('skipped') : createIndex.call(this, spec, opts);
  };
  const jackson = load('@boxyhq/saml-jackson') as {
    controllers(opts: Record<string, unknown>): Promise<{ directorySyncController: JacksonDirectorySync }>;
  };
  const { directorySyncController: ds } = await jackson.controllers({
    externalUrl: 'http://127.0.0.1',
    samlAudience: 'https://saml.example.invalid',
    samlPath: '/api/oauth/saml',
    db: { engine: 'mongo', url: process.env.JACKSON_DB_URL },
    noAnalytics: true,
  });
  const { data: dir, error } = await ds.directories.create({ tenant: 'bench', product: 'bench', name: 'bench', type: 'okta-scim-v2' });
  if (!dir) throw new Error(`Jackson refused the directory: ${JSON.stringify(error)}`);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const m = /^\/scim\/v2\.0\/([^/]+)\/(Users|Groups)(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      const num = (k: string) => (url.searchParams.has(k) ? Number(url.searchParams.get(k)) : undefined);
      ds.requests
        .handle({
          method: req.method,
          body: chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined,
          directoryId: m[1],
          resourceType: m[2],
          resourceId: m[3],
          apiSecret: (req.headers.authorization ?? '').replace(/^Bearer /, ''),
          query: { count: num('count'), startIndex: num('startIndex'), filter: url.searchParams.get('filter') ?? undefined },
        })
        .then(
          (r) => res.writeHead(r.status, { 'content-type': 'application/scim+json' }).end(JSON.stringify(r.data ?? null)),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
    });
  });
  server.listen(Number(process.env.PORT), '127.0.0.1', () => {
    console.log(`JACKSON ${JSON.stringify({ directoryId: dir.id, secret: dir.scim.secret })}`);
  });
}

function firstLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    // Jackson logs to stdout too (a line per write without a webhook): read on, keep only what precedes the line.
    child.stdout!.on('data', (d: Buffer) => {
      if (found) return;
      buf += d.toString('utf8');
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line) {
        found = true;
        resolve(line.slice(prefix.length));
      }
    });
    child.once('exit', (code) => reject(new Error(`the Jackson process exited with code ${String(code)}`)));
  });
}

type Sample = Omit<LoadStats, 'n'>;

async function run(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<Sample> {
  const s = await runConcurrent(n, concurrency, op);
  return { perSec: round(s.perSec), median: round(s.median), p99: round(s.p99) };
}

async function main(): Promise<void> {
  if (process.argv.includes('--jackson-server')) return jacksonServer();
  if (!process.execArgv.includes('--no-memory-reducer'))
    console.error(
      'jackson: run the bench with `node --no-memory-reducer` (see the top of bench/jackson.ts): the idle load generator is slower otherwise',
    );
  const argv = process.argv.slice(2);
  const users = parseCount(argValue(argv, 'users')) ?? 2000;
  const n = parseCount(argValue(argv, 'n')) ?? 600;
  const rounds = parseCount(argValue(argv, 'rounds')) ?? 5;
  const concurrency = parseCount(argValue(argv, 'concurrency')) ?? 10;
  const ops = (argValue(argv, 'ops') ?? 'create,lookup,patch').split(',');
  // `--targets ours` drives our service alone (to profile it under the same load); the summary then has no ratios.
  const baselineDist = argValue(argv, 'baseline-dist');
  const only = [...(argValue(argv, 'targets') ?? 'ours,jackson').split(','), ...(baselineDist ? ['baseline'] : [])];
  if (only.includes('jackson') && !process.env.JACKSON_MODULES) {
    throw new Error('JACKSON_MODULES is not set: install Jackson apart (see the top of bench/jackson.ts)');
  }

  const config = loadConfig();
  await connectStore(config.MONGODB_URI);
  // The local store's processes, when the store is one (for the CPU figures; none on another server).
  const storePid = storeProcesses(new URL(config.MONGODB_URI).port);
  const org = await createOrganization(`jackson comparison ${Date.now()}`);
  const conn = await createConnection(
    { orgId: org.id, type: 'scim', provider: 'okta' },
    { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY },
  );
  const countCommands = argv.includes('--commands');
  const { port: ourPort, child: ours } = await startServiceProcess({
    SCIM_RATE_LIMIT_PER_MINUTE: '100000000',
    ...(countCommands ? { STORE_COMMAND_METRICS: 'true' } : {}),
  });
  const ourCommands = countCommands ? () => storeCommands(ourPort) : undefined;
  // The baseline build gets an organization of its own: the targets create the same userNames and emails, and two
  // connections of one organization would merge them into the same recipients, each build's writes racing the other's.
  const baseConn = baselineDist
    ? await createConnection(
        { orgId: (await createOrganization(`jackson comparison baseline ${Date.now()}`)).id, type: 'scim', provider: 'okta' },
        { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY },
      )
    : undefined;
  const baseline = baselineDist
    ? await startServiceProcess({ SCIM_RATE_LIMIT_PER_MINUTE: '100000000' }, path.resolve(baselineDist), 'BENCH_BASELINE_NODE_ARGS')
    : undefined;
  const jPort = await freePort();
  const jacksonDb = new URL(config.MONGODB_URI);
  jacksonDb.pathname = `/jackson_${Date.now()}`;
  const jack = only.includes('jackson')
    ? spawn(process.execPath, [__filename, '--jackson-server'], {
        env: { ...process.env, PORT: String(jPort), JACKSON_DB_URL: jacksonDb.toString(), DO_NOT_TRACK: '1', BOXYHQ_NO_ANALYTICS: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : undefined;
  const jacksonInfo = jack ? firstLine(jack, 'JACKSON ') : Promise.resolve(JSON.stringify({ directoryId: '', secret: '' }));
  jacksonInfo.catch(() => undefined); // awaited below; a failure before then is reported there
  const pidOf: Record<ScimTarget['name'], number | undefined> = { ours: ours.pid, jackson: jack?.pid, baseline: baseline?.child.pid };
  try {
    const j = JSON.parse(await jacksonInfo) as { directoryId: string; secret: string };
    const targets: ScimTarget[] = (
      [
        { name: 'ours', base: `http://127.0.0.1:${ourPort}/scim/v2/${conn.id}`, token: conn.token!, ids: [], active: [], next: 0 },
        { name: 'jackson', base: `http://127.0.0.1:${jPort}/scim/v2.0/${j.directoryId}`, token: j.secret, ids: [], active: [], next: 0 },
        {
          name: 'baseline',
          base: `http://127.0.0.1:${baseline?.port ?? 0}/scim/v2/${baseConn?.id ?? ''}`,
          token: baseConn?.token ?? '',
          ids: [],
          active: [],
          next: 0,
        },
      ] satisfies ScimTarget[]
    ).filter((t) => only.includes(t.name));
    const call = async (t: ScimTarget, method: string, p: string, body: unknown, expect: number): Promise<Record<string, unknown>> => {
      const res = await fetch(t.base + p, {
        method,
        headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': 'application/scim+json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== expect) throw new Error(`${t.name} ${method} ${p}: ${res.status} ${text.slice(0, 200)}`);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };
    // The body Okta sends for a new user, the same to both.
    const create = async (t: ScimTarget, userName: string) => {
      const body = await call(
        t,
        'POST',
        '/Users',
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName,
          name: { givenName: 'Ada', familyName: 'Lovelace' },
          emails: [{ primary: true, value: userName, type: 'work' }],
          displayName: 'Ada Lovelace',
          locale: 'en-US',
          externalId: randomUUID(),
          active: true,
        },
        201,
      );
      t.ids.push(String(body.id));
      t.active.push(true);
    };
    const seedSeconds: Record<string, number> = {};
    for (const t of targets) {
      const started = Date.now();
      await run(users, concurrency, (i) => create(t, `seed${i}@jackson-bench.example`));
      seedSeconds[t.name] = round((Date.now() - started) / 1000);
    }
    // `--idle S`: wait S seconds after seeding (ours alone then sits idle as long as Jackson's seeding makes it wait).
    const idle = Number(argValue(argv, 'idle') ?? 0);
    if (idle > 0) await new Promise((r) => setTimeout(r, idle * 1000));
    const opOf: Record<string, (t: ScimTarget, r: number) => (i: number) => Promise<void>> = {
      create: (t, r) => (i) => create(t, `r${r}n${i}@jackson-bench.example`),
      lookup: (t) => async (i) => {
        const name = `seed${(i * 7919) % users}@jackson-bench.example`;
        const body = await call(t, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`, undefined, 200);
        if (body.totalResults !== 1) throw new Error(`${t.name}: the lookup of ${name} found ${String(body.totalResults)}`);
      },
      // Users in turn, each once per round while n ≤ users; the flag flips, so every PATCH is a change.
      patch: (t) => async () => {
        const k = t.next++ % users;
        t.active[k] = !t.active[k];
        await call(
          t,
          'PATCH',
          `/Users/${t.ids[k]}`,
          { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: t.active[k] } }] },
          200,
        );
      },
    };
    const samples: Record<string, Record<string, Sample[]>> = {};
    for (let r = 0; r < rounds; r++) {
      for (const op of ops) {
        const make = opOf[op];
        if (!make) throw new Error(`unknown operation ${op} (create, lookup, patch)`);
        for (const t of r % 2 ? [...targets].reverse() : targets) {
          // Read before the CPU meter starts: the scrape is not the round's work.
          const commandsBefore = t.name === 'ours' ? await ourCommands?.() : undefined;
          const meter = cpuMeter({ service: pidOf[t.name], store: storePid, bench: process.pid });
          const startUs = Number(process.hrtime.bigint() / 1000n);
          const s = await run(n, concurrency, make(t, r));
          if (process.env.BENCH_TRACE_TIMES)
            console.log(JSON.stringify({ times: true, round: r, target: t.name, startUs, endUs: Number(process.hrtime.bigint() / 1000n) }));
          ((samples[op] ??= {})[t.name] ??= []).push(s);
          // CPU ms per operation of each process: with 2 cores shared by all three, who is the limit.
          const cpuMsPerOp = Object.fromEntries(Object.entries(meter()).map(([k, ms]) => [k, round(ms / n, 2)]));
          const commandsPerOp = commandsBefore && perOp(commandsBefore, await ourCommands!(), n);
          console.log(
            JSON.stringify({
              bench: 'jackson',
              round: r,
              op,
              target: t.name,
              ...s,
              cpuMsPerOp,
              ...(commandsPerOp ? { commandsPerOp } : {}),
            }),
          );
        }
      }
    }
    const summary: Record<string, unknown> = { bench: 'jackson', summary: true, users, n, rounds, concurrency, seedSeconds };
    for (const [op, by] of Object.entries(samples)) {
      const versus = (other: 'jackson' | 'baseline') => {
        const theirs = by[other];
        if (!by.ours || !theirs) return undefined;
        const o = median(by.ours.map((s) => s.perSec));
        const t = median(theirs.map((s) => s.perSec));
        return {
          oursPerSec: o,
          [`${other}PerSec`]: t,
          ratio: round(o / t, 2),
          perRound: by.ours.map((s, i) => round(s.perSec / theirs[i]!.perSec, 2)),
          oursP99: median(by.ours.map((s) => s.p99)),
          [`${other}P99`]: median(theirs.map((s) => s.p99)),
        };
      };
      const jacksonSide = versus('jackson');
      const baselineSide = versus('baseline');
      summary[op] =
        jacksonSide || baselineSide
          ? { ...(jacksonSide ?? {}), ...(baselineSide ? { againstBaseline: baselineSide } : {}) }
          : Object.fromEntries(Object.entries(by).map(([name, s]) => [`${name}PerSec`, median(s.map((x) => x.perSec))]));
    }
    console.log(JSON.stringify(summary));
  } finally {
    ours.kill('SIGTERM');
    baseline?.child.kill('SIGTERM');
    jack?.kill('SIGTERM');
    await disconnectStore();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
