import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  applySourceChanges,
  audienceQuery,
  createConnection,
  createOrganization,
  expandGroups,
  FilterError,
  newId,
  pageRecipients,
  recipientId,
  segmentQuery,
  streamRecipients,
  type ConnectionRef,
} from '../../src/store';
import { Group, Segment } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost', secretKey: 'aud-secret-key-0000000' };
const none: { groups: string[]; segments: string[]; recipients: string[] } = { groups: [], segments: [], recipients: [] };

async function group(orgId: string, connectionId: string, name: string, memberGroups: string[] = []): Promise<string> {
  const id = newId();
  const now = new Date();
  await Group.create({
    _id: id,
    orgId,
    connectionId,
    key: id,
    displayName: name,
    displayNameLower: name.toLowerCase(),
    memberGroups,
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

async function emailsOf(orgId: string, include: typeof none, exclude: typeof none = none): Promise<string[]> {
  const q = await audienceQuery(orgId, include, exclude);
  const out: string[] = [];
  for await (const r of streamRecipients(q)) out.push(r.email);
  return out;
}

describe('audience resolution', () => {
  let orgId: string;
  let scim: ConnectionRef;
  let sales: string;
  let emea: string;
  let all: string;
  before(async () => {
    await openTestStore('audiences');
    orgId = (await createOrganization('Aud')).id;
    const c = await createConnection({ orgId, type: 'scim', extendedAttributes: true }, env);
    scim = { _id: c.id, orgId, type: 'scim' };
    sales = await group(orgId, scim._id, 'Sales');
    emea = await group(orgId, scim._id, 'EMEA');
    all = await group(orgId, scim._id, 'Everyone', [sales, emea]);
    // A cycle: Sales contains Everyone.
    await Group.updateOne({ _id: sales }, { $set: { memberGroups: [all] } });
    const person = (key: string, email: string, active: boolean, groups: string[], attrs: Record<string, string> = {}) => ({
      op: 'upsert' as const,
      key,
      email,
      active,
      groups,
      attributes: attrs,
    });
    await applySourceChanges(scim, [
      person('1', 'ann@x.io', true, [sales], { department_name: 'Sales', country: 'US' }),
      person('2', 'bob@x.io', true, [sales, emea], { department_name: 'Sales', country: 'FR' }),
      person('3', 'cat@x.io', false, [sales], { department_name: 'Sales', country: 'US' }),
      person('4', 'dan@x.io', true, [emea], { department_name: 'Ops', country: 'DE' }),
      person('5', 'eve@x.io', true, [], { department_name: 'sales', country: 'US' }),
    ]);
  });
  after(async () => {
    await closeTestStore();
  });

  test('nested groups are expanded, cycle-safe', async () => {
    assert.deepEqual((await expandGroups(orgId, [all])).sort(), [all, sales, emea].sort());
    assert.deepEqual((await expandGroups(orgId, [sales])).sort(), [all, sales, emea].sort());
  });

  test('groups ∪ segments ∪ recipients − exclusions, distinct and active only', async () => {
    const seg = newId();
    await Segment.create({ _id: seg, orgId, name: 'US', filter: 'country eq "US"' });
    assert.deepEqual(await emailsOf(orgId, { ...none, groups: [emea] }), ['bob@x.io', 'dan@x.io']);
    assert.deepEqual(
      await emailsOf(orgId, { groups: [emea], segments: [seg], recipients: [recipientId(orgId, 'bob@x.io')] }),
      ['ann@x.io', 'bob@x.io', 'dan@x.io', 'eve@x.io'],
      'bob is in a group and named individually, and appears once; cat is offboarded',
    );
    assert.deepEqual(
      await emailsOf(orgId, { ...none, groups: [all] }, { ...none, recipients: [recipientId(orgId, 'ann@x.io')], groups: [emea] }),
      [],
    );
    assert.deepEqual(await emailsOf(orgId, { ...none, groups: [sales] }, { ...none, segments: [seg] }), ['bob@x.io', 'dan@x.io']);
  });

  test('segments use SCIM filter syntax: case-insensitive eq, and/or/not, co/sw/ew, pr', async () => {
    const run = async (f: string) => {
      const q = { orgId, listed: true, ...segmentQuery(f) };
      const out: string[] = [];
      for await (const r of streamRecipients(q)) out.push(r.email);
      return out;
    };
    assert.deepEqual(await run('department_name eq "Sales"'), ['ann@x.io', 'bob@x.io', 'cat@x.io', 'eve@x.io']);
    assert.deepEqual(await run('department_name eq "Sales" and country eq "US"'), ['ann@x.io', 'cat@x.io', 'eve@x.io']);
    assert.deepEqual(await run('country eq "FR" or country eq "DE"'), ['bob@x.io', 'dan@x.io']);
    assert.deepEqual(await run('not (country eq "US")'), ['bob@x.io', 'dan@x.io']);
    assert.deepEqual(await run('email sw "b" or email ew "n@x.io"'), ['ann@x.io', 'bob@x.io', 'dan@x.io']);
    assert.deepEqual(await run('department_name co "PS"'), ['dan@x.io']);
    assert.deepEqual(await run('status eq "offboarded"'), ['cat@x.io']);
    assert.deepEqual(await run('job_title pr'), []);
    assert.deepEqual(await run('(country eq "US" and not (email eq "eve@x.io")) or department_name eq "ops"'), [
      'ann@x.io',
      'cat@x.io',
      'dan@x.io',
    ]);
  });

  test('filters it cannot translate are refused, never answered wrongly', () => {
    assert.throws(() => segmentQuery('nosuchfield eq "x"'), FilterError);
    assert.throws(() => segmentQuery('country eq'), FilterError);
    assert.throws(() => segmentQuery('country gt "M"'), /case-insensitive/);
    assert.throws(() => segmentQuery(''), FilterError);
  });

  test('cursor pagination is stable and complete', async () => {
    const q = await audienceQuery(orgId, { ...none, groups: [all] }, none);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await pageRecipients(q, 1, cursor);
      seen.push(...page.items.map((r) => r.email));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, ['ann@x.io', 'bob@x.io', 'dan@x.io']);
  });
});
