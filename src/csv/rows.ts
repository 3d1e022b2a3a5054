import { normalizeEmail, type Attributes } from '../store';
import type { ColumnTarget } from './headers';

/** What one CSV row asks of its source; `key` is the employee id when present, else the normalized email. */
export type CsvChange =
  | {
      op: 'upsert';
      key: string;
      email: string;
      active: boolean;
      attributes: Attributes;
      /** Group names from a groups column; undefined when the file has none (memberships kept). */
      groups?: string[];
      /** The row as received, by original header. */
      raw: Record<string, string>;
    }
  | { op: 'delete'; key: string };

export const MAX_FIELD_CHARS = 2000;
const MAX_KEY_CHARS = 256;

const ACTIVE = new Set([
  'active',
  'a',
  'yes',
  'y',
  'true',
  '1',
  'employed',
  'current',
  'enabled',
  'onleave',
  'leave',
  'leaveofabsence',
  'loa',
  'paidleave',
  'unpaidleave',
  'probation',
  'new',
  'hired',
  'rehired',
  'onboarding',
  'gardenleave',
  'activeemployee',
  'working',
]);
const INACTIVE = new Set([
  'inactive',
  'i',
  'no',
  'n',
  'false',
  '0',
  'terminated',
  'term',
  'termed',
  'disabled',
  'former',
  'left',
  'resigned',
  'retired',
  'deceased',
  'separated',
  'offboarded',
  'suspended',
  'deactivated',
  'ended',
  'inactiveemployee',
  'formeremployee',
  'leaver',
  'exited',
  'dismissed',
]);
const UPSERT = new Set(['', 'upsert', 'add', 'create', 'update', 'insert', 'modify', 'change', 'active']);
const DELETE = new Set(['delete', 'remove', 'deleted', 'removed', 'drop']);

/**
 * Reads a status cell: true (active), false (inactive) or null (unknown). A whole value is looked up first, then its
 * first word (`Terminated - Voluntary`, `Leave of Absence (Paid)`). One-letter codes: `A`/`L` (active, leave) and `T`
 * (terminated) as HR systems export them (UKG, Paylocity), except in a yes/no column (`Active`, `Is Active`), where
 * `T`/`F` are true and false.
 */
export function readStatus(value: string, yesNoColumn = false): boolean | null {
  const s = squash(value);
  if (yesNoColumn && (s === 't' || s === 'f')) return s === 't';
  if (s === 'l') return true;
  if (s === 't') return false;
  if (INACTIVE.has(s)) return false;
  if (ACTIVE.has(s)) return true;
  const first = squash(value.trim().split(/[\s\-–—(/:,]+/)[0] ?? '');
  if (first && first !== s && first.length > 1) {
    if (INACTIVE.has(first)) return false;
    if (ACTIVE.has(first)) return true;
  }
  return null;
}

function squash(v: string): string {
  return v.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function quote(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

/** Reads one row into a change, or the reason it is rejected. */
export function rowToChange(
  headers: string[],
  columns: ColumnTarget[],
  record: string[],
  hasGroups: boolean,
): { change: CsvChange } | { error: string; key?: string } {
  if (record.length !== headers.length) {
    return { error: `has ${record.length} field${record.length === 1 ? '' : 's'} but the header has ${headers.length}` };
  }
  let email = '';
  let status: string | null = null;
  let yesNoStatus = false;
  let action = '';
  let groupsCell: string | null = null;
  const attributes: Attributes = {};
  const custom: Record<string, string> = {};
  const raw: Record<string, string> = {};
  for (let i = 0; i < columns.length; i++) {
    const col = columns[i]!;
    const value = record[i]!.trim();
    if (col.kind === 'ignore') continue;
    raw[headers[i]!] = record[i]!;
    if (value.length > MAX_FIELD_CHARS) return { error: `${quote(headers[i]!)} is longer than ${MAX_FIELD_CHARS} characters` };
    switch (col.kind) {
      case 'email':
        email = value;
        break;
      case 'status':
        status = value;
        yesNoStatus = col.yesNo === true;
        break;
      case 'action':
        action = value;
        break;
      case 'groups':
        groupsCell = value;
        break;
      case 'attribute':
        if (value) attributes[col.name] = value;
        break;
      case 'custom':
        if (value) custom[col.name] = value;
        break;
    }
  }
  if (Object.keys(custom).length) attributes.custom = custom;

  const employeeId = attributes.employee_id;
  if (employeeId && employeeId.length > MAX_KEY_CHARS) return { error: `employee id is longer than ${MAX_KEY_CHARS} characters` };
  const normalized = email ? normalizeEmail(email) : null;
  // Who a rejected row was about, when that is known: a full snapshot keeps that person as they were.
  const rowKey = employeeId ?? normalized ?? undefined;
  if (email && !normalized) return { error: `invalid email ${quote(email)}`, key: rowKey };

  const act = squash(action);
  if (DELETE.has(act)) {
    const key = employeeId ?? normalized;
    if (!key) return { error: 'a delete row needs an email or an employee id' };
    return { change: { op: 'delete', key } };
  }
  if (!UPSERT.has(act)) return { error: `unknown action ${quote(action)} (use upsert or delete)`, key: rowKey };
  if (!normalized) return { error: 'missing email', key: rowKey };

  let active = true;
  if (status !== null && status !== '') {
    const read = readStatus(status, yesNoStatus);
    if (read === null) return { error: `unknown status ${quote(status)} (use active, inactive or terminated)`, key: rowKey };
    active = read;
    // Keep the HR wording (e.g. "On Leave") unless the file has its own employment status column.
    if (!attributes.employment_status) attributes.employment_status = status;
  } else if (status === null && attributes.employment_status && readStatus(attributes.employment_status) === false) {
    // No status column: an employment status that says the person left (BambooHR, Rippling: "Terminated") makes them
    // inactive; any other wording (Full-Time, Part-Time, ...) says nothing about whether they are active.
    active = false;
  }

  let groups: string[] | undefined;
  if (hasGroups) {
    const seen = new Map<string, string>();
    for (const part of (groupsCell ?? '').split(/[;|]/)) {
      const name = part.trim();
      if (!name) continue;
      if (name.length > 200) return { error: `group name ${quote(name)} is longer than 200 characters`, key: rowKey };
      if (!seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
    }
    groups = [...seen.values()];
  }
  return { change: { op: 'upsert', key: employeeId ?? normalized, email, active, attributes, groups, raw } };
}
