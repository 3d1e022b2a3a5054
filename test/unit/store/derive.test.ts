import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PRIORITY } from '../../../src/store/defaults';
import { deriveRecipient, type MergeSettings } from '../../../src/store/derive';
import type { Contribution } from '../../../src/store/models/recipient';

/** One connection of each type (scim without extended attributes unless said) and the default priority. */
function settings(opts: { extended?: boolean; priority?: readonly string[] } = {}): MergeSettings {
  const connections: MergeSettings['connections'] = new Map([
    ['hris1', { type: 'hris', extendedAttributes: false, rank: 0 }],
    ['scim1', { type: 'scim', extendedAttributes: opts.extended ?? false, rank: 0 }],
    ['scim2', { type: 'scim', extendedAttributes: true, rank: 1 }],
    ['csv1', { type: 'csv', extendedAttributes: false, rank: 0 }],
    ['manual1', { type: 'manual', extendedAttributes: false, rank: 0 }],
  ]);
  return { priority: opts.priority ?? DEFAULT_PRIORITY, connections };
}

function c(cid: string, over: Partial<Contribution> = {}): Contribution {
  const ct = settings().connections.get(cid)?.type ?? 'csv';
  return { sid: `${cid}:p`, cid, ct, a: true, d: false, s: 1, e: 'Pat@Example.com', at: {}, g: [], ...over };
}

describe('merge rules (deriveRecipient)', () => {
  test('status: an identity source offboarding wins over other sources; a later reactivation restores', () => {
    const d = (cs: Contribution[]) => deriveRecipient(cs, settings()).status;
    assert.equal(d([c('csv1')]), 'active');
    assert.equal(d([c('csv1', { a: false })]), 'inactive');
    assert.equal(d([c('csv1', { a: false }), c('manual1')]), 'active', 'any active source keeps the person active');
    assert.equal(d([c('scim1', { a: false }), c('csv1')]), 'offboarded', 'created inactive by an identity provider');
    assert.equal(d([c('scim1', { d: true, s: 5 }), c('csv1')]), 'offboarded', 'a SCIM DELETE tombstone');
    assert.equal(d([c('scim1', { a: false, s: 1 }), c('hris1', { a: true, s: 2 })]), 'active', 'the latest identity assertion decides');
    assert.equal(d([c('scim1', { a: true, s: 3 }), c('hris1', { a: false, s: 2 })]), 'active');
    assert.equal(d([c('scim1', { a: true, s: 2 }), c('hris1', { a: false, s: 2 })]), 'offboarded', 'a tie goes to the offboarding');
    assert.equal(d([c('hris1', { a: false, s: 2 }), c('scim1', { a: true, s: 2 })]), 'offboarded', 'whatever the order');
  });

  test('listed only while a live (not tombstoned) contribution remains; groups and sources come from live ones', () => {
    const gone = deriveRecipient([c('scim1', { d: true, g: ['g1'] })], settings());
    assert.equal(gone.listed, false);
    assert.deepEqual(gone.groups, []);
    assert.deepEqual(gone.sources, []);
    const r = deriveRecipient([c('scim1', { g: ['g2', 'g1'] }), c('csv1', { g: ['g1', 'c1'], a: false })], settings());
    assert.equal(r.listed, true);
    assert.deepEqual(r.groups, ['c1', 'g1', 'g2']);
    assert.deepEqual(r.sources, [
      { connectionId: 'scim1', type: 'scim', active: true },
      { connectionId: 'csv1', type: 'csv', active: false },
    ]);
  });

  test('attributes: per attribute, the highest-priority source with a non-empty value wins', () => {
    const r = deriveRecipient(
      [
        c('csv1', { at: { first_name: 'Csv', city: 'Bergen', custom: { badge: '1', desk: 'A' } }, e: 'pat@example.com' }),
        c('hris1', { at: { first_name: 'Hris', city: ' ', custom: { badge: '2' } }, e: 'PAT@example.com' }),
        c('scim1', { at: { first_name: 'Scim', last_name: 'Doe' } }),
      ],
      settings(),
    );
    assert.deepEqual(r.attributes, { first_name: 'Hris', last_name: 'Doe', city: 'Bergen', custom: { badge: '2', desk: 'A' } });
    assert.equal(r.firstName, 'Hris');
    assert.equal(r.lastName, 'Doe');
    assert.equal(r.emailDisplay, 'PAT@example.com', 'the spelling of the highest-priority source');
    const csvFirst = deriveRecipient(
      [c('csv1', { at: { first_name: 'Csv' } }), c('hris1', { at: { first_name: 'Hris' } })],
      settings({ priority: ['csv', 'hris'] }),
    );
    assert.equal(csvFirst.firstName, 'Csv', 'priority is configurable');
  });

  test('a directory without extended attributes speaks only for names (and groups)', () => {
    const at = { first_name: 'Scim', job_title: 'Lead', custom: { badge: '7' } };
    assert.deepEqual(deriveRecipient([c('scim1', { at })], settings()).attributes, { first_name: 'Scim' });
    assert.deepEqual(deriveRecipient([c('scim1', { at })], settings({ extended: true })).attributes, at);
  });

  test('ties between connections of one type go by the connection rank, then id', () => {
    const r = deriveRecipient([c('scim2', { at: { first_name: 'Two' } }), c('scim1', { at: { first_name: 'One' } })], settings());
    assert.equal(r.firstName, 'One');
    const none = deriveRecipient([c('scim1', { e: null }), c('csv1', { e: null })], settings());
    assert.equal(none.emailDisplay, null);
  });
});
