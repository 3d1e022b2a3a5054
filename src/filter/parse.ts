import { parse, type Filter } from 'scim2-parse-filter';

/**
 * SCIM filter syntax (RFC 7644 §3.4.2.2) parsed into one tree, the library's `Filter`: `and`/`or` hold `filters`, `not`
 * holds `filter`, `[]` (a value path, `emails[type eq "work"]`) holds `attrPath` and `valFilter`, `pr` holds `attrPath`,
 * and the comparisons hold `attrPath` and `compValue`.
 */
export type { AttrExp, Compare, Filter, LogExp, NotFilter, Suffix, ValuePath } from 'scim2-parse-filter';
/** A filter tree written back as filter text (the SCIM 1.1 edge rewrites attribute paths and re-serializes). */
export { stringify as stringifyFilter } from 'scim2-parse-filter';

/** The comparison operators of RFC 7644 §3.4.2.2 (`pr` and the logical ones aside). */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/**
 * Why a filter is refused: it does not parse (`syntax`), names an attribute that cannot be filtered (`attribute`), uses
 * an operator the attribute's type does not define (`operator`) or compares with a value of the wrong type (`value`).
 * Every reason is SCIM's `invalidFilter`.
 */
export type FilterErrorReason = 'syntax' | 'attribute' | 'operator' | 'value';

/** A filter refused by the parser or by a backend; backends refuse what they cannot answer faithfully. */
export class FilterError extends Error {
  readonly scimType = 'invalidFilter';
  constructor(
    message: string,
    readonly reason: FilterErrorReason = 'syntax',
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

/** Longer filters are refused before parsing. */
export const MAX_FILTER_LENGTH = 4096;

export function parseFilter(text: string): Filter {
  if (typeof text !== 'string' || !text.trim()) throw new FilterError('the filter is empty');
  if (text.length > MAX_FILTER_LENGTH) throw new FilterError(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  try {
    return parse(text);
  } catch (err) {
    throw new FilterError(`the filter could not be parsed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
