import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { activeOf, managerRef, primaryEmail, userAttributes } from '../../../src/scim/mapping';
import { ENTERPRISE_SCHEMA } from '../../../src/scim/schemas';

describe('SCIM user mapping', () => {
  test('primary email: emails[primary eq true], else the work email, else userName when it is an email (SPEC §3.1)', () => {
    const emails = [
      { value: 'home@x.example', type: 'home' },
      { value: 'work@x.example', type: 'Work' },
      { value: 'primary@x.example', primary: true },
    ];
    assert.equal(primaryEmail({ userName: 'u@x.example', emails }), 'primary@x.example');
    assert.equal(primaryEmail({ userName: 'u@x.example', emails: emails.slice(0, 2) }), 'work@x.example');
    assert.equal(primaryEmail({ userName: 'u@x.example', emails: emails.slice(0, 1) }), 'u@x.example');
    assert.equal(primaryEmail({ userName: 'not-an-email', emails: emails.slice(0, 1) }), null);
    assert.equal(
      primaryEmail({ userName: 'u@x.example', emails: [{ value: ' ', primary: true }] }),
      'u@x.example',
      'a blank primary is skipped',
    );
    assert.equal(primaryEmail({ emails: 'garbage' }), null);
  });

  test('active defaults to true; only true is active', () => {
    assert.equal(activeOf({}), true);
    assert.equal(activeOf({ active: null }), true);
    assert.equal(activeOf({ active: true }), true);
    assert.equal(activeOf({ active: false }), false);
    assert.equal(activeOf({ active: 'true' }), false, 'strings were made booleans before this');
  });

  test('attributes: core and enterprise attributes under the SPEC names; the work address first', () => {
    const user = {
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      title: 'Lead',
      userType: 'Employee',
      preferredLanguage: 'nb',
      addresses: [
        { type: 'home', locality: 'Home town' },
        {
          type: 'work',
          formatted: '1 Main St, Oslo',
          streetAddress: '1 Main St',
          locality: 'Oslo',
          region: 'Oslo',
          postalCode: '0150',
          country: 'NO',
        },
      ],
      [ENTERPRISE_SCHEMA]: {
        employeeNumber: '701984',
        department: 'Sales',
        division: 'EMEA',
        costCenter: '4130',
        manager: { value: 'm1', displayName: 'Mary Manager' },
      },
    };
    assert.deepEqual(userAttributes(user, 'mary@x.example'), {
      first_name: 'Barbara',
      last_name: 'Jensen',
      job_title: 'Lead',
      employee_type: 'Employee',
      preferred_language: 'nb',
      raw_address: '1 Main St, Oslo',
      street_address: '1 Main St',
      city: 'Oslo',
      region: 'Oslo',
      postal_code: '0150',
      country: 'NO',
      employee_id: '701984',
      department_name: 'Sales',
      division_name: 'EMEA',
      cost_center_name: '4130',
      manager_name: 'Mary Manager',
      manager_email: 'mary@x.example',
    });
    assert.equal(managerRef(user), 'm1');
  });

  test('missing, blank and malformed values map to nothing', () => {
    const attrs = userAttributes(
      { name: 'x', title: ' ', addresses: [{ type: 'home', locality: 'Home town' }], [ENTERPRISE_SCHEMA]: 'x' },
      null,
    );
    assert.deepEqual(Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)), { city: 'Home town' });
    assert.equal(managerRef({ [ENTERPRISE_SCHEMA]: { manager: { value: '' } } }), undefined);
    assert.equal(managerRef({}), undefined);
  });
});
