import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { employeeType, isActive, mapPerson, pickEmail, summarize } from '../../src/hris/mapping';
import { backoffMs, productOf, retryAfterMs } from '../../src/hris/client';
import { RollingWindowLimiter } from '../../src/hris/pacing';
import { nextSyncAt, parseInterval } from '../../src/hris/schedule';

const TODAY = '2026-06-15';

describe('hris mapping: Finch → the full attribute set (SPEC §3.6) and status (SPEC §3.4)', () => {
  test('maps names (preferred first), the work email, job, department, manager, dates, type, address, ids, custom fields', () => {
    const m = mapPerson({
      id: 'ind-1',
      directory: {
        id: 'ind-1',
        first_name: 'Dir',
        last_name: 'Name',
        department: { name: 'From directory' },
        manager: { id: 'm-1' },
        is_active: true,
      },
      individual: {
        first_name: 'Robert',
        last_name: 'Smith',
        preferred_name: 'Bob',
        emails: [
          { data: 'bob@home.example', type: 'personal' },
          { data: ' Bob.Smith@Corp.example ', type: 'work' },
        ],
      },
      employment: {
        title: 'Staff Engineer',
        department: { name: 'Engineering' },
        manager: { id: 'm-1' },
        employment_status: 'active',
        is_active: true,
        start_date: '2019-03-04',
        end_date: null,
        employment: { type: 'employee', subtype: 'part_time' },
        location: { line1: '1 Main St', line2: 'Suite 5', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' },
        source_id: 'E-42',
        work_id: 'OLD',
        custom_fields: [
          { name: 'shirt_size', value: 'M' },
          { name: 'level', value: 5 },
          { name: 'tags', value: ['a', 'b'] },
          { name: 'empty', value: null },
        ],
      },
      manager: summarize({
        first_name: 'Alice',
        last_name: 'Jones',
        preferred_name: 'Ali',
        emails: [{ data: 'ali@corp.example', type: 'work' }],
      }),
      today: TODAY,
    });
    assert.equal(m.key, 'ind-1');
    assert.equal(m.email, 'Bob.Smith@Corp.example');
    assert.equal(m.active, true);
    assert.equal(m.problem, null);
    assert.deepEqual(m.attributes, {
      first_name: 'Bob',
      last_name: 'Smith',
      employee_id: 'E-42',
      job_title: 'Staff Engineer',
      department_name: 'Engineering',
      manager_name: 'Ali Jones',
      manager_email: 'ali@corp.example',
      employment_start_date: '2019-03-04',
      employment_status: 'active',
      employee_type: 'part_time',
      street_address: '1 Main St, Suite 5',
      city: 'Austin',
      region: 'TX',
      postal_code: '78701',
      country: 'US',
      raw_address: '1 Main St, Suite 5, Austin, TX 78701, US',
      custom: { shirt_size: 'M', level: '5', tags: '["a","b"]' },
    });
  });

  test('falls back: first name without a preferred one, the directory department, work_id for the employee id', () => {
    const m = mapPerson({
      id: 'x',
      directory: { id: 'x', first_name: 'D', last_name: 'L', department: { name: 'Sales' } },
      individual: { first_name: 'Carla', last_name: null, preferred_name: '  ', emails: [{ data: 'c@x.io', type: 'personal' }] },
      employment: { work_id: 'W-1', employment: { type: 'contractor', subtype: 'individual_contractor' } },
      today: TODAY,
    });
    assert.equal(m.attributes.first_name, 'Carla');
    assert.equal(m.attributes.last_name, 'L');
    assert.equal(m.attributes.department_name, 'Sales');
    assert.equal(m.attributes.employee_id, 'W-1');
    assert.equal(m.attributes.employee_type, 'contractor');
    assert.equal(m.email, 'c@x.io', 'another email when there is no work email');
  });

  test('no usable email: no recipient, and a problem saying why', () => {
    const none = mapPerson({ id: 'n1', individual: { first_name: 'A', emails: [] }, today: TODAY });
    assert.equal(none.email, null);
    assert.match(none.problem ?? '', /n1.*no email/);
    const bad = mapPerson({ id: 'n2', individual: { first_name: 'A', emails: [{ data: 'not an email', type: 'work' }] }, today: TODAY });
    assert.equal(bad.email, null);
    assert.match(bad.problem ?? '', /n2.*usable/);
  });

  test('pickEmail: work first, else the first usable other, skipping malformed ones', () => {
    assert.equal(
      pickEmail([
        { data: 'p@x.io', type: 'personal' },
        { data: 'w@x.io', type: 'work' },
      ]),
      'w@x.io',
    );
    assert.equal(
      pickEmail([
        { data: 'bad', type: 'work' },
        { data: 'p@x.io', type: null },
      ]),
      'p@x.io',
    );
    assert.equal(pickEmail(null), null);
  });

  test('status: terminated, retired, deceased and past end dates offboard; leave does not; a later rehire restores', () => {
    const emp = (e: Record<string, unknown>) => isActive(e, null, TODAY);
    assert.equal(emp({ employment_status: 'terminated', is_active: true }), false);
    assert.equal(emp({ employment_status: 'retired' }), false);
    assert.equal(emp({ employment_status: 'deceased' }), false);
    assert.equal(emp({ employment_status: 'leave', is_active: false }), true, 'leave keeps the person');
    assert.equal(emp({ employment_status: 'active', end_date: '2026-06-14' }), false, 'an end date in the past');
    assert.equal(emp({ employment_status: 'active', end_date: '2026-06-15' }), true, 'the last day is still a working day');
    assert.equal(emp({ employment_status: 'active', end_date: '2027-01-01' }), true, 'a future end date');
    assert.equal(
      emp({ end_date: '2025-01-31', latest_rehire_date: '2026-02-01', employment_status: 'active' }),
      true,
      'rehired after the end date',
    );
    assert.equal(emp({ is_active: false }), false);
    assert.equal(emp({ is_active: null }), true);
    assert.equal(isActive(null, { id: 'd', is_active: false }, TODAY), false, 'the directory flag when there is no employment');
    assert.equal(emp({ employment_status: 'prehire', is_active: false }), true);
  });

  test('employee type: contractor, else the subtype, else the type', () => {
    assert.equal(employeeType({ employment: { type: 'employee', subtype: 'intern' } }), 'intern');
    assert.equal(employeeType({ employment: { type: 'employee', subtype: null } }), 'employee');
    assert.equal(employeeType({ employment: { type: 'contractor', subtype: 'individual_contractor' } }), 'contractor');
    assert.equal(employeeType(null), null);
  });
});

describe('hris client helpers', () => {
  test('products, Retry-After and backoff', () => {
    assert.equal(productOf('http://127.0.0.1:1/employer/directory?limit=5'), 'directory');
    assert.equal(productOf('http://127.0.0.1:1/employer/individual'), 'individual');
    assert.equal(productOf('http://127.0.0.1:1/introspect'), 'introspect');
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(Date.now() + 10_000).toUTCString())! > 8000, true);
    assert.equal(retryAfterMs('soon'), null);
    assert.equal(retryAfterMs(null), null);
    const waits = [1, 2, 3, 4, 10].map((a) => backoffMs(a, 1000, 30_000, () => 1));
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 30_000]);
    assert.equal(
      backoffMs(3, 1000, 30_000, () => 0),
      2000,
      'at least half the step',
    );
  });

  test('the rolling-window limiter never admits more than the limit within the window', async () => {
    let now = 0;
    // A fake clock that runs 50× faster than the real one; each request takes 30 (fake) ms to answer.
    const limiter = new RollingWindowLimiter(3, 1000, 0, () => now, 1);
    const starts: number[] = [];
    const answers: number[] = [];
    const clock = setInterval(() => (now += 50), 1);
    try {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          limiter.acquire().then(async (answered) => {
            starts.push(now);
            const until = now + 30;
            while (now < until) await new Promise((r) => setTimeout(r, 1));
            answers.push(now);
            answered();
          }),
        ),
      );
    } finally {
      clearInterval(clock);
    }
    starts.sort((a, b) => a - b);
    answers.sort((a, b) => a - b);
    // Request i may start only once the window of the answer to request i-3 has passed.
    for (let i = 3; i < starts.length; i++)
      assert.ok(starts[i]! - answers[i - 3]! > 1000, `start ${i} within the window of answer ${i - 3}`);
  });

  test('schedules: intervals, jitter, pending retried sooner', () => {
    assert.equal(parseInterval('24h'), 86_400_000);
    assert.equal(parseInterval('7d'), 604_800_000);
    assert.equal(parseInterval('x'), null);
    const now = new Date('2026-01-01T00:00:00Z');
    const cfg = { HRIS_JITTER_SECONDS: 600, HRIS_PENDING_RETRY_SECONDS: 900 };
    assert.equal(nextSyncAt({ mode: 'automated', schedule: null }, 'succeeded', now, cfg, () => 0).getTime() - now.getTime(), 86_400_000);
    assert.equal(
      nextSyncAt({ mode: 'automated', schedule: null }, 'succeeded', now, cfg, () => 1).getTime() - now.getTime(),
      86_400_000 + 600_000,
    );
    assert.equal(
      nextSyncAt({ mode: 'assisted', schedule: null }, 'succeeded', now, cfg, () => 0).getTime() - now.getTime(),
      7 * 86_400_000,
    );
    assert.equal(nextSyncAt({ mode: 'automated', schedule: '30m' }, 'succeeded', now, cfg, () => 0).getTime() - now.getTime(), 1_800_000);
    assert.equal(nextSyncAt({ mode: 'automated', schedule: null }, 'pending', now, cfg, () => 0).getTime() - now.getTime(), 900_000);
  });
});
