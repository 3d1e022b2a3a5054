import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  applySourceChanges,
  createConnection,
  createOrganization,
  findSourceRecord,
  getRecipient,
  insertScimGroup,
  liveScimUsers,
  newUuid,
  recipientId,
  remergeEmails,
  replaceScimGroup,
  type ConnectionRef,
  type ScimGroupDoc,
} from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';

/**
 * A SCIM group write hands the members' records it read (`liveScimUsers`) to the merge, which does not read them a
 * second time (issue #15 item 3). What it read may be stale by the time the membership is written: the merge must still
 * end where a merge from the stored records would, on both of its write paths (the bulk one for a batch of at least 16
 * members, the version-checked one below).
 */
describe('group membership written from the records the SCIM request read', () => {
  let conn: ConnectionRef;
  before(async () => {
    await openTestStore('group_members_known');
    const org = await createOrganization('Known members');
    const created = await createConnection(
      { orgId: org.id, type: 'scim' },
      { publicUrl: 'http://127.0.0.1', secretKey: 'test-secret-key-0123456789abcd' },
    );
    conn = { _id: created.id, orgId: org.id, type: 'scim' };
  });
  after(closeTestStore);

  async function seed(prefix: string, n: number): Promise<string[]> {
    const keys = Array.from({ length: n }, () => newUuid());
    await applySourceChanges(
      conn,
      keys.map((key, i) => ({
        op: 'upsert' as const,
        key,
        email: `${prefix}${i}@known.example`,
        active: true,
        attributes: { first_name: `F${i}` },
      })),
    );
    return keys;
  }

  function group(name: string): ScimGroupDoc {
    const id = newUuid();
    const now = new Date();
    return {
      _id: id,
      orgId: conn.orgId,
      connectionId: conn._id,
      key: id,
      displayName: name,
      displayNameLower: name.toLowerCase(),
      externalId: null,
      memberGroups: [],
      raw: JSON.stringify({ displayName: name }),
      v: 1,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** Re-deriving each email from the stored records changes nothing: the merge stored what a full re-merge would. */
  async function assertSettled(emails: string[]): Promise<void> {
    const before = await Promise.all(emails.map((e) => getRecipient(recipientId(conn.orgId, e))));
    await remergeEmails(conn.orgId, emails);
    const after = await Promise.all(emails.map((e) => getRecipient(recipientId(conn.orgId, e))));
    assert.deepEqual(
      after.map((r) => r?.v ?? null),
      before.map((r) => r?.v ?? null),
    );
  }

  test('a batch (bulk path): records changed or deleted after the read are merged as stored', async () => {
    const keys = await seed('bulk', 20);
    const known = await liveScimUsers(conn, keys);
    assert.equal(known.size, 20);
    // Between the SCIM request's read and the membership write: one person changes email and name, one is deleted.
    const [moved, gone] = [keys[0]!, keys[1]!];
    await applySourceChanges(conn, [
      { op: 'upsert', key: moved, email: 'moved@known.example', active: true, attributes: { first_name: 'Moved' } },
      { op: 'tombstone', key: gone },
    ]);
    const g = group('Bulk');
    await insertScimGroup(g, { add: keys, remove: [], known });

    const movedRecord = await findSourceRecord(conn._id, moved);
    assert.deepEqual(movedRecord?.groups, [g._id]);
    assert.equal(movedRecord?.attributes.first_name, 'Moved');
    const movedRecipient = await getRecipient(recipientId(conn.orgId, 'moved@known.example'));
    assert.deepEqual(movedRecipient?.groups, [g._id]);
    assert.equal(movedRecipient?.firstName, 'Moved');
    assert.equal(await getRecipient(recipientId(conn.orgId, 'bulk0@known.example')), null);
    // The deleted person is not made a member.
    assert.deepEqual((await findSourceRecord(conn._id, gone))?.groups, []);
    assert.deepEqual((await getRecipient(recipientId(conn.orgId, 'bulk1@known.example')))?.groups, []);
    for (let i = 2; i < 20; i++) {
      const r = await getRecipient(recipientId(conn.orgId, `bulk${i}@known.example`));
      assert.deepEqual(r?.groups, [g._id]);
      assert.deepEqual(
        r?.contribs.map((c) => c.g),
        [[g._id]],
      );
    }
    await assertSettled([
      'moved@known.example',
      'bulk1@known.example',
      ...Array.from({ length: 18 }, (_, i) => `bulk${i + 2}@known.example`),
    ]);
  });

  test('one member (version-checked path): a record changed after the read costs a conflict, and the retry merges it', async () => {
    const [key] = await seed('one', 1);
    const g = group('One');
    await insertScimGroup(g, { add: [], remove: [] });
    const known = await liveScimUsers(conn, [key!]);
    await applySourceChanges(conn, [
      { op: 'upsert', key: key!, email: 'one0@known.example', active: true, attributes: { first_name: 'Later' } },
    ]);
    assert.ok(await replaceScimGroup(g.v, { ...g, v: g.v + 1, updatedAt: new Date() }, { add: [key!], remove: [], known }));

    const record = await findSourceRecord(conn._id, key!);
    assert.deepEqual(record?.groups, [g._id]);
    assert.equal(record?.attributes.first_name, 'Later');
    const r = await getRecipient(recipientId(conn.orgId, 'one0@known.example'));
    assert.equal(r?.firstName, 'Later');
    assert.deepEqual(r?.groups, [g._id]);
    await assertSettled(['one0@known.example']);
  });
});
