import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { runHrisSync, type HrisDeps } from '../../src/hris/sync';
import { createConnection, createOrganization, loadHrisConnection, type RecipientDoc } from '../../src/store';
import { Connection, Recipient } from '../../src/store/models';
import { testConfig } from '../helpers/config';
import { FinchServer, makeEmployees } from '../helpers/finchServer';
import { closeTestStore, openTestStore } from '../helpers/store';
import { fromStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

const config0 = testConfig();

async function hrisConnection(server: FinchServer) {
  const orgId = (await createOrganization('HRIS scale')).id;
  const c = await createConnection(
    { orgId, type: 'hris', accessToken: server.token },
    { publicUrl: 'http://localhost', secretKey: config0.SECRET_KEY },
  );
  return { orgId, id: c.id };
}

describe('HRIS sync at 10,000 employees (its own database: the store scans collections)', () => {
  const server = new FinchServer();
  let deps: HrisDeps;

  before(async () => {
    await openTestStore('hris_scale');
    await server.start();
    deps = { config: testConfig({ FINCH_BASE_URL: server.url }), logger: pino({ level: 'silent' }), backoffBaseMs: 20 };
  });
  after(async () => {
    await server.stop();
    await closeTestStore();
  });

  test('10,000 employees over many pages: one full snapshot, batches well under the limit, managers resolved', async () => {
    server.employees = makeEmployees(10_000);
    server.resetCounters();
    const { orgId, id } = await hrisConnection(server);
    const res = await runHrisSync(id, deps);
    assert.ok(res);
    assert.equal(res.outcome, 'succeeded', res.run.message ?? '');
    assert.equal(res.run.counts.created, 10_000);
    assert.equal(res.run.counts.rejected, 0);
    assert.equal(res.run.progress.pages, 20, '10,000 people in pages of 500');
    assert.equal(server.calls.directory, 20);
    assert.equal(server.calls.individual, 50, 'batches of 200');
    assert.equal(server.calls.employment, 50);
    assert.ok(server.maxBatch <= 500);
    assert.equal(res.calls, server.totalCalls(), 'the client counts every request it sends');
    assert.equal(await Recipient.countDocuments({ orgId, listed: true, status: 'active' }), 10_000);
    const e = server.employees[13]!;
    const r: RecipientDoc = fromStored((await Recipient.findOne({ orgId, email: 'emp13@corp.example' }).lean().exec()) as StoredRecipient);
    assert.equal(r.attributes.manager_email, 'emp10@corp.example');
    assert.equal(r.attributes.manager_name, 'First10 Last10');
    assert.equal(r.attributes.employee_id, e.source_id);
    assert.equal(r.attributes.department_name, e.department);
    assert.equal(r.attributes.city, 'Springfield');
    const conn = await loadHrisConnection(id);
    assert.equal(conn?.finchConnectionId, server.connectionId, 'introspect is cached on the connection');
    assert.ok(conn?.nextSyncAt && conn.nextSyncAt.getTime() > Date.now() + 23 * 3600_000, 'next run in about 24 h');
    const raw = (await Connection.findOne({ _id: id }).lean().exec()) as unknown as {
      hris: { introspection: { providerId: string; products: string[] }; lastRunStatus: string };
    };
    assert.equal(raw.hris.introspection.providerId, 'bamboo_hr');
    assert.deepEqual(raw.hris.introspection.products, ['company', 'directory', 'individual', 'employment']);
    assert.equal(raw.hris.lastRunStatus, 'succeeded');
  });
});
