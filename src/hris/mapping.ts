/**
 * Finch → audience-sync: one person's directory entry, individual and employment, mapped to the full attribute set
 * (SPEC §3.6) and a status (SPEC §3.4). Pure: no I/O, no clock (the caller passes today's date).
 *
 *   first_name          individual.preferred_name, else first_name (individual, employment, directory)
 *   last_name           individual, employment, directory
 *   email               a work email first, else another email; none: stored without a recipient, reported
 *   employee_id         employment.source_id (the HRIS's own id; work_id before Finch renamed it)
 *   job_title           employment.title
 *   department_name     employment.department.name, else the directory's
 *   manager_name/_email the manager's individual (preferred name, work email first)
 *   employment_start_date  employment.start_date
 *   employment_status   employment.employment_status as Finch says it (active, leave, terminated, ...)
 *   employee_type       `contractor`, else the employee subtype (full_time, part_time, intern, temp, seasonal), else type
 *   address fields      employment.location (the work location; the home address is not synced)
 *   custom.<name>       employment.custom_fields (non-scalar values as JSON)
 *
 * Status: terminated, retired or deceased, or an end date in the past (unless a later rehire date), offboard; leave does
 * not; otherwise `is_active` false offboards and anything else is active.
 */

export interface FinchEmail {
  data?: string | null;
  type?: string | null;
}

export interface FinchLocation {
  line1?: string | null;
  line2?: string | null;
  city?: string | null;
  state?: string | null;
  postal_code?: string | null;
  country?: string | null;
}

export interface FinchDirectoryEntry {
  id: string;
  first_name?: string | null;
  middle_name?: string | null;
  last_name?: string | null;
  is_active?: boolean | null;
  department?: { name?: string | null } | null;
  manager?: { id?: string | null } | null;
}

export interface FinchIndividual {
  id?: string;
  first_name?: string | null;
  last_name?: string | null;
  preferred_name?: string | null;
  emails?: FinchEmail[] | null;
}

export interface FinchEmployment {
  id?: string;
  first_name?: string | null;
  last_name?: string | null;
  title?: string | null;
  department?: { name?: string | null } | null;
  manager?: { id?: string | null } | null;
  employment?: { type?: string | null; subtype?: string | null } | null;
  employment_status?: string | null;
  is_active?: boolean | null;
  start_date?: string | null;
  end_date?: string | null;
  latest_rehire_date?: string | null;
  location?: FinchLocation | null;
  source_id?: string | null;
  work_id?: string | null;
  custom_fields?: { name?: string | null; value?: unknown }[] | null;
}

/** What the mapping needs about a manager (kept for everyone during a run: it is small). */
export interface PersonSummary {
  name: string | null;
  email: string | null;
}

export interface MappedPerson {
  /** The Finch individual id: the source record's key. */
  key: string;
  email: string | null;
  active: boolean;
  attributes: Record<string, string | Record<string, string>>;
  /** Set when the person is stored but makes no recipient (no usable email): the reason for the report. */
  problem: string | null;
}

const OFFBOARDING_STATUSES = new Set(['terminated', 'retired', 'deceased']);
const EMPLOYED_STATUSES = new Set(['active', 'leave', 'onboarding', 'prehire']);
/** A plausible email: something@domain.tld, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function text(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t ? t : null;
}

/** YYYY-MM-DD of an ISO date or date-time; null when it is not one. */
function day(v: unknown): string | null {
  const t = text(v);
  return t && /^\d{4}-\d{2}-\d{2}/.test(t) ? t.slice(0, 10) : null;
}

/** A work email first, else any other (personal, untyped); null when none is usable. */
export function pickEmail(emails: FinchEmail[] | null | undefined): string | null {
  const usable = (emails ?? []).filter((e) => {
    const d = text(e?.data);
    return d !== null && EMAIL.test(d);
  });
  const work = usable.find((e) => e.type === 'work');
  return text((work ?? usable[0])?.data);
}

/** The name people use: preferred first name where present. */
export function displayName(
  ind: FinchIndividual | null | undefined,
  fallback?: { first_name?: string | null; last_name?: string | null } | null,
): string | null {
  const first = text(ind?.preferred_name) ?? text(ind?.first_name) ?? text(fallback?.first_name);
  const last = text(ind?.last_name) ?? text(fallback?.last_name);
  const name = [first, last].filter(Boolean).join(' ');
  return name || null;
}

export function summarize(ind: FinchIndividual | null | undefined, dir?: FinchDirectoryEntry | null): PersonSummary {
  return { name: displayName(ind, dir), email: pickEmail(ind?.emails) };
}

/** Whether the person is still employed as of `today` (YYYY-MM-DD); see the rules at the top of this file. */
export function isActive(emp: FinchEmployment | null | undefined, dir: FinchDirectoryEntry | null | undefined, today: string): boolean {
  const status = text(emp?.employment_status)?.toLowerCase() ?? null;
  if (status && OFFBOARDING_STATUSES.has(status)) return false;
  const end = day(emp?.end_date);
  const rehire = day(emp?.latest_rehire_date);
  if (end && end < today && !(rehire && rehire > end)) return false;
  if (status && EMPLOYED_STATUSES.has(status)) return true;
  const flag = emp?.is_active ?? dir?.is_active ?? null;
  return flag !== false;
}

export function employeeType(emp: FinchEmployment | null | undefined): string | null {
  const type = text(emp?.employment?.type);
  const subtype = text(emp?.employment?.subtype);
  if (type === 'contractor') return 'contractor';
  return subtype ?? type;
}

function addressFields(loc: FinchLocation | null | undefined): Record<string, string> {
  if (!loc) return {};
  const out: Record<string, string> = {};
  const street = [text(loc.line1), text(loc.line2)].filter(Boolean).join(', ');
  const city = text(loc.city);
  const region = text(loc.state);
  const postal = text(loc.postal_code);
  const country = text(loc.country);
  if (street) out.street_address = street;
  if (city) out.city = city;
  if (region) out.region = region;
  if (postal) out.postal_code = postal;
  if (country) out.country = country;
  const raw = [street, city, [region, postal].filter(Boolean).join(' '), country].filter(Boolean).join(', ');
  if (raw) out.raw_address = raw;
  return out;
}

function customFields(fields: FinchEmployment['custom_fields']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields ?? []) {
    const name = text(f?.name);
    if (!name || f.value === null || f.value === undefined) continue;
    const v = f.value;
    const value = typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
    if (value) out[name] = value;
  }
  return out;
}

export interface PersonInput {
  id: string;
  directory?: FinchDirectoryEntry | null;
  individual?: FinchIndividual | null;
  employment?: FinchEmployment | null;
  /** The manager's summary (name, email), when the person has a manager Finch knows. */
  manager?: PersonSummary | null;
  /** YYYY-MM-DD */
  today: string;
}

/** The manager's Finch individual id, from the employment or else the directory. */
export function managerId(p: { directory?: FinchDirectoryEntry | null; employment?: FinchEmployment | null }): string | null {
  return text(p.employment?.manager?.id) ?? text(p.directory?.manager?.id);
}

export function mapPerson(p: PersonInput): MappedPerson {
  const ind = p.individual ?? null;
  const emp = p.employment ?? null;
  const dir = p.directory ?? null;
  const attributes: Record<string, string | Record<string, string>> = {};
  const set = (name: string, v: string | null) => {
    if (v) attributes[name] = v;
  };
  set('first_name', text(ind?.preferred_name) ?? text(ind?.first_name) ?? text(emp?.first_name) ?? text(dir?.first_name));
  set('last_name', text(ind?.last_name) ?? text(emp?.last_name) ?? text(dir?.last_name));
  set('employee_id', text(emp?.source_id) ?? text(emp?.work_id));
  set('job_title', text(emp?.title));
  set('department_name', text(emp?.department?.name) ?? text(dir?.department?.name));
  set('manager_name', p.manager?.name ?? null);
  set('manager_email', p.manager?.email ?? null);
  set('employment_start_date', day(emp?.start_date));
  set('employment_status', text(emp?.employment_status));
  set('employee_type', employeeType(emp));
  Object.assign(attributes, addressFields(emp?.location));
  const custom = customFields(emp?.custom_fields);
  if (Object.keys(custom).length) attributes.custom = custom;

  const email = pickEmail(ind?.emails);
  const problem = email
    ? null
    : (ind?.emails ?? []).length
      ? `individual ${p.id}: none of its emails is a usable address; stored without a recipient`
      : `individual ${p.id}: the HRIS has no email for this person; stored without a recipient`;
  return { key: p.id, email, active: isActive(emp, dir, p.today), attributes, problem };
}
