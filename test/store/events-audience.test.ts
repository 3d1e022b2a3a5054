import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import {
  applySourceChanges,
  audienceChanges,
  audienceQuery,
  createConnection,
  headCursor,
  newId,
  recipientId,
  type AudienceSelection,
  type ConnectionRef,
  type SourceChange,
} from '../../src/store';
import { Audience, Recipient, Segment } from '../../src/store/models';
import { bearer, createOrgWithTokens, makeApp, type Org } from '../api/helpers';
import { closeTestStore, openTestStore } from '../helpers/store';
import { mulberry32 } from '../helpers/random';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };
const MERGES = Number(process.env.AUDIENCE_EVENTS_MERGES ?? 500);
const WINDOW = Number(process.env.AUDIENCE_EVENTS_WINDOW ?? 5);

describe('audience changes equal the difference of full resolutions', () => {
  let org: Org;
  const conns: ConnectionRef[] = [];
  const audiences: { id: string; include: AudienceSelection; exclude: AudienceSelection }[] = [];

  before(async () => {
    await openTestStore('events_audience');
    org = await createOrgWithTokens('Acme');
    for (const type of ['hris', 'csv', 'manual', 'scim']) {
      const c = await createConnection(
        { orgId: org.id, type, accessToken: type === 'hris' ? 'tok' : undefined, extendedAttributes: true },
        env,
      );
      conns.push({ _id: c.id, orgId: org.id, type });
    }
    const seg = async (filter: string) => {
      const id = newId();
      const now = new Date();
      await Segment.create({ _id: id, orgId: org.id, name: filter, filter, createdAt: now, updatedAt: now });
      return id;
    };
    const sales = await seg('department_name eq "Sales"');
    const us = await seg('country eq "US" or custom.tier sw "gold"');
    const none: AudienceSelection = { groups: [], segments: [], recipients: [] };
    const defs: [AudienceSelection, AudienceSelection][] = [
      [{ ...none, groups: ['g1'] }, none],
      [
        { ...none, segments: [sales] },
        { ...none, groups: ['g2'] },
      ],
      [
        { groups: ['g2'], segments: [], recipients: [recipientId(org.id, 'p0@example.com'), recipientId(org.id, 'p1@example.com')] },
        { ...none, segments: [us] },
      ],
      [
        { ...none, groups: ['g1', 'g3'], segments: [us] },
        { ...none, recipients: [recipientId(org.id, 'p2@example.com')] },
      ],
    ];
    for (const [include, exclude] of defs) {
      const id = newId();
      const now = new Date();
      await Audience.create({ _id: id, orgId: org.id, name: id, include, exclude, createdAt: now, updatedAt: now });
      audiences.push({ id, include, exclude });
    }
  });
  after(async () => {
    await closeTestStore();
  });

  // The full resolution's own query (definitions do not change during the run, so it is built once per audience).
  const queries = new Map<string, Record<string, unknown>>();
  async function resolve(a: { id: string; include: AudienceSelection; exclude: AudienceSelection }): Promise<Set<string>> {
    let q = queries.get(a.id);
    if (!q) queries.set(a.id, (q = await audienceQuery(org.id, a.include, a.exclude)));
    const docs = await Recipient.find(q, { _id: 1 }).lean().exec();
    return new Set(docs.map((d) => String(d._id)));
  }

  test(`${MERGES} random merges: every audience's changes since the previous cursor equal the difference of its resolutions`, async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    console.log(`# audience changes seed: ${seed}`);
    const rnd = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const people = Array.from({ length: 24 }, (_, i) => `p${i}@example.com`);
    const groups = ['g1', 'g2', 'g3'];
    let sets = await Promise.all(audiences.map(resolve));
    let cursor = await headCursor(org.id);
    const start = { cursor, sets };
    let changesSeen = 0;
    let tMerge = 0;
    let tResolve = 0;
    let tChanges = 0;
    for (let m = 0; m < MERGES; m++) {
      const conn = pick(conns);
      const changes: SourceChange[] = [];
      const used = new Set<string>();
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const email = pick(people);
        if (used.has(email)) continue;
        used.add(email);
        const r = rnd();
        if (r < 0.6) {
          changes.push({
            op: 'upsert',
            key: email,
            email: rnd() < 0.1 ? email.toUpperCase() : email,
            active: rnd() < 0.8,
            attributes: {
              first_name: pick(['Ann', 'Bo', '']),
              department_name: pick(['Sales', 'Eng', '']),
              country: pick(['US', 'DE', '']),
              ...(rnd() < 0.3 ? { custom: { tier: pick(['gold', 'goldish', 'silver']) } } : {}),
            },
            groups: rnd() < 0.7 ? groups.filter(() => rnd() < 0.4) : undefined,
          });
        } else if (r < 0.75)
          changes.push({ op: 'groups', key: email, add: [pick(groups)], remove: rnd() < 0.5 ? [pick(groups)] : undefined });
        else if (r < 0.88) changes.push({ op: conn.type === 'hris' || conn.type === 'scim' ? 'tombstone' : 'delete', key: email });
        else changes.push({ op: 'delete', key: email });
      }
      const t0 = performance.now();
      await applySourceChanges(conn, changes);
      tMerge += performance.now() - t0;
      // Full resolutions every WINDOW merges: the changes since the cursor of the previous window, netted over its
      // merges, must equal the difference of the two resolutions.
      if ((m + 1) % WINDOW !== 0 && m !== MERGES - 1) continue;
      const t1 = performance.now();
      const next = await Promise.all(audiences.map(resolve));
      tResolve += performance.now() - t1;
      const t2 = performance.now();
      let reached = cursor;
      for (let i = 0; i < audiences.length; i++) {
        const got = await audienceChanges(org.id, audiences[i]!.id, cursor);
        reached = got.cursor;
        const want = [
          ...[...next[i]!].filter((id) => !sets[i]!.has(id)).map((id) => `entered ${id}`),
          ...[...sets[i]!].filter((id) => !next[i]!.has(id)).map((id) => `left ${id}`),
        ].sort();
        const have = got.items.map((c) => `${c.change} ${c.recipientId}`).sort();
        assert.deepEqual(have, want, `merges up to ${m} (seed ${seed}), audience ${i}; last: ${JSON.stringify(changes)}`);
        changesSeen += have.length;
      }
      tChanges += performance.now() - t2;
      sets = next;
      cursor = reached;
    }
    console.log(`# ms: merges ${Math.round(tMerge)}, resolutions ${Math.round(tResolve)}, changes ${Math.round(tChanges)}`);
    assert.ok(changesSeen > MERGES / (4 * WINDOW), `the random merges moved people in and out of audiences (${changesSeen} changes)`);

    // Over the whole run, through the API: the changes since the first cursor equal the difference of the first and
    // last resolutions.
    const app = makeApp();
    for (let i = 0; i < audiences.length; i++) {
      const res = await request(app).get(`/api/v1/audiences/${audiences[i]!.id}/changes?after=${start.cursor}`).set(bearer(org.reader));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.hasMore, false);
      const want = [
        ...[...sets[i]!].filter((id) => !start.sets[i]!.has(id)).map((id) => `entered ${id}`),
        ...[...start.sets[i]!].filter((id) => !sets[i]!.has(id)).map((id) => `left ${id}`),
      ].sort();
      assert.deepEqual(res.body.items.map((c: { change: string; recipientId: string }) => `${c.change} ${c.recipientId}`).sort(), want);
    }
    const other = await createOrgWithTokens('Other');
    const res = await request(app).get(`/api/v1/audiences/${audiences[0]!.id}/changes`).set(bearer(other.owner));
    assert.equal(res.status, 404);
  });
});
