import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { newId, recipientId, type RecipientDoc } from '../../src/store';
import { rawCollection } from '../../src/store/collections';
import { Group, Recipient } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, type Org } from './helpers';

/**
 * Audience resolution over a population large enough for several pages and several CSV chunks: JSON pages, the CSV
 * export and the preview agree, each person once; inactive, offboarded and removed people never appear.
 */
describe('admin API: audience pages, CSV export and preview agree', () => {
  const app = makeApp();
  let org: Org;
  const N = 1500;
  let groupA: string;
  let groupB: string;
  let expected: Set<string>;

  before(async () => {
    await openTestStore('api_audience');
    org = await createOrgWithTokens('Acme');
    groupA = newId();
    groupB = newId();
    const now = new Date();
    for (const [id, name] of [
      [groupA, 'A'],
      [groupB, 'B'],
    ] as [string, string][]) {
      await rawCollection(Group).insertOne({
        _id: id,
        orgId: org.id,
        connectionId: 'c',
        key: name.toLowerCase(),
        displayName: name,
        displayNameLower: name.toLowerCase(),
        externalId: null,
        memberGroups: [],
        v: 1,
        createdAt: now,
        updatedAt: now,
      });
    }
    // Written directly (this test is about reading): i%4 0 → A, 1 → B, 2 → A and B, 3 → Sales segment only.
    expected = new Set();
    const docs: RecipientDoc[] = [];
    for (let i = 0; i < N; i++) {
      const email = `p${String(i).padStart(5, '0')}@example.com`;
      const status = i % 50 === 7 ? 'inactive' : i % 50 === 9 ? 'offboarded' : 'active';
      const listed = i % 50 !== 11;
      const groups = i % 4 === 0 ? [groupA] : i % 4 === 1 ? [groupB] : i % 4 === 2 ? [groupA, groupB] : [];
      const attributes = { first_name: `P,${i}`, last_name: 'Quote"d', department_name: i % 4 === 3 ? 'Sales' : 'Ops' };
      if (status === 'active' && listed && i % 100 !== 42) expected.add(email);
      docs.push({
        _id: recipientId(org.id, email),
        orgId: org.id,
        email,
        emailDisplay: email,
        listed,
        status,
        firstName: attributes.first_name,
        lastName: attributes.last_name,
        attributes,
        groups,
        sources: [],
        contribs: [],
        v: 1,
        createdAt: now,
        updatedAt: now,
      });
    }
    await rawCollection(Recipient).insertMany(docs);
  });
  after(closeTestStore);

  it('resolves groups ∪ segment − exclusions the same way in every view', async () => {
    const seg = await request(app)
      .post('/api/v1/segments')
      .set(bearer(org.admin))
      .send({ name: 'Sales', filter: 'department_name eq "Sales"' });
    const excluded = [...Array(N).keys()].filter((i) => i % 100 === 42).map((i) => `p${String(i).padStart(5, '0')}@example.com`);
    const a = await request(app)
      .post('/api/v1/audiences')
      .set(bearer(org.admin))
      .send({ name: 'All', include: { groups: [groupA, groupB], segments: [seg.body.id] }, exclude: { recipients: excluded } });
    assert.equal(a.status, 201, JSON.stringify(a.body));

    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await request(app)
        .get(`/api/v1/audiences/${a.body.id}/recipients`)
        .query({ limit: 500, ...(cursor ? { cursor } : {}) })
        .set(bearer(org.reader));
      assert.equal(res.status, 200);
      paged.push(
        ...res.body.items.map((r: { email: string; status: string }) => {
          assert.equal(r.status, 'active');
          return r.email;
        }),
      );
      cursor = res.body.nextCursor;
    } while (cursor);
    assert.equal(new Set(paged).size, paged.length, 'each person once');
    assert.deepEqual(new Set(paged), expected);

    const csv = await request(app)
      .get(`/api/v1/audiences/${a.body.id}/recipients`)
      .set(bearer(org.reader))
      .set('Accept', 'text/csv')
      .buffer(true)
      .parse((res, cb) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => cb(null, text));
      });
    assert.equal(csv.status, 200);
    const lines = (csv.body as string).split('\r\n').filter(Boolean);
    assert.equal(lines.length - 1, expected.size);
    assert.match(lines[1]!, /^p\d{5}@example\.com,"P,\d+","Quote""d",/);
    assert.deepEqual(new Set(lines.slice(1).map((l) => l.split(',')[0])), expected);

    const preview = await request(app).get(`/api/v1/audiences/${a.body.id}/preview?sample=3`).set(bearer(org.reader));
    assert.equal(preview.body.count, expected.size);
    assert.equal(preview.body.sample.length, 3);
  });
});
