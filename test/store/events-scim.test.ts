import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { headCursor, readEvents } from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { GROUP, makeApp, patchOp, scimClient, USER, type ScimClient } from '../scim/harness';

/**
 * Issue 11, "every change kind produces exactly its events": what an identity provider's SCIM pushes write to the
 * feed, group changes included (group.created|updated|deleted, member_added|removed), and nothing for a no-op.
 */
describe('events: SCIM users and groups', () => {
  let c: ScimClient;
  let cursor = 0;

  before(async () => {
    await openTestStore('events_scim');
    c = await scimClient(makeApp());
    cursor = await headCursor(c.orgId);
  });
  after(async () => {
    await closeTestStore();
  });

  async function expectEvents(want: string[], anyOrder = false): Promise<void> {
    const page = await readEvents(c.orgId, { after: cursor, limit: 500 });
    const got = page.items.map((e) => {
      const d = e.data;
      const who = typeof d.email === 'string' ? d.email : typeof d.displayName === 'string' ? d.displayName : '';
      return `${e.type} ${who}`.trim();
    });
    assert.deepEqual(anyOrder ? [...got].sort() : got, anyOrder ? [...want].sort() : want);
    assert.ok(page.items.every((e) => e.connectionId === c.connectionId));
    cursor = page.cursor;
  }

  const user = (name: string, active = true) => ({
    schemas: [USER],
    userName: `${name}@example.com`,
    name: { givenName: name, familyName: 'Doe' },
    emails: [{ value: `${name}@example.com`, primary: true, type: 'work' }],
    active,
  });

  test('users and groups: created, renamed, members added and removed, deactivated, deleted', async () => {
    const ann = await c.post('/Users', user('ann')).expect(201);
    await expectEvents(['recipient.created ann@example.com']);
    const bo = await c.post('/Users', user('bo')).expect(201);
    await expectEvents(['recipient.created bo@example.com']);

    const g = await c.post('/Groups', { schemas: [GROUP], displayName: 'Sales', members: [{ value: ann.body.id }] }).expect(201);
    // The group first, then the membership it gives (src/store/scimGroups.ts, insertScimGroup).
    await expectEvents(['group.created Sales', 'group.member_added ann@example.com']);

    await c
      .patch(`/Groups/${g.body.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'Sales EMEA' }))
      .expect((r) => assert.ok(r.status < 300));
    await expectEvents(['group.updated Sales EMEA']);

    await c
      .patch(`/Groups/${g.body.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: bo.body.id }] }))
      .expect((r) => assert.ok(r.status < 300));
    await expectEvents(['group.member_added bo@example.com']);
    // The same member again: nothing changed, nothing written.
    await c
      .patch(`/Groups/${g.body.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: bo.body.id }] }))
      .expect((r) => assert.ok(r.status < 300));
    await expectEvents([]);

    await c
      .patch(`/Groups/${g.body.id}`, patchOp({ op: 'remove', path: `members[value eq "${ann.body.id}"]` }))
      .expect((r) => assert.ok(r.status < 300));
    await expectEvents(['group.member_removed ann@example.com']);

    await c.patch(`/Users/${bo.body.id}`, patchOp({ op: 'replace', path: 'active', value: false })).expect(200);
    await expectEvents(['recipient.offboarded bo@example.com']);

    await c.del(`/Groups/${g.body.id}`).expect(204);
    const page = await readEvents(c.orgId, { after: cursor, limit: 500 });
    assert.ok(
      page.items.some((e) => e.type === 'group.deleted'),
      'group.deleted',
    );
    assert.ok(page.items.every((e) => ['group.deleted', 'group.member_removed'].includes(e.type)));
    cursor = page.cursor;

    await c.del(`/Users/${ann.body.id}`).expect(204);
    // DELETE leaves a tombstone; with no other source listing her, she leaves the feed.
    await expectEvents(['recipient.removed ann@example.com']);
  });
});
