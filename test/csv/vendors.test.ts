import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { CsvFileError, headerWords, planColumns, readCsv, type CsvItem } from '../../src/csv';

/**
 * Header rows of real HR-system exports (test/fixtures/vendors: the column headings of each vendor's standard or
 * commonly built employee report, with made-up people) map to the attributes an administrator expects.
 */
const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'vendors');

type Expect = Partial<
  Record<
    | 'email'
    | 'status'
    | 'employee_id'
    | 'first_name'
    | 'last_name'
    | 'department_name'
    | 'job_title'
    | 'manager_name'
    | 'manager_email'
    | 'employment_start_date'
    | 'employee_type'
    | 'cost_center_name'
    | 'division_name',
    string
  >
>;

/** Per vendor file: the header each target must be read from, and whether each row is active. */
const VENDORS: Record<string, { expect: Expect; active: boolean[] }> = {
  'workday.csv': {
    expect: {
      email: 'Email - Primary Work',
      employee_id: 'Employee ID',
      first_name: 'Legal Name - First Name',
      last_name: 'Legal Name - Last Name',
      department_name: 'Supervisory Organization',
      job_title: 'Business Title',
      manager_name: "Worker's Manager",
      manager_email: 'Manager - Email - Primary Work',
      status: 'Worker Status',
      employment_start_date: 'Hire Date',
      cost_center_name: 'Cost Center',
      employee_type: 'Worker Type',
    },
    active: [true, false, true],
  },
  'workday-categories.csv': {
    expect: {
      email: 'Worker - Email - Work',
      employee_id: 'Worker - Employee ID',
      first_name: 'Personal Data - Legal First Name',
      last_name: 'Personal Data - Legal Last Name',
      department_name: 'Organization - Department',
      job_title: 'Position - Business Title',
      manager_name: 'Worker - Manager - Name',
      manager_email: 'Worker - Manager - Email - Work',
      status: 'Worker - Active Status',
      employment_start_date: 'Worker - Hire Date',
    },
    active: [true, true],
  },
  'bamboohr.csv': {
    expect: {
      email: 'Work Email',
      employee_id: 'Employee #',
      first_name: 'First Name',
      last_name: 'Last Name',
      department_name: 'Department',
      job_title: 'Job Title',
      manager_name: 'Reporting to',
      status: 'Status',
      division_name: 'Division',
      employment_start_date: 'Hire Date',
    },
    active: [true, true, false],
  },
  'adp.csv': {
    expect: {
      email: 'WORK CONTACT: WORK EMAIL',
      employee_id: 'ASSOCIATE ID',
      first_name: 'LEGAL FIRST NAME',
      last_name: 'LEGAL LAST NAME',
      department_name: 'HOME DEPARTMENT DESCRIPTION',
      job_title: 'JOB TITLE DESCRIPTION',
      manager_name: 'REPORTS TO LEGAL NAME',
      status: 'POSITION STATUS',
      division_name: 'BUSINESS UNIT DESCRIPTION',
      employee_type: 'WORKER CATEGORY DESCRIPTION',
      employment_start_date: 'HIRE DATE',
    },
    active: [true, true, false],
  },
  'ukg.csv': {
    expect: {
      email: 'EMAIL ADDRESS',
      employee_id: 'EMPLOYEE NUMBER',
      first_name: 'FIRST NAME',
      last_name: 'LAST NAME',
      department_name: 'DEPARTMENT',
      job_title: 'JOB TITLE',
      manager_name: 'SUPERVISOR NAME',
      manager_email: 'SUPERVISOR EMAIL ADDRESS',
      status: 'EMPLOYEE STATUS',
      employee_type: 'EMPLOYEE TYPE',
    },
    active: [true, false],
  },
  'ukg-compact.csv': {
    expect: {
      email: 'EMAILADDRESS',
      employee_id: 'EMPNO',
      first_name: 'NAMEFIRST',
      last_name: 'NAMELAST',
      job_title: 'JOBTITLE',
      manager_name: 'SUPERVISORNAME',
      status: 'EMPLSTATUS',
      employment_start_date: 'DATEOFLASTHIRE',
      employee_type: 'EETYPE',
    },
    active: [true, true],
  },
  'rippling.csv': {
    expect: {
      email: 'Work email',
      employee_id: 'Employee number',
      first_name: 'Legal first name',
      last_name: 'Legal last name',
      department_name: 'Department',
      job_title: 'Title',
      manager_name: 'Manager',
      manager_email: 'Manager - Work email',
      employment_start_date: 'Start date',
      employee_type: 'Employment type',
    },
    // No status column: the employment status "Terminated" makes the third person inactive.
    active: [true, true, false],
  },
  'hibob.csv': {
    expect: {
      email: 'Email',
      employee_id: 'Employee ID',
      first_name: 'First name',
      last_name: 'Last name',
      department_name: 'Department',
      job_title: 'Job title',
      manager_name: 'Reports to',
      manager_email: 'Reports to email',
      status: 'Lifecycle status',
      employment_start_date: 'Start date',
    },
    active: [true, true, false],
  },
  'personio.csv': {
    expect: {
      email: 'Email',
      employee_id: 'ID',
      first_name: 'First name',
      last_name: 'Last name',
      department_name: 'Department',
      job_title: 'Position',
      manager_name: 'Supervisor',
      status: 'Status',
      cost_center_name: 'Cost center',
      employment_start_date: 'Hire date',
    },
    active: [true, true, false],
  },
  'gusto.csv': {
    expect: {
      email: 'Work email',
      employee_id: 'Gusto employee ID',
      first_name: 'First name',
      last_name: 'Last name',
      department_name: 'Department',
      job_title: 'Job title',
      manager_name: 'Manager',
      employment_start_date: 'Hire date',
    },
    active: [true, true],
  },
  'paylocity.csv': {
    expect: {
      email: 'Work Email',
      employee_id: 'Employee Id',
      first_name: 'First Name',
      last_name: 'Last Name',
      department_name: 'Department',
      job_title: 'Job Title',
      manager_name: 'Supervisor',
      status: 'Employee Status',
      cost_center_name: 'Cost Center 1',
      employee_type: 'Employee Type',
    },
    active: [true, false],
  },
  'namely.csv': {
    expect: {
      email: 'Email',
      employee_id: 'Employee ID',
      first_name: 'First Name',
      last_name: 'Last Name',
      department_name: 'Departments',
      job_title: 'Job Title',
      manager_name: 'Reports To',
      manager_email: 'Reports To Email',
      status: 'User Status',
      employment_start_date: 'Start Date',
    },
    active: [true, false],
  },
};

async function readAll(file: string): Promise<CsvItem[]> {
  const out: CsvItem[] = [];
  for await (const item of readCsv(createReadStream(join(FIXTURES, file)), { mode: 'full' })) out.push(item);
  return out;
}

function cells(file: string): { headers: string[]; rows: Record<string, string>[] } {
  const [head, ...lines] = readFileSync(join(FIXTURES, file), 'utf8').trim().split('\n');
  const headers = head!.split(',');
  return { headers, rows: lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [headers[i]!, v]))) };
}

describe('CSV headers of real HR exports', () => {
  for (const [file, { expect, active }] of Object.entries(VENDORS)) {
    it(`maps ${file}: email, names, employee id, department, title, manager`, async () => {
      const { headers, rows } = cells(file);
      const plan = planColumns(headers);
      const chosen = new Map(plan.choices.map((c) => [c.target, c.header]));
      for (const [target, header] of Object.entries(expect)) {
        assert.equal(
          chosen.get(target),
          header,
          `${file}: ${target} ← ${JSON.stringify(header)} (got ${JSON.stringify(chosen.get(target))})`,
        );
      }
      // The six the issue names are there for every vendor (manager as a name or an email).
      for (const t of ['email', 'first_name', 'last_name', 'employee_id', 'job_title']) assert.ok(chosen.has(t), `${file} has ${t}`);
      assert.ok(chosen.has('manager_name') || chosen.has('manager_email'), `${file} has a manager`);
      // No other column took a target twice, and every column is kept (as itself or custom).
      assert.equal(plan.choices.length, headers.length);
      assert.equal(new Set(plan.choices.map((c) => c.target)).size, headers.length);

      const items = await readAll(file);
      assert.equal(items.length, rows.length);
      items.forEach((item, i) => {
        assert.equal(item.error, undefined, `${file} line ${item.line}: ${item.error}`);
        const c = item.change;
        assert.equal(c.op, 'upsert');
        if (c.op !== 'upsert') return;
        const row = rows[i]!;
        assert.equal(c.email, row[expect.email!]);
        assert.equal(c.active, active[i], `${file} row ${i + 1} active`);
        for (const [target, header] of Object.entries(expect)) {
          if (target === 'email' || target === 'status' || !row[header]) continue;
          assert.equal(c.attributes[target as keyof typeof c.attributes], row[header], `${file} row ${i + 1} ${target}`);
        }
        assert.equal(c.key, row[expect.employee_id!] || c.email.toLowerCase());
      });
    });
  }

  it('reads headers as words: categories, camelCase, upper case, run-on words, abbreviations and #', () => {
    assert.deepEqual(headerWords('Worker - Email - Primary Work'), ['worker', 'email', 'primary', 'work']);
    assert.deepEqual(headerWords('supervisorEId'), ['supervisor', 'employee', 'id']);
    assert.deepEqual(headerWords('DATEOFLASTHIRE'), ['date', 'of', 'last', 'hire']);
    assert.deepEqual(headerWords('Employee #'), ['employee', 'number']);
    assert.deepEqual(headerWords('E-Mail'), ['email']);
    assert.deepEqual(headerWords('Reports To'), ['reportsto']);
    assert.deepEqual(headerWords('Dept. Name'), ['department', 'name']);
    assert.deepEqual(headerWords('Surname'), ['last', 'name']);
  });

  it("keeps personal, manager and other people's fields out of the person's own", () => {
    const targets = (headers: string[]) => planColumns(headers).choices.map((c) => c.target);
    // A personal email is the email only when nothing better is there.
    assert.deepEqual(targets(['Personal Email', 'Name']), ['email', 'custom:name']);
    assert.deepEqual(targets(['Home Email', 'Business Email']), ['custom:home_email', 'email']);
    // A preferred first name is the first name only without a first-name column.
    assert.deepEqual(targets(['Email', 'Preferred Name']), ['email', 'first_name']);
    assert.deepEqual(targets(['Email', 'Preferred First Name', 'First Name']), ['email', 'custom:preferred_first_name', 'first_name']);
    // Manager ids, other people's emails and look-alikes are custom fields.
    assert.deepEqual(
      targets([
        'Email',
        'Manager ID',
        'Supervisor Employee Number',
        'Emergency Contact Email',
        'Email Opt Out',
        'Pay Group',
        'Date of Last Hire',
        'Position ID',
        'Marital Status',
        'Address Line 2',
      ]),
      [
        'email',
        'custom:manager_id',
        'custom:supervisor_employee_number',
        'custom:emergency_contact_email',
        'custom:email_opt_out',
        'custom:pay_group',
        'employment_start_date',
        'custom:position_id',
        'custom:marital_status',
        'custom:address_line_2',
      ],
    );
  });

  it('leaves a tie for a secondary attribute to neither column, and refuses a file whose email columns tie', async () => {
    const plan = planColumns(['Email', 'Employee ID', 'Employee Number']);
    assert.deepEqual(
      plan.choices.map((c) => c.target),
      ['email', 'custom:employee_id', 'custom:employee_number'],
    );
    assert.match(plan.choices[1]!.note!, /Employee Number.*equally good employee_id/);
    try {
      for await (const _ of readCsv(Readable.from(['Email,E-mail,Name\na@x.com,b@x.com,A\n']), { mode: 'delta' })) void _;
      assert.fail('expected the file to be refused');
    } catch (err) {
      assert.ok(err instanceof CsvFileError);
      assert.match(err.message, /^ambiguous email columns: "Email", "E-mail"/);
    }
    // The same header twice cannot be mapped apart: the first is used, as before.
    assert.deepEqual(
      planColumns(['Email', 'Name', 'Email']).choices.map((c) => c.target),
      ['email', 'custom:name', 'custom:email'],
    );
    // A mapping resolves it.
    const items: CsvItem[] = [];
    for await (const i of readCsv(Readable.from(['Email,E-mail,Name\na@x.com,b@x.com,A\n']), {
      mode: 'delta',
      mapping: { 'E-mail': 'email' },
    }))
      items.push(i);
    assert.equal(items[0]!.change!.op === 'upsert' && items[0]!.change!.email, 'b@x.com');
  });

  it('an explicit mapping overrides detection; unmapped headers are still detected', async () => {
    const csv = 'Login,Work Email,Dept,Badge,Cost Code,Given\nann@x.com,ann.work@x.com,Sales,B1,C9,Ann\n';
    const mapping = { login: 'email', DEPT: 'custom:team', Badge: 'ignore', 'Cost Code': 'cost_center_name', Missing: 'status' };
    let seen: ReturnType<typeof planColumns> | undefined;
    const items: CsvItem[] = [];
    for await (const i of readCsv(Readable.from([csv]), { mode: 'delta', mapping, onColumns: (p) => (seen = p) })) items.push(i);
    assert.deepEqual(
      seen!.choices.map((c) => [c.header, c.target, c.how]),
      [
        ['Login', 'email', 'explicit'],
        ['Work Email', 'custom:work_email', 'detected'],
        ['Dept', 'custom:team', 'explicit'],
        ['Badge', 'ignore', 'explicit'],
        ['Cost Code', 'cost_center_name', 'explicit'],
        ['Given', 'first_name', 'detected'],
      ],
    );
    assert.match(seen!.choices[1]!.note!, /email is mapped to "Login"/);
    assert.deepEqual(seen!.unusedMapping, ['Missing']);
    const c = items[0]!.change!;
    assert.ok(c.op === 'upsert');
    assert.equal(c.email, 'ann@x.com');
    assert.deepEqual(c.attributes, { cost_center_name: 'C9', first_name: 'Ann', custom: { work_email: 'ann.work@x.com', team: 'Sales' } });
    assert.equal('Badge' in c.raw, false, 'an ignored column is not kept');
  });

  it('reads status codes and wordings of HR exports; T means terminated except in a yes/no Active column', async () => {
    const read = async (csv: string) => {
      const out: [number, boolean | string][] = [];
      for await (const i of readCsv(Readable.from([csv]), { mode: 'delta' }))
        out.push([i.line, i.error ?? (i.change.op === 'upsert' && i.change.active)]);
      return out;
    };
    assert.deepEqual(
      await read(
        'Email,Employee Status\na@x.co,A\nb@x.co,T\nc@x.co,L\nd@x.co,Terminated - Voluntary\ne@x.co,Leave of Absence (Paid)\nf@x.co,Garden leave\ng@x.co,Inactive Employee\nh@x.co,Sabbatical\n',
      ),
      [
        [2, true],
        [3, false],
        [4, true],
        [5, false],
        [6, true],
        [7, true],
        [8, false],
        [9, 'unknown status "Sabbatical" (use active, inactive or terminated)'],
      ],
    );
    assert.deepEqual(await read('Email,Is Active\na@x.co,T\nb@x.co,F\nc@x.co,Yes\n'), [
      [2, true],
      [3, false],
      [4, true],
    ]);
    // Without a status column, an employment status saying the person left (BambooHR, UKG's T) makes them inactive.
    assert.deepEqual(await read('Email,Employment Status\na@x.co,Full-Time\nb@x.co,Terminated\nc@x.co,T\nd@x.co,\n'), [
      [2, true],
      [3, false],
      [4, false],
      [5, true],
    ]);
  });

  it("reads German (Personio) headers and ADP's Hire/Rehire Date", () => {
    const targets = planColumns([
      'Personalnummer',
      'Vorname',
      'Nachname',
      'E-Mail',
      'Abteilung',
      'Position',
      'Vorgesetzter',
      'Eintrittsdatum',
      'Kostenstelle',
      'Status',
      'Hire/Rehire Date',
    ]).choices.map((c) => c.target);
    assert.deepEqual(targets, [
      'employee_id',
      'first_name',
      'last_name',
      'email',
      'department_name',
      'job_title',
      'manager_name',
      'employment_start_date',
      'cost_center_name',
      'status',
      'custom:hire_rehire_date',
    ]);
    assert.deepEqual(
      planColumns(['Email', 'Hire/Rehire Date']).choices.map((c) => c.target),
      ['email', 'employment_start_date'],
    );
    assert.deepEqual(
      planColumns(['Email', 'Rehire Date']).choices.map((c) => c.target),
      ['email', 'custom:rehire_date'],
    );
  });

  it('skips a report title and run date above the header row (delimiter from the header, lines kept)', async () => {
    const items: CsvItem[] = [];
    const csv =
      'Employee Census Report\r\nRun date: 30/11/2026 07:00\r\n\r\nEmployee ID;Work Email;First Name\r\n1;ann@x.co;Ann\r\n2;bob@x.co;Bob\r\n';
    let header: string[] = [];
    for await (const i of readCsv(Readable.from([csv]), {
      mode: 'full',
      onColumns: (p, d) => (header = [...p.choices.map((c) => c.target), d]),
    }))
      items.push(i);
    assert.deepEqual(header, ['employee_id', 'email', 'first_name', ';']);
    assert.deepEqual(
      items.map((i) => [i.line, i.change?.key]),
      [
        [5, '1'],
        [6, '2'],
      ],
    );
    // A first row of several cells without an email column is the header: refused at once, as before.
    try {
      for await (const _ of readCsv(Readable.from(['Name,Department,Title\nEmail,Work Email,Manager Email\n']), { mode: 'full' })) void _;
      assert.fail('expected the file to be refused');
    } catch (err) {
      assert.match(String(err), /no email column \(found "Name", "Department", "Title"\)/);
    }
  });

  it('still maps every header spelling it matched before word matching', () => {
    const before: Record<string, string[]> = {
      email: [
        'Email',
        'Email Address',
        'Work Email',
        'Work Email Address',
        'Business Email',
        'Primary Email',
        'Mail',
        'Email (Work)',
        'Company Email',
        'Office Email',
        'User Email',
      ],
      status: ['Status', 'Employee Status', 'Worker Status', 'Active', 'Is Active', 'Active Status', 'Account Status'],
      groups: ['Groups', 'Group', 'Group Names', 'Distribution Lists', 'Lists'],
      action: ['Action', 'Operation', 'Op', 'Change', 'Change Type'],
      employee_id: [
        'Employee ID',
        'Employee Number',
        'Employee No',
        'Emp ID',
        'Emp No',
        'Worker ID',
        'Staff ID',
        'Staff Number',
        'Person Number',
        'Person ID',
        'Badge Number',
        'Payroll Number',
        'employee_id',
      ],
      first_name: ['First Name', 'Given Name', 'First', 'Forename', 'Legal First Name', 'first_name'],
      last_name: ['Last Name', 'Surname', 'Family Name', 'Last', 'Legal Last Name', 'last_name'],
      job_title: ['Job Title', 'Title', 'Position', 'Position Title', 'Business Title', 'Job Name', 'job_title'],
      department_name: ['Department', 'Department Name', 'Dept', 'Dept Name', 'department_name'],
      division_name: ['Division', 'Division Name', 'Business Unit', 'division_name'],
      cost_center_name: ['Cost Center', 'Cost Centre', 'Cost Center Name', 'Cost Centre Name', 'cost_center_name'],
      employment_start_date: [
        'Start Date',
        'Hire Date',
        'Employment Start Date',
        'Date of Hire',
        'Original Hire Date',
        'Date Hired',
        'employment_start_date',
      ],
      employment_status: ['Employment Status', 'employment_status'],
      employee_type: ['Employee Type', 'Employment Type', 'Worker Type', 'Employee Category', 'employee_type'],
      manager_name: ['Manager', 'Manager Name', 'Supervisor', 'Supervisor Name', 'Reports To', 'Line Manager', 'manager_name'],
      manager_email: [
        'Manager Email',
        'Manager Email Address',
        'Supervisor Email',
        'Reports To Email',
        'Line Manager Email',
        'manager_email',
      ],
      preferred_language: ['Preferred Language', 'Language', 'Locale', 'preferred_language'],
      raw_address: ['Raw Address', 'Address', 'Full Address', 'Work Address', 'Office Address', 'raw_address'],
      street_address: ['Street Address', 'Street', 'Address 1', 'Address Line 1', 'Street Address 1', 'street_address'],
      city: ['City', 'Town', 'Locality', 'Work City', 'city'],
      region: ['Region', 'State', 'Province', 'State/Province', 'State or Province', 'County', 'region'],
      postal_code: ['Postal Code', 'Zip', 'Zip Code', 'Postcode', 'postal_code'],
      country: ['Country', 'Country Code', 'Work Country', 'Country Name', 'country'],
    };
    for (const [target, spellings] of Object.entries(before)) {
      for (const h of spellings) {
        for (const variant of [h, h.toUpperCase(), h.toLowerCase().replace(/ /g, '_')]) {
          const headers = target === 'email' ? [variant] : ['email', variant];
          const choice = planColumns(headers).choices.find((c) => c.header === variant)!;
          assert.equal(choice.target, target, `${JSON.stringify(variant)} → ${target}`);
        }
      }
    }
  });
});
