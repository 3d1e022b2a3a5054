import { parseAttrPath } from '../filter';
import { badRequest } from './errors';
import { isObject, type Extensions, type Json } from './normalize';

/** `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5); `id` and `schemas` are always returned. */
export interface Projection {
  attributes?: string[][];
  excluded?: string[][];
}

/** An attribute path as the keys to step through: an extension's attributes sit under its URN. */
function splitPath(p: string, ext: Extensions): string[] {
  const { urn, names } = parseAttrPath(p.trim(), Object.keys(ext));
  return urn === undefined ? names : [urn, ...names];
}

/**
 * Some clients write a value filter into `attributes` (`emails[type eq "work"]`): projection has no filters, so it
 * reads as the attribute it filters (`emails`, or `emails.value` for `emails[type eq "work"].value`).
 */
function withoutValueFilter(p: string): string {
  return p.replace(/\[[^\]]*\]/g, '');
}

/** Splits a comma list outside brackets (a value filter may hold commas inside its quoted values). */
function splitList(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    if (ch === '"' && v[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && ch === '[') depth++;
    else if (!quoted && ch === ']') depth = Math.max(0, depth - 1);
    else if (!quoted && depth === 0 && ch === ',') {
      out.push(v.slice(start, i));
      start = i + 1;
    }
  }
  out.push(v.slice(start));
  return out;
}

/**
 * `attributes` / `excludedAttributes`: a comma-separated string in a query (RFC 7644 §3.4.2.5), a list of strings in a
 * `.search` body (§3.4.3, whose example sends an array) or a list holding comma-separated strings.
 */
function parseList(v: unknown, ext: Extensions, name: string): string[][] | undefined {
  let items: string[];
  if (typeof v === 'string') items = splitList(v);
  else if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'string')) throw badRequest('invalidValue', `"${name}" must be a list of attribute paths`);
    items = v.flatMap((x: string) => splitList(x));
  } else if (v === undefined || v === null) return undefined;
  else throw badRequest('invalidValue', `"${name}" must be a comma-separated string or a list of attribute paths`);
  const paths = items
    .map((x) => withoutValueFilter(x).trim())
    .filter(Boolean)
    .map((x) => splitPath(x, ext));
  return paths.length ? paths : undefined;
}

export function parseProjection(query: Record<string, unknown>, ext: Extensions): Projection {
  const get = (n: string) => query[Object.keys(query).find((k) => k.toLowerCase() === n.toLowerCase()) ?? n];
  return {
    attributes: parseList(get('attributes'), ext, 'attributes'),
    excluded: parseList(get('excludedAttributes'), ext, 'excludedAttributes'),
  };
}

/** True when the projection leaves out the named top-level attribute (so the caller may skip loading it). */
export function omits(p: Projection, name: string): boolean {
  const l = name.toLowerCase();
  if (p.attributes) return !p.attributes.some((a) => a[0]!.toLowerCase() === l);
  return Boolean(p.excluded?.some((a) => a.length === 1 && a[0]!.toLowerCase() === l));
}

function keyOf(obj: Json, name: string): string | undefined {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
}

function copyPath(src: unknown, dst: Json, path: string[]): void {
  if (!isObject(src)) return;
  const k = keyOf(src, path[0]!);
  if (k === undefined) return;
  const v = src[k];
  if (path.length === 1) {
    dst[k] = v;
    return;
  }
  if (Array.isArray(v)) {
    const prev = Array.isArray(dst[k]) ? (dst[k] as Json[]) : v.map(() => ({}));
    v.forEach((el, i) => copyPath(el, prev[i]!, path.slice(1)));
    dst[k] = prev;
  } else if (isObject(v)) {
    const d = isObject(dst[k]) ? dst[k] : {};
    copyPath(v, d, path.slice(1));
    if (Object.keys(d).length) dst[k] = d;
  }
}

function deletePath(obj: unknown, path: string[]): void {
  if (!isObject(obj)) return;
  const k = keyOf(obj, path[0]!);
  if (k === undefined) return;
  if (path.length === 1) {
    if (k !== 'id' && k !== 'schemas') delete obj[k];
    return;
  }
  const v = obj[k];
  if (Array.isArray(v)) for (const el of v) deletePath(el, path.slice(1));
  else deletePath(v, path.slice(1));
}

export function project(resource: Json, p: Projection): Json {
  if (p.attributes) {
    const out: Json = { schemas: resource.schemas, id: resource.id };
    for (const path of p.attributes) copyPath(resource, out, path);
    return out;
  }
  if (p.excluded) {
    const out = structuredClone(resource);
    for (const path of p.excluded) deletePath(out, path);
    return out;
  }
  return resource;
}
