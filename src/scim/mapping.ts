import { isEmail } from '../store';
import { isObject, type Json } from './normalize';
import { ENTERPRISE_SCHEMA } from './schemas';

/**
 * What a SCIM User asserts for the merge (SPEC §3): the primary email, whether active, and the SPEC's attribute names.
 * The merge applies the connection's extended-attributes setting, so everything mappable is mapped here.
 */
function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v : undefined;
}

/** SPEC §3.1: emails[primary eq true], else emails[type eq "work"], else userName when it is an email. */
export function primaryEmail(user: Json): string | null {
  const emails = list(user.emails);
  const primary = emails.find((e) => e.primary === true && str(e.value));
  if (primary) return String(primary.value);
  const work = emails.find((e) => typeof e.type === 'string' && e.type.toLowerCase() === 'work' && str(e.value));
  if (work) return String(work.value);
  return isEmail(user.userName) ? String(user.userName) : null;
}

export function activeOf(user: Json): boolean {
  return user.active === undefined || user.active === null ? true : user.active === true;
}

/** The enterprise extension's manager reference (a SCIM id of the same connection), if any. */
export function managerRef(user: Json): string | undefined {
  const ent = user[ENTERPRISE_SCHEMA];
  return isObject(ent) && isObject(ent.manager) ? str(ent.manager.value) : undefined;
}

export function userAttributes(user: Json, managerEmail: string | null): Record<string, unknown> {
  const name = isObject(user.name) ? user.name : {};
  const addresses = list(user.addresses);
  const address =
    addresses.find((a) => typeof a.type === 'string' && a.type.toLowerCase() === 'work') ??
    addresses.find((a) => a.primary === true) ??
    addresses[0] ??
    {};
  const ent = isObject(user[ENTERPRISE_SCHEMA]) ? user[ENTERPRISE_SCHEMA] : {};
  const manager = isObject(ent.manager) ? ent.manager : {};
  return {
    first_name: str(name.givenName),
    last_name: str(name.familyName),
    job_title: str(user.title),
    employee_type: str(user.userType),
    preferred_language: str(user.preferredLanguage),
    raw_address: str(address.formatted),
    street_address: str(address.streetAddress),
    city: str(address.locality),
    region: str(address.region),
    postal_code: str(address.postalCode),
    country: str(address.country),
    employee_id: str(ent.employeeNumber),
    department_name: str(ent.department),
    division_name: str(ent.division),
    cost_center_name: str(ent.costCenter),
    manager_name: str(manager.displayName),
    manager_email: managerEmail ?? undefined,
  };
}
