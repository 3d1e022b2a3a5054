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

const ACTIVE = new Set(['active', 'a', 'yes', 'y', 'true', '1', 'employed', 'current', 'enabled', 'onleave', 'leave', 'leaveofabsence', 'loa', 'paidleave', 'unpaidleave', 'probation', 'new', 'hired', 'rehired']);
const INACTIVE = new Set(['inactive', 'i', 'no', 'n', 'false', '0', 'terminated', 'term', 'termed', 'disabled', 'former', 'left', 'resigned', 'retired', 'deceased', 'separated', 'offboarded', 'suspended', 'deactivated', 'ended']);
const UPSERT = new Set(['', 'upsert', 'add', 'create', 'update', 'insert', 'modify', 'change', 'active']);
const DELETE = new Set(['delete', 'remove', 'deleted', 'removed', 'drop']);

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
      case 'email': email = value; break;
      case 'status': status = value; break;
      case 'action': action = value; break;
      case 'groups': groupsCell = value; break;
      case 'attribute': if (value) attributes[col.name] = value; break;
      case 'custom': if (value) custom[col.name] = value; break;
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
    const s = squash(status);
    if (INACTIVE.has(s)) active = false;
    else if (!ACTIVE.has(s)) return { error: `unknown status ${quote(status)} (use active, inactive or terminated)`, key: rowKey };
    // Keep the HR wording (e.g. "On Leave") unless the file has its own employment status column.
    if (!attributes.employment_status) attributes.employment_status = status;
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
