import assert from 'node:assert/strict';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { ConfigError, parseEnv } from '../../src/config/config';
import { createApp } from '../../src/server/app';
import { createLogger } from '../../src/server/logger';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, configureHttpServer } from '../../src/server/serve';
import { closeTestStore, openTestStore } from '../helpers/store';
import { testConfig } from '../helpers/config';
import { bearer, createOrgWithTokens, uploadAndWait } from '../api/helpers';
import { USER, scimClient } from '../scim/harness';

/** The top-level keys of a JSON object text, in order, duplicates included (JSON.parse would hide them). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const str = text.slice(i + 1, j);
      let k = j + 1;
      while (text[k] === ' ') k++;
      if (depth === 1 && text[k] === ':') keys.push(str);
      i = j;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return keys;
}

describe('HTTP hygiene: bind address, keep-alive, log lines (issue 10 §7)', () => {
  before(async () => {
    await openTestStore('http_hygiene');
  });
  after(async () => {
    await closeTestStore();
  });

  test('HTTP_HOST is a validated setting', () => {
    const env = { MONGODB_URI: 'mongodb://127.0.0.1/x' };
    assert.equal(parseEnv(env).HTTP_HOST, undefined);
    assert.equal(parseEnv({ ...env, HTTP_HOST: '127.0.0.1' }).HTTP_HOST, '127.0.0.1');
    assert.equal(parseEnv({ ...env, HTTP_HOST: '::1' }).HTTP_HOST, '::1');
    assert.throws(
      () => parseEnv({ ...env, HTTP_HOST: 'two words' }),
      (e: Error) => e instanceof ConfigError && /HTTP_HOST/.test(e.message),
    );
    assert.throws(
      () => parseEnv({ ...env, SYNC_RUN_STALE_SECONDS: '1' }),
      (e: Error) => e instanceof ConfigError && /SYNC_RUN_STALE_SECONDS/.test(e.message),
    );
  });

  test('keep-alive outlasts load balancers; 20 keep-alive clients × 200 requests see no socket error', { timeout: 120_000 }, async () => {
    assert.ok(KEEP_ALIVE_TIMEOUT_MS >= 65_000);
    assert.ok(HEADERS_TIMEOUT_MS > KEEP_ALIVE_TIMEOUT_MS);
    const server = configureHttpServer(createServer(createApp({ config: testConfig(), logger: createLogger('silent') })));
    assert.equal(server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
    assert.equal(server.headersTimeout, HEADERS_TIMEOUT_MS);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const errors: string[] = [];
    let ok = 0;
    const get = (path: string) =>
      new Promise<number>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', (e) => {
          errors.push((e as NodeJS.ErrnoException).code ?? e.message);
          resolve(0);
        });
        req.end();
      });
    const started = Date.now();
    try {
      await Promise.all(
        Array.from({ length: 20 }, async (_, c) => {
          for (let i = 0; i < 200; i++) {
            const status = await get(i % 10 === 9 ? '/api/v1/openapi.json' : '/healthz');
            if (status === 200) ok++;
            // A pause now and then: idle sockets are reused, not closed under the client.
            if (i % 50 === 49) await new Promise((r) => setTimeout(r, 50 + c));
          }
        }),
      );
    } finally {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const ms = Date.now() - started;
    process.stdout.write(`# keep-alive load: ${JSON.stringify({ clients: 20, requests: 4000, ok, socketErrors: errors.length, ms })}\n`);
    assert.deepEqual(errors, []);
    assert.equal(ok, 4000);
    assert.ok(ms < 100_000, 'bounded in time');
  });

  test('log lines carry no repeated key', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const logger = createLogger('debug', sink);
    const app = createApp({ config: testConfig(), logger });
    const scim = await scimClient(app);
    const user = await scim.post('/Users', { schemas: [USER], userName: 'log.keys@example.com', active: true });
    assert.equal(user.status, 201);
    assert.equal((await scim.del(`/Users/${user.body.id}`)).status, 204);
    assert.equal((await scim.get('/Users/nope')).status, 404);
    const org = await createOrgWithTokens('Logs');
    const conn = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv' });
    await uploadAndWait(app, org.admin, conn.body.id, 'delta', 'email\nlog@example.com\nnope\n');
    logger.child({ connectionId: 'c1' }).info({ connectionId: 'c1', err: 'x' }, 'a child repeating its binding');
    await new Promise((r) => setImmediate(r));
    assert.ok(lines.length >= 5, `${lines.length} lines`);
    const repeated = lines.slice(0, -1).filter((l) => {
      const keys = topLevelKeys(l);
      return new Set(keys).size !== keys.length;
    });
    assert.deepEqual(repeated, [], 'no line repeats a key');
    // The checker itself finds a repeated key (the last line repeats connectionId on purpose).
    const last = topLevelKeys(lines[lines.length - 1]!);
    assert.notEqual(new Set(last).size, last.length);
  });
});
