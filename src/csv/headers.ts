import { isAttributeName, type AttributeName } from '../store/attributes';
import { headerKey, scoreHeader, type DetectTarget } from './headerRules';
import { headerWords } from './headerWords';

export { headerKey } from './headerRules';
export { headerWords } from './headerWords';

/** What a column of a CSV holds. */
export type ColumnTarget =
  | { kind: 'email' }
  | { kind: 'attribute'; name: AttributeName }
  | { kind: 'custom'; name: string }
  /** `yesNo`: an `Active` / `Is Active` column, whose T and F mean true and false (elsewhere T means terminated). */
  | { kind: 'status'; yesNo?: boolean }
  | { kind: 'groups' }
  | { kind: 'action' }
  | { kind: 'ignore' };

/**
 * An explicit column mapping of a connection: header → `email`, `status`, `groups`, `action`, `ignore`,
 * `custom:<name>` or an attribute name (`first_name`, ...). It overrides detection; headers it does not name are
 * still detected.
 */
export type ColumnMapping = Record<string, string>;

/** How a column's target was chosen: by the connection's mapping, by its header's words, or not at all (no header). */
export type ColumnHow = 'explicit' | 'detected' | 'ignored';

export interface ColumnChoice {
  header: string;
  /** The target as a mapping would name it (`email`, `first_name`, `custom:office`, `ignore`, ...). */
  target: string;
  how: ColumnHow;
  /** Why a detected column is custom when it looked like a known field (it lost to, or tied with, another column). */
  note?: string;
}

export interface ColumnPlan {
  columns: ColumnTarget[];
  choices: ColumnChoice[];
  /** Mapping entries that name no header of this file. */
  unusedMapping: string[];
  /** Set when several columns are equally good email columns and none is mapped: the file cannot be read. */
  ambiguousEmail: string[] | null;
}

/** A custom field name usable in segment filters (`custom.<name>`): letters, digits and underscores. */
export function customName(h: string): string {
  return h
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
}

const CUSTOM_RE = /^custom[._](.+)$/i;

/** Reads a mapping value (`email`, `first_name`, `custom:office`, `ignore`, ...); null when it names no target. */
export function parseColumnTarget(value: string): ColumnTarget | null {
  const v = value.trim();
  const lower = v.toLowerCase();
  if (lower === 'email' || lower === 'status' || lower === 'groups' || lower === 'action' || lower === 'ignore') return { kind: lower };
  const custom = /^custom[:.](.+)$/i.exec(v);
  if (custom) {
    const name = customName(custom[1]!);
    return name ? { kind: 'custom', name } : null;
  }
  if (isAttributeName(lower)) return { kind: 'attribute', name: lower };
  return null;
}

/** The name a mapping uses for a target. */
export function formatColumnTarget(t: ColumnTarget): string {
  if (t.kind === 'attribute') return t.name;
  if (t.kind === 'custom') return `custom:${t.name}`;
  return t.kind;
}

function targetOf(d: DetectTarget, header: string): ColumnTarget {
  if (d === 'status') return headerWords(header).includes('active') ? { kind: 'status', yesNo: true } : { kind: 'status' };
  return d === 'email' || d === 'groups' || d === 'action' ? { kind: d } : { kind: 'attribute', name: d };
}

/** The target a column takes away from the others (custom and ignore take none). */
function claimOf(t: ColumnTarget): string | null {
  if (t.kind === 'attribute') return t.name;
  if (t.kind === 'custom' || t.kind === 'ignore') return null;
  return t.kind;
}

/** Which header each mapping entry names: the same text (trimmed), else the one header equal ignoring case and punctuation. */
function resolveMapping(headers: string[], mapping: ColumnMapping): { explicit: Map<number, ColumnTarget>; unused: string[] } {
  const explicit = new Map<number, ColumnTarget>();
  const unused: string[] = [];
  const trimmed = headers.map((h) => h.trim());
  for (const [key, value] of Object.entries(mapping)) {
    const target = parseColumnTarget(value);
    let i = trimmed.indexOf(key.trim());
    if (i < 0) {
      const k = headerKey(key);
      const same = k ? trimmed.flatMap((h, j) => (headerKey(h) === k ? [j] : [])) : [];
      if (same.length === 1) i = same[0]!;
    }
    if (!target || i < 0 || explicit.has(i)) unused.push(key);
    else explicit.set(i, target);
  }
  return { explicit, unused };
}

/**
 * Chooses the target of every column of a header row. Mapped headers take their mapped target. Every other header is
 * scored for each target by its words (headerRules.ts) and competes for its best target with the other columns that
 * want it: the best score takes it only when it beats the runner-up. On a tie no column takes a secondary attribute
 * (each stays a custom field); a tie for the email column is reported (`ambiguousEmail`) and the file cannot be read
 * until a mapping names one. Columns that take nothing are kept as `custom.<name>`; `custom.<name>` headers are custom.
 */
export function planColumns(headers: string[], mapping?: ColumnMapping | null): ColumnPlan {
  const { explicit, unused } = resolveMapping(headers, mapping ?? {});
  const claimed = new Set<string>();
  for (const t of explicit.values()) {
    const c = claimOf(t);
    if (c) claimed.add(c);
  }
  const columns: (ColumnTarget | undefined)[] = headers.map((_, i) => explicit.get(i));
  const notes = new Map<number, string>();
  // Detected candidates, grouped by the target each header wants most.
  const wants = new Map<DetectTarget, { i: number; score: number }[]>();
  const customHeader = new Map<number, string>();
  headers.forEach((raw, i) => {
    if (explicit.has(i)) return;
    const h = raw.trim();
    if (!h) {
      columns[i] = { kind: 'ignore' };
      return;
    }
    const named = CUSTOM_RE.exec(h);
    if (named) {
      customHeader.set(i, named[1]!);
      return;
    }
    const scores = scoreHeader(h);
    const best = scores.find((s) => !claimed.has(s.target));
    const top = scores[0];
    if (top && top !== best) {
      const by = [...explicit].find(([, t]) => claimOf(t) === top.target);
      if (by) notes.set(i, `${top.target} is mapped to ${JSON.stringify(headers[by[0]]!.trim())}`);
    }
    if (!best) return;
    const list = wants.get(best.target) ?? [];
    list.push({ i, score: best.score });
    wants.set(best.target, list);
  });
  let ambiguousEmail: string[] | null = null;
  for (const [target, list] of wants) {
    list.sort((a, b) => b.score - a.score);
    const [first, second] = list;
    if (!first) continue;
    const tied = list.filter((c) => c.score === first.score);
    // The same header twice cannot be told apart by a mapping either: the first of them is used (as before).
    const duplicates = tied.every((c) => headers[c.i]!.trim() === headers[first.i]!.trim());
    if (second && second.score === first.score && duplicates) {
      for (const c of list.slice(1)) notes.set(c.i, `the same header as column ${first.i + 1}, which is used`);
      columns[first.i] = targetOf(target, headers[first.i]!);
      claimed.add(target);
      continue;
    }
    if (second && second.score === first.score) {
      if (target === 'email') ambiguousEmail = tied.map((c) => headers[c.i]!.trim());
      for (const c of tied) {
        notes.set(
          c.i,
          `ambiguous: ${tied
            .filter((o) => o !== c)
            .map((o) => JSON.stringify(headers[o.i]!.trim()))
            .join(', ')} ${tied.length > 2 ? 'are' : 'is'} an equally good ${target} column; map one`,
        );
      }
      continue;
    }
    columns[first.i] = targetOf(target, headers[first.i]!);
    claimed.add(target);
    for (const c of list.slice(1)) notes.set(c.i, `${JSON.stringify(headers[first.i]!.trim())} is a better ${target} column`);
  }
  // Everything else is a custom field, named after its header (made unique).
  const names = new Set<string>();
  for (const t of columns) if (t?.kind === 'custom') names.add(t.name);
  const final: ColumnTarget[] = columns.map((t, i) => {
    if (t) return t;
    let name = customName(customHeader.get(i) ?? headers[i]!) || `column_${i + 1}`;
    while (names.has(name)) name = `${name}_2`;
    names.add(name);
    return { kind: 'custom', name };
  });
  const choices: ColumnChoice[] = final.map((t, i) => {
    const header = headers[i]!;
    const how: ColumnHow = explicit.has(i) ? 'explicit' : t.kind === 'ignore' ? 'ignored' : 'detected';
    const note = notes.get(i);
    return note === undefined ? { header, target: formatColumnTarget(t), how } : { header, target: formatColumnTarget(t), how, note };
  });
  return { columns: final, choices, unusedMapping: unused, ambiguousEmail };
}

/** Maps a header row to column targets by detection alone (see planColumns). */
export function mapHeaders(headers: string[]): ColumnTarget[] {
  return planColumns(headers).columns;
}
