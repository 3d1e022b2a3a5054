import assert from 'node:assert/strict';
import { openApiDocument } from '../src/api/openapi';

/**
 * A small JSON Schema (2020-12 subset) checker for the OpenAPI document's response schemas: type (with null), enum,
 * const, properties, required, additionalProperties, items, oneOf, $ref. Enough to hold real responses to the document.
 */
type Schema = Record<string, any>;
const doc = openApiDocument('http://localhost:8080') as any;

function resolve(s: Schema): Schema {
  if (s.$ref) return resolve(doc.components.schemas[String(s.$ref).replace('#/components/schemas/', '')]);
  return s;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const s = resolve(schema);
  const errors: string[] = [];
  if (s.oneOf) {
    const matching = (s.oneOf as Schema[]).filter((o) => validate(o, value, path).length === 0).length;
    if (matching !== 1) errors.push(`${path}: matches ${matching} of oneOf`);
    return errors;
  }
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [`${path}: expected ${types.join('|')}, got ${t}`];
  }
  if (s.enum && !s.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`);
  if ('const' in s && s.const !== value) errors.push(`${path}: expected ${JSON.stringify(s.const)}`);
  if (typeOf(value) === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of s.required ?? []) if (!(k in o)) errors.push(`${path}: missing ${k}`);
    for (const [k, v] of Object.entries(o)) {
      if (s.properties?.[k]) errors.push(...validate(s.properties[k], v, `${path}.${k}`));
      else if (s.additionalProperties === false) errors.push(`${path}: unexpected property ${k}`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object')
        errors.push(...validate(s.additionalProperties, v, `${path}.${k}`));
    }
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => errors.push(...validate(s.items, v, `${path}[${i}]`)));
  return errors;
}

/** Asserts that a real response is documented (path, method, status, media type) and matches its schema. */
export function checkResponse(
  method: string,
  template: string,
  res: { status: number; headers: Record<string, string>; body: unknown },
): void {
  const op = doc.paths[template]?.[method];
  assert.ok(op, `OpenAPI documents ${method.toUpperCase()} ${template}`);
  const response = op.responses[String(res.status)];
  assert.ok(response, `OpenAPI documents status ${res.status} of ${method.toUpperCase()} ${template}`);
  if (!response.content) {
    assert.equal(res.status, 204);
    return;
  }
  const type = String(res.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  const media = response.content[type];
  assert.ok(media, `OpenAPI documents ${type} for ${res.status} of ${method.toUpperCase()} ${template}`);
  if (type === 'text/csv') return;
  const errors = validate(media.schema, res.body);
  assert.deepEqual(errors, [], `${method.toUpperCase()} ${template} ${res.status} matches the OpenAPI schema`);
}
