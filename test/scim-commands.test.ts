import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandCounter, type CommandCounts } from '../src/store';
import { closeTestStore, openTestStore } from './helpers/store';
import { GROUP, makeApp, patchOp, q, scimClient, USER, type ScimClient } from './scim/harness';

/**
 * What one SCIM request costs in store commands (issue #15: every command is a round trip on MongoDB and its own
 * transaction on FerretDB v1), counted with the driver's command monitoring. The budgets include bearer
 * authentication; change-feed events (the cursor and the event insert) are counted apart. A regression that adds a
 * round trip to a request fails here.
 */
const BUDGET = {
  create: 5,
  patch: 5,
  put: 5,
  delete: 5,
  unchangedPatch: 2,
  getById: 2,
  lookupByUserName: 2,
  lookupMissing: 2,
  groupPatchPerMember: 2,
};
/** Commands of the change feed a write may add (events.ts). */
const EVENT_BUDGET = 1;

function isEventCommand(type: string): boolean {
  return type.endsWith(':events') || type.endsWith(':event_seq') || type.endsWith(':audiences');
}

function split(c: CommandCounts): { store: number; events: number; types: string } {
  let events = 0;
  for (const [k, v] of Object.entries(c.byType)) if (isEventCommand(k)) events += v;
  return { store: c.total - events, events, types: JSON.stringify(c.byType) };
}

describe('store commands per SCIM request', () => {
  const app = makeApp();
  let c: ScimClient;
  const counter = new CommandCounter();
  before(async () => {
    await openTestStore('scim_commands', { monitorCommands: true });
    c = await scimClient(app);
    counter.start();
    // Warm what a running service has warm: the organization's merge settings, the audiences' matchers.
    await c.post('/Users', { schemas: [USER], userName: 'warm@commands.example' }).expect(201);
  });
  after(async () => {
    // What each request cost, for the log (bench/RESULTS.md quotes the benchmark's figures).
    for (const [label, m] of Object.entries(seen)) console.log(`# ${label}: ${m}`);
    counter.stop();
    await closeTestStore();
  });

  let n = 0;
  const newUser = (over: Record<string, unknown> = {}) => ({
    schemas: [USER],
    userName: `u${++n}@commands.example`,
    name: { givenName: 'Ada', familyName: `L${n}` },
    emails: [{ value: `u${n}@commands.example`, primary: true, type: 'work' }],
    ...over,
  });

  const seen: Record<string, string> = {};
  async function measure(label: string, work: () => Promise<unknown>): Promise<{ store: number; events: number; types: string }> {
    const { counts } = await counter.measure(work);
    const m = split(counts);
    seen[label] = `${m.store} + ${m.events} events ${m.types}`;
    return m;
  }

  test('create: within budget, plus at most one command of the change feed', async () => {
    for (let i = 0; i < 3; i++) {
      const m = await measure(`create ${i}`, () => c.post('/Users', newUser({ externalId: `ext-${n}` })).expect(201));
      assert.ok(m.store <= BUDGET.create, `create sent ${m.store} store commands: ${m.types}`);
      assert.ok(m.events <= EVENT_BUDGET, `create sent ${m.events} change-feed commands: ${m.types}`);
    }
  });

  test('PATCH, PUT and DELETE of a user: within budget', async () => {
    const body = newUser();
    const id = (await c.post('/Users', body).expect(201)).body.id as string;
    const patch = await measure('patch title', () => c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'Engineer' })).expect(200));
    assert.ok(patch.store <= BUDGET.patch, `PATCH sent ${patch.store}: ${patch.types}`);
    assert.ok(patch.events <= EVENT_BUDGET, `PATCH sent ${patch.events} change-feed commands: ${patch.types}`);

    const deactivate = await measure('patch active', () => c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200));
    assert.ok(deactivate.store <= BUDGET.patch, `PATCH active sent ${deactivate.store}: ${deactivate.types}`);
    assert.ok(deactivate.events <= EVENT_BUDGET, `PATCH active sent ${deactivate.events} change-feed commands: ${deactivate.types}`);

    const same = await measure('patch unchanged', () => c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200));
    assert.ok(same.store <= BUDGET.unchangedPatch, `a PATCH that changes nothing sent ${same.store}: ${same.types}`);
    assert.equal(same.events, 0);
    assert.doesNotMatch(same.types, /insert|update|delete/, 'a PATCH that changes nothing writes nothing');

    const put = await measure('put rename', () =>
      c.put(`/Users/${id}`, { ...body, userName: `renamed${n}@commands.example`, active: true }).expect(200),
    );
    assert.ok(put.store <= BUDGET.put, `PUT with a new userName sent ${put.store}: ${put.types}`);
    assert.ok(put.events <= EVENT_BUDGET, `PUT sent ${put.events} change-feed commands: ${put.types}`);

    const del = await measure('delete', () => c.del(`/Users/${id}`).expect(204));
    assert.ok(del.store <= BUDGET.delete, `DELETE sent ${del.store}: ${del.types}`);
    assert.ok(del.events <= EVENT_BUDGET, `DELETE sent ${del.events} change-feed commands: ${del.types}`);
  });

  test('lookups: GET by id and filter userName eq (found and not found)', async () => {
    const body = newUser();
    const id = (await c.post('/Users', body).expect(201)).body.id as string;
    const byId = await measure('get by id', () => c.get(`/Users/${id}`).expect(200));
    assert.ok(byId.store <= BUDGET.getById, `GET by id sent ${byId.store}: ${byId.types}`);
    const byName = await measure('lookup userName', async () => {
      const res = await c.get(`/Users${q(`userName eq "${String(body.userName).toUpperCase()}"`)}`).expect(200);
      assert.equal(res.body.totalResults, 1);
    });
    assert.ok(byName.store <= BUDGET.lookupByUserName, `lookup by userName sent ${byName.store}: ${byName.types}`);
    const missing = await measure('lookup missing', async () => {
      const res = await c.get(`/Users${q('userName eq "nobody@commands.example"')}`).expect(200);
      assert.equal(res.body.totalResults, 0);
    });
    assert.ok(missing.store <= BUDGET.lookupMissing, `lookup of an unknown userName sent ${missing.store}: ${missing.types}`);
    for (const m of [byId, byName, missing]) assert.equal(m.events, 0);
  });

  test('group PATCH adding members: a bounded number of commands per member', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await c.post('/Users', newUser()).expect(201)).body.id as string);
    const gid = (await c.post('/Groups', { schemas: [GROUP], displayName: `g${n}` }).expect(201)).body.id as string;
    const m = await measure('group patch 20 members', () =>
      c.patch(`/Groups/${gid}`, patchOp({ op: 'add', path: 'members', value: ids.map((value) => ({ value })) })).expect(204),
    );
    assert.ok(m.store <= BUDGET.groupPatchPerMember * ids.length, `group PATCH of ${ids.length} members sent ${m.store}: ${m.types}`);
    const res = await c.get(`/Groups/${gid}`).expect(200);
    assert.equal((res.body.members as unknown[]).length, ids.length);
  });
});
