import { FULL_ATTRIBUTE_SET, type AttributeName } from '../store';

/** What a column of a CSV holds. */
export type ColumnTarget =
  | { kind: 'email' }
  | { kind: 'attribute'; name: AttributeName }
  | { kind: 'custom'; name: string }
  | { kind: 'status' }
  | { kind: 'groups' }
  | { kind: 'action' }
  | { kind: 'ignore' };

/** Header spellings of common HR exports, compared lower-cased without spaces or punctuation. */
const ALIASES: Record<string, string[]> = {
  email: ['email', 'emailaddress', 'workemail', 'workemailaddress', 'businessemail', 'primaryemail', 'mail', 'emailwork', 'companyemail', 'officeemail', 'useremail'],
  status: ['status', 'employeestatus', 'workerstatus', 'active', 'isactive', 'activestatus', 'accountstatus'],
  groups: ['groups', 'group', 'groupnames', 'distributionlists', 'lists'],
  action: ['action', 'operation', 'op', 'change', 'changetype'],
  employee_id: ['employeeid', 'employeenumber', 'employeeno', 'empid', 'empno', 'workerid', 'staffid', 'staffnumber', 'personnumber', 'personid', 'badgenumber', 'payrollnumber'],
  first_name: ['firstname', 'givenname', 'first', 'forename', 'legalfirstname'],
  last_name: ['lastname', 'surname', 'familyname', 'last', 'legallastname'],
  job_title: ['jobtitle', 'title', 'position', 'positiontitle', 'businesstitle', 'jobname'],
  department_name: ['department', 'departmentname', 'dept', 'deptname'],
  division_name: ['division', 'divisionname', 'businessunit'],
  cost_center_name: ['costcenter', 'costcentre', 'costcentername', 'costcentrename'],
  employment_start_date: ['startdate', 'hiredate', 'employmentstartdate', 'dateofhire', 'originalhiredate', 'datehired'],
  employment_status: ['employmentstatus'],
  employee_type: ['employeetype', 'employmenttype', 'workertype', 'employeecategory'],
  manager_name: ['manager', 'managername', 'supervisor', 'supervisorname', 'reportsto', 'linemanager'],
  manager_email: ['manageremail', 'manageremailaddress', 'supervisoremail', 'reportstoemail', 'linemanageremail'],
  preferred_language: ['preferredlanguage', 'language', 'locale'],
  raw_address: ['rawaddress', 'address', 'fulladdress', 'workaddress', 'officeaddress'],
  street_address: ['streetaddress', 'street', 'address1', 'addressline1', 'streetaddress1'],
  city: ['city', 'town', 'locality', 'workcity'],
  region: ['region', 'state', 'province', 'stateprovince', 'stateorprovince', 'county'],
  postal_code: ['postalcode', 'zip', 'zipcode', 'postcode'],
  country: ['country', 'countrycode', 'workcountry', 'countryname'],
};

const LOOKUP = new Map<string, ColumnTarget>();
for (const [target, spellings] of Object.entries(ALIASES)) {
  const t: ColumnTarget =
    target === 'email' || target === 'status' || target === 'groups' || target === 'action'
      ? { kind: target }
      : { kind: 'attribute', name: target as AttributeName };
  for (const s of spellings) LOOKUP.set(s, t);
}
for (const name of FULL_ATTRIBUTE_SET) LOOKUP.set(name.replace(/_/g, ''), { kind: 'attribute', name });

export function headerKey(h: string): string {
  return h.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** A custom field name usable in segment filters (`custom.<name>`): letters, digits and underscores. */
export function customName(h: string): string {
  return h.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
}

const CUSTOM_RE = /^custom[._](.+)$/i;

/**
 * Maps a header row to column targets. A column whose target an earlier column already took, and any unknown
 * column, is kept as a custom field.
 */
export function mapHeaders(headers: string[]): ColumnTarget[] {
  const taken = new Set<string>();
  return headers.map((raw, i) => {
    const h = raw.trim();
    if (!h) return { kind: 'ignore' };
    const explicit = CUSTOM_RE.exec(h);
    let t: ColumnTarget | undefined = explicit ? undefined : LOOKUP.get(headerKey(h));
    const id = t ? (t.kind === 'attribute' ? t.name : t.kind) : '';
    if (t && !taken.has(id)) {
      taken.add(id);
      return t;
    }
    let name = customName(explicit ? explicit[1]! : h) || `column_${i + 1}`;
    while (taken.has(`custom.${name}`)) name = `${name}_2`;
    taken.add(`custom.${name}`);
    t = { kind: 'custom', name };
    return t;
  });
}
