import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { waitForBackgroundJobs } from '../../src/api/jobs';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, uploadAndWait, type Org } from './helpers';

const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SCIM_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/**
 * The same person arriving by SCIM, by a CSV upload and by a manual add (issue 4, "How it is judged"), end to end
 * through the HTTP interfaces.
 */
describe('end to end: one person from SCIM, CSV and a manual add', () => {
  const app = makeApp();
  let org: Org;
  let scim: { id: string; token: string };
  let scimUserId: string;
  let csvId: string;
  let audienceId: string;

  const scimPath = (p: string) => `/scim/v2/${scim.id}${p}`;
  const scimCall = (method: 'post' | 'patch', p: string, body: unknown) =>
    request(app)[method](scimPath(p)).set(bearer(scim.token)).set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  const jane = () => request(app).get('/api/v1/recipients/jane@example.com').set(bearer(org.reader));
  const audience = async () => {
    const res = await request(app).get(`/api/v1/audiences/${audienceId}/recipients`).set(bearer(org.reader));
    assert.equal(res.status, 200);
    return res.body.items.map((r: { email: string }) => r.email);
  };

  before(async () => {
    await openTestStore('api_e2e');
    org = await createOrgWithTokens('Acme');
  });
  after(async () => {
    await waitForBackgroundJobs();
    await closeTestStore();
  });

  it('merges the three arrivals into one recipient with three sources', async () => {
    const s = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'scim', provider: 'okta' });
    assert.equal(s.status, 201);
    scim = { id: s.body.id, token: s.body.token };
    const user = await scimCall('post', '/Users', {
      schemas: [SCIM_USER],
      userName: 'jane@example.com',
      name: { givenName: 'Jane', familyName: 'Doe' },
      emails: [{ value: 'Jane@Example.com', type: 'work', primary: true }],
      active: true,
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    scimUserId = user.body.id;
    const group = await scimCall('post', '/Groups', {
      schemas: [SCIM_GROUP],
      displayName: 'Engineering',
      members: [{ value: scimUserId }],
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));

    const c = await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv' });
    csvId = c.body.id;
    const run = await uploadAndWait(
      app,
      org.admin,
      csvId,
      'full',
      'Email Address,First Name,Last Name,Department,Country,Groups\njane@example.com,Janet,Doe,Sales,US,Newsletter\nraj@example.com,Raj,Patel,Sales,US,Newsletter\n',
    );
    assert.equal(run.status, 'succeeded');

    const manual = await request(app)
      .post('/api/v1/recipients')
      .set(bearer(org.admin))
      .send({ email: 'JANE@example.com', firstName: 'J.' });
    assert.equal(manual.status, 201);

    const res = await jane();
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'active');
    assert.deepEqual(res.body.sources.map((x: { type: string }) => x.type).sort(), ['csv', 'manual', 'scim']);
    // Directory > CSV > manual for the names; the department only the CSV knows.
    assert.equal(res.body.firstName, 'Jane');
    assert.equal(res.body.attributes.department_name, 'Sales');
    assert.deepEqual(res.body.groupDetails.map((g: { name: string }) => g.name).sort(), ['Engineering', 'Newsletter']);
    assert.deepEqual(res.body.sourceDetails.map((x: { name: string }) => x.name).sort(), [
      'Manual entries',
      'csv connection',
      'scim connection',
    ]);
    const all = await request(app).get('/api/v1/recipients').set(bearer(org.reader));
    assert.deepEqual(
      all.body.items.map((r: { email: string }) => r.email),
      ['jane@example.com', 'raj@example.com'],
    );
  });

  it('follows the organization attribute priority', async () => {
    const bad = await request(app)
      .patch('/api/v1/organization')
      .set(bearer(org.admin))
      .send({ attributePriority: ['csv', 'scim'] });
    assert.equal(bad.status, 400);
    const csvFirst = await request(app)
      .patch('/api/v1/organization')
      .set(bearer(org.admin))
      .send({ attributePriority: ['csv', 'hris', 'scim', 'sftp', 'manual'] });
    assert.equal(csvFirst.status, 200);
    assert.deepEqual(csvFirst.body.attributePriority, ['csv', 'hris', 'scim', 'sftp', 'manual']);
    // The re-merge the change calls for runs after the answer, as a background job.
    await waitForBackgroundJobs();
    assert.equal((await jane()).body.firstName, 'Janet');
    await request(app)
      .patch('/api/v1/organization')
      .set(bearer(org.admin))
      .send({ attributePriority: ['hris', 'scim', 'sftp', 'csv', 'manual'] });
    await waitForBackgroundJobs();
    assert.equal((await jane()).body.firstName, 'Jane');
  });

  it('puts them in an audience of two groups, a segment and the individual once', async () => {
    const groups = await request(app).get('/api/v1/groups').set(bearer(org.reader));
    const ids = groups.body.items.map((g: { id: string }) => g.id);
    assert.equal(ids.length, 2);
    const seg = await request(app)
      .post('/api/v1/segments')
      .set(bearer(org.admin))
      .send({ name: 'US Sales', filter: 'department_name eq "Sales" and country eq "US"' });
    assert.equal(seg.status, 201);
    const segRecipients = await request(app).get(`/api/v1/segments/${seg.body.id}/recipients`).set(bearer(org.reader));
    assert.deepEqual(
      segRecipients.body.items.map((r: { email: string }) => r.email),
      ['jane@example.com', 'raj@example.com'],
    );
    const a = await request(app)
      .post('/api/v1/audiences')
      .set(bearer(org.admin))
      .send({
        name: 'Weekly',
        include: { groups: ids, segments: [seg.body.id], recipients: ['jane@example.com'] },
        exclude: { recipients: ['raj@example.com'] },
      });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    audienceId = a.body.id;
    assert.deepEqual(await audience(), ['jane@example.com']);

    const preview = await request(app).get(`/api/v1/audiences/${audienceId}/preview`).set(bearer(org.reader));
    assert.equal(preview.body.count, 1);
    assert.equal(preview.body.sample[0].email, 'jane@example.com');

    const csv = await request(app).get(`/api/v1/audiences/${audienceId}/recipients`).set(bearer(org.reader)).set('Accept', 'text/csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers['content-type']!, /^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^email,first_name,last_name,employee_id,job_title,department_name/);
    assert.match(lines[1]!, /^Jane@Example\.com,Jane,Doe,,,Sales,/);

    const noRaj = await request(app)
      .patch(`/api/v1/audiences/${audienceId}`)
      .set(bearer(org.admin))
      .send({ exclude: { recipients: [] } });
    assert.equal(noRaj.status, 200);
    assert.deepEqual(await audience(), ['jane@example.com', 'raj@example.com']);
    // A segment an audience uses cannot be deleted from under it.
    assert.equal((await request(app).delete(`/api/v1/segments/${seg.body.id}`).set(bearer(org.admin))).status, 409);
    const bad = await request(app)
      .post('/api/v1/audiences')
      .set(bearer(org.admin))
      .send({ name: 'x', include: { groups: ['nope'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.type, 'urn:audience-sync:problem:invalid-reference');
    const badFilter = await request(app)
      .post('/api/v1/segments')
      .set(bearer(org.admin))
      .send({ name: 'x', filter: 'department_name zz "x"' });
    assert.equal(badFilter.status, 400);
    assert.equal(badFilter.body.type, 'urn:audience-sync:problem:invalid-filter');
  });

  it('offboarding by SCIM removes them from every audience although the CSV still lists them; reactivation restores them', async () => {
    const off = await scimCall('patch', `/Users/${scimUserId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const res = await jane();
    assert.equal(res.body.status, 'offboarded');
    assert.ok(res.body.sources.some((x: { type: string; active: boolean }) => x.type === 'csv' && x.active));
    assert.deepEqual(await audience(), ['raj@example.com']);
    const csv = await request(app).get(`/api/v1/audiences/${audienceId}/recipients`).set(bearer(org.reader)).set('Accept', 'text/csv');
    assert.equal(csv.text.includes('Jane@Example.com'), false);

    const on = await scimCall('patch', `/Users/${scimUserId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'active', value: true }],
    });
    assert.equal(on.status, 200);
    assert.deepEqual(await audience(), ['jane@example.com', 'raj@example.com']);
  });

  it('deleting the CSV connection leaves the SCIM-asserted person in place', async () => {
    const del = await request(app).delete(`/api/v1/connections/${csvId}`).set(bearer(org.admin));
    assert.equal(del.status, 204);
    const res = await jane();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.sources.map((x: { type: string }) => x.type).sort(), ['manual', 'scim']);
    assert.equal(res.body.attributes.department_name, undefined);
    // Raj was only in the CSV.
    assert.equal((await request(app).get('/api/v1/recipients/raj@example.com').set(bearer(org.reader))).status, 404);
    // Still in the audience through the SCIM group.
    assert.deepEqual(await audience(), ['jane@example.com']);

    const removed = await request(app).delete('/api/v1/recipients/jane@example.com/manual').set(bearer(org.admin));
    assert.equal(removed.status, 204);
    assert.deepEqual(
      (await jane()).body.sources.map((x: { type: string }) => x.type),
      ['scim'],
    );
  });
});
