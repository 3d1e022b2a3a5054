import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  applySourceChanges,
  createConnection,
  createOrganization,
  getRecipient,
  invalidateMergeSettings,
  loadMergeSettings,
  recipientId,
  updateConnection,
  updateOrganizationSettings,
  type ConnectionRef,
} from '../../src/store';
import { Connection, Organization } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'test-secret-key-0123456789' };

async function conn(orgId: string, type: string, extra: Record<string, unknown> = {}): Promise<ConnectionRef> {
  const c = await createConnection({ orgId, type, ...extra }, env);
  return { _id: c.id, orgId, type };
}

const up = (key: string, email: string, attributes: Record<string, unknown>) => ({
  op: 'upsert' as const,
  key,
  email,
  active: true,
  attributes,
});

/**
 * The merge's organization settings are cached per process (src/store/settings.ts): a change made through the store
 * is seen by the very next merge, without waiting for the cache to expire and without a re-merge.
 */
describe('merge settings cache', () => {
  before(async () => {
    await openTestStore('settings_cache');
  });
  after(closeTestStore);

  test('the next merge sees a change of extended attributes and of the attribute priority', async () => {
    const orgId = (await createOrganization('Cache')).id;
    const scim = await conn(orgId, 'scim');
    const csv = await conn(orgId, 'csv');
    await applySourceChanges(scim, [up('u1', 'ana@x.io', { first_name: 'Ana', job_title: 'Engineer' })]);
    await applySourceChanges(csv, [up('ana@x.io', 'ana@x.io', { first_name: 'Anna' })]);
    let r = await getRecipient(recipientId(orgId, 'ana@x.io'));
    assert.equal(r?.attributes.job_title, undefined, 'a directory without extended attributes gives names only');
    assert.equal(r?.firstName, 'Ana', 'scim outranks csv by default');

    // Extended attributes on: the next write of that directory contributes its job title (no re-merge run).
    await updateConnection(scim._id, { extendedAttributes: true });
    await applySourceChanges(scim, [up('u1', 'ana@x.io', { first_name: 'Ana', job_title: 'Staff engineer' })]);
    r = await getRecipient(recipientId(orgId, 'ana@x.io'));
    assert.equal(r?.attributes.job_title, 'Staff engineer');

    // CSV first: the next write that touches her merges with the new priority.
    await updateOrganizationSettings(orgId, { attributePriority: ['csv', 'hris', 'scim', 'sftp', 'manual'] });
    await applySourceChanges(csv, [up('ana@x.io', 'ana@x.io', { first_name: 'Anna', city: 'Lisbon' })]);
    r = await getRecipient(recipientId(orgId, 'ana@x.io'));
    assert.equal(r?.firstName, 'Anna');
    assert.equal(r?.attributes.city, 'Lisbon');
  });

  test('settings are read once and reused until the store changes them (another process is bounded by the TTL)', async () => {
    const orgId = (await createOrganization('Cached')).id;
    const first = await loadMergeSettings(orgId);
    assert.equal(await loadMergeSettings(orgId), first, 'a second read within the TTL is the cached one');
    // A change written behind the store's back (as another process would) is not seen before the entry expires ...
    await Organization.updateOne({ _id: orgId }, { $set: { attributePriority: ['manual', 'csv', 'sftp', 'scim', 'hris'] } }).exec();
    assert.deepEqual([...(await loadMergeSettings(orgId)).priority], [...first.priority]);
    // ... and is once the entry is gone.
    invalidateMergeSettings(orgId);
    assert.deepEqual([...(await loadMergeSettings(orgId)).priority], ['manual', 'csv', 'sftp', 'scim', 'hris']);
    // A connection the cached settings do not know (created by another process) is read at once by its first merge.
    await loadMergeSettings(orgId);
    const now = new Date();
    await Connection.create({
      _id: 'aaaaaaaaaaaaaaaaaaaaaaaa',
      orgId,
      type: 'scim',
      name: 'other process',
      extendedAttributes: true,
      createdAt: now,
      updatedAt: now,
    });
    const other = { _id: 'aaaaaaaaaaaaaaaaaaaaaaaa', orgId, type: 'scim' };
    await applySourceChanges(other, [up('u9', 'bo@x.io', { job_title: 'Pilot' })]);
    assert.equal((await getRecipient(recipientId(orgId, 'bo@x.io')))?.attributes.job_title, 'Pilot');
  });
});
