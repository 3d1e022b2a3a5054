import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  storeCapabilities,
  applySourceChanges,
  claimLookupKey,
  CommandCounter,
  deleteConnection,
  rotateScimToken,
  newUuid,
  predictedScimUserId,
  sourceRecordId,
  takeOverLookupKey,
  userNameKey,
  type CommandCounts,
  type ConnectionRef,
} from '../../src/store';
import mongoose from 'mongoose';
import type { CommandStartedEvent, CommandSucceededEvent } from 'mongodb';
import { closeTestStore, openTestStore } from '../helpers/store';
import request from 'supertest';
import { GROUP, makeApp, patchOp, q, scimClient, USER, type ScimClient } from './harness';

/**
 * What one SCIM request costs in store commands (issue #15: every command is a round trip on MongoDB and its own
 * transaction on FerretDB v1), counted with the driver's command monitoring. The budgets include bearer
 * authentication; change-feed events (the block insert) are counted apart. A regression that adds a
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
};
/**
 * A group PATCH adding n members: a constant part (connection, the group read and written with its intent, the
 * members' records read once by the request, their one `updateMany` and its read-back, the batch journal, the
 * recipients' read, one settings re-read when its cache expires) and the recipients' version-checked writes, a few per
 * command (src/store/merge.ts).
 */
const groupPatchBudget = (members: number): number => 13 + Math.ceil(members / (storeCapabilities().updatesPerCommand ?? members));
/**
 * The members' records: read once by the request (handed to the merge), then one `updateMany` and one read-back, or
 * (where `batchedIdUpdates`) their version-checked replaces in one command.
 */
const GROUP_PATCH_RECORD_COMMANDS = 3;
/**
 * Commands of the change feed a write adds (src/store/eventBlocks.ts): one insert of its block, whose position this
 * process takes itself (the organization's head is read once per process, by the warm-up write here).
 */
const EVENT_BUDGET = 1;
/**
 * A userName lookup of a user this process has not seen yet (written by another instance): the connection, and the key
 * with the record of the id derived from the userName in one `_id $in` (two reads where the store scans for `$in`).
 */
const lookupUnseenBudget = (): number => (storeCapabilities().idInFromIndex ? 2 : 3);
/** The same for a user whose id is not the derived one (renamed to the userName, or created before ids were derived). */
const lookupOtherIdBudget = (): number => lookupUnseenBudget() + 1;

function isEventCommand(type: string): boolean {
  return type.endsWith(':events') || type.endsWith(':event_blocks') || type.endsWith(':event_seq');
}

async function rawLookupKeyTakeOver(key: string, from: string, to: string): Promise<void> {
  assert.ok(await takeOverLookupKey(key, from, to));
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

  test('create: within budget, plus the change feed', async () => {
    for (let i = 0; i < 3; i++) {
      const m = await measure(`create ${i}`, () => c.post('/Users', newUser({ externalId: `ext-${n}` })).expect(201));
      assert.ok(m.store <= BUDGET.create, `create sent ${m.store} store commands: ${m.types}`);
      assert.ok(m.events <= EVENT_BUDGET, `create sent ${m.events} change-feed commands: ${m.types}`);
    }
  });

  test('PATCH, PUT and DELETE of a user: within budget', async () => {
    const body = newUser();
    const id = (await c.post('/Users', body).expect(201)).body.id as string;
    const patch = await measure('patch title', () =>
      c.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'Engineer' })).expect(200),
    );
    assert.ok(patch.store <= BUDGET.patch, `PATCH sent ${patch.store}: ${patch.types}`);
    assert.ok(patch.events <= EVENT_BUDGET, `PATCH sent ${patch.events} change-feed commands: ${patch.types}`);

    const deactivate = await measure('patch active', () =>
      c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200),
    );
    assert.ok(deactivate.store <= BUDGET.patch, `PATCH active sent ${deactivate.store}: ${deactivate.types}`);
    assert.ok(deactivate.events <= EVENT_BUDGET, `PATCH active sent ${deactivate.events} change-feed commands: ${deactivate.types}`);

    const same = await measure('patch unchanged', () =>
      c.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })).expect(200),
    );
    assert.ok(same.store <= BUDGET.unchangedPatch, `a PATCH that changes nothing sent ${same.store}: ${same.types}`);
    assert.equal(same.events, 0);
    assert.doesNotMatch(same.types, /insert|update|delete/, 'a PATCH that changes nothing writes nothing');

    const put = await measure('put', () => c.put(`/Users/${id}`, { ...body, title: 'Lead', active: true }).expect(200));
    assert.ok(put.store <= BUDGET.put, `PUT sent ${put.store}: ${put.types}`);
    assert.ok(put.events <= EVENT_BUDGET, `PUT sent ${put.events} change-feed commands: ${put.types}`);

    // A new userName is one claim more (its uniqueness key); the old key is left for the next claim to take over.
    const rename = await measure('put rename', () =>
      c.put(`/Users/${id}`, { ...body, userName: `renamed${n}@commands.example`, title: 'Lead', active: true }).expect(200),
    );
    assert.ok(rename.store <= BUDGET.put + 1, `PUT with a new userName sent ${rename.store}: ${rename.types}`);
    await c.post('/Users', { ...body, emails: [] }).expect(201);

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

  /**
   * A user written as another instance of the service would: its key and record, unseen by this process, under the id
   * a create derives from its userName (`prevKey`: under that id; `legacyId`: a random one, as before ids were derived).
   */
  async function storedElsewhere(conn: ConnectionRef, userName: string, prevKey?: string, legacyId = false): Promise<string> {
    const id = prevKey ?? (legacyId ? newUuid() : predictedScimUserId(conn._id, userName)!);
    if (!prevKey) {
      assert.equal(await claimLookupKey({ _id: userNameKey(conn._id, userName), orgId: conn.orgId, connectionId: conn._id }, id), null);
    }
    const [res] = await applySourceChanges(conn, [
      { op: 'upsert', key: id, email: userName, active: true, raw: JSON.stringify({ schemas: [USER], userName }), lookup: { userName } },
    ]);
    assert.ok(res?.record && res.record._id === sourceRecordId(conn._id, id));
    return id;
  }

  test('lookup of a user another instance wrote: key and record in one read; a renamed user is never found by its old name', async () => {
    const conn: ConnectionRef = { _id: c.connectionId, orgId: c.orgId, type: 'scim' };
    const id = await storedElsewhere(conn, `elsewhere${++n}@commands.example`);
    const name = `elsewhere${n}@commands.example`;
    const unseen = await measure('lookup userName, unseen user', async () => {
      const res = await c.get(`/Users${q(`userName eq "${name}"`)}`).expect(200);
      assert.deepEqual(
        res.body.Resources.map((u: { id: string }) => u.id),
        [id],
      );
    });
    assert.ok(unseen.store <= lookupUnseenBudget(), `lookup of an unseen user sent ${unseen.store}: ${unseen.types}`);
    const seen = await measure('lookup userName, seen user', () => c.get(`/Users${q(`userName eq "${name}"`)}`).expect(200));
    assert.ok(seen.store <= BUDGET.lookupByUserName, `a repeated lookup sent ${seen.store}: ${seen.types}`);
    // Another instance renames the user and gives its old userName to a new one: this process's hint is stale.
    await applySourceChanges(conn, [
      {
        op: 'upsert',
        key: id,
        email: name,
        active: true,
        raw: JSON.stringify({ schemas: [USER], userName: `moved${n}@commands.example` }),
        lookup: { userName: `moved${n}@commands.example` },
      },
    ]);
    const key = userNameKey(conn._id, name);
    const other = newUuid();
    await rawLookupKeyTakeOver(key, id, other);
    await storedElsewhere(conn, name, other);
    const res = await c.get(`/Users${q(`userName eq "${name}"`)}`).expect(200);
    assert.deepEqual(
      res.body.Resources.map((u: { id: string }) => u.id),
      [other],
    );
  });

  test('lookup of an unseen user whose id is not derived from its userName: the key names it, one more read', async () => {
    const conn: ConnectionRef = { _id: c.connectionId, orgId: c.orgId, type: 'scim' };
    const name = `legacy${++n}@commands.example`;
    const id = await storedElsewhere(conn, name, undefined, true);
    const m = await measure('lookup userName, unseen user with a random id', async () => {
      const res = await c.get(`/Users${q(`userName eq "${name}"`)}`).expect(200);
      assert.deepEqual(
        res.body.Resources.map((u: { id: string }) => u.id),
        [id],
      );
    });
    assert.ok(m.store <= lookupOtherIdBudget(), `lookup sent ${m.store}: ${m.types}`);
  });

  test('a create takes the id derived from the userName; after a DELETE the same userName gets a new random id', async () => {
    const conn: ConnectionRef = { _id: c.connectionId, orgId: c.orgId, type: 'scim' };
    const body = newUser();
    const userName = String(body.userName);
    const derived = predictedScimUserId(conn._id, userName);
    assert.ok(derived && /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(derived), String(derived));
    assert.equal(predictedScimUserId(conn._id, userName.toUpperCase()), derived, 'userNames are case-insensitive');
    const first = (await c.post('/Users', body).expect(201)).body.id as string;
    assert.equal(first, derived);
    await c.del(`/Users/${first}`).expect(204);
    const second = (await c.post('/Users', body).expect(201)).body.id as string;
    assert.notEqual(second, first, 'a deleted id never comes back');
    await c.get(`/Users/${first}`).expect(404);
    const found = await c.get(`/Users${q(`userName eq "${userName}"`)}`).expect(200);
    assert.deepEqual(
      found.body.Resources.map((u: { id: string }) => u.id),
      [second],
    );
    await c.post('/Users', body).expect(409);
  });

  test('concurrent creates of one userName: one user, whatever the case; a create that crashed leaves no lasting block', async () => {
    const conn: ConnectionRef = { _id: c.connectionId, orgId: c.orgId, type: 'scim' };
    const userName = `race${++n}@commands.example`;
    const variants = [userName, userName.toUpperCase(), userName, `Race${n}@Commands.Example`, userName];
    const answers = await Promise.all(
      variants.map((u) => c.post('/Users', newUser({ userName: u, emails: [{ value: userName, primary: true }] }))),
    );
    assert.deepEqual(
      answers.map((r) => r.status).sort(),
      [201, 409, 409, 409, 409],
      answers.map((r) => `${r.status} ${JSON.stringify(r.body).slice(0, 120)}`).join('; '),
    );
    const found = await c.get(`/Users${q(`userName eq "${userName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 1);

    // A create that claimed the derived id's key and crashed before its record: the key is taken over once stale.
    const crashed = `crashed${++n}@commands.example`;
    const derived = predictedScimUserId(conn._id, crashed)!;
    assert.equal(await claimLookupKey({ _id: userNameKey(conn._id, crashed), orgId: conn.orgId, connectionId: conn._id }, derived), null);
    await c.post('/Users', newUser({ userName: crashed })).expect(409); // within SCIM_KEY_STALE_MS: a create in flight
    await mongoose.connection
      .db!.collection('source_records')
      .updateOne({ _id: userNameKey(conn._id, crashed) as never }, { $set: { 'uk.at': new Date(Date.now() - 60_000) } });
    const created = (await c.post('/Users', newUser({ userName: crashed })).expect(201)).body.id as string;
    assert.notEqual(created, derived, 'the stale claim of the derived id is taken over under a random one');
    const again = await c.get(`/Users${q(`userName eq "${crashed}"`)}`).expect(200);
    assert.deepEqual(
      again.body.Resources.map((u: { id: string }) => u.id),
      [created],
    );
  });

  test('group PATCH adding members: a bounded number of commands per member', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await c.post('/Users', newUser()).expect(201)).body.id as string);
    const gid = (await c.post('/Groups', { schemas: [GROUP], displayName: `g${n}` }).expect(201)).body.id as string;
    const m = await measure('group patch 20 members', () =>
      c.patch(`/Groups/${gid}`, patchOp({ op: 'add', path: 'members', value: ids.map((value) => ({ value })) })).expect(204),
    );
    assert.ok(m.store <= groupPatchBudget(ids.length), `group PATCH of ${ids.length} members sent ${m.store}: ${m.types}`);
    const recordCommands = Object.entries(JSON.parse(m.types) as Record<string, number>)
      .filter(([k]) => k.endsWith(':source_records'))
      .reduce((sum, [, v]) => sum + v, 0);
    if (storeCapabilities().idInFromIndex) {
      assert.ok(recordCommands <= GROUP_PATCH_RECORD_COMMANDS, `group PATCH sent ${recordCommands} commands on the records: ${m.types}`);
    }
    const res = await c.get(`/Groups/${gid}`).expect(200);
    assert.equal((res.body.members as unknown[]).length, ids.length);
  });
});

/**
 * Bearer authentication is one `_id` read of the connection per request (its credential and its settings together),
 * never a cached verdict: a rotated token or a deleted connection is refused by every instance of the service at once.
 */
describe('SCIM bearer authentication across instances', () => {
  // Two instances of the service sharing one store.
  const apps = [makeApp(), makeApp()];
  const counter = new CommandCounter();
  before(async () => {
    await openTestStore('scim_auth_rotation', { monitorCommands: true });
    counter.start();
  });
  after(async () => {
    counter.stop();
    await closeTestStore();
  });

  const get = (i: number, base: string, token: string) =>
    request(apps[i]!).get(`${base}/Users?count=1`).set('Authorization', `Bearer ${token}`);

  test('after a token rotation the old token is refused everywhere, at once; after a delete every token is', async () => {
    const c = await scimClient(apps[0]!);
    for (const i of [0, 1]) await get(i, c.base, c.token).expect(200);
    const { counts } = await counter.measure(() => get(1, c.base, c.token).expect(200));
    assert.equal(counts.byType['find:connections'], 1, `authentication reads the connection once: ${JSON.stringify(counts.byType)}`);

    const fresh = await rotateScimToken(c.connectionId);
    for (const i of [0, 1]) {
      await get(i, c.base, c.token).expect(401);
      await get(i, c.base, fresh).expect(200);
    }
    const again = await rotateScimToken(c.connectionId);
    for (const i of [1, 0]) {
      await get(i, c.base, fresh).expect(401);
      await get(i, c.base, again).expect(200);
    }
    assert.ok(await deleteConnection(c.connectionId));
    for (const i of [0, 1]) await get(i, c.base, again).expect(401);
  });

  /** The store commands one request sends, in order: `started:find:source_records`, `replied:find:connections` ... */
  async function commandOrder(run: () => Promise<unknown>): Promise<string[]> {
    const client = mongoose.connection.getClient();
    const names = new Map<number, string>();
    const order: string[] = [];
    const started = (ev: CommandStartedEvent) => {
      const target = (ev.command as Record<string, unknown>)[ev.commandName];
      if (typeof target !== 'string') return;
      names.set(ev.requestId, `${ev.commandName}:${target}`);
      order.push(`started:${ev.commandName}:${target}`);
    };
    const replied = (ev: CommandSucceededEvent) => {
      const name = names.get(ev.requestId);
      if (name) order.push(`replied:${name}`);
    };
    client.on('commandStarted', started);
    client.on('commandSucceeded', replied);
    try {
      await run();
    } finally {
      client.off('commandStarted', started);
      client.off('commandSucceeded', replied);
    }
    return order;
  }

  test('a userName lookup reads the key while the token is checked, and answers only the right token', async () => {
    const c = await scimClient(apps[0]!);
    const userName = `prefetch${newUuid()}@commands.example`;
    // Written as another instance would (this process has no hint of who holds the userName).
    const conn: ConnectionRef = { _id: c.connectionId, orgId: c.orgId, type: 'scim' };
    const id = predictedScimUserId(conn._id, userName)!;
    assert.equal(await claimLookupKey({ _id: userNameKey(conn._id, userName), orgId: conn.orgId, connectionId: conn._id }, id), null);
    await applySourceChanges(conn, [
      { op: 'upsert', key: id, email: userName, active: true, raw: JSON.stringify({ schemas: [USER], userName }), lookup: { userName } },
    ]);
    const lookup = (i: number, token: string) =>
      request(apps[i]!)
        .get(`${c.base}/Users${q(`userName eq "${userName}"`)}`)
        .set('Authorization', `Bearer ${token}`);
    // The key with the record (one read), sent before the connection's reply.
    const order = await commandOrder(async () => {
      const res = await lookup(1, c.token).expect(200);
      assert.deepEqual(
        res.body.Resources.map((u: { id: string }) => u.id),
        [id],
      );
    });
    const keySent = order.indexOf('started:find:source_records');
    const connectionAnswered = order.indexOf('replied:find:connections');
    assert.ok(keySent >= 0 && connectionAnswered >= 0, order.join(', '));
    assert.ok(keySent < connectionAnswered, `the key read waited for the token check: ${order.join(', ')}`);

    // A wrong token, and after a rotation the old one: 401, and nothing of the user in the answer.
    for (const token of ['not-the-token', c.token]) {
      if (token === c.token) await rotateScimToken(c.connectionId);
      const res = await lookup(1, token).expect(401);
      assert.doesNotMatch(JSON.stringify(res.body), new RegExp(`${id}|prefetch`));
    }
  });
});
