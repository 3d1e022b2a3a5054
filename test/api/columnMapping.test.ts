import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createConnection } from '../../src/store';
import { AuditEvent, Connection, StagedRow, SyncRun } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, storeState, upload, uploadAndWait, type Org } from './helpers';
import { checkResponse } from './schemaCheck';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };

describe('admin API: column mappings and dry runs of uploads', () => {
  const app = makeApp();
  let org: Org;
  before(async () => {
    await openTestStore('api_colmap');
    org = await createOrgWithTokens('Acme');
  });
  after(closeTestStore);

  const conn = async (type: string) => (await createConnection({ orgId: org.id, type }, env)).id;
  const put = (id: string, mapping: unknown, token = org.admin) =>
    request(app).put(`/api/v1/connections/${id}/column-mapping`).set(bearer(token)).send({ mapping });
  const dryRun = (id: string, mode: 'full' | 'delta', csv: string) =>
    request(app)
      .post(`/api/v1/connections/${id}/uploads?mode=${mode}&dryRun=true`)
      .set(bearer(org.admin))
      .set('Content-Type', 'text/csv')
      .send(Buffer.from(csv));
  /** Everything a dry run must leave alone. */
  const everything = async (connectionId: string) =>
    JSON.stringify({
      people: await storeState(org.id),
      runs: await SyncRun.countDocuments({ orgId: org.id }).exec(),
      staged: await StagedRow.countDocuments({}).exec(),
      audit: await AuditEvent.countDocuments({ orgId: org.id }).exec(),
      conn: await Connection.findOne({ _id: connectionId }).lean().exec(),
    });

  it('sets, reads, validates and clears the column mapping of csv and sftp connections', async () => {
    const csv = await conn('csv');
    const empty = await request(app).get(`/api/v1/connections/${csv}/column-mapping`).set(bearer(org.admin));
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { connectionId: csv, mapping: {} });
    checkResponse('get', '/connections/{id}/column-mapping', empty);

    const set = await put(csv, {
      ' Login ': 'EMAIL',
      'Dept.': 'department_name',
      'Badge $': 'ignore',
      'Team.Name': 'custom: Team Name',
      Office: 'ignore',
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const normalized = {
      Login: 'email',
      'Dept.': 'department_name',
      'Badge $': 'ignore',
      'Team.Name': 'custom:team_name',
      Office: 'ignore',
    };
    assert.deepEqual(set.body.mapping, normalized);
    checkResponse('put', '/connections/{id}/column-mapping', set);
    // Stored in order, headers with dots and dollars included.
    assert.deepEqual((await request(app).get(`/api/v1/connections/${csv}/column-mapping`).set(bearer(org.owner))).body.mapping, normalized);
    assert.deepEqual(
      Object.keys((await request(app).get(`/api/v1/connections/${csv}/column-mapping`).set(bearer(org.owner))).body.mapping),
      Object.keys(normalized),
    );

    for (const [mapping, pattern] of [
      [{ A: 'emial' }, /unknown target "emial" for "A": use email, status/],
      [{ A: 'email', B: 'email' }, /email is mapped from both "A" and "B"/],
      [{ 'Work Email': 'email', 'work-email': 'status' }, /name the same column/],
      [{ A: 'custom:' }, /unknown target/],
      [{ '': 'email' }, /not empty/],
      [{ A: 5 }, /mapping\.A/],
    ] as const) {
      const res = await put(csv, mapping);
      assert.equal(res.status, 400, JSON.stringify(mapping));
      assert.match(res.body.detail, pattern);
      checkResponse('put', '/connections/{id}/column-mapping', res);
    }
    // A refused mapping changed nothing.
    assert.deepEqual((await request(app).get(`/api/v1/connections/${csv}/column-mapping`).set(bearer(org.admin))).body.mapping, normalized);

    const sftp = await conn('sftp');
    assert.equal((await put(sftp, { Mail: 'email' })).status, 200);
    const scim = await conn('scim');
    const wrong = await put(scim, { Mail: 'email' });
    assert.equal(wrong.status, 409);
    assert.equal(wrong.body.type, 'urn:audience-sync:problem:wrong-connection-type');
    assert.equal((await put(csv, {}, org.member)).status, 403);

    const cleared = await put(csv, {});
    assert.deepEqual(cleared.body.mapping, {});
    assert.equal((await Connection.findOne({ _id: csv }).lean().exec())!.columnMapping, undefined);
  });

  it('applies the mapping to uploads: mapped headers take their target, the others are still detected', async () => {
    const csv = await conn('csv');
    assert.equal(
      (await put(csv, { Login: 'email', 'Work Email': 'custom:work_email', Squad: 'department_name', Salary: 'ignore' })).status,
      200,
    );
    const run = await uploadAndWait(
      app,
      org.admin,
      csv,
      'full',
      'Login,Work Email,Squad,Salary,Given Name\nann@x.example,ann.w@x.example,Core,100,Ann\n',
    );
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.created, 1);
    const person = await request(app)
      .get(`/api/v1/recipients/${encodeURIComponent('ann@x.example')}`)
      .set(bearer(org.admin));
    assert.equal(person.status, 200);
    assert.equal(person.body.attributes.department_name, 'Core');
    assert.equal(person.body.attributes.first_name, 'Ann');
    assert.equal(person.body.attributes.custom.work_email, 'ann.w@x.example');
    assert.equal(person.body.attributes.custom.salary, undefined, 'an ignored column is not stored');
  });

  it('a dry run answers the columns, counts, first rejected rows and the guard verdict, and changes nothing', async () => {
    const csv = await conn('csv');
    const people = Array.from({ length: 10 }, (_, i) => `p${i}@x.example`);
    const first = await uploadAndWait(
      app,
      org.admin,
      csv,
      'full',
      `Email,First Name,Dept\n${people.map((p, i) => `${p},P${i},Sales`).join('\n')}\n`,
    );
    assert.equal(first.status, 'succeeded');
    assert.equal((await put(csv, { Dept: 'department_name', Note: 'ignore' })).status, 200);

    // A truncated export: 4 of 10 people, one changed, one terminated, one new, two bad rows.
    const truncated = [
      'Work Email,First Name,Dept,Note,Status',
      'p0@x.example,P0,Sales,,Active',
      'p1@x.example,P1,Support,,Active',
      'p2@x.example,P2,Sales,,Terminated',
      'new@x.example,New,Sales,,Active',
      'not-an-email,Bad,Sales,,Active',
      'p3@x.example,P3,Sales,,sabbatical-ish',
      '',
    ].join('\n');
    const before = await everything(csv);
    const res = await dryRun(csv, 'full', truncated);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    checkResponse('post', '/connections/{id}/uploads', res);
    assert.equal(await everything(csv), before, 'a dry run stores nothing: no run, no people, no audit event');
    const body = res.body;
    assert.equal(body.dryRun, true);
    assert.deepEqual(
      body.columns.map((c: { header: string; target: string; how: string }) => [c.header, c.target, c.how]),
      [
        ['Work Email', 'email', 'detected'],
        ['First Name', 'first_name', 'detected'],
        ['Dept', 'department_name', 'explicit'],
        ['Note', 'ignore', 'explicit'],
        ['Status', 'status', 'detected'],
      ],
    );
    // p0 and p1 change (the row as received is part of what a source says), p2 leaves, new@ arrives, p3's rejected row
    // keeps p3 as they are, p4..p9 would be removed.
    assert.deepEqual(body.counts, { rows: 6, created: 1, updated: 2, unchanged: 1, deactivated: 1, removed: 6, rejected: 2 });
    assert.deepEqual(body.rejectedRows, [
      { line: 6, reason: 'invalid email "not-an-email"' },
      { line: 7, reason: 'unknown status "sabbatical-ish" (use active, inactive or terminated)' },
    ]);
    assert.equal(body.guard.held, true);
    assert.deepEqual(
      { ...body.guard, reason: undefined },
      { held: true, reason: undefined, existing: 10, wouldRemove: 6, wouldDeactivate: 1, threshold: 0.2 },
    );
    assert.match(body.guard.reason, /would remove 6 and deactivate 1 of 10 people \(more than 20 %\)/);

    // The real upload of the same file is held by the guard for the same reasons, and applying it ends with the counts the dry run told.
    const real = await uploadAndWait(app, org.admin, csv, 'full', truncated);
    assert.equal(real.status, 'needs_review');
    assert.deepEqual(real.review, { existing: 10, wouldRemove: 6, wouldDeactivate: 1, threshold: 0.2 });
    const applied = await request(app).post(`/api/v1/sync-runs/${real.id}/apply`).set(bearer(org.admin));
    assert.equal(applied.status, 200);
    const { rows: _rows, ...told } = body.counts;
    assert.deepEqual(applied.body.counts, told);
  });

  it('a delta dry run is never held; its counts match the real run that follows', async () => {
    const csv = await conn('csv');
    await uploadAndWait(app, org.admin, csv, 'full', 'email,groups\na@x.example,Staff\nb@x.example,Staff\n');
    const delta =
      'email,groups,action\na@x.example,Staff,\nb@x.example,,delete\nc@x.example,Staff;New,\nc@x.example,Staff;New;Other,\nmissing@x.example,,delete\n';
    const before = await everything(csv);
    const res = await dryRun(csv, 'delta', delta);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await everything(csv), before, 'no groups were created either');
    assert.equal(res.body.guard.held, false);
    assert.equal(res.body.guard.reason, null);
    const real = await uploadAndWait(app, org.admin, csv, 'delta', delta);
    const { rows, ...told } = res.body.counts;
    assert.equal(rows, 5);
    assert.deepEqual(real.counts, told);
    // c@ is created; its second row is rejected as a duplicate of line 4 (one row per person, as in full files); a@'s row now has an action column (the row as received is part of
    // what the source says), so it is updated too; b@ is removed; missing@ was never there.
    assert.deepEqual(told, { created: 1, updated: 1, unchanged: 0, deactivated: 0, removed: 1, rejected: 1 });
  });

  it('a dry run of an unreadable file answers 422 without a sync run; sftp connections take dry runs but not uploads', async () => {
    const csv = await conn('csv');
    const before = await everything(csv);
    const ambiguous = await dryRun(csv, 'full', 'Email,E-mail\na@x.example,b@x.example\n');
    assert.equal(ambiguous.status, 422);
    assert.match(ambiguous.body.detail, /^ambiguous email columns: "Email", "E-mail"/);
    assert.equal(ambiguous.body.syncRunId, undefined);
    checkResponse('post', '/connections/{id}/uploads', ambiguous);
    assert.equal((await dryRun(csv, 'full', 'name\nAnn\n')).status, 422);
    assert.equal(await everything(csv), before);
    // The real upload of the ambiguous file fails the same way (with a failed run), and a mapping resolves it.
    const realAmbiguous = await upload(app, org.admin, csv, 'full', 'Email,E-mail\na@x.example,b@x.example\n');
    assert.equal(realAmbiguous.status, 422);
    assert.ok(realAmbiguous.body.syncRunId);
    await put(csv, { 'E-mail': 'email' });
    const resolved = await dryRun(csv, 'full', 'Email,E-mail\na@x.example,b@x.example\n');
    assert.equal(resolved.status, 200);
    assert.deepEqual(
      resolved.body.columns.map((c: { target: string }) => c.target),
      ['custom:email', 'email'],
    );

    const sftp = await conn('sftp');
    const ok = await dryRun(sftp, 'full', 'EMPNO,EMAILADDRESS,NAMEFIRST\n7,z@x.example,Zed\n');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.counts, { rows: 1, created: 1, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 0 });
    const notCsv = await upload(app, org.admin, sftp, 'full', 'email\na@x.example\n');
    assert.equal(notCsv.status, 409);
    assert.equal(notCsv.body.type, 'urn:audience-sync:problem:wrong-connection-type');
    const badFlag = await request(app)
      .post(`/api/v1/connections/${csv}/uploads?mode=full&dryRun=yes`)
      .set(bearer(org.admin))
      .set('Content-Type', 'text/csv')
      .send('email\n');
    assert.equal(badFlag.status, 400);
  });
});
