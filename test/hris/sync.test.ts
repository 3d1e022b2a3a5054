import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { runHrisSync, type HrisDeps } from '../../src/hris/sync';
import { registry } from '../../src/server/metrics';
import {
  createConnection,
  createOrganization,
  discardHeldRun,
  encryptSecret,
  loadHrisConnection,
  type RecipientDoc,
} from '../../src/store';
import { Connection, Recipient, SourceRecord, StagedRow } from '../../src/store/models';
import { testConfig } from '../helpers/config';
import { FinchServer, makeEmployees, type FakeEmployee } from '../helpers/finchServer';
import { closeTestStore, openTestStore } from '../helpers/store';
import { fromStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

const config0 = testConfig();

async function hrisConnection(server: FinchServer, opts: { threshold?: number; mode?: 'automated' | 'assisted' } = {}) {
  const orgId = (await createOrganization(`HRIS ${Math.random().toString(36).slice(2, 8)}`)).id;
  const c = await createConnection(
    { orgId, type: 'hris', accessToken: server.token, mode: opts.mode, massRemovalThreshold: opts.threshold },
    { publicUrl: 'http://localhost', secretKey: config0.SECRET_KEY },
  );
  return { orgId, id: c.id };
}

/** Every recipient of the organization (tombstoned people too: they stay, unlisted, so their offboarding holds). */
async function people(orgId: string): Promise<Map<string, RecipientDoc>> {
  const docs: RecipientDoc[] = ((await Recipient.find({ orgId }).lean().exec()) as StoredRecipient[]).map(fromStored);
  return new Map(docs.map((d) => [d.email, d]));
}

async function snapshotOf(orgId: string): Promise<string> {
  const docs: RecipientDoc[] = ((await Recipient.find({ orgId }).sort({ _id: 1 }).lean().exec()) as StoredRecipient[]).map(fromStored);
  return JSON.stringify(docs.map((d) => [d.email, d.status, d.listed, d.attributes]));
}

describe('HRIS sync through Finch (the real SDK against a local Finch-compatible server)', () => {
  const server = new FinchServer();
  let deps: HrisDeps;

  before(async () => {
    await openTestStore('hris_sync');
    await server.start();
    deps = { config: testConfig({ FINCH_BASE_URL: server.url }), logger: pino({ level: 'silent' }), backoffBaseMs: 20 };
  });
  after(async () => {
    await server.stop();
    await closeTestStore();
  });

  test('terminations, end dates, leave, rehires, managers and people gone from the directory', async () => {
    const staff = makeEmployees(30, 'co.example', 'p');
    server.employees = staff;
    const { orgId, id } = await hrisConnection(server, { threshold: 0.5 });
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');

    const at = (i: number) => staff[i]!;
    Object.assign(at(1), { employment_status: 'terminated', is_active: false, end_date: '2026-01-31' });
    Object.assign(at(2), { employment_status: 'active', end_date: '2020-05-01' });
    Object.assign(at(3), { employment_status: 'leave', is_active: false });
    Object.assign(at(4), { employment_status: 'retired' });
    Object.assign(at(5), { title: 'Principal', manager_id: at(20).id, preferred_name: 'Pat' });
    const gone = staff.splice(29, 1)[0]!;
    const second = await runHrisSync(id, deps);
    assert.equal(second?.outcome, 'succeeded', second?.run.message ?? '');
    assert.equal(second.run.counts.deactivated, 3, 'terminated, ended, retired');
    assert.equal(second.run.counts.removed, 1, 'gone from the directory');
    assert.ok(second.run.startedAt && second.run.finishedAt && second.run.startedAt <= second.run.finishedAt);
    let p = await people(orgId);
    assert.equal(p.get('p1@co.example')?.status, 'offboarded');
    assert.equal(p.get('p2@co.example')?.status, 'offboarded', 'an end date in the past offboards');
    assert.equal(p.get('p3@co.example')?.status, 'active', 'leave does not offboard');
    assert.equal(p.get('p3@co.example')?.attributes.employment_status, 'leave');
    assert.equal(p.get('p4@co.example')?.status, 'offboarded');
    assert.equal(p.get(`p29@co.example`)?.status, 'offboarded', 'absent from a full HRIS directory: a tombstone that offboards');
    assert.equal(p.get(`p29@co.example`)?.listed, false);
    assert.equal(p.get('p5@co.example')?.attributes.manager_email, 'p20@co.example');
    assert.equal(p.get('p5@co.example')?.attributes.first_name, 'Pat');
    assert.equal(p.get('p5@co.example')?.attributes.job_title, 'Principal');
    const tomb = await SourceRecord.findOne({ connectionId: id, key: gone.id }).lean().exec();
    assert.equal(tomb?.deleted, true);

    // Rehired: back in the directory, active, with a rehire date after the old end date.
    Object.assign(at(1), { employment_status: 'active', is_active: true, latest_rehire_date: '2026-03-01' });
    staff.push(gone);
    const third = await runHrisSync(id, deps);
    assert.equal(third?.outcome, 'succeeded');
    p = await people(orgId);
    assert.equal(p.get('p1@co.example')?.status, 'active', 'a rehire restores');
    assert.equal(p.get('p29@co.example')?.status, 'active', 'back in the directory');
  });

  test('a truncated directory is held by the mass-removal guard: nothing changes', async () => {
    server.employees = makeEmployees(20, 'trunc.example', 't');
    const { orgId, id } = await hrisConnection(server);
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');
    const before = await snapshotOf(orgId);
    server.truncateTo = 5;
    try {
      const held = await runHrisSync(id, deps);
      assert.equal(held?.outcome, 'needs_review');
      assert.equal(held.run.status, 'needs_review');
      assert.deepEqual(held.run.review, { existing: 20, wouldRemove: 15, wouldDeactivate: 0, threshold: 0.2 });
      assert.equal(await snapshotOf(orgId), before);
      await discardHeldRun(held.run._id);
      // An empty directory too.
      server.truncateTo = 0;
      const empty = await runHrisSync(id, deps);
      assert.equal(empty?.outcome, 'needs_review');
      assert.equal(await snapshotOf(orgId), before);
      await discardHeldRun(empty.run._id);
    } finally {
      server.truncateTo = null;
    }
  });

  test('a 202 (data_sync_in_progress) anywhere changes nothing and the run says pending', async () => {
    server.employees = makeEmployees(12, 'pend.example', 'q');
    const { orgId, id } = await hrisConnection(server);
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');
    server.employees[0]!.title = 'Changed while Finch syncs';
    server.employees.splice(5, 3);
    const before = await snapshotOf(orgId);
    for (const product of ['directory', 'employment', 'introspect'] as const) {
      server.pending.add(product);
      try {
        const started = Date.now();
        const res = await runHrisSync(id, deps);
        assert.equal(res?.outcome, 'pending', product);
        assert.equal(res.run.status, 'pending');
        assert.match(res.run.message ?? '', /202 data_sync_in_progress/);
        assert.equal(await snapshotOf(orgId), before, `nothing changed (202 at ${product})`);
        assert.equal(await StagedRow.countDocuments({ runId: res.run._id }), 0);
        const conn = await loadHrisConnection(id);
        const retryIn = conn!.nextSyncAt!.getTime() - started;
        assert.ok(retryIn >= 900_000 && retryIn < 3600_000, 'retried later, sooner than the daily run');
      } finally {
        server.pending.delete(product);
      }
    }
  });

  test('a revoked token marks the connection needs_reauth, changes nothing, and shows in /metrics; a new token clears it', async () => {
    server.employees = makeEmployees(8, 'reauth.example', 'r');
    const { orgId, id } = await hrisConnection(server);
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');
    const before = await snapshotOf(orgId);
    server.revoked = true;
    server.employees.pop();
    try {
      const res = await runHrisSync(id, deps);
      assert.equal(res?.outcome, 'needs_reauth');
      assert.equal(res.run.status, 'failed');
      assert.match(res.run.message ?? '', /reauthenticate_user/);
      assert.equal(res.calls, 1, '401 is not retried');
      assert.equal(await snapshotOf(orgId), before);
      assert.equal((await loadHrisConnection(id))?.needsReauth, true);
      const metrics = await registry.metrics();
      assert.match(metrics, /audience_sync_hris_connections_needs_reauth [1-9]/);
      assert.match(metrics, /audience_sync_hris_runs_total\{outcome="needs_reauth"\} [1-9]/);
      assert.match(metrics, /audience_sync_finch_requests_total\{product="introspect",status="401"\} [1-9]/);
    } finally {
      server.revoked = false;
    }
    const newToken = `finch-new-${Date.now()}`;
    server.token = newToken;
    await Connection.updateOne({ _id: id }, { $set: { 'hris.accessTokenEnc': encryptSecret(newToken, config0.SECRET_KEY) } }).exec();
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');
    assert.equal((await loadHrisConnection(id))?.needsReauth, false);
  });

  test('429 waits (Retry-After or backoff), 5xx retries; a lasting outage fails the run without touching data', async () => {
    server.employees = makeEmployees(6, 'retry.example', 's');
    const { orgId, id } = await hrisConnection(server);
    server.fail('directory', { status: 429, retryAfter: '1' });
    server.fail('individual', { status: 429 });
    server.fail('employment', { status: 503 }, 2);
    const started = Date.now();
    const ok = await runHrisSync(id, deps);
    assert.equal(ok?.outcome, 'succeeded', ok?.run.message ?? '');
    assert.ok(Date.now() - started >= 1000, 'waited the Retry-After second');
    assert.equal(ok.rateLimited, 2);
    assert.equal(ok.run.counts.created, 6);
    const before = await snapshotOf(orgId);
    server.employees[0]!.title = 'Never applied';
    server.fail('employment', { status: 500 }, 10);
    try {
      const failed = await runHrisSync(id, deps);
      assert.equal(failed?.outcome, 'failed');
      assert.match(failed.run.message ?? '', /Finch answered 500 after 4 attempts; nothing was changed/);
      assert.equal(await snapshotOf(orgId), before);
    } finally {
      server.faults.clear();
    }
  });

  test('per-item errors in batch answers are rejected rows; those people keep what was stored; no email is reported', async () => {
    const staff = makeEmployees(10, 'items.example', 'i');
    server.employees = staff;
    const { orgId, id } = await hrisConnection(server);
    assert.equal((await runHrisSync(id, deps))?.outcome, 'succeeded');
    staff[2]!.title = 'Not readable this time';
    server.itemErrors.employment.add(staff[2]!.id);
    server.itemErrors.individual.add(staff[3]!.id);
    const noEmail: FakeEmployee = { ...makeEmployees(1, 'items.example', 'noemail')[0]!, emails: [] };
    staff.push(noEmail);
    try {
      const res = await runHrisSync(id, deps);
      assert.equal(res?.outcome, 'succeeded', JSON.stringify(res?.run));
      assert.equal(res.run.status, 'completed_with_errors', 'applied, with rejected rows');
      assert.equal(res.run.counts.rejected, 3);
      const reasons = res.run.errors.map((e) => e.reason).join('\n');
      assert.match(reasons, new RegExp(`employment ${staff[2]!.id}: Finch answered 404 \\(employment_not_found`));
      assert.match(reasons, new RegExp(`individual ${staff[3]!.id}: Finch answered 404`));
      assert.match(reasons, new RegExp(`individual ${noEmail.id}: the HRIS has no email`));
      const p = await people(orgId);
      assert.equal(p.get('i2@items.example')?.status, 'active', 'kept, not taken for gone');
      assert.notEqual(p.get('i2@items.example')?.attributes.job_title, 'Not readable this time');
      assert.equal(p.get('i3@items.example')?.status, 'active');
      assert.equal(p.size, 10, 'the person without an email makes no recipient');
      assert.equal(p.has('noemail0@items.example'), false);
      assert.equal(await SourceRecord.countDocuments({ connectionId: id, deleted: false }), 11, 'but is stored');
    } finally {
      server.itemErrors.employment.clear();
      server.itemErrors.individual.clear();
    }
  });
});
