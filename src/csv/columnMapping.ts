import { FULL_ATTRIBUTE_SET } from '../store/attributes';
import { formatColumnTarget, headerKey, parseColumnTarget, type ColumnMapping } from './headers';

export const MAX_MAPPING_ENTRIES = 500;
export const MAX_MAPPED_HEADER_CHARS = 200;

export const MAPPING_TARGETS_HINT = `use email, status, groups, action, ignore, custom:<name> or an attribute (${FULL_ATTRIBUTE_SET.join(', ')})`;

/**
 * Checks a column mapping as an administrator sends it (API, CLI) and returns it normalized (headers trimmed, targets
 * spelled as formatColumnTarget spells them), or every problem with it: unknown targets, a header named twice, one
 * target (other than ignore) taken by two headers.
 */
export function validateColumnMapping(
  input: Record<string, string>,
): { mapping: ColumnMapping } | { errors: { path: string; message: string }[] } {
  const errors: { path: string; message: string }[] = [];
  const mapping: ColumnMapping = {};
  const entries = Object.entries(input);
  if (entries.length > MAX_MAPPING_ENTRIES)
    return { errors: [{ path: 'mapping', message: `a mapping has at most ${MAX_MAPPING_ENTRIES} headers` }] };
  const headers = new Map<string, string>();
  const targets = new Map<string, string>();
  for (const [rawHeader, rawTarget] of entries) {
    const header = rawHeader.trim();
    const path = `mapping.${rawHeader}`;
    if (!header) {
      errors.push({ path, message: 'a header is not empty' });
      continue;
    }
    if (header.length > MAX_MAPPED_HEADER_CHARS) {
      errors.push({ path, message: `a header is at most ${MAX_MAPPED_HEADER_CHARS} characters` });
      continue;
    }
    const target = typeof rawTarget === 'string' ? parseColumnTarget(rawTarget) : null;
    if (!target) {
      errors.push({
        path,
        message: `unknown target ${JSON.stringify(String(rawTarget).slice(0, 80))} for ${JSON.stringify(header)}: ${MAPPING_TARGETS_HINT}`,
      });
      continue;
    }
    const key = headerKey(header) || header;
    const dup = headers.get(key);
    if (dup !== undefined) {
      errors.push({ path, message: `${JSON.stringify(header)} and ${JSON.stringify(dup)} name the same column` });
      continue;
    }
    headers.set(key, header);
    const formatted = formatColumnTarget(target);
    if (formatted !== 'ignore') {
      const other = targets.get(formatted);
      if (other !== undefined) {
        errors.push({ path, message: `${formatted} is mapped from both ${JSON.stringify(other)} and ${JSON.stringify(header)}` });
        continue;
      }
      targets.set(formatted, header);
    }
    mapping[header] = formatted;
  }
  return errors.length ? { errors } : { mapping };
}
