import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mongoose from 'mongoose';
import { expandGroups, storeCapabilities } from '../../src/store';
import { Group } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { GROUP, LIST, makeApp, scimClient, USER, type ScimClient } from '../scim/harness';

/** Counts the store operations run while `work` runs, by collection and method (mongoose's debug hook). */
async function countQueries<T>(work: () => Promise<T>): Promise<{ result: T; counts: Map<string, number> }> {
  const counts = new Map<string, number>();
  mongoose.set('debug', (collection: string, method: string) => {
    const k = `${collection}.${method}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  });
  try {
    return { result: await work(), counts };
  } finally {
    mongoose.set('debug', false);
  }
}

const total = (counts: Map<string, number>, collection: string) =>
  [...counts].filter(([k]) => k.startsWith(`${collection}.`)).reduce((n, [, v]) => n + v, 0);

/** Per-group reads are batched: one read of people per page of SCIM groups, one read per level of nested groups. */
describe('store reads per page, not per group', () => {
  const app = makeApp();
  let c: ScimClient;
  before(async () => {
    await openTestStore('store_batching');
    c = await scimClient(app);
  });
  after(closeTestStore);

  test('listing SCIM groups reads their members with the same number of queries for 2 groups as for 8', async () => {
    const users: string[] = [];
    for (let i = 0; i < 4; i++) {
      users.push((await c.post('/Users', { schemas: [USER], userName: `batch${i}@batch.example` }).expect(201)).body.id as string);
    }
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) {
      // Each group has two people and, from the second on, the previous group nested.
      const members = [{ value: users[i % 4]! }, { value: users[(i + 1) % 4]! }, ...(i ? [{ value: groups[i - 1]! }] : [])];
      groups.push((await c.post('/Groups', { schemas: [GROUP], displayName: `Batch ${i}`, members }).expect(201)).body.id as string);
    }
    const page = async (count: number) => countQueries(async () => (await c.get(`/Groups?count=${count}`).expect(200)).body);
    const two = await page(2);
    const eight = await page(8);
    assert.equal(two.result.schemas[0], LIST);
    assert.equal(eight.result.Resources.length, 8);
    // Every group still shows its two people and its nested group, with names.
    for (const g of eight.result.Resources as { displayName: string; members: { value: string; type: string; display?: string }[] }[]) {
      const i = Number(g.displayName.split(' ')[1]);
      assert.deepEqual(
        g.members
          .filter((m) => m.type === 'User')
          .map((m) => m.value)
          .sort(),
        [users[i % 4], users[(i + 1) % 4]].sort(),
      );
      const nested = g.members.filter((m) => m.type === 'Group');
      assert.deepEqual(
        nested.map((m) => [m.value, m.display]),
        i ? [[groups[i - 1], `Batch ${i - 1}`]] : [],
      );
    }
    assert.equal(total(eight.counts, 'source_records'), total(two.counts, 'source_records'));
    assert.equal(total(eight.counts, 'source_records'), 1, JSON.stringify([...eight.counts]));
    if (storeCapabilities().idInFromIndex) assert.equal(total(eight.counts, 'groups'), total(two.counts, 'groups'));
  });

  test('audience group expansion reads one batch per level of nesting, not one group at a time', async () => {
    const orgId = c.orgId;
    const now = new Date();
    const make = async (id: string, memberGroups: string[]) =>
      Group.create({
        _id: id,
        orgId,
        connectionId: c.connectionId,
        key: id,
        displayName: id,
        displayNameLower: id,
        memberGroups,
        v: 1,
        createdAt: now,
        updatedAt: now,
      });
    // Three levels under a root, five groups per level, and a cycle back to the root.
    const levels = [['root'], ['a0', 'a1', 'a2', 'a3', 'a4'], ['b0', 'b1', 'b2', 'b3', 'b4'], ['c0', 'c1', 'c2', 'c3', 'c4']];
    for (let l = 0; l < levels.length; l++) {
      for (const id of levels[l]!)
        await make(
          `x-${id}`,
          (levels[l + 1] ?? ['root']).map((x) => `x-${x}`),
        );
    }
    const { result, counts } = await countQueries(() => expandGroups(orgId, ['x-root']));
    assert.deepEqual(
      result.sort(),
      levels
        .flat()
        .map((x) => `x-${x}`)
        .sort(),
    );
    if (storeCapabilities().idInFromIndex) assert.equal(total(counts, 'groups'), levels.length);
    else assert.equal(total(counts, 'groups'), levels.flat().length);
    // Another organization's group is never expanded.
    const other = await expandGroups('another-org', ['x-root']);
    assert.deepEqual(other, ['x-root']);
  });
});
