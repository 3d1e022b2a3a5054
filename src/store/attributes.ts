/** The attribute sets of SPEC §3.6. */
export const FULL_ATTRIBUTE_SET = [
  'employee_id',
  'first_name',
  'last_name',
  'job_title',
  'department_name',
  'division_name',
  'cost_center_name',
  'employment_start_date',
  'employment_status',
  'employee_type',
  'manager_name',
  'manager_email',
  'preferred_language',
  'raw_address',
  'street_address',
  'city',
  'region',
  'postal_code',
  'country',
] as const;

export type AttributeName = (typeof FULL_ATTRIBUTE_SET)[number];

/** What a directory connection syncs without extended attributes (groups travel separately). */
export const DIRECTORY_BASE_SET: readonly AttributeName[] = ['first_name', 'last_name'];

export type Attributes = Partial<Record<AttributeName, string>> & { custom?: Record<string, string> };

const FULL = new Set<string>(FULL_ATTRIBUTE_SET);
export function isAttributeName(name: string): name is AttributeName {
  return FULL.has(name);
}

export function isEmptyValue(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/** Keeps known attributes and custom fields with non-empty string values; numbers and booleans become strings. */
export function cleanAttributes(input: Record<string, unknown> | undefined | null): Attributes {
  const out: Attributes = {};
  if (!input) return out;
  for (const [k, v] of Object.entries(input)) {
    if (k === 'custom' && v && typeof v === 'object') {
      const custom: Record<string, string> = {};
      for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) {
        if (!isEmptyValue(cv) && (typeof cv === 'string' || typeof cv === 'number' || typeof cv === 'boolean')) {
          custom[ck] = String(cv).trim();
        }
      }
      if (Object.keys(custom).length) out.custom = custom;
    } else if (isAttributeName(k) && !isEmptyValue(v) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
      out[k] = String(v).trim();
    }
  }
  return out;
}
