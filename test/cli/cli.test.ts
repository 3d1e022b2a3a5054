import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import mongoose from 'mongoose';
import request from 'supertest';
import { createApp } from '../../src/server/app';
import { createLogger } from '../../src/server/logger';
import { decryptSecret, disconnectStore, hashToken, passwordMatches } from '../../src/store';
import { rawCollection } from '../../src/store/collections';
import { ApiToken, Connection, SyncRun } from '../../src/store/models';
import { testConfig } from '../helpers/config';
import { CLI, cliAgainstTestStore } from '../helpers/cli';
import { openTestStore } from '../helpers/store';
import { freePort } from '../helpers/ports';

const SECRET_KEY = 'cli-test-secret-key-0123456789';

describe('command line and service', () => {
  const store = cliAgainstTestStore('cli', SECRET_KEY);
  const cli = (args: string[], env: Record<string, string> = {}) => store.run(args, env);

  test('creates an organization, a token and scim, sftp and hris connections; secrets are stored as hashes or ciphertext', async () => {
    const org = cli(['org', 'create', '--name', 'Acme Corp', '--json']);
    assert.equal(org.code, 0, org.stderr);
    const { id: orgId, name } = org.json();
    assert.equal(name, 'Acme Corp');
    assert.match(orgId, /^[0-9a-f]{24}$/);

    const tok = cli(['token', 'create', '--org', orgId, '--role', 'owner', '--json']);
    assert.equal(tok.code, 0, tok.stderr);
    const { token } = tok.json();
    assert.ok(token.length >= 43, 'at least 32 random bytes');

    const scim = cli(['connection', 'create', '--org', orgId, '--type', 'scim', '--provider', 'okta', '--name', 'Okta', '--json'], {
      PUBLIC_URL: 'https://sync.example.com',
    });
    assert.equal(scim.code, 0, scim.stderr);
    const s = scim.json();
    assert.equal(s.type, 'scim');
    assert.equal(s.scimBaseUrl, `https://sync.example.com/scim/v2/${s.id}`);
    assert.equal(s.scim11BaseUrl, `https://sync.example.com/scim/v1/${s.id}`);
    assert.deepEqual(Object.keys(s).sort(), ['id', 'scim11BaseUrl', 'scimBaseUrl', 'token', 'type']);
    assert.ok(s.token);

    const sftp = cli(['connection', 'create', '--org', orgId, '--type', 'sftp', '--json']);
    assert.equal(sftp.code, 0, sftp.stderr);
    const f = sftp.json();
    assert.deepEqual(Object.keys(f).sort(), ['id', 'password', 'type', 'username']);

    const hris = cli([
      'connection',
      'create',
      '--org',
      orgId,
      '--type',
      'hris',
      '--access-token',
      'finch-secret-token',
      '--mode',
      'assisted',
      '--json',
    ]);
    assert.equal(hris.code, 0, hris.stderr);
    const h = hris.json();
    assert.deepEqual(Object.keys(h).sort(), ['id', 'type']);

    // The raw documents hold no secret in the clear.
    const raw = mongoose.connection.db!;
    const tokenDoc = await raw.collection('api_tokens').findOne({ orgId });
    assert.equal(tokenDoc!.tokenHash, hashToken(token));
    assert.ok(!JSON.stringify(tokenDoc).includes(token));
    const scimDoc = await rawCollection(Connection).findOne({ _id: s.id });
    assert.equal(scimDoc!.scimTokenHash, hashToken(s.token));
    assert.ok(!JSON.stringify(scimDoc).includes(s.token));
    const sftpDoc = await rawCollection(Connection).findOne({ _id: f.id });
    assert.ok(!JSON.stringify(sftpDoc).includes(f.password));
    assert.ok(passwordMatches(f.password, sftpDoc!.sftp!.passwordHash!));
    assert.ok(!passwordMatches('wrong', sftpDoc!.sftp!.passwordHash!));
    const hrisDoc = await rawCollection(Connection).findOne({ _id: h.id });
    assert.ok(!JSON.stringify(hrisDoc).includes('finch-secret-token'));
    assert.equal(hrisDoc!.hris!.mode, 'assisted');
    assert.equal(decryptSecret(hrisDoc!.hris!.accessTokenEnc!, SECRET_KEY), 'finch-secret-token');
    assert.throws(() => decryptSecret(hrisDoc!.hris!.accessTokenEnc!, 'another-key-0123456789'));
    assert.equal(await ApiToken.countDocuments({ orgId }), 1);
    assert.equal(await Connection.countDocuments({ orgId }), 3);
  });

  test('the number of directory connections is limited per organization', () => {
    const { id: orgId } = cli(['org', 'create', '--name', 'Limits', '--json']).json();
    for (let i = 0; i < 2; i++) assert.equal(cli(['connection', 'create', '--org', orgId, '--type', 'scim', '--json']).code, 0);
    const third = cli(['connection', 'create', '--org', orgId, '--type', 'scim', '--json']);
    assert.equal(third.code, 2);
    assert.match(third.stderr, /limit is 2/);
  });

  test('bad usage and bad configuration exit 2 with a message naming the problem', () => {
    const missing = cli(['org', 'create', '--json']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /--name is required/);
    const role = cli(['token', 'create', '--org', 'nope', '--role', 'king']);
    assert.equal(role.code, 2, role.stderr);
    const port = cli(['serve'], { HTTP_PORT: 'eighty' });
    assert.equal(port.code, 2, port.stderr);
    assert.match(port.stderr, /HTTP_PORT/);
    const upload = cli(['serve'], { MAX_UPLOAD_BYTES: '10MB' });
    assert.equal(upload.code, 2, upload.stderr);
    assert.match(upload.stderr, /MAX_UPLOAD_BYTES/);
    const grace = cli(['serve'], { SHUTDOWN_TIMEOUT_SECONDS: '-5' });
    assert.equal(grace.code, 2, grace.stderr);
    assert.match(grace.stderr, /SHUTDOWN_TIMEOUT_SECONDS/);
    const mongo = cli(['org', 'create', '--name', 'x'], { MONGODB_URI: 'postgres://nope' });
    assert.equal(mongo.code, 2, mongo.stderr);
    assert.match(mongo.stderr, /MONGODB_URI/);
    const unknown = cli(['frobnicate']);
    assert.equal(unknown.code, 2, unknown.stderr);
  });

  test('serve answers /healthz, /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const child = spawn(process.execPath, [CLI, 'serve', '--roles', 'http,worker'], {
      env: { ...process.env, MONGODB_URI: store.uri, SECRET_KEY, HTTP_PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d));
    child.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      let ready = false;
      for (let i = 0; i < 100 && !ready; i++) {
        ready = await fetch(`${base}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ready, `service became ready: ${logs}`);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      // A request a mounted router answers (which trims the path it sees) counts under its own family.
      assert.equal((await fetch(`${base}/scim/v2/000000000000000000000000/Users`)).status, 401);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /audience_sync_http_requests_total\{family="scim",method="GET",status="401"\} 1/);
      assert.doesNotMatch(metrics, /audience_sync_store_commands_total/, 'store commands are counted only when asked');
      for (const line of logs.trim().split('\n')) JSON.parse(line); // pino JSON, one object per line
      assert.ok(!logs.includes(SECRET_KEY));
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, logs);
    assert.match(logs, /"msg":"stopped"/);
  });

  /** Starts `serve` and waits until it is ready. */
  const serve = async (env: Record<string, string>) => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve', '--roles', 'http,worker'], {
      env: { ...process.env, MONGODB_URI: store.uri, SECRET_KEY, HTTP_PORT: String(port), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { logs: '' };
    child.stdout.on('data', (d) => (out.logs += d));
    child.stderr.on('data', (d) => (out.logs += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      ready = await fetch(`${base}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 200));
    }
    if (!ready) child.kill('SIGKILL');
    assert.ok(ready, `service became ready: ${out.logs}`);
    return { child, base, exited, out };
  };

  test('STORE_COMMAND_METRICS=true counts the store commands on /metrics, by command and collection', async () => {
    const { child, base, exited, out } = await serve({ STORE_COMMAND_METRICS: 'true' });
    try {
      const { auth } = await csvConnection(base);
      const tokenReads = async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        const m = /^audience_sync_store_commands_total\{command="find",collection="api_tokens"\} (\d+)$/m.exec(text);
        assert.ok(m, text);
        return Number(m[1]);
      };
      const before = await tokenReads();
      assert.ok(before >= 1, 'the connection create read its token');
      // Each authenticated request reads its token (a cached verdict is never trusted): one more find each.
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/api/v1/connections`, { headers: auth })).status, 200);
      assert.equal(await tokenReads(), before + 3);
      assert.match(
        await (await fetch(`${base}/metrics`)).text(),
        /audience_sync_store_commands_total\{command="insert",collection="connections"\} 1$/m,
      );
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out.logs);
  });

  /** An organization with an owner token and a csv connection, made through the CLI and the API of `base`. */
  const csvConnection = async (base: string) => {
    const { id: orgId } = cli(['org', 'create', '--name', 'Shutdown', '--json']).json();
    const { token } = cli(['token', 'create', '--org', orgId, '--role', 'owner', '--json']).json();
    const auth = { Authorization: `Bearer ${token}` };
    const conn = await fetch(`${base}/api/v1/connections`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'csv' }),
    });
    assert.equal(conn.status, 201);
    return { auth, connectionId: ((await conn.json()) as { id: string }).id };
  };
  const csvOf = (n: number, tag: string) =>
    'email,first name\n' + Array.from({ length: n }, (_, i) => `${tag}${i}@example.com,P${i}`).join('\n') + '\n';
  const uploadTo = async (base: string, auth: Record<string, string>, connectionId: string, body: string) => {
    const res = await fetch(`${base}/api/v1/connections/${connectionId}/uploads?mode=delta`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'text/csv' },
      body,
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { syncRunId: string }).syncRunId;
  };
  const syncRun = async (id: string) => (await rawCollection(SyncRun).findOne({ _id: id }))!;

  test('on SIGTERM, an upload being processed finishes before the store closes, and the process exits 0', async () => {
    // Runs left running by a process that died are failed at start; a run still being worked on is not.
    const runs = mongoose.connection.db!.collection<{ _id: string } & Record<string, unknown>>('sync_runs');
    const old = new Date(Date.now() - 10 * 60_000);
    const base = {
      orgId: 'o',
      connectionId: 'c',
      source: 'api',
      mode: 'delta',
      label: null,
      progress: { processed: 3, total: null },
      errors: [],
      counts: {},
    };
    await runs.insertMany([
      { _id: 'abandoned-run', ...base, status: 'running', createdAt: old, updatedAt: old },
      { _id: 'abandoned-queued', ...base, status: 'queued', createdAt: old, updatedAt: old },
      { _id: 'live-run', ...base, status: 'running', createdAt: new Date(), updatedAt: new Date() },
      { _id: 'held-run', ...base, status: 'needs_review', createdAt: old, updatedAt: old },
    ]);

    const svc = await serve({ SHUTDOWN_TIMEOUT_SECONDS: '60' });
    let runId: string;
    try {
      for (const id of ['abandoned-run', 'abandoned-queued']) {
        const r = await syncRun(id);
        assert.equal(r.status, 'failed', id);
        assert.match(r.message ?? '', /interrupted: the process running this sync stopped/);
        assert.ok(r.finishedAt);
      }
      assert.equal((await syncRun('live-run')).status, 'running');
      assert.equal((await syncRun('held-run')).status, 'needs_review');
      assert.match(svc.out.logs, /abandoned by a stopped process/);

      const { auth, connectionId } = await csvConnection(svc.base);
      runId = await uploadTo(svc.base, auth, connectionId, csvOf(1500, 'drain'));
    } finally {
      svc.child.kill('SIGTERM');
    }
    assert.equal(await svc.exited, 0, svc.out.logs);
    const run = await syncRun(runId);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.created, 1500);
    assert.ok(run.input);
    assert.equal(run.input.bytesRead, run.input.bytesTotal);
    assert.match(svc.out.logs, /waiting for background jobs/);
    assert.ok(svc.out.logs.indexOf('waiting for background jobs') < svc.out.logs.indexOf('"msg":"stopped"'));
  });

  test('on SIGTERM, an upload still running after SHUTDOWN_TIMEOUT_SECONDS is failed as interrupted, and the process exits 0', async () => {
    const svc = await serve({ SHUTDOWN_TIMEOUT_SECONDS: '0' });
    let runId: string;
    try {
      const { auth, connectionId } = await csvConnection(svc.base);
      runId = await uploadTo(svc.base, auth, connectionId, csvOf(20_000, 'cut'));
    } finally {
      svc.child.kill('SIGTERM');
    }
    const started = Date.now();
    assert.equal(await svc.exited, 0, svc.out.logs);
    assert.ok(Date.now() - started < 20_000, 'stopped promptly');
    const run = await syncRun(runId);
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(run.message ?? '', /interrupted by shutdown/);
    assert.ok(run.finishedAt);
    assert.ok(run.progress.processed < 20_000);
    assert.match(svc.out.logs, /interrupted by shutdown/);
    assert.match(svc.out.logs, /"msg":"stopped"/);
  });

  test('an unknown path answers 404 with a problem document', async () => {
    const app = createApp({ config: testConfig(), logger: createLogger('silent') });
    const res = await request(app).get('/no/such/thing');
    assert.equal(res.status, 404);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.equal(res.body.status, 404);
    assert.match(res.body.detail, /\/no\/such\/thing/);
  });

  test('/readyz answers 503 while the store is unreachable', async () => {
    const app = createApp({ config: testConfig(), logger: createLogger('silent') });
    assert.equal((await request(app).get('/readyz')).status, 200);
    await disconnectStore();
    try {
      assert.equal((await request(app).get('/readyz')).status, 503);
      assert.equal((await request(app).get('/healthz')).status, 200);
    } finally {
      await openTestStore('cli_reopen');
    }
  });
});
