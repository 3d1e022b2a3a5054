import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import request from 'supertest';
import { runHrisSync } from '../../src/hris/sync';
import {
  SnapshotIngest,
  applySourceChanges,
  createConnection,
  discardHeldRun,
  encryptSecret,
  headCursor,
  sweepEvents,
  type ConnectionRef,
} from '../../src/store';
import { Connection, EventBlock } from '../../src/store/models';
import { bearer, createOrgWithTokens, makeApp, upload, uploadAndWait, type Org } from './helpers';
import { testConfig } from '../helpers/config';
import { FinchServer, makeEmployees } from '../helpers/finchServer';
import { closeTestStore, openTestStore } from '../helpers/store';

const CLI = join(__dirname, '..', '..', 'src', 'cli', 'main.js');

describe('events API, sync run / connection / group events, events tail', () => {
  const app = makeApp();
  let org: Org;
  let uri: string;

  before(async () => {
    const db = await openTestStore('events_api');
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = `/${db}`;
    uri = u.toString();
    org = await createOrgWithTokens('Acme');
  });
  after(async () => {
    await closeTestStore();
  });

  const feed = async (after: string, extra = '') => {
    const res = await request(app).get(`/api/v1/events?after=${after}${extra}`).set(bearer(org.reader));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as {
      items: { id: string; type: string; data: Record<string, unknown>; connectionId?: string; cursor: string }[];
      nextCursor: string;
      hasMore: boolean;
    };
  };

  let cursor = '0';
  let csvId = '';

  test('a connection created over the API, a CSV upload: connection.created, group and recipient events, sync_run.succeeded', async () => {
    const c = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'HR export' });
    assert.equal(c.status, 201);
    csvId = c.body.id;
    const run = await uploadAndWait(
      app,
      org.admin,
      csvId,
      'full',
      'email,first_name,groups\nann@example.com,Ann,Sales\nbo@example.com,Bo,\n',
    );
    assert.equal(run.status, 'succeeded');
    const page = await feed(cursor);
    assert.deepEqual(
      page.items.map((e) => e.type),
      ['connection.created', 'group.created', 'recipient.created', 'recipient.created', 'sync_run.succeeded'],
    );
    assert.deepEqual(page.items[0]!.data, { connectionId: csvId, type: 'csv', name: 'HR export' });
    const created = page.items[2]!;
    assert.deepEqual(Object.keys(created.data).sort(), ['email', 'groups', 'recipientId', 'status'], 'ids, email and group ids only');
    assert.equal((created.data.groups as string[]).length, 1, 'the initial group membership is in recipient.created');
    assert.deepEqual(page.items[3]!.data.groups, []);
    assert.equal(created.connectionId, csvId);
    assert.equal(page.items[4]!.data.syncRunId, run.id);
    cursor = page.nextCursor;

    // The same file again changes nothing: only the run's own event.
    await uploadAndWait(app, org.admin, csvId, 'full', 'email,first_name,groups\nann@example.com,Ann,Sales\nbo@example.com,Bo,\n');
    const again = await feed(cursor);
    assert.deepEqual(
      again.items.map((e) => e.type),
      ['sync_run.succeeded'],
    );
    cursor = again.nextCursor;
  });

  test('full objects only when asked; filters by type and connection; keyset pages', async () => {
    const plain = await feed('0', '&types=recipient.created');
    assert.equal(plain.items.length, 2);
    assert.equal(plain.items[0]!.data.object, undefined);
    const full = await feed('0', '&types=recipient.created&include=object');
    assert.equal((full.items[0]!.data.object as Record<string, unknown>).firstName, 'Ann');
    const byConn = await feed('0', `&connectionId=${csvId}&limit=2`);
    assert.equal(byConn.items.length, 2);
    assert.equal(byConn.hasMore, true);
    const next = await feed(byConn.nextCursor, `&connectionId=${csvId}&limit=100`);
    assert.ok(next.items.every((e) => e.connectionId === csvId));
    assert.ok(Number(next.items[0]!.cursor) > Number(byConn.items[1]!.cursor));
  });

  test('a held run: needs_review, then discarded; another held and applied: applied with the removals', async () => {
    const ref: ConnectionRef = { _id: csvId, orgId: org.id, type: 'csv' };
    const held = await SnapshotIngest.start(ref, { mode: 'full', source: 'api' });
    const run1 = await held.finish();
    assert.equal(run1.status, 'needs_review');
    await discardHeldRun(run1._id);
    const page = await feed(cursor);
    assert.deepEqual(
      page.items.map((e) => e.type),
      ['sync_run.needs_review', 'sync_run.discarded'],
    );
    cursor = page.nextCursor;
    const held2 = await SnapshotIngest.start(ref, { mode: 'full', source: 'api' });
    const run2 = await held2.finish();
    const applied = await request(app).post(`/api/v1/sync-runs/${run2._id}/apply`).set(bearer(org.admin));
    assert.ok(applied.status < 300, JSON.stringify(applied.body));
    const page2 = await feed(cursor);
    assert.deepEqual(page2.items.map((e) => e.type).sort(), [
      'group.member_removed',
      'recipient.removed',
      'recipient.removed',
      'sync_run.applied',
      'sync_run.needs_review',
    ]);
    assert.equal(page2.items[page2.items.length - 1]!.type, 'sync_run.applied');
    cursor = page2.nextCursor;
  });

  test('a file run that fails (every row rejected, or unreadable): sync_run.failed and nothing else', async () => {
    const rejected = await uploadAndWait(app, org.admin, csvId, 'delta', 'email,first name\nnope,A\nalso-nope,B\n');
    assert.equal(rejected.status, 'failed');
    const page = await feed(cursor);
    assert.deepEqual(
      page.items.map((e) => [e.type, e.connectionId, e.data.syncRunId]),
      [['sync_run.failed', csvId, rejected.id]],
    );
    assert.equal((page.items[0]!.data.counts as { rejected: number }).rejected, 2);
    cursor = page.nextCursor;
    const unreadable = await upload(app, org.admin, csvId, 'delta', 'name,department\nAnn,Sales\n');
    assert.equal(unreadable.status, 422);
    const page2 = await feed(cursor);
    assert.deepEqual(
      page2.items.map((e) => [e.type, e.connectionId, e.data.syncRunId]),
      [['sync_run.failed', csvId, unreadable.body.syncRunId]],
    );
    cursor = page2.nextCursor;
  });

  test('Finch refusing the token (401): sync_run.failed and connection.needs_reauth once; a new token: sync_run.succeeded', async () => {
    const finch = new FinchServer();
    await finch.start();
    try {
      finch.employees = makeEmployees(3, 'reauth.example', 'r');
      const config = testConfig({ FINCH_BASE_URL: finch.url });
      const deps = { config, logger: pino({ level: 'silent' }), backoffBaseMs: 20 };
      const hris = await createConnection(
        { orgId: org.id, type: 'hris', accessToken: finch.token },
        { publicUrl: 'http://localhost', secretKey: config.SECRET_KEY },
      );
      const first = await runHrisSync(hris.id, deps);
      assert.equal(first?.outcome, 'succeeded');
      const seeded = await feed(cursor);
      assert.deepEqual(
        seeded.items.map((e) => e.type),
        ['connection.created', 'recipient.created', 'recipient.created', 'recipient.created', 'sync_run.succeeded'],
      );
      cursor = seeded.nextCursor;

      finch.revoked = true;
      const refused = await runHrisSync(hris.id, deps);
      assert.equal(refused?.outcome, 'needs_reauth');
      const page = await feed(cursor);
      assert.deepEqual(page.items.map((e) => e.type).sort(), ['connection.needs_reauth', 'sync_run.failed']);
      const reauth = page.items.find((e) => e.type === 'connection.needs_reauth')!;
      assert.equal(reauth.connectionId, hris.id);
      assert.equal(reauth.data.connectionId, hris.id);
      assert.match(String(reauth.data.reason), /401 reauthenticate_user/);
      assert.equal(page.items.find((e) => e.type === 'sync_run.failed')!.data.syncRunId, refused.run._id);
      cursor = page.nextCursor;

      // Refused again with the same token: the run fails, the connection already said it needs re-authorization.
      const again = await runHrisSync(hris.id, deps);
      assert.equal(again?.outcome, 'needs_reauth');
      const page2 = await feed(cursor);
      assert.deepEqual(
        page2.items.map((e) => e.type),
        ['sync_run.failed'],
      );
      cursor = page2.nextCursor;

      finch.revoked = false;
      finch.token = `finch-new-${Date.now()}`;
      await Connection.updateOne(
        { _id: hris.id },
        { $set: { 'hris.accessTokenEnc': encryptSecret(finch.token, config.SECRET_KEY) } },
      ).exec();
      assert.equal((await runHrisSync(hris.id, deps))?.outcome, 'succeeded');
      const page3 = await feed(cursor);
      assert.deepEqual(
        page3.items.map((e) => e.type),
        ['sync_run.succeeded'],
      );
      cursor = page3.nextCursor;
    } finally {
      await finch.stop();
    }
  });

  test('connection.deleted; bad cursors are 400; a cursor past the retention is 410', async () => {
    const del = await request(app).delete(`/api/v1/connections/${csvId}`).set(bearer(org.admin));
    assert.equal(del.status, 204);
    const page = await feed(cursor);
    assert.deepEqual(
      page.items.map((e) => e.type),
      ['connection.deleted'],
    );
    cursor = page.nextCursor;
    const bad = await request(app).get('/api/v1/events?after=abc').set(bearer(org.reader));
    assert.equal(bad.status, 400);
    const badType = await request(app).get('/api/v1/events?types=recipient.exploded').set(bearer(org.reader));
    assert.equal(badType.status, 400);
    await EventBlock.updateMany({ orgId: org.id }, { $set: { createdAt: new Date(Date.now() - 40 * 86_400_000) } }).exec();
    await sweepEvents();
    const gone = await request(app).get('/api/v1/events?after=1').set(bearer(org.reader));
    assert.equal(gone.status, 410);
    assert.match(gone.body.type, /cursor-expired/);
    const fromEnd = await feed(cursor);
    assert.equal(fromEnd.items.length, 0);
    // Without a cursor: from the oldest event kept, never 410.
    const oldest = await request(app).get('/api/v1/events').set(bearer(org.reader));
    assert.equal(oldest.status, 200);
    const member = await request(app).get('/api/v1/events').set(bearer(org.member));
    assert.equal(member.status, 403);
  });

  test('`events tail` prints events as they arrive, as JSON lines, filtered by type', async () => {
    const head = await headCursor(org.id);
    const child = spawn(
      process.execPath,
      [CLI, 'events', 'tail', '--org', org.id, '--types', 'recipient.created,recipient.removed', '--after', String(head)],
      {
        env: { ...process.env, MONGODB_URI: uri, SECRET_KEY: 'test-secret-key-0123456789', LOG_LEVEL: 'silent' },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const c = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'manual' });
      const ref: ConnectionRef = { _id: c.body.id, orgId: org.id, type: 'manual' };
      await applySourceChanges(ref, [{ op: 'upsert', key: 'zed@example.com', email: 'zed@example.com', active: true }]);
      await applySourceChanges(ref, [{ op: 'delete', key: 'zed@example.com' }]);
      const end = Date.now() + 15_000;
      while (out.split('\n').filter(Boolean).length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    const lines = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; data: { email: string } });
    assert.deepEqual(
      lines.map((l) => `${l.type} ${l.data.email}`),
      ['recipient.created zed@example.com', 'recipient.removed zed@example.com'],
      err,
    );
  });
});
