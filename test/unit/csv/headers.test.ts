import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { customName, headerKey, mapHeaders } from '../../../src/csv/headers';
import { FULL_ATTRIBUTE_SET } from '../../../src/store/attributes';

describe('CSV header mapping', () => {
  test('common HR export spellings map to the SPEC attribute names, whatever the case and punctuation', () => {
    assert.deepEqual(
      mapHeaders([
        'Work Email',
        'First Name',
        'SURNAME',
        'Job-Title',
        'Dept.',
        'Hire Date',
        'Reports To',
        'ZIP',
        'Employee No.',
        'Status',
        'Groups',
        'Action',
      ]),
      [
        { kind: 'email' },
        { kind: 'attribute', name: 'first_name' },
        { kind: 'attribute', name: 'last_name' },
        { kind: 'attribute', name: 'job_title' },
        { kind: 'attribute', name: 'department_name' },
        { kind: 'attribute', name: 'employment_start_date' },
        { kind: 'attribute', name: 'manager_name' },
        { kind: 'attribute', name: 'postal_code' },
        { kind: 'attribute', name: 'employee_id' },
        { kind: 'status' },
        { kind: 'groups' },
        { kind: 'action' },
      ],
    );
  });

  test('every SPEC attribute name is recognised as written', () => {
    const mapped = mapHeaders([...FULL_ATTRIBUTE_SET]);
    assert.deepEqual(
      mapped,
      FULL_ATTRIBUTE_SET.map((name) => ({ kind: 'attribute', name })),
    );
  });

  test('a weaker second column for a taken target, unknown, explicit custom and repeated columns become custom fields with unique names; blanks are ignored', () => {
    assert.deepEqual(
      mapHeaders(['Work Email', 'E-mail', 'Custom.Badge Number', 'custom_desk', 'T-Shirt Size', '  ', 't_shirt size', '!!!']),
      [
        { kind: 'email' },
        { kind: 'custom', name: 'e_mail' },
        { kind: 'custom', name: 'badge_number' },
        { kind: 'custom', name: 'desk' },
        { kind: 'custom', name: 't_shirt_size' },
        { kind: 'ignore' },
        { kind: 'custom', name: 't_shirt_size_2' },
        { kind: 'custom', name: 'column_8' },
      ],
    );
  });

  test('two equally good email columns are left to the administrator (neither is taken)', () => {
    assert.deepEqual(mapHeaders(['email', 'E-mail']), [
      { kind: 'custom', name: 'email' },
      { kind: 'custom', name: 'e_mail' },
    ]);
  });

  test('headerKey and customName', () => {
    assert.equal(headerKey(' Work E-mail Address '), 'workemailaddress');
    assert.equal(customName('  Cost Centre (EU)  '), 'cost_centre_eu');
    assert.equal(customName('x'.repeat(100)).length, 64);
    assert.equal(customName('***'), '');
  });
});
